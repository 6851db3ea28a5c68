-- Curated marts for dashboards: the indicator catalog, the indicator values per 镇街 and
-- period, their revision history, and the views dashboards read. Written only by the
-- indicator engine (src/yhlaw/indicators.py), from the catalog in indicators/*.yaml.

CREATE TABLE mart.indicator_catalog (
    indicator_code    text PRIMARY KEY,
    name_zh           text NOT NULL,
    name_en           text NOT NULL,
    area              text NOT NULL,
    policy_section    text NOT NULL,
    policy_clause     text NOT NULL,
    unit              text NOT NULL,
    scale             numeric NOT NULL,
    direction         text NOT NULL CHECK (direction IN ('higher', 'lower')),
    target            numeric,
    target_source     text NOT NULL,
    grains            text[] NOT NULL,
    levels            text[] NOT NULL,
    dimensions        text[] NOT NULL,
    numerator_sql     text NOT NULL,
    denominator_sql   text,
    rollup            text NOT NULL,
    parameters        jsonb NOT NULL DEFAULT '{}',
    assumptions       text[] NOT NULL,
    spec_file         text NOT NULL,
    spec_hash         text NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mart.indicator_catalog IS '指标目录: 每个指标的口径、政策出处、目标值 (来自 indicators/*.yaml)';
COMMENT ON COLUMN mart.indicator_catalog.indicator_code IS '指标代码';
COMMENT ON COLUMN mart.indicator_catalog.name_zh IS '指标名称 (中文)';
COMMENT ON COLUMN mart.indicator_catalog.name_en IS '指标名称 (英文)';
COMMENT ON COLUMN mart.indicator_catalog.area IS '领域: 严格执法 / 公正司法 / 全民守法 / 基层治理 / 执法力量';
COMMENT ON COLUMN mart.indicator_catalog.policy_section IS '政策文件中的条目, 如 (六)1 数字赋能严格执法';
COMMENT ON COLUMN mart.indicator_catalog.policy_clause IS '政策原文 (引用)';
COMMENT ON COLUMN mart.indicator_catalog.unit IS '单位: % / 件 / 件/万人 / 人/万人 / 天';
COMMENT ON COLUMN mart.indicator_catalog.scale IS '值 = 分子 / 分母 × scale (计数类指标无分母, 值 = 分子)';
COMMENT ON COLUMN mart.indicator_catalog.direction IS '方向: higher = 越高越好, lower = 越低越好';
COMMENT ON COLUMN mart.indicator_catalog.target IS '目标值 (政策明确给出时), 单位同 unit';
COMMENT ON COLUMN mart.indicator_catalog.target_source IS '目标值出处 (政策原文), 或 "none stated"';
COMMENT ON COLUMN mart.indicator_catalog.grains IS '计算粒度: month / quarter / year';
COMMENT ON COLUMN mart.indicator_catalog.levels IS '层级: town (各镇街) / district (全区)';
COMMENT ON COLUMN mart.indicator_catalog.dimensions IS '可下钻的维度 (core 表中的列)';
COMMENT ON COLUMN mart.indicator_catalog.numerator_sql IS '分子口径 (SQL)';
COMMENT ON COLUMN mart.indicator_catalog.denominator_sql IS '分母口径 (SQL); 计数类指标为空';
COMMENT ON COLUMN mart.indicator_catalog.rollup IS '汇总方式: sum = 月度分子分母相加; snapshot = 取期内最后一个时点';
COMMENT ON COLUMN mart.indicator_catalog.parameters IS '口径参数 (如万人成讼率的案件范围、人口口径)';
COMMENT ON COLUMN mart.indicator_catalog.assumptions IS '口径假设与说明';
COMMENT ON COLUMN mart.indicator_catalog.spec_file IS '定义文件';
COMMENT ON COLUMN mart.indicator_catalog.spec_hash IS '定义文件内容哈希 (口径变化时全量重算)';
COMMENT ON COLUMN mart.indicator_catalog.updated_at IS '目录更新时间';

-- Monthly atoms: every value at every grain and level is a sum (or, for snapshots, the last
-- month) of these, so quarter, year and district values never average rates.
CREATE TABLE mart.indicator_month_base (
    indicator_code  text NOT NULL REFERENCES mart.indicator_catalog (indicator_code) ON DELETE CASCADE,
    month_start     date NOT NULL,
    town_code       char(12) NOT NULL REFERENCES core.dim_town (town_code),
    numerator       numeric,
    denominator     numeric,
    PRIMARY KEY (indicator_code, month_start, town_code)
);
COMMENT ON TABLE mart.indicator_month_base IS '指标月度原子数据: 每指标 × 月 × 镇街的分子与分母 (季度/年度/全区由此相加得到)';
COMMENT ON COLUMN mart.indicator_month_base.indicator_code IS '指标代码, 见 mart.indicator_catalog';
COMMENT ON COLUMN mart.indicator_month_base.month_start IS '月份 (该月第一天)';
COMMENT ON COLUMN mart.indicator_month_base.town_code IS '镇街代码 (全区级指标为 330110000000)';
COMMENT ON COLUMN mart.indicator_month_base.numerator IS '分子';
COMMENT ON COLUMN mart.indicator_month_base.denominator IS '分母 (计数类指标为空; 时点类指标无台账时为空)';

CREATE TABLE mart.indicator_values (
    indicator_code  text NOT NULL REFERENCES mart.indicator_catalog (indicator_code) ON DELETE CASCADE,
    grain           text NOT NULL CHECK (grain IN ('month', 'quarter', 'year')),
    period_start    date NOT NULL,
    town_code       char(12) NOT NULL REFERENCES core.dim_town (town_code),
    numerator       numeric,
    denominator     numeric,
    value           numeric,
    unit            text NOT NULL,
    target          numeric,
    meets_target    boolean,
    computed_at     timestamptz NOT NULL,
    PRIMARY KEY (indicator_code, grain, period_start, town_code)
);
CREATE INDEX ON mart.indicator_values (town_code, grain, period_start);
COMMENT ON TABLE mart.indicator_values IS '指标值: 每指标 × 粒度 × 期间 × 镇街一行 (含无数据的镇街, 分母为0时值为空); 全区 = 330110000000';
COMMENT ON COLUMN mart.indicator_values.indicator_code IS '指标代码, 见 mart.indicator_catalog';
COMMENT ON COLUMN mart.indicator_values.grain IS '粒度: month / quarter / year';
COMMENT ON COLUMN mart.indicator_values.period_start IS '期间第一天';
COMMENT ON COLUMN mart.indicator_values.town_code IS '镇街代码 (12位); 330110000000 = 全区';
COMMENT ON COLUMN mart.indicator_values.numerator IS '分子 (期间内月度分子之和; 时点类取期末)';
COMMENT ON COLUMN mart.indicator_values.denominator IS '分母 (同上); 计数类指标为空';
COMMENT ON COLUMN mart.indicator_values.value IS '指标值 = 分子 / 分母 × scale; 分母为0或无数据时为空 (不是0)';
COMMENT ON COLUMN mart.indicator_values.unit IS '单位';
COMMENT ON COLUMN mart.indicator_values.target IS '目标值 (政策未给出时为空)';
COMMENT ON COLUMN mart.indicator_values.meets_target IS '是否达标 (无目标或无值时为空)';
COMMENT ON COLUMN mart.indicator_values.computed_at IS '该值最近一次发生变化的计算时间';

CREATE TABLE mart.indicator_value_revision (
    revision_id        bigserial PRIMARY KEY,
    indicator_code     text NOT NULL,
    grain              text NOT NULL,
    period_start       date NOT NULL,
    town_code          char(12) NOT NULL,
    old_numerator      numeric,
    old_denominator    numeric,
    old_value          numeric,
    new_numerator      numeric,
    new_denominator    numeric,
    new_value          numeric,
    published_at       timestamptz NOT NULL,
    revised_at         timestamptz NOT NULL,
    revision_kind      text NOT NULL CHECK (revision_kind IN ('late_correction', 'period_in_progress', 'definition_change')),
    reason             text NOT NULL,
    refresh_id         bigint NOT NULL
);
CREATE INDEX ON mart.indicator_value_revision (indicator_code, grain, period_start, town_code);
COMMENT ON TABLE mart.indicator_value_revision IS '指标值修订历史: 已发布的值被迟到更正等改变时, 保留旧值、时间与原因';
COMMENT ON COLUMN mart.indicator_value_revision.revision_id IS '修订序号';
COMMENT ON COLUMN mart.indicator_value_revision.indicator_code IS '指标代码';
COMMENT ON COLUMN mart.indicator_value_revision.grain IS '粒度';
COMMENT ON COLUMN mart.indicator_value_revision.period_start IS '期间第一天';
COMMENT ON COLUMN mart.indicator_value_revision.town_code IS '镇街代码';
COMMENT ON COLUMN mart.indicator_value_revision.old_numerator IS '修订前分子';
COMMENT ON COLUMN mart.indicator_value_revision.old_denominator IS '修订前分母';
COMMENT ON COLUMN mart.indicator_value_revision.old_value IS '修订前的值';
COMMENT ON COLUMN mart.indicator_value_revision.new_numerator IS '修订后分子';
COMMENT ON COLUMN mart.indicator_value_revision.new_denominator IS '修订后分母';
COMMENT ON COLUMN mart.indicator_value_revision.new_value IS '修订后的值';
COMMENT ON COLUMN mart.indicator_value_revision.published_at IS '旧值的发布 (计算) 时间';
COMMENT ON COLUMN mart.indicator_value_revision.revised_at IS '修订时间';
COMMENT ON COLUMN mart.indicator_value_revision.revision_kind IS 'late_correction = 期间结束后到达的数据改变了它; period_in_progress = 期间尚未结束时的正常增长; definition_change = 口径变化';
COMMENT ON COLUMN mart.indicator_value_revision.reason IS '原因: 哪些批次 (来源、区间) 触发了重算';
COMMENT ON COLUMN mart.indicator_value_revision.refresh_id IS '触发修订的计算, 见 audit.indicator_refresh';

CREATE TABLE audit.indicator_refresh (
    refresh_id      bigserial PRIMARY KEY,
    mode            text NOT NULL CHECK (mode IN ('incremental', 'full')),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    new_batches     integer NOT NULL DEFAULT 0,
    touched         jsonb,
    rows_written    integer,
    rows_revised    integer,
    trigger         text
);
COMMENT ON TABLE audit.indicator_refresh IS '指标计算记录: 每次增量/全量计算触及的指标与月份';
COMMENT ON COLUMN audit.indicator_refresh.touched IS '每个指标重算的月份';

CREATE TABLE audit.indicator_input (
    batch_id    text PRIMARY KEY REFERENCES audit.batch (batch_id),
    refresh_id  bigint NOT NULL REFERENCES audit.indicator_refresh (refresh_id)
);
COMMENT ON TABLE audit.indicator_input IS '已计入指标的批次: 增量计算只处理不在此表中的已装载批次';

CREATE TABLE audit.indicator_reference_state (
    input       text PRIMARY KEY,
    checksum    text NOT NULL
);
COMMENT ON TABLE audit.indicator_reference_state IS '指标所用参考数据 (人口、部门) 的校验和; 变化时重算依赖它的指标';

-- The engine finds what a batch touched through the version tables.
CREATE INDEX ON core.enforcement_case_version (batch_id);
CREATE INDEX ON core.enforcement_inspection_version (batch_id);
CREATE INDEX ON core.petition_version (batch_id);
CREATE INDEX ON core.legal_service_version (batch_id);
CREATE INDEX ON core.mediation_case_version (batch_id);
CREATE INDEX ON core.court_case_version (batch_id);
CREATE INDEX ON core.dishonest_debtor_version (batch_id);
CREATE INDEX ON core.enforcement_staffing_version (batch_id);
CREATE INDEX ON core.publicity_site_version (batch_id);

-- ... and reads one month of a core table through the column that places its records in months.
CREATE INDEX ON core.enforcement_case (filed_at);
CREATE INDEX ON core.enforcement_case (decided_at);
CREATE INDEX ON core.enforcement_case (closed_at);
CREATE INDEX ON core.enforcement_inspection (inspected_at);
CREATE INDEX ON core.petition (registered_at);
CREATE INDEX ON core.legal_service (accepted_at);
CREATE INDEX ON core.mediation_case (accepted_on);
CREATE INDEX ON core.mediation_case (closed_on);
CREATE INDEX ON core.court_case (filed_on);
CREATE INDEX ON core.dishonest_debtor (listed_on);

-- Dashboards: the latest period of every indicator, grain and town, with its target and the
-- change on the previous period and on the same period a year earlier.
CREATE VIEW mart.indicator_latest AS
WITH latest AS (
    SELECT indicator_code, grain, max(period_start) AS period_start
    FROM mart.indicator_values
    GROUP BY indicator_code, grain
)
SELECT v.indicator_code,
       c.name_zh,
       c.area,
       v.grain,
       v.period_start,
       v.town_code,
       t.town_name,
       v.value,
       v.unit,
       v.target,
       v.meets_target,
       c.direction,
       p.value AS previous_value,
       v.value - p.value AS change_vs_previous,
       y.value AS last_year_value,
       v.value - y.value AS change_vs_last_year,
       v.numerator,
       v.denominator,
       v.computed_at
FROM mart.indicator_values v
JOIN latest l USING (indicator_code, grain, period_start)
JOIN mart.indicator_catalog c USING (indicator_code)
JOIN core.dim_town t USING (town_code)
LEFT JOIN mart.indicator_values p
       ON p.indicator_code = v.indicator_code AND p.grain = v.grain AND p.town_code = v.town_code
      AND p.period_start = (v.period_start - CASE v.grain WHEN 'month' THEN interval '1 month'
                                                          WHEN 'quarter' THEN interval '3 months'
                                                          ELSE interval '1 year' END)::date
LEFT JOIN mart.indicator_values y
       ON y.indicator_code = v.indicator_code AND y.grain = v.grain AND y.town_code = v.town_code
      AND y.period_start = (v.period_start - interval '1 year')::date;
COMMENT ON VIEW mart.indicator_latest IS '看板: 每个指标、粒度、镇街的最新一期值, 目标, 环比 (change_vs_previous) 与同比 (change_vs_last_year)';
COMMENT ON COLUMN mart.indicator_latest.previous_value IS '上一期的值';
COMMENT ON COLUMN mart.indicator_latest.change_vs_previous IS '较上一期的变化 (值之差, 百分比类为百分点)';
COMMENT ON COLUMN mart.indicator_latest.last_year_value IS '上年同期的值';
COMMENT ON COLUMN mart.indicator_latest.change_vs_last_year IS '较上年同期的变化';
