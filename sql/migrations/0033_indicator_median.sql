-- Medians (rollup: median), e.g. 一般企业投资项目全过程审批用时 (中位数): a median is not a sum, so
-- a month's atom keeps the values of its records, sorted, and quarters, years, the district and
-- the year to date take the median of all their records' values together.

ALTER TABLE mart.indicator_month_base ADD COLUMN sample numeric[];
COMMENT ON COLUMN mart.indicator_month_base.sample IS
    '中位数类指标 (rollup = median): 当月各记录的取值 (升序); 其他指标为空';
ALTER TABLE mart.indicator_dimension_month_base ADD COLUMN sample numeric[];
COMMENT ON COLUMN mart.indicator_dimension_month_base.sample IS
    '中位数类指标 (rollup = median): 当月该维度取值下各记录的取值 (升序); 其他指标为空';
COMMENT ON COLUMN mart.indicator_catalog.rollup IS
    '汇总方式: sum = 月度分子分母相加; snapshot = 取期内最后一个时点; median = 期内全部记录取值的中位数 (分母为记录数)';

-- The year to date of a median: the median of the values of every record from January to the
-- month (the district's over every 镇街's records); numerator empty, denominator the records.
CREATE OR REPLACE VIEW mart.indicator_values_ytd AS
WITH acc AS (
    SELECT v.indicator_code, v.period_start AS month_start, v.town_code, v.unit, c.scale, c.direction,
           c.target, c.denominator_sql IS NULL AS is_count,
           CASE WHEN c.rollup = 'snapshot' THEN v.numerator ELSE sum(v.numerator) OVER w END AS numerator,
           CASE WHEN c.rollup = 'snapshot' OR c.denominator_sql LIKE 'core.town_population%' THEN v.denominator
                ELSE sum(v.denominator) OVER w END AS denominator
    FROM mart.indicator_values v
    JOIN mart.indicator_catalog c USING (indicator_code)
    WHERE v.grain = 'month' AND c.rollup <> 'median'
    WINDOW w AS (PARTITION BY v.indicator_code, v.town_code, date_trunc('year', v.period_start)
                 ORDER BY v.period_start ROWS UNBOUNDED PRECEDING)
), val AS (
    SELECT indicator_code, month_start, town_code, unit, direction, target, numerator, denominator,
           CASE WHEN is_count THEN numerator ELSE round(numerator / nullif(denominator, 0) * scale, 4) END AS value
    FROM acc
    UNION ALL
    SELECT v.indicator_code, v.period_start, v.town_code, v.unit, c.direction, c.target, NULL, m.d, m.value
    FROM mart.indicator_values v
    JOIN mart.indicator_catalog c USING (indicator_code)
    CROSS JOIN LATERAL (
        SELECT count(x)::numeric AS d, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 4) AS value
        FROM mart.indicator_month_base b
        LEFT JOIN LATERAL unnest(b.sample) AS u(x) ON true
        WHERE b.indicator_code = v.indicator_code
          AND b.month_start >= date_trunc('year', v.period_start) AND b.month_start <= v.period_start
          AND (b.town_code = v.town_code OR v.town_code = '330110000000')) m
    WHERE v.grain = 'month' AND c.rollup = 'median'
)
SELECT indicator_code, month_start, town_code, numerator, denominator, value, unit, target,
       CASE WHEN target IS NULL OR value IS NULL THEN NULL
            WHEN direction = 'higher' THEN value >= target ELSE value <= target END AS meets_target
FROM val;
COMMENT ON VIEW mart.indicator_values_ytd IS '年度累计: 每指标 × 镇街 × 月, 当年1月至该月的累计值 (分子、分母分别累计; 存量指标与人口分母取当月; 中位数类为1月至该月全部记录的中位数)';
