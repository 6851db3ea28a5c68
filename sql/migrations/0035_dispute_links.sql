-- 0035_dispute_links.sql — 纠纷在系统间流转的显式关联键 (#17): the keys a record carries of the
-- records before it in the same dispute, as the source system typed them (sometimes missing or
-- mistyped: linkage falls back on the party key). Text, never normalised here.
--   人民调解: 信访转办 cases carry the 信访件编号 (core.petition.petition_no); 诉前委派 cases already
--             carry the court's 民诉前调 number (court_referral_no, 0008).
--   诉讼:     民初 after a failed 诉前调 already carries it (mediation_referral_no, 0009); 执 carries its
--             执行依据案号, 破申 (执转破) the 执 case it came from (原案号), 民特 (司法确认) the
--             调解案件编号 it confirms.

ALTER TABLE staging.mediation_case ADD COLUMN petition_no text;
ALTER TABLE core.mediation_case ADD COLUMN petition_no text;
ALTER TABLE core.mediation_case_version ADD COLUMN petition_no text;
CREATE INDEX mediation_case_petition_no_idx ON core.mediation_case (petition_no) WHERE petition_no IS NOT NULL;

COMMENT ON COLUMN core.mediation_case.petition_no IS '信访件编号 (信访转办调解时, 调委会录入), 对应 core.petition.petition_no; 可能缺失或录错';
COMMENT ON COLUMN core.mediation_case_version.petition_no IS '信访件编号 (信访转办调解时, 调委会录入), 对应 core.petition.petition_no; 可能缺失或录错';

ALTER TABLE staging.court_case ADD COLUMN enforcement_basis_no text, ADD COLUMN original_case_no text,
                               ADD COLUMN mediation_case_no text;
ALTER TABLE core.court_case ADD COLUMN enforcement_basis_no text, ADD COLUMN original_case_no text,
                            ADD COLUMN mediation_case_no text;
ALTER TABLE core.court_case_version ADD COLUMN enforcement_basis_no text, ADD COLUMN original_case_no text,
                                    ADD COLUMN mediation_case_no text;
CREATE INDEX court_case_enforcement_basis_no_idx ON core.court_case (enforcement_basis_no)
    WHERE enforcement_basis_no IS NOT NULL;
CREATE INDEX court_case_original_case_no_idx ON core.court_case (original_case_no) WHERE original_case_no IS NOT NULL;
CREATE INDEX court_case_mediation_case_no_idx ON core.court_case (mediation_case_no) WHERE mediation_case_no IS NOT NULL;

COMMENT ON COLUMN core.court_case.enforcement_basis_no IS '执行依据案号 (执行案件的生效文书案号, 如民初/民特案号), 对应 core.court_case.case_no; 可能缺失或录错';
COMMENT ON COLUMN core.court_case_version.enforcement_basis_no IS '执行依据案号 (执行案件的生效文书案号, 如民初/民特案号), 对应 core.court_case.case_no; 可能缺失或录错';
COMMENT ON COLUMN core.court_case.original_case_no IS '原案号 (执转破的破申案件所出自的执行案号), 对应 core.court_case.case_no; 可能缺失或录错';
COMMENT ON COLUMN core.court_case_version.original_case_no IS '原案号 (执转破的破申案件所出自的执行案号), 对应 core.court_case.case_no; 可能缺失或录错';
COMMENT ON COLUMN core.court_case.mediation_case_no IS '调解案件编号 (司法确认 民特 案件所确认的人民调解协议), 对应 core.mediation_case.case_no; 可能缺失或录错';
COMMENT ON COLUMN core.court_case_version.mediation_case_no IS '调解案件编号 (司法确认 民特 案件所确认的人民调解协议), 对应 core.mediation_case.case_no; 可能缺失或录错';
