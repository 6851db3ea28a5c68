-- Typing in the warehouse (yhlaw.typer): most records are typed by one INSERT ... SELECT over
-- raw.record, which computes the pseudonymous party key (HMAC-SHA256, docs/security.md) where
-- the data is. pgcrypto gives hmac(); it lives in its own schema that only the ETL role uses.
-- The key never appears in SQL text: typing COPYs it into a temporary table of its session.

CREATE SCHEMA IF NOT EXISTS ext;
COMMENT ON SCHEMA ext IS '扩展函数: pgcrypto (hmac), 仅供 ETL 角色在入库类型转换时使用';
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA ext;
REVOKE ALL ON SCHEMA ext FROM PUBLIC;
GRANT USAGE ON SCHEMA ext TO etl;
