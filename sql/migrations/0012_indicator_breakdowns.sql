-- Indicator values broken down by the source-specific dimensions each catalog file declares
-- (department, case type, channel, ...), from the same kind of monthly atoms as the totals.

CREATE TABLE mart.indicator_dimension_month_base (
    indicator_code  text NOT NULL REFERENCES mart.indicator_catalog (indicator_code) ON DELETE CASCADE,
    dimension       text NOT NULL,
    member          text NOT NULL,
    month_start     date NOT NULL,
    town_code       char(12) NOT NULL REFERENCES core.dim_town (town_code),
    numerator       numeric,
    denominator     numeric,
    PRIMARY KEY (indicator_code, dimension, member, month_start, town_code)
);
COMMENT ON TABLE mart.indicator_dimension_month_base IS '指标分维度月度原子数据: 指标 × 维度取值 × 月 × 镇街的分子与分母';
COMMENT ON COLUMN mart.indicator_dimension_month_base.indicator_code IS '指标代码';
COMMENT ON COLUMN mart.indicator_dimension_month_base.dimension IS '维度 (core 表的列名, 如 dept_code / case_type / channel)';
COMMENT ON COLUMN mart.indicator_dimension_month_base.member IS '维度取值 (空值记为 "(未填)")';
COMMENT ON COLUMN mart.indicator_dimension_month_base.month_start IS '月份 (该月第一天)';
COMMENT ON COLUMN mart.indicator_dimension_month_base.town_code IS '镇街代码 (全区级指标为 330110000000)';
COMMENT ON COLUMN mart.indicator_dimension_month_base.numerator IS '分子';
COMMENT ON COLUMN mart.indicator_dimension_month_base.denominator IS '分母 (与分子同表同口径时按维度拆分, 否则为该镇街的总分母)';

CREATE TABLE mart.indicator_values_by_dimension (
    indicator_code  text NOT NULL REFERENCES mart.indicator_catalog (indicator_code) ON DELETE CASCADE,
    dimension       text NOT NULL,
    member          text NOT NULL,
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
    PRIMARY KEY (indicator_code, dimension, member, grain, period_start, town_code)
);
COMMENT ON TABLE mart.indicator_values_by_dimension IS '指标分维度值: 每指标 × 维度取值 × 粒度 × 期间 × 镇街 (只含有数据的组合); 全区 = 330110000000';
COMMENT ON COLUMN mart.indicator_values_by_dimension.indicator_code IS '指标代码, 见 mart.indicator_catalog';
COMMENT ON COLUMN mart.indicator_values_by_dimension.dimension IS '维度 (见 mart.indicator_catalog.dimensions)';
COMMENT ON COLUMN mart.indicator_values_by_dimension.member IS '维度取值';
COMMENT ON COLUMN mart.indicator_values_by_dimension.grain IS '粒度: month / quarter / year';
COMMENT ON COLUMN mart.indicator_values_by_dimension.period_start IS '期间第一天';
COMMENT ON COLUMN mart.indicator_values_by_dimension.town_code IS '镇街代码; 330110000000 = 全区';
COMMENT ON COLUMN mart.indicator_values_by_dimension.numerator IS '该维度取值的分子';
COMMENT ON COLUMN mart.indicator_values_by_dimension.denominator IS '分母: 与分子同表时为该取值内的分母 (取值内的比率), 否则为总分母 (占总体的份额)';
COMMENT ON COLUMN mart.indicator_values_by_dimension.value IS '值 = 分子 / 分母 × scale; 分母为0时为空';
COMMENT ON COLUMN mart.indicator_values_by_dimension.unit IS '单位';
COMMENT ON COLUMN mart.indicator_values_by_dimension.target IS '目标值 (如法制审核人员配备率对每个部门都适用)';
COMMENT ON COLUMN mart.indicator_values_by_dimension.meets_target IS '是否达标';
COMMENT ON COLUMN mart.indicator_values_by_dimension.computed_at IS '该值最近一次发生变化的计算时间';
