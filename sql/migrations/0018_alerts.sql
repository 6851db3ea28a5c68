-- Operational alerts: every failed task and failed DAG run, recorded by the Airflow listener in
-- plugins/ (yhlaw.alerts), so failures are visible in the warehouse beside the batches they
-- concern. Alerts carry no PII: identifiers of runs and tasks, the exception's class, and its
-- first line with long digit runs (ID numbers, phone numbers) masked.

CREATE TABLE audit.alert (
    alert_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('task_failed', 'dag_run_failed')),
    dag_id        text NOT NULL,
    task_id       text,
    run_id        text,
    try_number    integer,
    error_type    text,
    message       text,
    raised_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit.alert IS '运行告警: 失败的任务和 DAG 运行 (由 plugins/ 中的 Airflow 监听器写入; 不含个人信息)';
COMMENT ON COLUMN audit.alert.alert_id IS '告警编号';
COMMENT ON COLUMN audit.alert.kind IS '告警类型: task_failed 任务失败, dag_run_failed DAG 运行失败';
COMMENT ON COLUMN audit.alert.dag_id IS 'DAG 标识, 如 ingest_enforcement';
COMMENT ON COLUMN audit.alert.task_id IS '任务标识, 如 validate_case (DAG 运行告警为空)';
COMMENT ON COLUMN audit.alert.run_id IS 'Airflow 运行标识';
COMMENT ON COLUMN audit.alert.try_number IS '第几次尝试 (任务告警)';
COMMENT ON COLUMN audit.alert.error_type IS '异常类型, 如 AirflowFailException (整批拒绝)';
COMMENT ON COLUMN audit.alert.message IS '错误信息首行 (截断至 300 字; 6 位以上数字串已遮盖)';
COMMENT ON COLUMN audit.alert.raised_at IS '告警时间';
CREATE INDEX ON audit.alert (dag_id, raised_at);
