-- 0032: 社区矫正 违规与奖惩 (source `corrections`, entity `violation`, include/specs/corrections.yaml):
-- the 浙江智慧矫正系统's 奖惩记录 (jz_wgjc), one row per 训诫/警告/提请/表扬, keyed to the person by
-- the keyed party key (never by name) and the system's 矫正人员编号. Conventions as 0026.

CREATE TABLE core.correction_violation (
    record_no            text PRIMARY KEY,
    person_no            text,
    sanction             text,
    violation_type       text,
    occurred_on          date,
    decided_on           date NOT NULL,
    decision_body        text,
    town_code            char(12) NOT NULL REFERENCES core.dim_town (town_code),
    justice_office       text,
    party_key            char(64),
    source_updated_at    timestamptz NOT NULL,
    batch_id             text NOT NULL,
    record_hash          text NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.correction_violation (town_code, decided_on);
CREATE INDEX ON core.correction_violation (party_key);
CREATE INDEX ON core.correction_violation (person_no);

CREATE TABLE core.correction_violation_version (LIKE core.correction_violation INCLUDING DEFAULTS);
ALTER TABLE core.correction_violation_version ADD PRIMARY KEY (record_no, source_updated_at);
CREATE INDEX ON core.correction_violation_version (batch_id);

COMMENT ON TABLE core.correction_violation IS '社区矫正对象违规与奖惩 (浙江智慧矫正系统 奖惩记录), 每次训诫、警告、提请或表扬一行, 为最新版本';
COMMENT ON TABLE core.correction_violation_version IS '社区矫正对象违规与奖惩的全部历史版本 (决定及更正)';
COMMENT ON COLUMN core.correction_violation.record_no IS '奖惩编号 (自然键)';
COMMENT ON COLUMN core.correction_violation.person_no IS '矫正人员编号 (见 core.correction_person.person_no; 每次入矫一个)';
COMMENT ON COLUMN core.correction_violation.sanction IS '奖惩类别: 训诫/警告/提请治安管理处罚/提请撤销缓刑/提请撤销假释/提请收监执行 (惩), 表扬/提请减刑 (奖)';
COMMENT ON COLUMN core.correction_violation.violation_type IS '违规类型 (表扬、减刑为空): 未按规定报到/未经批准离开所居住市县/脱离监管/不按规定参加教育学习/电子定位违规/违反禁止令/不按规定报告/其他违反监督管理规定';
COMMENT ON COLUMN core.correction_violation.occurred_on IS '违规发生日期 (表扬、减刑为空)';
COMMENT ON COLUMN core.correction_violation.decided_on IS '决定日期 (训诫、警告的决定, 或提请之日)';
COMMENT ON COLUMN core.correction_violation.decision_body IS '决定机关: 区社区矫正管理局 (训诫、警告、提请), 公安分局 (治安管理处罚)';
COMMENT ON COLUMN core.correction_violation.town_code IS '执行地镇街 (负责的司法所所在镇街), 见 core.dim_town';
COMMENT ON COLUMN core.correction_violation.justice_office IS '负责的司法所';
COMMENT ON COLUMN core.correction_violation.party_key IS '矫正对象键 (身份证号的 HMAC-SHA256), 与 core.correction_person.party_key 一致';
COMMENT ON COLUMN core.correction_violation.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.correction_violation.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.correction_violation.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.correction_violation.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.correction_violation', 'core.correction_violation_version');

-- Staging holds the batch in flight with the core table's columns (validated rows only).
CREATE UNLOGGED TABLE staging.correction_violation (LIKE core.correction_violation INCLUDING DEFAULTS);
CREATE INDEX ON staging.correction_violation (batch_id);

-- Core only (as 0019 did for the other sources): stale_since, maintained by store.merge.
ALTER TABLE core.correction_violation ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.correction_violation.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
CREATE INDEX correction_violation_stale_since_idx ON core.correction_violation (stale_since) WHERE stale_since IS NOT NULL;
