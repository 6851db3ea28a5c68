-- 0024: 镇街 that left the district keep their history (#15). A record of 临平街道 dated before
-- the unit moved to 临平区 is the old district's history: it loads (town status 'former') and no
-- mart counts it (the marts count in_district 镇街 only); dated after, it is quarantined as
-- town_out_of_district. The date is the entity's dated_by column (source specs).
ALTER TABLE core.dim_town ADD COLUMN IF NOT EXISTS left_on date;
COMMENT ON COLUMN core.dim_town.left_on IS '离开本区的日期 (2021-04-09 临平区成立, 8 个镇街划出); 此前日期的记录是原余杭区的历史, 照常装载但不计入任何指标';

-- 南苑街道 is 330110002 and 东湖街道 330110003 (国家统计局 统计用区划代码, 2020); the reference
-- file had them the other way round. Swap the names where they were loaded (no core row holds
-- either code: until now every record of a moved-out 镇街 was quarantined).
UPDATE core.dim_town SET town_name = town_name || '#' WHERE town_code IN ('330110002000', '330110003000');
UPDATE core.dim_town SET town_name = '南苑街道' WHERE town_code = '330110002000';
UPDATE core.dim_town SET town_name = '东湖街道' WHERE town_code = '330110003000';
