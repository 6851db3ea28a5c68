-- 0025: 观察期 (#15). An indicator whose records can change a period after it ended (lookback_months:
-- 初信初访一次性化解率 counts a case as resolved only if no repeat petition follows within 90 days)
-- was marked provisional (初步数) until those months had loaded, so every monthly 通报 carried a
-- 初步数 for three months and a month whose sources had all loaded looked incomplete. Such a
-- period is now 'settling' (观察期内): every entity has loaded the period itself; the value is
-- published and may still fall as the observation window loads. Provisional keeps its meaning:
-- a source has not loaded to the period's end.
ALTER TABLE mart.indicator_period_status DROP CONSTRAINT indicator_period_status_completeness_check;
ALTER TABLE mart.indicator_period_status ADD CONSTRAINT indicator_period_status_completeness_check
    CHECK (completeness IN ('final', 'settling', 'provisional', 'partial', 'future', 'nodata'));
COMMENT ON COLUMN mart.indicator_period_status.completeness IS 'final 终值 = 所读实体均已装载到期末 (及观察期末); settling 观察期内 = 所读实体均已装载到期末, 但观察期 (指标的 lookback_months, 如重复信访的 90 天) 尚未装载完, 数值可能下调; provisional 初步数 = 有实体未装载到期末 (还会增长); partial 不完整 = 期间早于按窗口读取的实体的首个装载区间或含装载缺口 (只含后来变更的记录, 不可比); future = 期间在已装载的时间之后 (如台账中日期在运行时点之后的行); nodata = 有实体从未装载';
COMMENT ON TABLE mart.indicator_period_status IS '完整性: 每个指标、粒度、期间的值有多完整, 自何时起为终值 (每次指标计算更新); 已发布 = final、settling 或 provisional';

CREATE OR REPLACE VIEW mart.indicator_values_published AS
SELECT v.*, s.completeness, s.final_since
FROM mart.indicator_values v
JOIN mart.indicator_period_status s USING (indicator_code, grain, period_start)
WHERE s.completeness IN ('final', 'settling', 'provisional');
COMMENT ON VIEW mart.indicator_values_published IS '已发布的指标值: 终值、观察期内的值与初步数 (不含不完整、未来与无数据的期间), 附完整性与成为终值的时间';
COMMENT ON COLUMN mart.indicator_values_published.completeness IS 'final 终值 / settling 观察期内 / provisional 初步数';

COMMENT ON COLUMN mart.monthly_report.provisional IS '生成时是否仍有来源未装载完该月 (是 = 含初步数); 观察期内的指标不使通报成为初步数, 在通报中逐项标注';
