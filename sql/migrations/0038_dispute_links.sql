-- 0038_dispute_links.sql — 纠纷跨系统关联 (#17, deliverable 3): which record of one system is the
-- next step of a dispute recorded in another (信访 → 调解 → 诉前调 → 民初 → 执 → 失信 → 破申).
--
-- Rules (docs/linkage.md has them with the measured precision and recall):
--   1. Explicit keys first: the key a record carries of the record before it (信访件编号, 民诉前调
--      案号, 调解案件编号, 执行依据案号, 执行案号, 原案号), matched exactly, else after
--      normalisation (core.normalise_link_key: NFKC full-width → half-width, 〔〕 → (), every space
--      removed). A key that finds a record whose parties share no party key with it (both sides
--      keyed) is taken as mistyped onto another case (a wrong digit) and not used.
--   2. Party key as the fallback, only for a record without a usable explicit link: the rules in
--      core.dispute_link_rule (roles, outcome of the earlier record, a day window, cause
--      compatibility through the two small maps below), one best candidate per record and per
--      earlier record (no fan-out), ties broken by (shared parties, cause, days, key).
--
-- Why a table the refresh fills and not views: the party-key fallback is a join of every
-- unlinked record's parties against every candidate's within a window (at 10M records, tens of
-- millions of party rows), and every reader (analysts, the funnel marts) would pay it on every
-- query; the rules below stay readable as views (core.dispute_link_computed), the table
-- core.dispute_link holds their result, refreshed by core.refresh_dispute_links() (set-based,
-- idempotent: rows that did not change are not touched) from the compute_indicators DAG before
-- the indicators. The table holds keys of records only: no party key, no name.

-- ------------------------------------------------------------------ normalisation

CREATE FUNCTION core.normalise_link_key(k text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN nullif(regexp_replace(translate(normalize(k, NFKC), '〔〕', '()'), '[[:space:]]', '', 'g'), '');
COMMENT ON FUNCTION core.normalise_link_key(text) IS
    '关联键规范化: NFKC (全角括号、数字、空格转半角), 〔〕 转 (), 去掉所有空白; 空串为 NULL. 与 yhlaw.linkage.normalise_key 同一规则 (测试逐键核对)';

CREATE FUNCTION core.court_case_word(case_no text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN substring(core.normalise_link_key(case_no) FROM '\)[^0-9]*[0-9]+([^0-9]+)[0-9]+号$');
COMMENT ON FUNCTION core.court_case_word(text) IS
    '案号中的类型代字, 如 (2022)浙0110民初123号 → 民初, 执, 民特, 破申; 不合案号格式时为 NULL';

-- ------------------------------------------------------------------ records and parties

CREATE VIEW core.dispute_record AS
SELECT 'petition'::text AS record_table, petition_no AS record_key,
       CASE WHEN kind = '重复' THEN '重复信访' ELSE '信访' END AS step_kind,
       (registered_at AT TIME ZONE 'Asia/Shanghai')::date AS started_on,
       (concluded_at AT TIME ZONE 'Asia/Shanghai')::date AS ended_on,
       NULL::text AS outcome, category AS cause, town_code, parties
FROM core.petition
UNION ALL
SELECT 'mediation_case', case_no, CASE WHEN case_source = '诉前委派' THEN '诉前调' ELSE '调解' END,
       accepted_on, closed_on, result, dispute_type, town_code, parties
FROM core.mediation_case
UNION ALL
SELECT 'court_case', case_no, coalesce(core.court_case_word(case_no), '其他'), filed_on, closed_on,
       closing_manner, cause, town_code, parties
FROM core.court_case
UNION ALL
SELECT 'dishonest_debtor', listing_no, '失信', listed_on, removed_on, NULL, NULL, town_code,
       CASE WHEN party_key IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
           'role', 'enforcement_respondent', 'party_type', party_type, 'party_key', party_key)) END
FROM core.dishonest_debtor;
COMMENT ON VIEW core.dispute_record IS '纠纷关联用: 信访、调解、诉讼、失信记录的统一视图 (一记录一行); 分析人员可读, 看板不可读';
COMMENT ON COLUMN core.dispute_record.record_table IS '记录所在核心层表: petition / mediation_case / court_case / dishonest_debtor';
COMMENT ON COLUMN core.dispute_record.record_key IS '记录的自然键 (信访件编号、调解案件编号、案号、失信编号)';
COMMENT ON COLUMN core.dispute_record.step_kind IS '纠纷环节: 信访 (初信初访), 重复信访, 调解 (人民调解), 诉前调 (案件来源为诉前委派的调解), 民初, 民特, 执, 破申 … (案号代字), 失信';
COMMENT ON COLUMN core.dispute_record.started_on IS '环节开始日: 登记日、受理日、立案日、纳入日 (上海时区)';
COMMENT ON COLUMN core.dispute_record.ended_on IS '环节结束日: 办结日、结案日、移除日; 未结为空';
COMMENT ON COLUMN core.dispute_record.outcome IS '结果: 调解结果 (成功/不成功) 或结案方式 (判决、调解、撤诉 …); 信访、失信为空';
COMMENT ON COLUMN core.dispute_record.cause IS '纠纷事由: 信访内容分类、调解纠纷类型或案由';
COMMENT ON COLUMN core.dispute_record.town_code IS '镇街代码';
COMMENT ON COLUMN core.dispute_record.parties IS '全部当事人 {role, party_type, party_key (HMAC)}; 失信记录为其被执行人';

CREATE VIEW core.dispute_party AS
SELECT r.record_table, r.record_key, p.e ->> 'party_key' AS party_key,
       CASE WHEN p.e ->> 'role' IN ('petitioner', 'applicant', 'plaintiff', 'enforcement_applicant', 'appellant')
            THEN 'A' ELSE 'B' END AS side
FROM core.dispute_record r CROSS JOIN LATERAL jsonb_array_elements(r.parties) AS p(e)
WHERE p.e ->> 'party_key' IS NOT NULL
  AND p.e ->> 'role' IN ('petitioner', 'applicant', 'plaintiff', 'enforcement_applicant', 'appellant',
                         'reported', 'respondent', 'defendant', 'enforcement_respondent', 'appellee', 'accused');
COMMENT ON VIEW core.dispute_party IS '纠纷关联用: 每条记录的有键当事人一人一行, 分为主张方 A 与相对方 B (第三人不参与关联); 只有 HMAC, 无姓名证件号';
COMMENT ON COLUMN core.dispute_party.record_table IS '记录所在核心层表';
COMMENT ON COLUMN core.dispute_party.record_key IS '记录的自然键';
COMMENT ON COLUMN core.dispute_party.party_key IS '当事人键 (证件号 HMAC-SHA256)';
COMMENT ON COLUMN core.dispute_party.side IS 'A = 信访人/申请人/原告/申请执行人/上诉人; B = 被反映人/被申请人/被告/被执行人/被上诉人/被告人. 民特的双方均为申请人 (A)';

-- ------------------------------------------------------------------ cause compatibility

CREATE TABLE core.dispute_cause_court_mediation (
    court_cause    text NOT NULL,
    mediation_type text NOT NULL,
    PRIMARY KEY (court_cause, mediation_type)
);
COMMENT ON TABLE core.dispute_cause_court_mediation IS '案由与人民调解纠纷类型的相容关系 (调解 → 民初 的兜底关联只接受相容的一对); 按最高法《民事案件案由规定》与司法部人民调解纠纷分类人工对照';
COMMENT ON COLUMN core.dispute_cause_court_mediation.court_cause IS '案由 (core.court_case.cause)';
COMMENT ON COLUMN core.dispute_cause_court_mediation.mediation_type IS '调解纠纷类型 (core.mediation_case.dispute_type)';
INSERT INTO core.dispute_cause_court_mediation VALUES
    ('民间借贷纠纷', '合同'), ('民间借贷纠纷', '其他'),
    ('买卖合同纠纷', '合同'), ('服务合同纠纷', '合同'),
    ('房屋租赁合同纠纷', '合同'), ('房屋租赁合同纠纷', '房屋宅基地'),
    ('物业服务合同纠纷', '物业'), ('物业服务合同纠纷', '合同'),
    ('离婚纠纷', '婚姻家庭'),
    ('机动车交通事故责任纠纷', '交通事故'), ('机动车交通事故责任纠纷', '损害赔偿'),
    ('健康权纠纷', '损害赔偿'), ('健康权纠纷', '医患'),
    ('相邻关系纠纷', '邻里'), ('相邻关系纠纷', '房屋宅基地'),
    ('劳动争议', '劳动争议');

CREATE TABLE core.dispute_cause_petition_mediation (
    petition_category text NOT NULL,
    mediation_type    text NOT NULL,
    PRIMARY KEY (petition_category, mediation_type)
);
COMMENT ON TABLE core.dispute_cause_petition_mediation IS '信访内容分类与调解纠纷类型的相容关系 (信访 → 调解/诉前调 的兜底关联); 其他、涉法涉诉 是兜底分类, 与任何纠纷类型相容';
COMMENT ON COLUMN core.dispute_cause_petition_mediation.petition_category IS '信访内容分类 (core.petition.category)';
COMMENT ON COLUMN core.dispute_cause_petition_mediation.mediation_type IS '调解纠纷类型 (core.mediation_case.dispute_type)';
INSERT INTO core.dispute_cause_petition_mediation
SELECT c, t FROM unnest(ARRAY['其他', '涉法涉诉']) AS c,
                 unnest(ARRAY['合同', '婚姻家庭', '交通事故', '物业', '劳动争议', '邻里', '损害赔偿', '房屋宅基地',
                              '医患', '征地拆迁', '其他']) AS t
UNION ALL VALUES ('劳动社保', '劳动争议'), ('城乡建设', '物业'), ('城乡建设', '房屋宅基地'), ('城乡建设', '邻里'),
                 ('城乡建设', '征地拆迁'), ('农村农业', '邻里'), ('农村农业', '房屋宅基地'), ('国土资源', '征地拆迁'),
                 ('国土资源', '房屋宅基地'), ('卫生健康', '医患'), ('环境保护', '邻里');

CREATE FUNCTION core.dispute_cause_match(from_kind text, from_cause text, to_kind text, to_cause text)
    RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE
    WHEN from_cause IS NULL OR to_cause IS NULL THEN NULL
    WHEN from_kind IN ('信访', '重复信访') AND to_kind IN ('调解', '诉前调') THEN
        EXISTS (SELECT 1 FROM core.dispute_cause_petition_mediation m
                WHERE m.petition_category = from_cause AND m.mediation_type = to_cause)
    WHEN from_kind IN ('调解', '诉前调') AND to_kind = '民初' THEN
        EXISTS (SELECT 1 FROM core.dispute_cause_court_mediation m
                WHERE m.court_cause = to_cause AND m.mediation_type = from_cause)
    WHEN (from_kind IN ('信访', '重复信访') AND to_kind = '重复信访') OR (from_kind = '调解' AND to_kind = '诉前调')
         OR (from_kind = '民初' AND to_kind = '执') THEN from_cause = to_cause
    END;
COMMENT ON FUNCTION core.dispute_cause_match(text, text, text, text) IS
    '两环节事由是否相容: 信访→调解 与 调解→民初 按对照表, 同一系统内 (重复信访、调解→诉前调、民初→执) 须相同; 不适用 (民特、失信、破申) 或事由缺失为 NULL';

-- ------------------------------------------------------------------ fallback rules

CREATE TABLE core.dispute_link_rule (
    link_type     text NOT NULL,
    from_kinds    text[] NOT NULL,
    from_outcomes text[],
    to_kind       text NOT NULL,
    to_sources    text[],
    anchor        text NOT NULL CHECK (anchor ~ '^[AB][AB]$'),
    second        text CHECK (second ~ '^[AB][AB]$'),
    day_basis     text NOT NULL CHECK (day_basis IN ('start', 'end')),
    min_days      integer NOT NULL,
    max_days      integer NOT NULL,
    cause_required boolean NOT NULL,
    one_per_from  boolean NOT NULL,
    second_required boolean NOT NULL DEFAULT false,
    why           text NOT NULL,
    PRIMARY KEY (link_type, to_kind, from_kinds)
);
COMMENT ON TABLE core.dispute_link_rule IS '当事人键兜底关联规则 (显式键缺失或无效时): 一行一条规则; 每条后记录只取一个最佳前记录';
COMMENT ON COLUMN core.dispute_link_rule.link_type IS '关联类型, 如 调解→民初';
COMMENT ON COLUMN core.dispute_link_rule.from_kinds IS '前记录的环节 (core.dispute_record.step_kind)';
COMMENT ON COLUMN core.dispute_link_rule.from_outcomes IS '前记录须有的结果 (如 调解 不成功 才会起诉); 为空不限';
COMMENT ON COLUMN core.dispute_link_rule.to_kind IS '后记录的环节';
COMMENT ON COLUMN core.dispute_link_rule.to_sources IS '后记录 (调解) 须有的案件来源, 如 信访转办; 为空不限';
COMMENT ON COLUMN core.dispute_link_rule.anchor IS '必须相同的当事人: 前记录一方 + 后记录一方, 如 AA = 申请人是原告';
COMMENT ON COLUMN core.dispute_link_rule.second IS '另一方: 两条记录都有该方的有键当事人时必须相同 (如 BB = 被申请人是被告); 为空不查';
COMMENT ON COLUMN core.dispute_link_rule.day_basis IS '天数从前记录的 start (开始日) 还是 end (结束日) 算起';
COMMENT ON COLUMN core.dispute_link_rule.min_days IS '后记录开始日 − 前记录基准日 的下限 (天)';
COMMENT ON COLUMN core.dispute_link_rule.max_days IS '上限 (天)';
COMMENT ON COLUMN core.dispute_link_rule.cause_required IS '事由须相容 (core.dispute_cause_match 不为 false)';
COMMENT ON COLUMN core.dispute_link_rule.one_per_from IS '一个前记录至多一个后记录 (一个失败的调解只引出一个诉讼); 执→失信 不限 (一案可有多名被执行人)';
COMMENT ON COLUMN core.dispute_link_rule.second_required IS '另一方必须相同 (任一记录缺该方的有键当事人即不关联): 信访→诉前调 的诉前委派多为直接起诉, 只凭信访人一人同名会错配 (实测)';
COMMENT ON COLUMN core.dispute_link_rule.why IS '规则依据';
INSERT INTO core.dispute_link_rule (link_type, from_kinds, from_outcomes, to_kind, to_sources, anchor, second,
                                    day_basis, min_days, max_days, cause_required, one_per_from, why) VALUES
    ('信访→调解', '{信访,重复信访}', NULL, '调解', '{信访转办}', 'AA', 'BB', 'start', 0, 30, true, true,
     '信访转办调解由信访人申请, 通常在登记后两周内受理'),
    ('信访→诉前调', '{信访,重复信访}', NULL, '诉前调', NULL, 'AA', 'BB', 'start', 0, 70, true, true,
     '信访人起诉后被诉前委派; 登记后两个月内'),
    ('调解→诉前调', '{调解}', '{不成功}', '诉前调', NULL, 'AA', 'BB', 'end', 0, 30, true, true,
     '人民调解不成功, 当事人起诉, 法院诉前委派; 结案后一个月内'),
    ('调解→民初', '{调解}', '{不成功}', '民初', NULL, 'AA', 'BB', 'end', 0, 45, true, true,
     '人民调解不成功后直接立案'),
    ('诉前调→民初', '{诉前调}', '{不成功}', '民初', NULL, 'AA', 'BB', 'end', 0, 30, true, true,
     '诉前调解不成功, 转立案 (民诉前调案号缺失或录错时)'),
    ('调解→民特', '{调解,诉前调}', '{成功}', '民特', NULL, 'AA', 'BA', 'end', 0, 30, false, true,
     '调解协议生效后 30 日内双方共同申请司法确认 (民事诉讼法第二百零五条); 民特双方均为申请人'),
    ('民初/民特→执', '{民初}', '{判决,调解}', '执', NULL, 'AA', 'BB', 'end', 0, 730, true, true,
     '判决、调解书未履行, 胜诉方申请执行 (申请执行期间二年)'),
    ('民初/民特→执', '{民特}', NULL, '执', NULL, 'AA', 'AB', 'end', 0, 730, false, true,
     '司法确认裁定未履行, 一方申请执行'),
    ('执→失信', '{执}', NULL, '失信', NULL, 'BB', NULL, 'start', 0, 365, false, false,
     '被执行人纳入失信名单'),
    ('执→破申', '{执}', NULL, '破申', NULL, 'BB', NULL, 'start', 0, 730, false, true,
     '执行转破产: 被执行企业成为破产申请的被申请人'),
    ('信访→重复信访', '{信访,重复信访}', NULL, '重复信访', NULL, 'AA', 'BB', 'start', 1, 365, true, true,
     '同一信访人就同一事项再次信访 (内容分类相同), 取最近的一次');
UPDATE core.dispute_link_rule SET second_required = true WHERE link_type = '信访→诉前调';

-- ------------------------------------------------------------------ explicit keys

CREATE VIEW core.dispute_link_key AS
SELECT 'mediation_case'::text AS to_table, case_no AS to_key, petition_no AS typed_key,
       'petition'::text AS from_table, 'petition_no'::text AS from_column
FROM core.mediation_case WHERE petition_no IS NOT NULL
UNION ALL
SELECT 'court_case', case_no, mediation_referral_no, 'mediation_case', 'court_referral_no'
FROM core.court_case WHERE mediation_referral_no IS NOT NULL
UNION ALL
SELECT 'court_case', case_no, mediation_case_no, 'mediation_case', 'case_no'
FROM core.court_case WHERE mediation_case_no IS NOT NULL
UNION ALL
SELECT 'court_case', case_no, enforcement_basis_no, 'court_case', 'case_no'
FROM core.court_case WHERE enforcement_basis_no IS NOT NULL
UNION ALL
SELECT 'court_case', case_no, original_case_no, 'court_case', 'case_no'
FROM core.court_case WHERE original_case_no IS NOT NULL
UNION ALL
SELECT 'dishonest_debtor', listing_no, enforcement_case_no, 'court_case', 'case_no'
FROM core.dishonest_debtor WHERE enforcement_case_no IS NOT NULL;
COMMENT ON VIEW core.dispute_link_key IS '显式关联键: 后记录所载前记录的键 (按来源录入, 可能录错), 及其应指向的表和列';
COMMENT ON COLUMN core.dispute_link_key.to_table IS '载有关联键的记录 (后记录) 所在表';
COMMENT ON COLUMN core.dispute_link_key.to_key IS '后记录的自然键';
COMMENT ON COLUMN core.dispute_link_key.typed_key IS '所载关联键, 照录';
COMMENT ON COLUMN core.dispute_link_key.from_table IS '关联键应指向的表';
COMMENT ON COLUMN core.dispute_link_key.from_column IS '关联键应指向的列 (诉前调案号指向调解的 court_referral_no)';

CREATE VIEW core.dispute_link_target AS
SELECT 'petition'::text AS from_table, 'petition_no'::text AS from_column, petition_no AS from_key, petition_no AS key_value
FROM core.petition
UNION ALL SELECT 'mediation_case', 'case_no', case_no, case_no FROM core.mediation_case
UNION ALL SELECT 'mediation_case', 'court_referral_no', case_no, court_referral_no FROM core.mediation_case
          WHERE court_referral_no IS NOT NULL
UNION ALL SELECT 'court_case', 'case_no', case_no, case_no FROM core.court_case;
COMMENT ON VIEW core.dispute_link_target IS '显式关联键可指向的值: 每条记录的自然键 (及调解所载的民诉前调案号)';
COMMENT ON COLUMN core.dispute_link_target.from_table IS '前记录所在表';
COMMENT ON COLUMN core.dispute_link_target.from_column IS '被指向的列';
COMMENT ON COLUMN core.dispute_link_target.from_key IS '前记录的自然键';
COMMENT ON COLUMN core.dispute_link_target.key_value IS '该列的值';

-- ------------------------------------------------------------------ the computed links

CREATE VIEW core.dispute_link_computed AS
WITH explicit AS (
    SELECT k.to_table, k.to_key, t.from_table, t.from_key, k.typed_key,
           CASE WHEN t.key_value = k.typed_key THEN 'explicit_exact' ELSE 'explicit_normalised' END AS method
    FROM core.dispute_link_key k
    JOIN core.dispute_link_target t ON t.from_table = k.from_table AND t.from_column = k.from_column
     AND t.key_value = k.typed_key
    UNION ALL
    SELECT k.to_table, k.to_key, t.from_table, t.from_key, k.typed_key, 'explicit_normalised'
    FROM core.dispute_link_key k
    JOIN core.dispute_link_target t ON t.from_table = k.from_table AND t.from_column = k.from_column
     AND core.normalise_link_key(t.key_value) = core.normalise_link_key(k.typed_key)
     AND t.key_value <> k.typed_key
), explicit_checked AS (
    -- A key mistyped by one digit is often another existing case: with parties on both sides
    -- and none shared, the key is not believed.
    SELECT e.*, f.step_kind AS from_kind, t.step_kind AS to_kind, f.started_on AS from_started,
           f.ended_on AS from_ended, t.started_on AS to_started, f.cause AS from_cause, t.cause AS to_cause,
           (SELECT count(DISTINCT tp.party_key) FROM core.dispute_party tp JOIN core.dispute_party fp
              ON fp.party_key = tp.party_key AND fp.record_table = e.from_table AND fp.record_key = e.from_key
            WHERE tp.record_table = e.to_table AND tp.record_key = e.to_key) AS shared,
           EXISTS (SELECT 1 FROM core.dispute_party p WHERE p.record_table = e.to_table AND p.record_key = e.to_key)
           AND EXISTS (SELECT 1 FROM core.dispute_party p WHERE p.record_table = e.from_table AND p.record_key = e.from_key)
               AS both_keyed
    FROM explicit e
    JOIN core.dispute_record f ON f.record_table = e.from_table AND f.record_key = e.from_key
    JOIN core.dispute_record t ON t.record_table = e.to_table AND t.record_key = e.to_key
), explicit_best AS (
    SELECT DISTINCT ON (to_table, to_key) *
    FROM explicit_checked
    WHERE shared > 0 OR NOT both_keyed
    ORDER BY to_table, to_key, method = 'explicit_exact' DESC, shared DESC, from_table, from_key
), unlinked AS (
    SELECT t.* FROM core.dispute_record t
    WHERE t.step_kind IN (SELECT to_kind FROM core.dispute_link_rule)
      AND NOT EXISTS (SELECT 1 FROM explicit_best e WHERE e.to_table = t.record_table AND e.to_key = t.record_key)
), candidate AS (
    SELECT r.link_type, r.one_per_from, f.record_table AS from_table, f.record_key AS from_key,
           t.record_table AS to_table, t.record_key AS to_key, f.step_kind AS from_kind, t.step_kind AS to_kind,
           t.started_on - CASE r.day_basis WHEN 'end' THEN coalesce(f.ended_on, f.started_on) ELSE f.started_on END
               AS days_between,
           core.dispute_cause_match(f.step_kind, f.cause, t.step_kind, t.cause) AS cause_match,
           r.second, r.second_required
    FROM core.dispute_link_rule r
    JOIN unlinked t ON t.step_kind = r.to_kind
     AND (r.to_sources IS NULL OR EXISTS (SELECT 1 FROM core.mediation_case m
                                          WHERE t.record_table = 'mediation_case' AND m.case_no = t.record_key
                                            AND m.case_source = ANY (r.to_sources)))
    JOIN core.dispute_party tp ON tp.record_table = t.record_table AND tp.record_key = t.record_key
     AND tp.side = substr(r.anchor, 2, 1)
    JOIN core.dispute_party fp ON fp.party_key = tp.party_key AND fp.side = substr(r.anchor, 1, 1)
    JOIN core.dispute_record f ON f.record_table = fp.record_table AND f.record_key = fp.record_key
     AND f.step_kind = ANY (r.from_kinds)
     AND (r.from_outcomes IS NULL OR f.outcome = ANY (r.from_outcomes))
    WHERE t.started_on - CASE r.day_basis WHEN 'end' THEN coalesce(f.ended_on, f.started_on) ELSE f.started_on END
              BETWEEN r.min_days AND r.max_days
      AND (NOT r.cause_required OR core.dispute_cause_match(f.step_kind, f.cause, t.step_kind, t.cause) IS NOT FALSE)
      AND NOT (f.record_table = t.record_table AND f.record_key = t.record_key)
), scored AS (
    SELECT DISTINCT c.*, second_keyed.f_keys, second_keyed.t_keys, second_keyed.shared2
    FROM candidate c
    CROSS JOIN LATERAL (
        SELECT (SELECT count(*) FROM core.dispute_party p WHERE p.record_table = c.from_table
                  AND p.record_key = c.from_key AND p.side = substr(c.second, 1, 1)) AS f_keys,
               (SELECT count(*) FROM core.dispute_party p WHERE p.record_table = c.to_table
                  AND p.record_key = c.to_key AND p.side = substr(c.second, 2, 1)) AS t_keys,
               (SELECT count(*) FROM core.dispute_party fp JOIN core.dispute_party tp ON tp.party_key = fp.party_key
                WHERE fp.record_table = c.from_table AND fp.record_key = c.from_key AND fp.side = substr(c.second, 1, 1)
                  AND tp.record_table = c.to_table AND tp.record_key = c.to_key AND tp.side = substr(c.second, 2, 1))
                   AS shared2) AS second_keyed
), allowed AS (
    SELECT s.*, CASE WHEN s.shared2 > 0 THEN 2 ELSE 1 END AS shared
    FROM scored s
    WHERE s.second IS NULL OR s.shared2 > 0 OR (NOT s.second_required AND (s.f_keys = 0 OR s.t_keys = 0))
), ranked AS (
    SELECT a.*,
           row_number() OVER (PARTITION BY to_table, to_key
                              ORDER BY shared DESC, cause_match IS TRUE DESC, days_between, from_table, from_key) AS to_rank,
           row_number() OVER (PARTITION BY link_type, from_table, from_key
                              ORDER BY shared DESC, cause_match IS TRUE DESC, days_between, to_table, to_key) AS from_rank
    FROM allowed a
    WHERE NOT EXISTS (SELECT 1 FROM explicit_best e WHERE e.from_table = a.from_table AND e.from_key = a.from_key
                        AND a.one_per_from AND e.to_kind = a.to_kind)
)
SELECT CASE WHEN to_kind = '执' THEN '民初/民特→执' WHEN to_kind = '民特' THEN '调解→民特'
            WHEN to_kind = '重复信访' THEN '信访→重复信访'
            WHEN from_kind = '重复信访' THEN '信访→' || to_kind ELSE from_kind || '→' || to_kind END AS link_type,
       from_table, from_key, to_table, to_key, method, typed_key,
       to_started - CASE WHEN to_kind IN ('失信', '破申', '重复信访') OR from_kind IN ('信访', '重复信访')
                         THEN from_started ELSE coalesce(from_ended, from_started) END AS days_between,
       core.dispute_cause_match(from_kind, from_cause, to_kind, to_cause) AS cause_match,
       shared::smallint AS shared_parties
FROM explicit_best
UNION ALL
SELECT link_type, from_table, from_key, to_table, to_key, 'party_key', NULL, days_between, cause_match,
       shared::smallint
FROM ranked
WHERE to_rank = 1 AND (from_rank = 1 OR NOT one_per_from);
COMMENT ON VIEW core.dispute_link_computed IS '纠纷关联规则的结果 (每次读都重算, 慢): 由 core.refresh_dispute_links() 写入 core.dispute_link';

-- ------------------------------------------------------------------ the link table

CREATE TABLE core.dispute_link (
    to_table       text NOT NULL,
    to_key         text NOT NULL,
    link_type      text NOT NULL,
    from_table     text NOT NULL,
    from_key       text NOT NULL,
    method         text NOT NULL CHECK (method IN ('explicit_exact', 'explicit_normalised', 'party_key')),
    typed_key      text,
    days_between   integer,
    cause_match    boolean,
    shared_parties smallint NOT NULL,
    linked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (to_table, to_key)
);
CREATE INDEX dispute_link_from_idx ON core.dispute_link (from_table, from_key);
CREATE INDEX dispute_link_type_idx ON core.dispute_link (link_type);
COMMENT ON TABLE core.dispute_link IS '纠纷跨系统关联: 每条后记录至多一条前记录 (信访→调解、调解→诉前调/民初、诉前调→民初、调解→民特、民初/民特→执、执→失信、执→破申、信访→重复信访); 由 core.refresh_dispute_links() 在指标计算前刷新; 只含记录键, 不含当事人; 规则与实测准确率见 docs/linkage.md';
COMMENT ON COLUMN core.dispute_link.to_table IS '后记录所在核心层表 (petition / mediation_case / court_case / dishonest_debtor)';
COMMENT ON COLUMN core.dispute_link.to_key IS '后记录的自然键';
COMMENT ON COLUMN core.dispute_link.link_type IS '关联类型: 信访→调解, 信访→诉前调, 调解→诉前调, 调解→民初, 诉前调→民初, 调解→民特, 民初/民特→执, 执→失信, 执→破申, 信访→重复信访';
COMMENT ON COLUMN core.dispute_link.from_table IS '前记录所在核心层表';
COMMENT ON COLUMN core.dispute_link.from_key IS '前记录的自然键';
COMMENT ON COLUMN core.dispute_link.method IS '关联方法: explicit_exact 显式键原样相等, explicit_normalised 显式键规范化后相等 (全角转半角、去空格), party_key 当事人键兜底 (角色、事由、日期约束)';
COMMENT ON COLUMN core.dispute_link.typed_key IS '后记录所载的显式键, 照录 (兜底关联为空)';
COMMENT ON COLUMN core.dispute_link.days_between IS '证据: 后记录开始日 − 前记录结束日 (信访、失信、破申从前记录开始日算), 天';
COMMENT ON COLUMN core.dispute_link.cause_match IS '证据: 两记录事由相容 (core.dispute_cause_match); 不适用为空';
COMMENT ON COLUMN core.dispute_link.shared_parties IS '证据: 共同当事人 (显式键: 共同当事人键个数, 0 = 一方无键; 兜底: 1 = 锚定一方相同, 2 = 双方相同)';
COMMENT ON COLUMN core.dispute_link.linked_at IS '本行 (此内容) 写入时间';

CREATE FUNCTION core.refresh_dispute_links(OUT inserted bigint, OUT updated bigint, OUT deleted bigint)
    LANGUAGE plpgsql AS $$
BEGIN
    -- Set-based and idempotent: the rules' result replaces the table's, touching only rows
    -- that changed (a second run with no new data writes nothing).
    CREATE TEMP TABLE dispute_link_new ON COMMIT DROP AS SELECT * FROM core.dispute_link_computed;
    DELETE FROM core.dispute_link l
    WHERE NOT EXISTS (SELECT 1 FROM dispute_link_new n WHERE n.to_table = l.to_table AND n.to_key = l.to_key);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    UPDATE core.dispute_link l
    SET link_type = n.link_type, from_table = n.from_table, from_key = n.from_key, method = n.method,
        typed_key = n.typed_key, days_between = n.days_between, cause_match = n.cause_match,
        shared_parties = n.shared_parties, linked_at = now()
    FROM dispute_link_new n
    WHERE n.to_table = l.to_table AND n.to_key = l.to_key
      AND (l.link_type, l.from_table, l.from_key, l.method, l.typed_key, l.days_between, l.cause_match, l.shared_parties)
          IS DISTINCT FROM (n.link_type, n.from_table, n.from_key, n.method, n.typed_key, n.days_between,
                            n.cause_match, n.shared_parties);
    GET DIAGNOSTICS updated = ROW_COUNT;
    INSERT INTO core.dispute_link (to_table, to_key, link_type, from_table, from_key, method, typed_key,
                                   days_between, cause_match, shared_parties)
    SELECT to_table, to_key, link_type, from_table, from_key, method, typed_key, days_between, cause_match,
           shared_parties
    FROM dispute_link_new n
    WHERE NOT EXISTS (SELECT 1 FROM core.dispute_link l WHERE l.to_table = n.to_table AND l.to_key = n.to_key);
    GET DIAGNOSTICS inserted = ROW_COUNT;
    DROP TABLE dispute_link_new;
END $$;
COMMENT ON FUNCTION core.refresh_dispute_links() IS '按 core.dispute_link_computed 刷新 core.dispute_link (幂等: 只改变化的行); 返回新增、更新、删除行数';
