-- 0023: what the corrected and new indicators need (#15): the petition deadline a case is
-- placed by, the 口径 and trend targets in the catalog, which source entities each indicator
-- reads, and how complete each published value is.

-- 初信初访按期办结率 is placed by the deadline (《信访工作条例》: 受理之日起60日内办结), not by
-- registration: a case still open after its deadline counts as late in the deadline's month.
ALTER TABLE core.petition ADD COLUMN conclude_due_on date
    GENERATED ALWAYS AS (((accepted_at AT TIME ZONE 'Asia/Shanghai')::date + 60)) STORED;
ALTER TABLE core.petition_version ADD COLUMN conclude_due_on date
    GENERATED ALWAYS AS (((accepted_at AT TIME ZONE 'Asia/Shanghai')::date + 60)) STORED;
COMMENT ON COLUMN core.petition.conclude_due_on IS '办理期限届满日: 受理日期 (北京时间) + 60 日 (《信访工作条例》); 未受理为空. 由受理时间生成';
COMMENT ON COLUMN core.petition_version.conclude_due_on IS '办理期限届满日: 受理日期 (北京时间) + 60 日; 由受理时间生成';
CREATE INDEX ON core.petition (conclude_due_on);

ALTER TABLE mart.indicator_catalog
    ADD COLUMN caliber jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN target_trend text CHECK (target_trend IN ('down', 'up')),
    ADD COLUMN lookback_months integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN mart.indicator_catalog.caliber IS '口径: numerator 分子, denominator 分母, population 人口口径, coverage 统计范围, placement 镇街与期间的归属';
COMMENT ON COLUMN mart.indicator_catalog.target_trend IS '趋势目标 (稳步下降 = down, 稳步提升 = up): 较上年同期改善且上年同期为终值时达标';
COMMENT ON COLUMN mart.indicator_catalog.lookback_months IS '一条记录最多可改变其所在月份之前几个月的值 (如重复信访改变此前初信初访的一次性化解): 这些月份在此之后才成为终值';
COMMENT ON COLUMN mart.indicator_catalog.unit IS '单位: % / 件 / 人 / 家 / 件/万人 / 人/万人 / 天';

-- The source entities of the specs and how they are read, and which of them each indicator's
-- measures read (both written by every refresh from the specs and the catalog).
CREATE TABLE mart.source_entity (
    source      text NOT NULL,
    entity      text NOT NULL,
    core_table  text NOT NULL UNIQUE,
    reads       text NOT NULL CHECK (reads IN ('window', 'snapshot')),
    PRIMARY KEY (source, entity)
);
COMMENT ON TABLE mart.source_entity IS '来源实体: 每个来源规格中的实体、其核心表, 以及读取方式 (由每次指标计算按规格写入)';
COMMENT ON COLUMN mart.source_entity.source IS '来源';
COMMENT ON COLUMN mart.source_entity.entity IS '实体';
COMMENT ON COLUMN mart.source_entity.core_table IS '核心表 (core.<table>)';
COMMENT ON COLUMN mart.source_entity.reads IS 'window = 按更新时间窗口增量读取 (首个区间之前的期间只含此后变更的记录); snapshot = 每次读取全量 (台账)';

CREATE TABLE mart.indicator_source (
    indicator_code  text NOT NULL REFERENCES mart.indicator_catalog ON DELETE CASCADE,
    source          text NOT NULL,
    entity          text NOT NULL,
    PRIMARY KEY (indicator_code, source, entity),
    FOREIGN KEY (source, entity) REFERENCES mart.source_entity ON DELETE CASCADE
);
COMMENT ON TABLE mart.indicator_source IS '指标依赖的来源实体: 指标的分子、分母读取哪些来源实体 (完整性据此判断)';
COMMENT ON COLUMN mart.indicator_source.indicator_code IS '指标代码';
COMMENT ON COLUMN mart.indicator_source.source IS '来源';
COMMENT ON COLUMN mart.indicator_source.entity IS '实体';

-- Gaps in what an entity has loaded: a loaded interval that starts after everything loaded
-- before it had ended.
CREATE VIEW mart.source_gap AS
WITH loaded AS (
    SELECT source, entity, interval_start,
           max(interval_end) OVER (PARTITION BY source, entity ORDER BY interval_start, interval_end
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached_before
    FROM audit.batch
    WHERE status = 'loaded'
)
SELECT source, entity, reached_before AS gap_start, interval_start AS gap_end
FROM loaded
WHERE interval_start > reached_before;
COMMENT ON VIEW mart.source_gap IS '装载缺口: 某实体已装载区间之间未装载的时段 (此时段内的期间不完整, 补跑后消失)';
COMMENT ON COLUMN mart.source_gap.gap_start IS '缺口开始 (此前已装载到的时间)';
COMMENT ON COLUMN mart.source_gap.gap_end IS '缺口结束 (下一个已装载区间的开始)';

-- How complete each value is, from what the entities it reads have loaded: written by every
-- refresh for every period in mart.indicator_values (yhlaw.indicators.completeness).
CREATE TABLE mart.indicator_period_status (
    indicator_code       text NOT NULL REFERENCES mart.indicator_catalog ON DELETE CASCADE,
    grain                text NOT NULL CHECK (grain IN ('month', 'quarter', 'year')),
    period_start         date NOT NULL,
    completeness         text NOT NULL CHECK (completeness IN ('final', 'provisional', 'partial', 'future', 'nodata')),
    final_since          timestamptz,
    loaded_to            timestamptz,
    incomplete_entities  text[],
    checked_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (indicator_code, grain, period_start)
);
COMMENT ON TABLE mart.indicator_period_status IS '完整性: 每个指标、粒度、期间的值有多完整, 自何时起为终值 (每次指标计算更新); 已发布 = final 或 provisional';
COMMENT ON COLUMN mart.indicator_period_status.indicator_code IS '指标代码';
COMMENT ON COLUMN mart.indicator_period_status.grain IS '粒度: month / quarter / year';
COMMENT ON COLUMN mart.indicator_period_status.period_start IS '期间第一天';
COMMENT ON COLUMN mart.indicator_period_status.completeness IS 'final 终值 = 所读实体均已装载到期末; provisional 初步数 = 有实体未装载到期末 (还会增长); partial 不完整 = 期间早于按窗口读取的实体的首个装载区间或含装载缺口 (只含后来变更的记录, 不可比); future = 期间在已装载的时间之后 (如台账中日期在运行时点之后的行); nodata = 有实体从未装载';
COMMENT ON COLUMN mart.indicator_period_status.final_since IS '自此为终值: 首次判定为 final 的指标计算时间 (之后的迟到更正记入 mart.indicator_value_revision)';
COMMENT ON COLUMN mart.indicator_period_status.loaded_to IS '所读实体中装载得最少的那个已装载到的时间';
COMMENT ON COLUMN mart.indicator_period_status.incomplete_entities IS '使该期不是终值的来源实体 (source/entity)';
COMMENT ON COLUMN mart.indicator_period_status.checked_at IS '最近一次判定的时间';

-- What is published: the values of periods that are final or provisional, with how complete.
CREATE VIEW mart.indicator_values_published AS
SELECT v.*, s.completeness, s.final_since
FROM mart.indicator_values v
JOIN mart.indicator_period_status s USING (indicator_code, grain, period_start)
WHERE s.completeness IN ('final', 'provisional');
COMMENT ON VIEW mart.indicator_values_published IS '已发布的指标值: 终值与初步数 (不含不完整、未来与无数据的期间), 附完整性与成为终值的时间';
COMMENT ON COLUMN mart.indicator_values_published.completeness IS 'final 终值 / provisional 初步数';
COMMENT ON COLUMN mart.indicator_values_published.final_since IS '自此为终值 (初步数为空)';
