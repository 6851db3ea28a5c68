-- Reference data for the indicators: resident population per 镇街 per year, and departments.

CREATE TABLE core.town_population (
    year          smallint NOT NULL,
    town_code     char(12) NOT NULL REFERENCES core.dim_town (town_code),
    population    integer NOT NULL CHECK (population > 0),
    basis         text NOT NULL CHECK (basis IN ('official', 'estimate')),
    source        text NOT NULL,
    PRIMARY KEY (year, town_code)
);
COMMENT ON TABLE core.town_population IS '常住人口 (按年、镇街; 330110000000 = 全区). 2020年全区数为第七次人口普查官方数, 镇街数为估算, 可用统计局数据替换 reference/population.csv';
COMMENT ON COLUMN core.town_population.year IS '年份';
COMMENT ON COLUMN core.town_population.town_code IS '镇街代码, 330110000000 = 全区';
COMMENT ON COLUMN core.town_population.population IS '常住人口 (人)';
COMMENT ON COLUMN core.town_population.basis IS '口径: official 官方统计 / estimate 估算';
COMMENT ON COLUMN core.town_population.source IS '数据来源或估算方法';

CREATE TABLE core.dim_department (
    dept_code     text PRIMARY KEY,
    dept_name     text NOT NULL,
    kind          text NOT NULL,
    note          text
);
COMMENT ON TABLE core.dim_department IS '执法部门维度';
COMMENT ON COLUMN core.dim_department.dept_code IS '部门代码 (源系统 deptCode)';
COMMENT ON COLUMN core.dim_department.dept_name IS '部门名称';
COMMENT ON COLUMN core.dim_department.kind IS '类型: 综合执法 / 专业执法';
COMMENT ON COLUMN core.dim_department.note IS '备注';
