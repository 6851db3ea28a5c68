-- Replaying quarantined records after a fix (python -m yhlaw replay, DAG replay_quarantine):
-- every batch a replay re-validated, with its counts before and after.

CREATE TABLE audit.replay (
    replay_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id               text NOT NULL,
    source               text NOT NULL,
    entity               text NOT NULL,
    batch_id             text NOT NULL REFERENCES raw.batch (batch_id),
    reason_filter        text,
    status_before        text NOT NULL,
    quarantined_before   integer,
    status_after         text NOT NULL,
    quarantined_after    integer,
    loaded_after         integer,
    error                text,
    replayed_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit.replay IS '隔离记录重放: 修正规则或参考数据后, 按当前规则重新校验的批次及前后计数';
COMMENT ON COLUMN audit.replay.run_id IS '一次重放 (命令行或 DAG 运行) 的标识, 同一次重放的批次相同';
COMMENT ON COLUMN audit.replay.reason_filter IS '只重放含此原因代码的批次 (NULL = 全部)';
COMMENT ON COLUMN audit.replay.status_before IS '重放前批次状态: loaded (含隔离记录) 或 rejected';
COMMENT ON COLUMN audit.replay.quarantined_before IS '重放前的隔离记录数';
COMMENT ON COLUMN audit.replay.status_after IS '重放后批次状态';
COMMENT ON COLUMN audit.replay.quarantined_after IS '重放后仍被隔离的记录数';
COMMENT ON COLUMN audit.replay.loaded_after IS '重放后装入核心层的记录数 (批次总计)';
COMMENT ON COLUMN audit.replay.error IS '重放后仍被整批拒绝时的原因';
CREATE INDEX ON audit.replay (source, entity, replayed_at);
