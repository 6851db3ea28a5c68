-- Delta maintenance of the monthly atoms (src/yhlaw/indicators.py, apply_delta): a refresh adds
-- what the changed records contribute now and subtracts what they contributed before, instead
-- of recomputing whole months. Two things make that exact:

-- 1. A breakdown combination exists while it has records; the count says when it stops.
ALTER TABLE mart.indicator_dimension_month_base ADD COLUMN records bigint;
COMMENT ON COLUMN mart.indicator_dimension_month_base.records IS
    '该组合 (分项、镇街、月) 的源记录数: 增量维护时降为 0 即删除该行; NULL = 本迁移前计算, 下次刷新全量重算';

-- 2. A batch merged again after the indicators consumed it (a replay, a rebuild) changed records
--    whose earlier contribution cannot be told from its versions: its months are recomputed.
CREATE TABLE audit.indicator_recheck (
    batch_id    text PRIMARY KEY REFERENCES audit.batch (batch_id),
    merged_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit.indicator_recheck IS
    '已计入指标后又被重新合并 (重放、重建) 的批次: 下次刷新按月重算其记录所在月份, 然后删除';
