-- What the 法治驾驶舱 (cockpit) and the monthly 通报 read. The cockpit connects as role
-- `dashboard`, which reads schema mart only; everything a page shows is a mart table or a mart
-- view here. (The views run with their owner's rights, so they may read core and audit; they
-- expose no party key, no payload and nothing else that identifies a person.)
-- Generated per source spec at set-up (yhlaw.mart_views): mart.list_<core table> (the records
-- behind a value, without party keys) and mart.quarantine_by_town.

CREATE VIEW mart.dim_town AS
SELECT town_code, town_name, town_kind, in_district
FROM core.dim_town;
COMMENT ON VIEW mart.dim_town IS '镇街维度 (看板用): 12个镇街、全区 (330110000000) 及已划入临平区的单位';
COMMENT ON COLUMN mart.dim_town.town_code IS '统计用区划代码, 12位';
COMMENT ON COLUMN mart.dim_town.town_name IS '镇街名称';
COMMENT ON COLUMN mart.dim_town.town_kind IS '类型: 街道 / 镇 / 区';
COMMENT ON COLUMN mart.dim_town.in_district IS '是否属于现余杭区';

CREATE VIEW mart.dim_department AS
SELECT dept_code, dept_name, kind
FROM core.dim_department;
COMMENT ON VIEW mart.dim_department IS '部门维度 (看板用): 执法部门代码与名称';
COMMENT ON COLUMN mart.dim_department.dept_code IS '部门代码 (源系统 deptCode)';
COMMENT ON COLUMN mart.dim_department.dept_name IS '部门名称';
COMMENT ON COLUMN mart.dim_department.kind IS '类型: 综合执法 / 专业执法';

-- Ranking of the 12 镇街: per indicator, grain and period, best first by the indicator's
-- direction (higher or lower is better), among all 镇街 and within its peer group (街道 or 镇).
-- A 镇街 without a value (no cases: denominator 0) has no rank; ties share a rank.
CREATE VIEW mart.indicator_ranking AS
SELECT v.indicator_code,
       v.grain,
       v.period_start,
       v.town_code,
       t.town_name,
       t.town_kind AS peer_group,
       v.value,
       v.unit,
       v.meets_target,
       CASE WHEN v.value IS NOT NULL THEN
           rank() OVER (PARTITION BY v.indicator_code, v.grain, v.period_start, v.value IS NULL
                        ORDER BY CASE WHEN c.direction = 'higher' THEN -v.value ELSE v.value END)
       END AS rank_all,
       count(v.value) OVER (PARTITION BY v.indicator_code, v.grain, v.period_start) AS ranked_all,
       CASE WHEN v.value IS NOT NULL THEN
           rank() OVER (PARTITION BY v.indicator_code, v.grain, v.period_start, t.town_kind, v.value IS NULL
                        ORDER BY CASE WHEN c.direction = 'higher' THEN -v.value ELSE v.value END)
       END AS rank_in_group,
       count(v.value) OVER (PARTITION BY v.indicator_code, v.grain, v.period_start, t.town_kind) AS ranked_in_group
FROM mart.indicator_values v
JOIN mart.indicator_catalog c USING (indicator_code)
JOIN core.dim_town t USING (town_code)
WHERE t.in_district AND t.town_kind IN ('街道', '镇');
COMMENT ON VIEW mart.indicator_ranking IS '镇街排名: 每指标 × 粒度 × 期间, 按指标方向 (越高越好/越低越好) 排序; 全部12个镇街及街道、镇两个分组内; 无值的镇街不排名, 并列同名次';
COMMENT ON COLUMN mart.indicator_ranking.peer_group IS '分组: 街道 / 镇';
COMMENT ON COLUMN mart.indicator_ranking.rank_all IS '12个镇街中的名次 (1 = 最好); 无值为空';
COMMENT ON COLUMN mart.indicator_ranking.ranked_all IS '参与排名 (有值) 的镇街数';
COMMENT ON COLUMN mart.indicator_ranking.rank_in_group IS '同组 (街道或镇) 内的名次';
COMMENT ON COLUMN mart.indicator_ranking.ranked_in_group IS '同组内参与排名的镇街数';

