-- The reason-code registry in the warehouse: every code that quarantine.record.reasons and
-- audit.validation_result.reason may hold, what it means and what to do about it. Filled from
-- include/reason_codes.yaml at set-up (yhlaw.reasons.load_reason_codes), which keeps the table
-- equal to the file: edit the file, not the table.
--
-- Privileges as for the rest of audit: etl reads and writes it through the default privileges
-- on schema audit (0001); analyst and dashboard read no audit table, so they get none here.

CREATE TABLE audit.reason_code (
    code            text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    severity        text NOT NULL CHECK (severity IN ('critical', 'blocking', 'warning')),
    level           text NOT NULL CHECK (level IN ('record', 'batch')),
    title_zh        text NOT NULL,
    description_zh  text NOT NULL,
    emitted_by      text[] NOT NULL CHECK (cardinality(emitted_by) > 0),
    trigger_en      text NOT NULL,
    proven_by       text[] NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT severity_fits_level CHECK ((severity <> 'critical' OR level = 'record')
                                          AND (severity <> 'blocking' OR level = 'batch'))
);
COMMENT ON TABLE audit.reason_code IS '原因代码登记表: 隔离记录与批次校验可能使用的全部原因代码及其含义、严重程度和处理办法 (由 include/reason_codes.yaml 装入, 请改文件而不是改表)';
COMMENT ON COLUMN audit.reason_code.code IS '原因代码, 即 quarantine.record.reasons 与 audit.validation_result.reason 中的取值, 如 unknown_town';
COMMENT ON COLUMN audit.reason_code.severity IS '严重程度: critical 记录被隔离, blocking 整批拒收, warning 仅记录 (记录照常入库)';
COMMENT ON COLUMN audit.reason_code.level IS '层级: record 记录级 (逐条校验), batch 批次级 (整批校验)';
COMMENT ON COLUMN audit.reason_code.title_zh IS '中文简称';
COMMENT ON COLUMN audit.reason_code.description_zh IS '中文说明: 含义及数据管理员应如何处理';
COMMENT ON COLUMN audit.reason_code.emitted_by IS '产生该原因的位置: 校验套件 expectations/<套件>.json, 或模块 yhlaw.normalise / yhlaw.conform / yhlaw.validate.batch_checks';
COMMENT ON COLUMN audit.reason_code.trigger_en IS '触发条件的详细说明 (英文)';
COMMENT ON COLUMN audit.reason_code.proven_by IS '证明该原因的坏数据语料用例与测试 (tests/test_bad_input.py 等)';
COMMENT ON COLUMN audit.reason_code.updated_at IS '该条目最近一次装入时内容发生变化的时间';

-- 0003 named an example code nothing emits (negative_amount); the registry above is the list.
COMMENT ON COLUMN quarantine.record.reasons IS '原因代码 (见 audit.reason_code), 如 unknown_town / missing_required_field / amount_out_of_range';
