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
    ADD COLUMN target_trend text CHECK (target_trend IN ('down', 'up'));
COMMENT ON COLUMN mart.indicator_catalog.caliber IS '口径: numerator 分子, denominator 分母, population 人口口径, coverage 统计范围, placement 镇街与期间的归属';
COMMENT ON COLUMN mart.indicator_catalog.target_trend IS '趋势目标 (稳步下降 = down, 稳步提升 = up): 较上年同期改善且上年同期为终值时达标';
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

-- How complete each published value is, from what the entities it reads have loaded.
CREATE VIEW mart.indicator_completeness AS
WITH periods AS (
    SELECT DISTINCT indicator_code, grain, period_start,
           (period_start::timestamp AT TIME ZONE 'Asia/Shanghai') AS starts,
           ((period_start + CASE grain WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
                                       ELSE interval '1 year' END)::timestamp AT TIME ZONE 'Asia/Shanghai') AS ends
    FROM mart.indicator_values
), per_entity AS (
    SELECT p.indicator_code, p.grain, p.period_start, p.ends, s.source, s.entity,
           f.first_loaded_interval_start IS NULL AS never_loaded,
           se.reads = 'window' AND (f.first_loaded_interval_start > p.starts
               OR EXISTS (SELECT 1 FROM mart.source_gap g WHERE g.source = s.source AND g.entity = s.entity
                            AND g.gap_start < p.ends AND g.gap_end > p.starts)) AS partial,
           f.last_loaded_interval_end AS loaded_to,
           (SELECT min(b.finished_at) FROM audit.batch b
            WHERE b.source = s.source AND b.entity = s.entity AND b.status = 'loaded' AND b.interval_end >= p.ends)
               AS covered_at
    FROM periods p
    JOIN mart.indicator_source s USING (indicator_code)
    JOIN mart.source_entity se USING (source, entity)
    LEFT JOIN mart.source_freshness f USING (source, entity)
)
SELECT indicator_code, grain, period_start,
       CASE WHEN bool_or(never_loaded) THEN 'nodata'
            WHEN bool_or(partial) THEN 'partial'
            WHEN bool_or(loaded_to < ends) THEN 'provisional'
            ELSE 'final' END AS completeness,
       CASE WHEN NOT bool_or(never_loaded) AND NOT bool_or(partial) AND NOT bool_or(loaded_to < ends)
            THEN max(covered_at) END AS final_since,
       min(loaded_to) AS loaded_to,
       array_agg(source || '/' || entity ORDER BY source, entity) FILTER (WHERE loaded_to < ends OR partial)
           AS incomplete_entities
FROM per_entity
GROUP BY indicator_code, grain, period_start;
COMMENT ON VIEW mart.indicator_completeness IS '完整性: 每个指标、粒度、期间的值有多完整 (final 终值 / provisional 初步数 / partial 不完整 / nodata 无数据), 及自何时起为终值';
COMMENT ON COLUMN mart.indicator_completeness.completeness IS 'final = 所读实体均已装载到期末; provisional = 有实体未装载到期末 (初步数, 还会增长); partial = 期间早于按窗口读取的实体的首个装载区间或含装载缺口 (只含后来变更的记录, 不可比); nodata = 有实体从未装载';
COMMENT ON COLUMN mart.indicator_completeness.final_since IS '成为终值的时间: 最后一个所读实体首次装载到期末的时间 (之后的更正记入 mart.indicator_value_revision)';
COMMENT ON COLUMN mart.indicator_completeness.loaded_to IS '所读实体中装载得最少的那个已装载到的时间';
COMMENT ON COLUMN mart.indicator_completeness.incomplete_entities IS '尚未装载到期末或不完整的来源实体 (source/entity)';