-- 年度累计 (year to date): per indicator, 镇街 and month, the value from January to that month,
-- rolled up as the engine rolls up a year (sums of numerators over sums of denominators; a
-- snapshot indicator and a population denominator take the month itself).
CREATE VIEW mart.indicator_values_ytd AS
WITH acc AS (
    SELECT v.indicator_code, v.period_start AS month_start, v.town_code, v.unit, c.scale, c.direction,
           c.target, c.denominator_sql IS NULL AS is_count,
           CASE WHEN c.rollup = 'snapshot' THEN v.numerator ELSE sum(v.numerator) OVER w END AS numerator,
           CASE WHEN c.rollup = 'snapshot' OR c.denominator_sql LIKE 'core.town_population%' THEN v.denominator
                ELSE sum(v.denominator) OVER w END AS denominator
    FROM mart.indicator_values v
    JOIN mart.indicator_catalog c USING (indicator_code)
    WHERE v.grain = 'month'
    WINDOW w AS (PARTITION BY v.indicator_code, v.town_code, date_trunc('year', v.period_start)
                 ORDER BY v.period_start ROWS UNBOUNDED PRECEDING)
), val AS (
    SELECT *, CASE WHEN is_count THEN numerator ELSE round(numerator / nullif(denominator, 0) * scale, 4) END AS value
    FROM acc
)
SELECT indicator_code, month_start, town_code, numerator, denominator, value, unit, target,
       CASE WHEN target IS NULL OR value IS NULL THEN NULL
            WHEN direction = 'higher' THEN value >= target ELSE value <= target END AS meets_target
FROM val;
COMMENT ON VIEW mart.indicator_values_ytd IS '年度累计: 每指标 × 镇街 × 月, 当年1月至该月的累计值 (分子、分母分别累计; 存量指标与人口分母取当月)';
COMMENT ON COLUMN mart.indicator_values_ytd.month_start IS '截至月份 (该月第一天)';
COMMENT ON COLUMN mart.indicator_values_ytd.numerator IS '累计分子';
COMMENT ON COLUMN mart.indicator_values_ytd.denominator IS '累计分母';
COMMENT ON COLUMN mart.indicator_values_ytd.value IS '累计值';
COMMENT ON COLUMN mart.indicator_values_ytd.meets_target IS '累计值是否达到目标';

