-- 0031_supervision_evaluation.sql — 执法监督 (include/specs/supervision.yaml), two more entities of the
-- 浙江省行政执法监督系统: 网上执法效能评价 (core.enforcement_evaluation, monthly, one row per 基层执法单元)
-- and 执法监督预警 (core.supervision_warning, placed by its 处置期限 for the 按期处置率), each with its
-- version table and staging table. Conventions as 0027; mart.stale_rows is generated from the specs.

-- 网上执法效能评价 -------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.enforcement_evaluation (
    batch_id            text NOT NULL,
    evaluation_no       text,
    period_type         text,
    period_start        date,
    unit_type           text,
    dept_code           text,
    dept_name           text,
    town_code           char(12),
    case_count          integer,
    avg_handling_days   numeric(7, 1),
    legal_review_rate   numeric(5, 1),
    mobile_rate         numeric(5, 1),
    overdue_count       integer,
    total_score         numeric(5, 1),
    grade               text,
    evaluated_on        date,
    rechecked_on        date,
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.enforcement_evaluation (batch_id);

CREATE TABLE core.enforcement_evaluation (
    evaluation_no       text PRIMARY KEY,
    period_type         text,
    period_start        date NOT NULL,
    unit_type           text,
    dept_code           text,
    dept_name           text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    case_count          integer CHECK (case_count >= 0),
    avg_handling_days   numeric(7, 1) CHECK (avg_handling_days >= 0),
    legal_review_rate   numeric(5, 1) CHECK (legal_review_rate BETWEEN 0 AND 100),
    mobile_rate         numeric(5, 1) CHECK (mobile_rate BETWEEN 0 AND 100),
    overdue_count       integer CHECK (overdue_count >= 0),
    total_score         numeric(5, 1) CHECK (total_score BETWEEN 0 AND 100),
    grade               text,
    evaluated_on        date,
    rechecked_on        date,
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    stale_since         timestamptz
);
CREATE INDEX ON core.enforcement_evaluation (town_code, period_start);
CREATE INDEX ON core.enforcement_evaluation (dept_code, period_start);

CREATE TABLE core.enforcement_evaluation_version (LIKE core.enforcement_evaluation INCLUDING DEFAULTS);
ALTER TABLE core.enforcement_evaluation_version ADD PRIMARY KEY (evaluation_no, source_updated_at);
CREATE INDEX ON core.enforcement_evaluation_version (batch_id);
CREATE INDEX enforcement_evaluation_stale_since_idx ON core.enforcement_evaluation (stale_since) WHERE stale_since IS NOT NULL;

COMMENT ON TABLE core.enforcement_evaluation IS '网上执法效能评价 (浙江省行政执法监督系统), 每个基层执法单元每月一行, 为最新版本 (复核后为复核得分与等次)';
COMMENT ON TABLE core.enforcement_evaluation_version IS '网上执法效能评价的全部历史版本 (自动评价、复核及更正)';
COMMENT ON COLUMN core.enforcement_evaluation.evaluation_no IS '评价编号 (自然键): 评价月份 + 镇街 + 单位';
COMMENT ON COLUMN core.enforcement_evaluation.period_type IS '评价周期: 月度';
COMMENT ON COLUMN core.enforcement_evaluation.period_start IS '评价月份 (当月1日)';
COMMENT ON COLUMN core.enforcement_evaluation.unit_type IS '被评价单位类型: 镇街综合行政执法队/派驻执法中队/市场监管所';
COMMENT ON COLUMN core.enforcement_evaluation.dept_code IS '被评价单位所属: YH-ZFD = 镇街综合行政执法队; YH-ZHZF, YH-SCJG = 该部门派驻镇街的中队/所 (由 town_code 区分)';
COMMENT ON COLUMN core.enforcement_evaluation.dept_name IS '被评价单位名称';
COMMENT ON COLUMN core.enforcement_evaluation.town_code IS '被评价单位所在镇街, 见 core.dim_town';
COMMENT ON COLUMN core.enforcement_evaluation.case_count IS '执法办案数 (评价月份内办结的行政处罚案件数)';
COMMENT ON COLUMN core.enforcement_evaluation.avg_handling_days IS '案件平均办理时长 (自然日, 立案至结案)';
COMMENT ON COLUMN core.enforcement_evaluation.legal_review_rate IS '法制审核率 (%): 应当法制审核的案件中经法制审核的比例';
COMMENT ON COLUMN core.enforcement_evaluation.mobile_rate IS '掌上执法率 (%): 使用浙政钉·掌上执法办理的检查、案件比例';
COMMENT ON COLUMN core.enforcement_evaluation.overdue_count IS '超期案件数';
COMMENT ON COLUMN core.enforcement_evaluation.total_score IS '评价总分 (百分制); 复核后为复核得分';
COMMENT ON COLUMN core.enforcement_evaluation.grade IS '评价等次: 优秀 (≥90分)/良好 (80-89.9分)/一般 (60-79.9分)/较差 (<60分); 复核后为复核等次';
COMMENT ON COLUMN core.enforcement_evaluation.evaluated_on IS '评价生成日期 (次月1日系统自动评价)';
COMMENT ON COLUMN core.enforcement_evaluation.rechecked_on IS '复核日期 (单位申请复核后重新评分; 未复核为空)';
COMMENT ON COLUMN core.enforcement_evaluation.source_updated_at IS '源系统更新时间 (复核、更正为新版本)';
COMMENT ON COLUMN core.enforcement_evaluation.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.enforcement_evaluation.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.enforcement_evaluation.loaded_at IS '装入时间';
COMMENT ON COLUMN core.enforcement_evaluation.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
SELECT audit.copy_column_comments('core.enforcement_evaluation', 'core.enforcement_evaluation_version');

-- 执法监督预警 -----------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.supervision_warning (
    batch_id            text NOT NULL,
    warning_no          text,
    warning_type        text,
    warning_level       text,
    dept_code           text,
    dept_name           text,
    town_code           char(12),
    case_no             text,
    warned_at           timestamptz,
    time_limit_days     integer,
    status              text,
    handled_at          timestamptz,
    in_time             boolean,
    result              text,
    transferred         boolean,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.supervision_warning (batch_id);

CREATE TABLE core.supervision_warning (
    warning_no          text PRIMARY KEY,
    warning_type        text,
    warning_level       text,
    dept_code           text,
    dept_name           text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    case_no             text,
    warned_at           timestamptz NOT NULL,
    time_limit_days     integer CHECK (time_limit_days BETWEEN 1 AND 365),
    status              text,
    handled_at          timestamptz,
    in_time             boolean,
    result              text,
    transferred         boolean,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    stale_since         timestamptz,
    -- 执法监督预警按期处置率 is placed by the deadline: open and late is late in the deadline's month.
    due_on              date GENERATED ALWAYS AS
                            (((warned_at AT TIME ZONE 'Asia/Shanghai')::date + time_limit_days)) STORED
);
CREATE INDEX ON core.supervision_warning (town_code, warned_at);
CREATE INDEX ON core.supervision_warning (due_on);

CREATE TABLE core.supervision_warning_version (LIKE core.supervision_warning INCLUDING DEFAULTS INCLUDING GENERATED);
ALTER TABLE core.supervision_warning_version ADD PRIMARY KEY (warning_no, source_updated_at);
CREATE INDEX ON core.supervision_warning_version (batch_id);
CREATE INDEX supervision_warning_stale_since_idx ON core.supervision_warning (stale_since) WHERE stale_since IS NOT NULL;

COMMENT ON TABLE core.supervision_warning IS '执法监督预警 (浙江省行政执法监督系统自动预警), 每条一行, 为最新版本';
COMMENT ON TABLE core.supervision_warning_version IS '执法监督预警的全部历史版本 (预警、转督办、处置及更正)';
COMMENT ON COLUMN core.supervision_warning.warning_no IS '预警编号 (自然键)';
COMMENT ON COLUMN core.supervision_warning.warning_type IS '预警类型: 超期未结案/应立未立/法制审核缺失/处罚畸轻畸重/文书不规范/执法全过程记录缺失';
COMMENT ON COLUMN core.supervision_warning.warning_level IS '预警等级: 红色 (3日内处置)/橙色 (7日)/黄色 (15日)';
COMMENT ON COLUMN core.supervision_warning.dept_code IS '被预警单位代码 (同 core.case_review.dept_code)';
COMMENT ON COLUMN core.supervision_warning.dept_name IS '被预警单位名称';
COMMENT ON COLUMN core.supervision_warning.town_code IS '被预警案件所在镇街, 见 core.dim_town';
COMMENT ON COLUMN core.supervision_warning.case_no IS '被预警案件案号';
COMMENT ON COLUMN core.supervision_warning.warned_at IS '预警时间 (系统自动扫描生成)';
COMMENT ON COLUMN core.supervision_warning.time_limit_days IS '处置时限 (自然日, 自预警之日起: 红色 3, 橙色 7, 黄色 15)';
COMMENT ON COLUMN core.supervision_warning.status IS '处置状态: 待处置/已处置';
COMMENT ON COLUMN core.supervision_warning.handled_at IS '处置时间 (未处置为空)';
COMMENT ON COLUMN core.supervision_warning.in_time IS '是否按期处置 (监督系统按处置期限判定; 未处置为空)';
COMMENT ON COLUMN core.supervision_warning.result IS '处置结果: 已整改/情况说明/误报核销';
COMMENT ON COLUMN core.supervision_warning.transferred IS '是否转督办 (逾期未处置转为执法问题督办件)';
COMMENT ON COLUMN core.supervision_warning.party_type IS '被预警案件当事人类型: person / org';
COMMENT ON COLUMN core.supervision_warning.party_key IS '被预警案件当事人键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.supervision_warning.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.supervision_warning.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.supervision_warning.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.supervision_warning.loaded_at IS '装入时间';
COMMENT ON COLUMN core.supervision_warning.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
COMMENT ON COLUMN core.supervision_warning.due_on IS '处置期限届满日: 预警日期 (北京时间) + 处置时限; 由预警时间和处置时限生成; 按期处置率按此日期归属月份';
SELECT audit.copy_column_comments('core.supervision_warning', 'core.supervision_warning_version');
