-- Patterns about people, as counts only (#17, deliverable 5): how many parties per 镇街 and year
-- sue again and again — 民间借贷 plaintiffs (疑似职业放贷人) and 行政 plaintiffs — read from every
-- party of the courts' first-instance cases (core.court_case.parties, keyed HMACs). The view
-- says how many, never who: no party key, case number or name leaves it, so dashboards may read it.
--
-- 口径 (parameters written here, to be confirmed with 区法院):
--   * 民间借贷高频原告: plaintiff (原告) in at least 5 民间借贷 first-instance suits filed in the
--     year and the year before. 《全国法院民商事审判工作会议纪要》(2019) 第53条 names the pattern
--     (“同一出借人在一定期间内多次反复从事有偿民间借贷行为”) without a number; the provinces'
--     疑似职业放贷人名录 rules (浙江 2018 会议纪要, 江苏 2019, 河南 2019) count suits over two years;
--     the criminal standard for 非法放贷 (两高两部 2019) is 10 loans in 2 years. 5 suits in 2 years
--     is a screening threshold, below the criminal one.
--   * 行政诉讼高频原告: plaintiff in at least 3 行政 first-instance suits in the year and the year before.
--   * A party counts in a year only if one of its suits was filed that year, in the 镇街 of its
--     latest suit (the case's 住所地 镇街); 镇街 now outside the district are left out.

CREATE VIEW mart.party_pattern_by_town AS
WITH suit AS (
    SELECT c.case_no, c.filed_on, c.town_code, p.e ->> 'party_key' AS party_key,
           CASE WHEN c.case_type IN ('民事', '商事') AND c.cause LIKE '%民间借贷%' THEN 'lending'
                WHEN c.case_type = '行政' THEN 'administrative' END AS pattern
    FROM core.court_case c
    CROSS JOIN LATERAL jsonb_array_elements(c.parties) AS p (e)
    WHERE c.procedure = '一审' AND c.filed_on IS NOT NULL
      AND p.e ->> 'role' = 'plaintiff' AND p.e ->> 'party_key' IS NOT NULL
), years AS (
    SELECT DISTINCT extract(year FROM filed_on)::int AS year FROM suit WHERE pattern IS NOT NULL
), per_party AS (
    SELECT y.year, s.pattern, s.party_key, count(*) AS suits,
           (array_agg(s.town_code ORDER BY s.filed_on DESC, s.case_no DESC))[1] AS town_code
    FROM years y
    JOIN suit s ON s.pattern IS NOT NULL
               AND s.filed_on >= make_date(y.year - 1, 1, 1) AND s.filed_on < make_date(y.year + 1, 1, 1)
    GROUP BY y.year, s.pattern, s.party_key
    HAVING max(s.filed_on) >= make_date(y.year, 1, 1)
)
SELECT year,
       town_code,
       CASE pattern WHEN 'lending' THEN '民间借贷高频原告 (两年内5件以上, 疑似职业放贷)'
                    ELSE '行政诉讼高频原告 (两年内3件以上)' END AS pattern,
       count(*) AS parties,
       sum(suits) AS suits
FROM per_party
WHERE suits >= CASE pattern WHEN 'lending' THEN 5 ELSE 3 END
  AND town_code IN (SELECT town_code FROM core.dim_town WHERE in_district)
GROUP BY year, town_code, pattern;

COMMENT ON VIEW mart.party_pattern_by_town IS '涉诉人员模式 (只给人数, 不列人员): 每年每镇街 民间借贷高频原告 (两年内5件以上, 疑似职业放贷) 与 行政诉讼高频原告 (两年内3件以上) 的人数与其案件数; 由法院一审案件的全部当事人 (core.court_case.parties) 按当事人键计算; 口径见迁移 0039 的说明';
COMMENT ON COLUMN mart.party_pattern_by_town.year IS '年度 (该年有起诉, 计数窗口为该年及上一年)';
COMMENT ON COLUMN mart.party_pattern_by_town.town_code IS '镇街 (该当事人最近一件案件的住所地镇街), 见 core.dim_town';
COMMENT ON COLUMN mart.party_pattern_by_town.pattern IS '模式: 民间借贷高频原告 (两年内5件以上, 疑似职业放贷) / 行政诉讼高频原告 (两年内3件以上)';
COMMENT ON COLUMN mart.party_pattern_by_town.parties IS '符合该模式的当事人数 (按当事人键去重)';
COMMENT ON COLUMN mart.party_pattern_by_town.suits IS '这些当事人在两年窗口内作为原告的一审案件数之和';
