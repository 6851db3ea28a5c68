-- 信访 (petitions): one row per 信访件, its version history, and the staging table.

CREATE UNLOGGED TABLE staging.petition (
    batch_id            text NOT NULL,
    petition_no         text,
    form                text,
    kind                text,
    agent_handled       boolean,
    town_code           char(12),
    category            text,
    registered_at       timestamptz,
    accepted_at         timestamptz,
    concluded_at        timestamptz,
    accepted_in_time    boolean,
    concluded_in_time   boolean,
    satisfaction        text,
    is_backlog          boolean,
    party_type          text,
    party_key           char(64),
    operation_log       jsonb,
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.petition (batch_id);

CREATE TABLE core.petition (
    petition_no         text PRIMARY KEY,
    form                text,
    kind                text,
    agent_handled       boolean,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    category            text,
    registered_at       timestamptz NOT NULL,
    accepted_at         timestamptz,
    concluded_at        timestamptz,
    accepted_in_time    boolean,
    concluded_in_time   boolean,
    satisfaction        text,
    is_backlog          boolean,
    party_type          text,
    party_key           char(64),
    operation_log       jsonb,
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.petition (town_code, registered_at);

CREATE TABLE core.petition_version (LIKE core.petition INCLUDING DEFAULTS);
ALTER TABLE core.petition_version ADD PRIMARY KEY (petition_no, source_updated_at);

COMMENT ON TABLE core.petition IS '信访件 (信访信息系统), 每件一行, 为最新版本';
COMMENT ON TABLE core.petition_version IS '信访件的全部历史版本 (登记、受理、办结、评价及更正)';
COMMENT ON COLUMN core.petition.petition_no IS '信访件编号 (自然键)';
COMMENT ON COLUMN core.petition.form IS '信访形式: 来信/来访/网上信访/电话';
COMMENT ON COLUMN core.petition.kind IS '初信初访 / 重复';
COMMENT ON COLUMN core.petition.agent_handled IS '是否信访代办';
COMMENT ON COLUMN core.petition.town_code IS '问题属地镇街, 见 core.dim_town';
COMMENT ON COLUMN core.petition.category IS '内容分类';
COMMENT ON COLUMN core.petition.registered_at IS '登记时间';
COMMENT ON COLUMN core.petition.accepted_at IS '受理时间';
COMMENT ON COLUMN core.petition.concluded_at IS '办结时间';
COMMENT ON COLUMN core.petition.accepted_in_time IS '是否按期受理 (《信访工作条例》: 登记后15日内)';
COMMENT ON COLUMN core.petition.concluded_in_time IS '是否按期办结 (受理后60日内)';
COMMENT ON COLUMN core.petition.satisfaction IS '满意度评价: 满意/基本满意/不满意/未评价';
COMMENT ON COLUMN core.petition.is_backlog IS '是否信访积案';
COMMENT ON COLUMN core.petition.party_type IS '信访人类型: person / org';
COMMENT ON COLUMN core.petition.party_key IS '信访人键: 身份证号的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.petition.operation_log IS '办理日志 [{op, time, unit}]';
COMMENT ON COLUMN core.petition.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.petition.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.petition.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.petition.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.petition', 'core.petition_version');
