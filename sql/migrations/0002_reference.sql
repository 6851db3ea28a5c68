-- Conformed dimensions shared by every source: towns (镇街) and dates.

CREATE TABLE core.dim_town (
    town_code    char(12) PRIMARY KEY,
    town_name    text NOT NULL UNIQUE,
    town_kind    text NOT NULL CHECK (town_kind IN ('街道', '镇', '区')),
    in_district  boolean NOT NULL,
    note         text
);
COMMENT ON TABLE core.dim_town IS '镇街维度: 余杭区2021年区划调整后的12个镇街 (统计用区划代码), 及调出到临平区的8个单位 (in_district=false)';
COMMENT ON COLUMN core.dim_town.town_code IS '统计用区划代码, 12位 (9位乡级代码 + "000")';
COMMENT ON COLUMN core.dim_town.town_name IS '镇街名称';
COMMENT ON COLUMN core.dim_town.town_kind IS '类型: 街道 / 镇';
COMMENT ON COLUMN core.dim_town.in_district IS '是否属于现余杭区 (2021年起); false = 已划入临平区';
COMMENT ON COLUMN core.dim_town.note IS '备注';

CREATE TABLE core.town_alias (
    alias        text PRIMARY KEY,
    town_code    char(12) NOT NULL REFERENCES core.dim_town (town_code),
    alias_kind   text NOT NULL
);
COMMENT ON TABLE core.town_alias IS '镇街别名映射: 源系统中出现的各种写法 (12位/9位代码、全称、简称、旧名) 到标准代码';
COMMENT ON COLUMN core.town_alias.alias IS '源系统中的写法 (已去空格)';
COMMENT ON COLUMN core.town_alias.town_code IS '对应的标准12位代码';
COMMENT ON COLUMN core.town_alias.alias_kind IS '写法类型: code12 / code9 / name / short_name / old_name';

CREATE TABLE core.dim_date (
    date_day       date PRIMARY KEY,
    year           smallint NOT NULL,
    quarter        smallint NOT NULL,
    month          smallint NOT NULL,
    month_start    date NOT NULL,
    quarter_start  date NOT NULL,
    year_start     date NOT NULL,
    iso_week       smallint NOT NULL,
    is_weekend     boolean NOT NULL
);
COMMENT ON TABLE core.dim_date IS '日期维度 (2015-2035), 供按月/季/年汇总';
COMMENT ON COLUMN core.dim_date.date_day IS '日期';
COMMENT ON COLUMN core.dim_date.year IS '年';
COMMENT ON COLUMN core.dim_date.quarter IS '季度 (1-4)';
COMMENT ON COLUMN core.dim_date.month IS '月 (1-12)';
COMMENT ON COLUMN core.dim_date.month_start IS '所在月第一天';
COMMENT ON COLUMN core.dim_date.quarter_start IS '所在季度第一天';
COMMENT ON COLUMN core.dim_date.year_start IS '所在年第一天';
COMMENT ON COLUMN core.dim_date.iso_week IS 'ISO周次';
COMMENT ON COLUMN core.dim_date.is_weekend IS '是否周末';

INSERT INTO core.dim_date
SELECT d::date,
       extract(year FROM d)::smallint,
       extract(quarter FROM d)::smallint,
       extract(month FROM d)::smallint,
       date_trunc('month', d)::date,
       date_trunc('quarter', d)::date,
       date_trunc('year', d)::date,
       extract(week FROM d)::smallint,
       extract(isodow FROM d) IN (6, 7)
FROM generate_series('2015-01-01'::date, '2035-12-31'::date, interval '1 day') AS d;

-- Version tables repeat their current table's columns; this copies the column comments so
-- analysts see the same documentation on both.
CREATE FUNCTION audit.copy_column_comments(from_table regclass, to_table regclass)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT a.attname, col_description(a.attrelid, a.attnum) AS description
        FROM pg_attribute a
        WHERE a.attrelid = from_table AND a.attnum > 0 AND NOT a.attisdropped
          AND col_description(a.attrelid, a.attnum) IS NOT NULL
    LOOP
        EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', to_table, col.attname, col.description);
    END LOOP;
END
$$;
