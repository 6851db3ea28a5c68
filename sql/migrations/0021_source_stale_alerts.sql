-- Freshness alerts (check_freshness, yhlaw.freshness): a source entity that has not loaded the
-- interval due by its spec's fresh_within_minutes (06:15 for a daily source) is an alert too.

ALTER TABLE audit.alert DROP CONSTRAINT alert_kind_check;
ALTER TABLE audit.alert ADD CONSTRAINT alert_kind_check
    CHECK (kind IN ('task_failed', 'dag_run_failed', 'source_stale'));
COMMENT ON COLUMN audit.alert.kind IS '告警类型: task_failed 任务失败, dag_run_failed DAG 运行失败, source_stale 数据源未按时入库 (到期区间未装载)';