-- Freshness of every source entity: what has been loaded, up to when, and what was refused.
-- contiguous_from: where the latest unbroken run of loaded intervals starts (a skipped day
-- before it leaves the periods before it incomplete).
CREATE VIEW mart.source_freshness AS
WITH loaded AS (
    SELECT source, entity, interval_start, interval_end,
           max(interval_end) OVER (PARTITION BY source, entity ORDER BY interval_start, interval_end
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached_before
    FROM audit.batch
    WHERE status = 'loaded'
), runs AS (
    SELECT source, entity, min(interval_start) AS first_loaded_interval_start,
           coalesce(max(interval_start) FILTER (WHERE interval_start > reached_before), min(interval_start))
               AS contiguous_from
    FROM loaded
    GROUP BY source, entity
)
SELECT b.source,
       b.entity,
       r.first_loaded_interval_start,
       r.contiguous_from,
       max(b.interval_end) FILTER (WHERE b.status = 'loaded') AS last_loaded_interval_end,
       max(b.finished_at) FILTER (WHERE b.status = 'loaded') AS last_loaded_at,
       count(*) FILTER (WHERE b.status = 'loaded') AS batches_loaded,
       count(*) FILTER (WHERE b.status = 'rejected') AS batches_rejected,
       coalesce(sum(b.received) FILTER (WHERE b.status = 'loaded'), 0) AS records_received,
       coalesce(sum(b.loaded) FILTER (WHERE b.status = 'loaded'), 0) AS records_loaded,
       coalesce(sum(b.quarantined) FILTER (WHERE b.status = 'loaded'), 0) AS records_quarantined
FROM audit.batch b
LEFT JOIN runs r USING (source, entity)
GROUP BY b.source, b.entity, r.first_loaded_interval_start, r.contiguous_from;
COMMENT ON VIEW mart.source_freshness IS '数据质量: 各来源、实体的最新装载区间、批次数、被拒批次数与记录数 (来自 audit.batch)';
COMMENT ON COLUMN mart.source_freshness.source IS '来源';
COMMENT ON COLUMN mart.source_freshness.entity IS '实体';
COMMENT ON COLUMN mart.source_freshness.first_loaded_interval_start IS '已装载的最早区间的开始时间 (此前的期间只含此后变更过的记录, 不完整)';
COMMENT ON COLUMN mart.source_freshness.contiguous_from IS '最近一段连续装载 (无缺口) 的开始时间: 此前的期间因缺口或未装载而不完整';
COMMENT ON COLUMN mart.source_freshness.last_loaded_interval_end IS '已装载的最新区间的结束时间';
COMMENT ON COLUMN mart.source_freshness.last_loaded_at IS '最近一次装载完成时间';
COMMENT ON COLUMN mart.source_freshness.batches_loaded IS '已装载批次数';
COMMENT ON COLUMN mart.source_freshness.batches_rejected IS '被拒批次数 (批次级校验未通过, 未装载)';
COMMENT ON COLUMN mart.source_freshness.records_received IS '已装载批次收到的记录数';
COMMENT ON COLUMN mart.source_freshness.records_loaded IS '其中进入核心层的记录数';
COMMENT ON COLUMN mart.source_freshness.records_quarantined IS '其中被隔离的记录数';

-- The monthly 通报, one row per month and rendering: where the files are and what they hold.
CREATE TABLE mart.monthly_report (
    month_start    date NOT NULL,
    rendered_at    timestamptz NOT NULL DEFAULT now(),
    html_path      text NOT NULL,
    pdf_path       text NOT NULL,
    html_sha256    char(64) NOT NULL,
    pdf_sha256     char(64) NOT NULL,
    pdf_pages      integer NOT NULL CHECK (pdf_pages > 0),
    indicators     integer NOT NULL,
    provisional    boolean NOT NULL,
    dag_run_id     text,
    PRIMARY KEY (month_start, rendered_at)
);
COMMENT ON TABLE mart.monthly_report IS '月度通报归档: 每月每次生成一行 (HTML 与 PDF 文件位置、哈希、页数)';
COMMENT ON COLUMN mart.monthly_report.month_start IS '通报月份 (该月第一天)';
COMMENT ON COLUMN mart.monthly_report.rendered_at IS '生成时间';
COMMENT ON COLUMN mart.monthly_report.html_path IS 'HTML 文件路径';
COMMENT ON COLUMN mart.monthly_report.pdf_path IS 'PDF 文件路径 (无头 Chromium 打印)';
COMMENT ON COLUMN mart.monthly_report.html_sha256 IS 'HTML 文件 SHA-256';
COMMENT ON COLUMN mart.monthly_report.pdf_sha256 IS 'PDF 文件 SHA-256';
COMMENT ON COLUMN mart.monthly_report.pdf_pages IS 'PDF 页数';
COMMENT ON COLUMN mart.monthly_report.indicators IS '通报中的指标数';
COMMENT ON COLUMN mart.monthly_report.provisional IS '生成时是否仍有来源区间未装载 (是 = 初步数)';
COMMENT ON COLUMN mart.monthly_report.dag_run_id IS '生成它的 DAG 运行';

-- The data-quality page counts stale rows (newest version quarantined) per entity: a partial
-- index on each core table keeps that a lookup of the few stale rows instead of a scan of
-- millions (mart.stale_by_entity, generated per spec; mart.stale_rows still counts exactly).
CREATE INDEX court_case_stale_since_idx ON core.court_case (stale_since) WHERE stale_since IS NOT NULL;
CREATE INDEX dishonest_debtor_stale_since_idx ON core.dishonest_debtor (stale_since) WHERE stale_since IS NOT NULL;
CREATE INDEX enforcement_case_stale_since_idx ON core.enforcement_case (stale_since) WHERE stale_since IS NOT NULL;
CREATE INDEX enforcement_inspection_stale_since_idx ON core.enforcement_inspection (stale_since) WHERE stale_since IS NOT NULL;
CREATE INDEX enforcement_staffing_stale_since_idx ON core.enforcement_staffing (stale_since) WHERE stale_since IS NOT NULL;
CREATE INDEX publicity_site_stale_since_idx ON core.publicity_site (stale_since) WHERE stale_since IS NOT NULL;
CREATE INDEX legal_service_stale_since_idx ON core.legal_service (stale_since) WHERE stale_since IS NOT NULL;
CREATE INDEX mediation_case_stale_since_idx ON core.mediation_case (stale_since) WHERE stale_since IS NOT NULL;
CREATE INDEX petition_stale_since_idx ON core.petition (stale_since) WHERE stale_since IS NOT NULL;
