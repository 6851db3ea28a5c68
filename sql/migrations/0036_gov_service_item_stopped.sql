-- 0036_gov_service_item_stopped.sql — 事项停用日期, so that 网上可办率 can count the 在用事项 at each
-- month's end (a stock: published_on .. stopped_on).

ALTER TABLE staging.gov_service_item ADD COLUMN stopped_on date;
ALTER TABLE core.gov_service_item ADD COLUMN stopped_on date;
ALTER TABLE core.gov_service_item_version ADD COLUMN stopped_on date;
COMMENT ON COLUMN core.gov_service_item.stopped_on IS '事项停用日期 (在用事项为空); 网上可办率按月末在用事项计';
COMMENT ON COLUMN core.gov_service_item_version.stopped_on IS '事项停用日期 (在用事项为空); 网上可办率按月末在用事项计';
