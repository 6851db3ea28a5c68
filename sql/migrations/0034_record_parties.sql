-- 当事人列表 (#17): every party of a record, with its role, type and keyed HMAC, on the record's
-- own core row as jsonb (spec field type `parties`), instead of only the first party.
--
-- Why a jsonb column and not a child table: the store merges a record as one row per version
-- (core.<table> holds the latest, core.<table>_version every version, the newest update wins);
-- a column rides along that merge, the versioning, the record hash, quarantine and replay with
-- no engine code, while a child table would need its own delete-and-insert per key and version
-- in the merge. Linkage reads the parties through the view core.record_party (one row per
-- party, generated from the specs at set-up by yhlaw.mart_views), and looks up the records of
-- one party key through the GIN index below (parties @> '[{"party_key": "…"}]').
-- Names, ID numbers and phones never reach these columns: only codes and the HMAC.

ALTER TABLE staging.mediation_case ADD COLUMN parties jsonb;
ALTER TABLE core.mediation_case ADD COLUMN parties jsonb;
ALTER TABLE core.mediation_case_version ADD COLUMN parties jsonb;

CREATE INDEX mediation_case_parties_idx ON core.mediation_case USING gin (parties jsonb_path_ops);

COMMENT ON COLUMN core.mediation_case.parties IS '全部当事人 (按来源序号): 每人 {role 调解地位 applicant/respondent, party_type person/org, party_key 证件号的 HMAC-SHA256}; 不含姓名、证件号、电话; 逐人一行见 core.record_party';
COMMENT ON COLUMN core.mediation_case_version.parties IS '全部当事人 (按来源序号): 每人 {role 调解地位 applicant/respondent, party_type person/org, party_key 证件号的 HMAC-SHA256}; 不含姓名、证件号、电话; 逐人一行见 core.record_party';
