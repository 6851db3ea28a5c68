-- 当事人列表 (#17) for 信访 and 诉讼 as 0034 did for 人民调解: every party of a record with its
-- role, type and keyed HMAC, as jsonb on the record's core row (spec field type `parties`), for
-- the linkage of disputes across systems by party key (core.record_party lists them one a row).
-- Names, ID numbers and phones never reach these columns: only codes and the HMAC.

ALTER TABLE staging.petition ADD COLUMN parties jsonb;
ALTER TABLE core.petition ADD COLUMN parties jsonb;
ALTER TABLE core.petition_version ADD COLUMN parties jsonb;
CREATE INDEX petition_parties_idx ON core.petition USING gin (parties jsonb_path_ops);
COMMENT ON COLUMN core.petition.parties IS '全部当事人 (第一人为信访人): 每人 {role petitioner 信访人 / reported 被反映人, party_type person/org, party_key 证件号的 HMAC-SHA256}; 不含姓名、证件号、电话; 逐人一行见 core.record_party';
COMMENT ON COLUMN core.petition_version.parties IS '全部当事人 (第一人为信访人): 每人 {role, party_type, party_key}; 不含姓名、证件号、电话';

ALTER TABLE staging.court_case ADD COLUMN parties jsonb;
ALTER TABLE core.court_case ADD COLUMN parties jsonb;
ALTER TABLE core.court_case_version ADD COLUMN parties jsonb;
CREATE INDEX court_case_parties_idx ON core.court_case USING gin (parties jsonb_path_ops);
COMMENT ON COLUMN core.court_case.parties IS '全部当事人: 每人 {role 诉讼地位 (plaintiff 原告, defendant 被告, applicant 申请人, respondent 被申请人, enforcement_applicant 申请执行人, enforcement_respondent 被执行人, appellant 上诉人, accused 被告人 …), party_type person/org, party_key 证件号码的 HMAC-SHA256}; 不含名称、证件号码、电话; 逐人一行见 core.record_party';
COMMENT ON COLUMN core.court_case_version.parties IS '全部当事人: 每人 {role, party_type, party_key}; 不含名称、证件号码、电话';
