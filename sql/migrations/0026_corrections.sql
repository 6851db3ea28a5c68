-- 0026: 社区矫正 (source `corrections`, include/specs/corrections.yaml): 在矫人员 read from the
-- 浙江智慧矫正系统's own MariaDB database. Conventions as in 0008 (mediation) plus what later
-- migrations added to every core table: the version table's batch index (0011), stale_since and
-- its partial index (0019, 0022); mart.stale_rows is generated from the specs at set-up.

CREATE TABLE core.correction_person (
    person_no            text PRIMARY KEY,
    correction_type      text,
    crime                text,
    decision_body        text,
    term_months          integer CHECK (term_months > 0),
    entered_on           date NOT NULL,
    town_code            char(12) NOT NULL REFERENCES core.dim_town (town_code),
    justice_office       text,
    supervision_level    text,
    electronic_tag       boolean,
    app                  text,
    last_review_on       date,
    released_on          date CHECK (released_on >= entered_on),
    release_type         text,
    reoffended           boolean,
    reoffended_on        date,
    resettlement_linked  boolean,
    linked_on            date,
    party_key            char(64),
    source_updated_at    timestamptz NOT NULL,
    batch_id             text NOT NULL,
    record_hash          text NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.correction_person (town_code, entered_on);
CREATE INDEX ON core.correction_person (released_on);
CREATE INDEX ON core.correction_person (party_key);

CREATE TABLE core.correction_person_version (LIKE core.correction_person INCLUDING DEFAULTS);
ALTER TABLE core.correction_person_version ADD PRIMARY KEY (person_no, source_updated_at);
CREATE INDEX ON core.correction_person_version (batch_id);

COMMENT ON TABLE core.correction_person IS '社区矫正对象 (浙江智慧矫正系统 在矫人员), 每人每次入矫一行, 为最新状态';
COMMENT ON TABLE core.correction_person_version IS '社区矫正对象的全部历史状态 (入矫、考核、解矫、安置帮教衔接、更正)';
COMMENT ON COLUMN core.correction_person.person_no IS '矫正人员编号 (自然键)';
COMMENT ON COLUMN core.correction_person.correction_type IS '矫正类别: 管制/缓刑/假释/暂予监外执行';
COMMENT ON COLUMN core.correction_person.crime IS '罪名 (主罪)';
COMMENT ON COLUMN core.correction_person.decision_body IS '决定机关 (判决、裁定或决定暂予监外执行的法院、监狱管理机关或公安机关)';
COMMENT ON COLUMN core.correction_person.term_months IS '矫正期限 (月)';
COMMENT ON COLUMN core.correction_person.entered_on IS '入矫日期 (报到登记)';
COMMENT ON COLUMN core.correction_person.town_code IS '执行地镇街 (负责的司法所所在镇街), 见 core.dim_town';
COMMENT ON COLUMN core.correction_person.justice_office IS '负责的司法所';
COMMENT ON COLUMN core.correction_person.supervision_level IS '管理等级: 严管/普管/宽管';
COMMENT ON COLUMN core.correction_person.electronic_tag IS '是否佩戴电子定位装置';
COMMENT ON COLUMN core.correction_person.app IS '使用的矫正APP: 之矫汇/智汇矫/无';
COMMENT ON COLUMN core.correction_person.last_review_on IS '最近一次考核日期 (季度考核)';
COMMENT ON COLUMN core.correction_person.released_on IS '解矫日期 (空 = 仍在矫)';
COMMENT ON COLUMN core.correction_person.release_type IS '解矫类型: 期满解矫/撤销缓刑/撤销假释/收监执行/死亡/迁出 (执行地变更至区外)';
COMMENT ON COLUMN core.correction_person.reoffended IS '是否在矫期间再犯罪';
COMMENT ON COLUMN core.correction_person.reoffended_on IS '再犯罪日期 (犯新罪之日)';
COMMENT ON COLUMN core.correction_person.resettlement_linked IS '解矫后是否已与安置帮教衔接 (空 = 尚未办理)';
COMMENT ON COLUMN core.correction_person.linked_on IS '安置帮教衔接日期';
COMMENT ON COLUMN core.correction_person.party_key IS '矫正对象键 (身份证号的 HMAC-SHA256), 与其他来源一致';
COMMENT ON COLUMN core.correction_person.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.correction_person.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.correction_person.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.correction_person.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.correction_person', 'core.correction_person_version');

-- Staging holds the batch in flight with the core table's columns (validated rows only).
CREATE UNLOGGED TABLE staging.correction_person (LIKE core.correction_person INCLUDING DEFAULTS);
CREATE INDEX ON staging.correction_person (batch_id);

-- Core only (as 0019 did for the other sources): stale_since, maintained by store.merge.
ALTER TABLE core.correction_person ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.correction_person.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
CREATE INDEX correction_person_stale_since_idx ON core.correction_person (stale_since) WHERE stale_since IS NOT NULL;
