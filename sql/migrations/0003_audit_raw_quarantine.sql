-- Landing, bookkeeping and rejection: the same tables serve every source.

CREATE TABLE raw.batch (
    batch_id        text PRIMARY KEY,
    source          text NOT NULL,
    entity          text NOT NULL,
    interval_start  timestamptz NOT NULL,
    interval_end    timestamptz NOT NULL,
    query_since     timestamptz NOT NULL,
    record_count    integer NOT NULL,
    content_sha256  text NOT NULL,
    landed_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE raw.batch IS '落地批次: 一次抽取 = 一个批次; batch_id 由来源、实体、区间和内容哈希决定, 内容相同的重跑复用同一批次';
COMMENT ON COLUMN raw.batch.query_since IS '实际查询起点 (区间起点减去重叠窗口)';

CREATE TABLE raw.record (
    batch_id      text NOT NULL REFERENCES raw.batch (batch_id),
    seq           integer NOT NULL,
    payload       jsonb NOT NULL,
    payload_md5   text NOT NULL,
    PRIMARY KEY (batch_id, seq)
);
COMMENT ON TABLE raw.record IS '原始记录: 按接收顺序保存, 含个人信息, 仅 etl 可读';

CREATE TABLE audit.batch (
    batch_id         text PRIMARY KEY REFERENCES raw.batch (batch_id),
    source           text NOT NULL,
    entity           text NOT NULL,
    interval_start   timestamptz NOT NULL,
    interval_end     timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN ('landed', 'validated', 'loaded', 'rejected')),
    received         integer NOT NULL,
    loaded           integer,
    quarantined      integer,
    extract_stats    jsonb,
    error            text,
    dag_run_id       text,
    attempts         integer NOT NULL DEFAULT 1,
    landed_at        timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT counts_reconcile CHECK (status <> 'loaded' OR received = loaded + quarantined)
);
COMMENT ON TABLE audit.batch IS '批次审计: 每个批次的状态与计数, 已装载批次必须满足 received = loaded + quarantined';
CREATE INDEX batch_source_interval ON audit.batch (source, entity, interval_start);

CREATE TABLE audit.validation_result (
    batch_id          text NOT NULL REFERENCES raw.batch (batch_id),
    check_name        text NOT NULL,
    level             text NOT NULL CHECK (level IN ('row', 'batch')),
    reason            text NOT NULL,
    blocking          boolean NOT NULL,
    success           boolean NOT NULL,
    unexpected_count  integer NOT NULL DEFAULT 0,
    observed          jsonb,
    checked_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, check_name)
);
COMMENT ON TABLE audit.validation_result IS '校验结果: 行级 (Great Expectations 期望) 与批次级 (量级异常、结构漂移、坏行比例) 检查';

CREATE TABLE audit.watermark (
    source        text NOT NULL,
    entity        text NOT NULL,
    high_water    timestamptz NOT NULL,
    last_batch_id text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, entity)
);
COMMENT ON TABLE audit.watermark IS '水位线: 已装入核心层的最大源更新时间, 与数据在同一事务中提交';

CREATE TABLE quarantine.record (
    batch_id        text NOT NULL REFERENCES raw.batch (batch_id),
    seq             integer NOT NULL,
    source          text NOT NULL,
    entity          text NOT NULL,
    record_key      text,
    reasons         text[] NOT NULL,
    details         jsonb NOT NULL,
    payload         jsonb NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, seq)
);
COMMENT ON TABLE quarantine.record IS '隔离记录: 未通过行级校验的记录, 保留原始载荷与全部原因, 修正后可重放';
COMMENT ON COLUMN quarantine.record.reasons IS '原因代码, 如 unknown_town / missing_required_field / negative_amount';
COMMENT ON COLUMN quarantine.record.details IS '每条原因的期望、字段与观测值';
CREATE INDEX quarantine_reason ON quarantine.record USING gin (reasons);
