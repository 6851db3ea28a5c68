-- Layers of the warehouse and the three roles that use it.
--   raw        each landed batch exactly as received (immutable: etl may insert, never update)
--   staging    typed rows of the batch being loaded (transient)
--   core       typed, conformed, deduplicated records; no names or phone numbers
--   quarantine rejected records with their raw payload and the reasons
--   audit      batches, counts, validation results, watermarks, migrations
--   mart       curated tables for dashboards (indicators)
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS mart;

COMMENT ON SCHEMA raw IS '原始层: 每个批次按接收原样落地, 不可修改 (landed batches as received, immutable)';
COMMENT ON SCHEMA staging IS '暂存层: 正在装载批次的类型化记录 (typed rows of the batch being loaded)';
COMMENT ON SCHEMA core IS '核心层: 类型化、统一口径、去重后的记录, 不含姓名电话等个人信息 (conformed records, no PII)';
COMMENT ON SCHEMA quarantine IS '隔离区: 被拒记录及原因, 含原始载荷 (rejected records with reasons; contains PII)';
COMMENT ON SCHEMA audit IS '审计层: 批次、计数、校验结果、水位线 (batches, counts, validations, watermarks)';
COMMENT ON SCHEMA mart IS '集市层: 面向看板的指标表 (curated tables for dashboards)';

-- Roles are cluster-wide: create them once, whatever database this is.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'etl') THEN
        CREATE ROLE etl LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analyst') THEN
        CREATE ROLE analyst LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dashboard') THEN
        CREATE ROLE dashboard LOGIN;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- etl: writes every layer, but raw only by appending.
GRANT USAGE ON SCHEMA raw, staging, core, quarantine, audit, mart TO etl;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT SELECT, INSERT ON TABLES TO etl;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, core, quarantine, audit, mart
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO etl;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, core, quarantine, audit, mart
    GRANT USAGE, SELECT ON SEQUENCES TO etl;

-- analyst: reads core and mart (core holds no names or phones; parties are keyed HMACs).
GRANT USAGE ON SCHEMA core, mart TO analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA core, mart GRANT SELECT ON TABLES TO analyst;

-- dashboard: reads mart only.
GRANT USAGE ON SCHEMA mart TO dashboard;
ALTER DEFAULT PRIVILEGES IN SCHEMA mart GRANT SELECT ON TABLES TO dashboard;
