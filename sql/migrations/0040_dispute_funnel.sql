-- 诉源治理漏斗 (#17, deliverable 4): per 镇街 and month, how many disputes entered each layer
-- (信访, 人民调解, 诉前调, 诉讼 …), how many were resolved there and how many were passed on to the
-- next one, read from the records of the three systems (core.dispute_record) and the links
-- between them (core.dispute_link, refreshed by the link_disputes DAG; docs/linkage.md). Counts
-- only: no party and no record key leaves the view, so dashboards may read it.
--
-- 口径:
--   * entered: the layer's records that started in the month (登记日, 受理日, 立案日, 纳入日), in
--     the record's own 镇街.
--   * passed_on: of those, the records linked onward (信访 → 调解 or 诉前调; 调解 → 诉前调 or 民初;
--     诉前调 → 民初; 民初/民特 → 执; 执 → 失信 or 破申). A 司法确认 (民特) after a successful
--     mediation confirms it: not passed on. A 重复信访 is counted in repeated, not passed_on.
--   * resolved_here: records ended in the layer and not passed on: a mediation ended 成功, a
--     petition concluded and not repeated, a 民初 or 民特 closed with no 执 after it, an 执 ended
--     with no 失信 or 破申 after it.
--   * open: records not ended yet (still able to be resolved or passed on).
--   The figures of a recent month move while its disputes move on: read them with the link
--   refresh's date (core.dispute_link.linked_at).

CREATE VIEW mart.dispute_funnel AS
WITH onward AS (
    SELECT from_table, from_key,
           bool_or(link_type NOT IN ('信访→重复信访', '调解→民特')) AS passed_on,
           bool_or(link_type = '信访→重复信访') AS repeated
    FROM core.dispute_link
    GROUP BY from_table, from_key
), r AS (
    SELECT CASE WHEN d.step_kind = '重复信访' THEN '信访' ELSE d.step_kind END AS layer,
           date_trunc('month', d.started_on)::date AS month_start, d.town_code, d.ended_on, d.outcome,
           coalesce(o.passed_on, false) AS passed_on, coalesce(o.repeated, false) AS repeated
    FROM core.dispute_record d
    LEFT JOIN onward o ON o.from_table = d.record_table AND o.from_key = d.record_key
    WHERE d.started_on IS NOT NULL
      AND d.step_kind IN ('信访', '重复信访', '调解', '诉前调', '民初', '民特', '执', '破申', '失信')
)
SELECT month_start, town_code, layer,
       count(*) AS entered,
       count(*) FILTER (WHERE passed_on) AS passed_on,
       count(*) FILTER (WHERE ended_on IS NOT NULL AND NOT passed_on
                          AND CASE layer WHEN '信访' THEN NOT repeated
                                         WHEN '调解' THEN outcome = '成功'
                                         WHEN '诉前调' THEN outcome = '成功'
                                         ELSE true END) AS resolved_here,
       count(*) FILTER (WHERE repeated) AS repeated,
       count(*) FILTER (WHERE ended_on IS NULL) AS open
FROM r
WHERE town_code IN (SELECT town_code FROM core.dim_town WHERE in_district)
GROUP BY month_start, town_code, layer;

COMMENT ON VIEW mart.dispute_funnel IS '诉源治理漏斗: 每镇街每月各层 (信访、人民调解、诉前调、民初、民特、执、失信、破申) 新进入的纠纷记录数、在本层化解数、移送下一层数、重复信访数、未结数; 由 core.dispute_record 与 core.dispute_link (link_disputes DAG 刷新) 计算; 只有件数; 口径见迁移 0040 的说明';
COMMENT ON COLUMN mart.dispute_funnel.month_start IS '月份 (记录进入本层的月份: 登记日、受理日、立案日、纳入日)';
COMMENT ON COLUMN mart.dispute_funnel.town_code IS '镇街 (记录所载镇街), 见 core.dim_town';
COMMENT ON COLUMN mart.dispute_funnel.layer IS '层: 信访 (含重复信访)、调解 (人民调解)、诉前调 (诉前委派调解)、民初、民特 (司法确认)、执、失信、破申';
COMMENT ON COLUMN mart.dispute_funnel.entered IS '当月进入本层的记录数';
COMMENT ON COLUMN mart.dispute_funnel.passed_on IS '其中已关联到下一层的件数 (信访→调解/诉前调, 调解→诉前调/民初, 诉前调→民初, 民初/民特→执, 执→失信/破申; 司法确认不算移送)';
COMMENT ON COLUMN mart.dispute_funnel.resolved_here IS '其中在本层结束且未移送的件数 (调解须成功; 信访须未重复; 民初、民特须无后续执行; 执须无失信、破申)';
COMMENT ON COLUMN mart.dispute_funnel.repeated IS '其中之后又有重复信访的件数 (信访层)';
COMMENT ON COLUMN mart.dispute_funnel.open IS '其中尚未结束的件数';
