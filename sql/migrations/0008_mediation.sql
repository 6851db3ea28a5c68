-- 人民调解 (people's mediation).

CREATE UNLOGGED TABLE staging.mediation_case (
    batch_id               text NOT NULL,
    case_no                text,
    committee_type         text,
    committee_name         text,
    dispute_type           text,
    case_source            text,
    via_jiefen_code        boolean,
    town_code              char(12),
    accepted_on            date,
    closed_on              date,
    result                 text,
    agreement_amount       numeric(14, 2),
    judicial_confirmation  boolean,
    court_referral_no      text,
    party_type             text,
    party_key              char(64),
    source_updated_at      timestamptz,
    record_hash            text
);
CREATE INDEX ON staging.mediation_case (batch_id);

CREATE TABLE core.mediation_case (
    case_no                text PRIMARY KEY,
    committee_type         text,
    committee_name         text,
    dispute_type           text,
    case_source            text,
    via_jiefen_code        boolean,
    town_code              char(12) NOT NULL REFERENCES core.dim_town (town_code),
    accepted_on            date NOT NULL,
    closed_on              date,
    result                 text,
    agreement_amount       numeric(14, 2) CHECK (agreement_amount >= 0),
    judicial_confirmation  boolean,
    court_referral_no      text,
    party_type             text,
    party_key              char(64),
    source_updated_at      timestamptz NOT NULL,
    batch_id               text NOT NULL,
    record_hash            text NOT NULL,
    loaded_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.mediation_case (town_code, accepted_on);
CREATE INDEX ON core.mediation_case (court_referral_no) WHERE court_referral_no IS NOT NULL;

CREATE TABLE core.mediation_case_version (LIKE core.mediation_case INCLUDING DEFAULTS);
ALTER TABLE core.mediation_case_version ADD PRIMARY KEY (case_no, source_updated_at);

COMMENT ON TABLE core.mediation_case IS '人民调解案件 (人民调解信息系统), 每案一行, 为最新版本';
COMMENT ON TABLE core.mediation_case_version IS '人民调解案件的全部历史版本';
COMMENT ON COLUMN core.mediation_case.case_no IS '调解案件编号 (自然键)';
COMMENT ON COLUMN core.mediation_case.committee_type IS '调委会类型: 村居/镇街/行业性专业性';
COMMENT ON COLUMN core.mediation_case.committee_name IS '调委会名称';
COMMENT ON COLUMN core.mediation_case.dispute_type IS '纠纷类型: 婚姻家庭/邻里/房屋宅基地/损害赔偿/合同/劳动争议/交通事故/医患/物业/征地拆迁/其他';
COMMENT ON COLUMN core.mediation_case.case_source IS '案件来源: 当事人申请/诉前委派/信访转办/主动排查';
COMMENT ON COLUMN core.mediation_case.via_jiefen_code IS '是否通过浙江解纷码在线办理';
COMMENT ON COLUMN core.mediation_case.town_code IS '纠纷发生镇街, 见 core.dim_town';
COMMENT ON COLUMN core.mediation_case.accepted_on IS '受理日期';
COMMENT ON COLUMN core.mediation_case.closed_on IS '结案日期';
COMMENT ON COLUMN core.mediation_case.result IS '调解结果: 成功/不成功';
COMMENT ON COLUMN core.mediation_case.agreement_amount IS '协议金额 (元)';
COMMENT ON COLUMN core.mediation_case.judicial_confirmation IS '是否司法确认';
COMMENT ON COLUMN core.mediation_case.court_referral_no IS '诉前委派编号 (法院委派调解时), 可与诉讼案件关联';
COMMENT ON COLUMN core.mediation_case.party_type IS '申请人类型: person / org';
COMMENT ON COLUMN core.mediation_case.party_key IS '申请人键 (第一当事人证件号的 HMAC-SHA256), 与其他来源一致';
COMMENT ON COLUMN core.mediation_case.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.mediation_case.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.mediation_case.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.mediation_case.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.mediation_case', 'core.mediation_case_version');
