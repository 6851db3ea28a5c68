-- Stale rows that look current (issue: "nothing silently changes"): when a record's newest
-- version is quarantined, core keeps the older clean version. Core rows now say so
-- (stale_since), quarantine keeps the typed key and update time it could read, and
-- mart.stale_rows counts such rows per source and entity for the data-quality views.
-- store.merge maintains stale_since for the keys each batch touches.

ALTER TABLE quarantine.record ADD COLUMN natural_key text, ADD COLUMN updated_at timestamptz;
COMMENT ON COLUMN quarantine.record.natural_key IS '业务主键 (按核心层规则规范化后的值; 无法读取时为空)';
COMMENT ON COLUMN quarantine.record.updated_at IS '来源更新时间 (能读取时; 用于判断核心层是否有更新的版本被隔离)';
CREATE INDEX quarantine_record_key ON quarantine.record (source, entity, natural_key);

ALTER TABLE core.court_case ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.court_case.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

ALTER TABLE core.dishonest_debtor ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.dishonest_debtor.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

ALTER TABLE core.enforcement_case ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.enforcement_case.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

ALTER TABLE core.enforcement_inspection ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.enforcement_inspection.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

ALTER TABLE core.enforcement_staffing ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.enforcement_staffing.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

ALTER TABLE core.publicity_site ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.publicity_site.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

ALTER TABLE core.legal_service ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.legal_service.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

ALTER TABLE core.mediation_case ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.mediation_case.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

ALTER TABLE core.petition ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.petition.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';

CREATE VIEW mart.stale_rows AS
SELECT 'courts'::text AS source, 'case'::text AS entity, 'court_case'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.court_case
UNION ALL
SELECT 'courts'::text AS source, 'dishonest'::text AS entity, 'dishonest_debtor'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.dishonest_debtor
UNION ALL
SELECT 'enforcement'::text AS source, 'case'::text AS entity, 'enforcement_case'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.enforcement_case
UNION ALL
SELECT 'enforcement'::text AS source, 'inspection'::text AS entity, 'enforcement_inspection'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.enforcement_inspection
UNION ALL
SELECT 'ledgers'::text AS source, 'staffing'::text AS entity, 'enforcement_staffing'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.enforcement_staffing
UNION ALL
SELECT 'ledgers'::text AS source, 'publicity'::text AS entity, 'publicity_site'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.publicity_site
UNION ALL
SELECT 'legal_services'::text AS source, 'service'::text AS entity, 'legal_service'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.legal_service
UNION ALL
SELECT 'mediation'::text AS source, 'case'::text AS entity, 'mediation_case'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.mediation_case
UNION ALL
SELECT 'petitions'::text AS source, 'petition'::text AS entity, 'petition'::text AS core_table, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows, min(stale_since) AS oldest_stale_since FROM core.petition;
COMMENT ON VIEW mart.stale_rows IS '数据质量: 各来源、实体的核心层过期行数 (最新版本被隔离, 核心层仍为旧版本)';
COMMENT ON COLUMN mart.stale_rows.source IS '来源';
COMMENT ON COLUMN mart.stale_rows.entity IS '实体';
COMMENT ON COLUMN mart.stale_rows.core_table IS '核心层表';
COMMENT ON COLUMN mart.stale_rows.stale_rows IS '过期行数: 有更新版本被隔离的核心行';
COMMENT ON COLUMN mart.stale_rows.rows IS '核心行总数';
COMMENT ON COLUMN mart.stale_rows.oldest_stale_since IS '最早的被隔离新版本的更新时间';

-- audit.alert (0018) masks runs of 11+ digits (ID numbers, mobile numbers); shorter runs name
-- places (the date and time in a batch id, a line) and stay readable.
COMMENT ON COLUMN audit.alert.message IS '错误信息首行 (截断至 300 字; 11 位以上数字串 (身份证号、手机号等) 已遮盖)';
