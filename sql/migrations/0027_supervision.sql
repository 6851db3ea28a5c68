-- 0027_supervision.sql — 执法监督 (浙江省行政执法监督系统, source spec: include/specs/supervision.yaml):
-- 行政执法案卷评查结果 (core.case_review), 行政执法投诉举报 (core.enforcement_complaint) and 执法问题
-- 督办件 (core.supervision_order), each with its version table and staging table; the complaints' and
-- orders' 办理期限 (the 按期办结率 are placed by it). mart.stale_rows is generated from the specs at set-up.

-- 案卷评查 ---------------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.case_review (
    batch_id            text NOT NULL,
    review_no           text,
    review_batch        text,
    review_year         integer,
    review_method       text,
    unit_type           text,
    dept_code           text,
    dept_name           text,
    town_code           char(12),
    case_no             text,
    case_type           text,
    score               numeric(5, 1),
    grade               text,
    problems            text,
    reviewed_on         date,
    rechecked_on        date,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.case_review (batch_id);

CREATE TABLE core.case_review (
    review_no           text PRIMARY KEY,
    review_batch        text,
    review_year         integer,
    review_method       text,
    unit_type           text,
    dept_code           text,
    dept_name           text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    case_no             text,
    case_type           text,
    score               numeric(5, 1) CHECK (score BETWEEN 0 AND 100),
    grade               text,
    problems            text,
    reviewed_on         date NOT NULL,
    rechecked_on        date,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    stale_since         timestamptz
);
CREATE INDEX ON core.case_review (town_code, reviewed_on);
CREATE INDEX ON core.case_review (dept_code, reviewed_on);

CREATE TABLE core.case_review_version (LIKE core.case_review INCLUDING DEFAULTS);
ALTER TABLE core.case_review_version ADD PRIMARY KEY (review_no, source_updated_at);

COMMENT ON TABLE core.case_review IS '行政执法案卷评查结果 (浙江省行政执法监督系统), 每份被评查案卷一行, 为最新版本 (复核后为复核等次)';
COMMENT ON TABLE core.case_review_version IS '行政执法案卷评查结果的全部历史版本 (评查、复核及更正)';
COMMENT ON COLUMN core.case_review.review_no IS '评查编号 (自然键), 每份被评查案卷一个';
COMMENT ON COLUMN core.case_review.review_batch IS '评查批次, 如 2022年度第1批行政执法案卷评查';
COMMENT ON COLUMN core.case_review.review_year IS '评查年度';
COMMENT ON COLUMN core.case_review.review_method IS '评查方式: 集中评查/交叉评查/网上评查';
COMMENT ON COLUMN core.case_review.unit_type IS '被评查单位类型: 区级执法部门/镇街综合行政执法队';
COMMENT ON COLUMN core.case_review.dept_code IS '被评查单位代码: 区级执法部门见 core.dim_department; YH-ZFD = 镇街综合行政执法队 (由 town_code 区分)';
COMMENT ON COLUMN core.case_review.dept_name IS '被评查单位名称';
COMMENT ON COLUMN core.case_review.town_code IS '镇街: 执法队所属镇街, 或区级部门案件的案发镇街, 见 core.dim_town';
COMMENT ON COLUMN core.case_review.case_no IS '被评查案卷的案号';
COMMENT ON COLUMN core.case_review.case_type IS '案卷类别: 行政处罚/行政许可/行政检查/行政强制';
COMMENT ON COLUMN core.case_review.score IS '评查得分 (百分制)';
COMMENT ON COLUMN core.case_review.grade IS '评查等次: 优秀 (≥90分)/良好 (80-89分)/合格 (60-79分)/不合格 (<60分); 复核后为复核等次';
COMMENT ON COLUMN core.case_review.problems IS '主要问题 (以；分隔), 优秀案卷可为空';
COMMENT ON COLUMN core.case_review.reviewed_on IS '评查日期';
COMMENT ON COLUMN core.case_review.rechecked_on IS '复核日期 (等次经复核变更时; 未复核为空)';
COMMENT ON COLUMN core.case_review.party_type IS '被评查案件当事人类型: person / org';
COMMENT ON COLUMN core.case_review.party_key IS '被评查案件当事人键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.case_review.source_updated_at IS '源系统更新时间 (复核更正为新版本)';
COMMENT ON COLUMN core.case_review.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.case_review.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.case_review.loaded_at IS '装入时间';
COMMENT ON COLUMN core.case_review.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
SELECT audit.copy_column_comments('core.case_review', 'core.case_review_version');

-- 投诉举报 ---------------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.enforcement_complaint (
    batch_id            text NOT NULL,
    complaint_no        text,
    received_at         timestamptz,
    channel             text,
    category            text,
    dept_code           text,
    dept_name           text,
    town_code           char(12),
    time_limit_days     integer,
    concluded_at        timestamptz,
    in_time             boolean,
    result              text,
    founded             text,
    satisfaction        text,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.enforcement_complaint (batch_id);

CREATE TABLE core.enforcement_complaint (
    complaint_no        text PRIMARY KEY,
    received_at         timestamptz NOT NULL,
    channel             text,
    category            text,
    dept_code           text,
    dept_name           text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    time_limit_days     integer CHECK (time_limit_days BETWEEN 1 AND 365),
    concluded_at        timestamptz,
    in_time             boolean,
    result              text,
    founded             text,
    satisfaction        text,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    stale_since         timestamptz,
    -- 投诉举报按期办结率 is placed by the deadline, not by receipt: a complaint still open after
    -- its deadline counts as late in the deadline's month (as 初信初访按期办结率, #15).
    due_on              date GENERATED ALWAYS AS
                            (((received_at AT TIME ZONE 'Asia/Shanghai')::date + time_limit_days)) STORED
);
CREATE INDEX ON core.enforcement_complaint (town_code, received_at);
CREATE INDEX ON core.enforcement_complaint (due_on);

CREATE TABLE core.enforcement_complaint_version (LIKE core.enforcement_complaint INCLUDING DEFAULTS INCLUDING GENERATED);
ALTER TABLE core.enforcement_complaint_version ADD PRIMARY KEY (complaint_no, source_updated_at);

COMMENT ON TABLE core.enforcement_complaint IS '行政执法投诉举报 (浙江省行政执法监督系统), 每件一行, 为最新版本';
COMMENT ON TABLE core.enforcement_complaint_version IS '行政执法投诉举报的全部历史版本 (收件、办结、回访及更正)';
COMMENT ON COLUMN core.enforcement_complaint.complaint_no IS '投诉举报件编号 (自然键)';
COMMENT ON COLUMN core.enforcement_complaint.received_at IS '收件时间';
COMMENT ON COLUMN core.enforcement_complaint.channel IS '来源渠道: 12345热线/浙里办/来信来访/监督系统网上投诉/上级交办';
COMMENT ON COLUMN core.enforcement_complaint.category IS '投诉举报类别: 执法不作为/执法乱作为/执法态度粗暴/执法程序违法/处罚畸轻畸重/其他';
COMMENT ON COLUMN core.enforcement_complaint.dept_code IS '被投诉单位代码 (同 core.case_review.dept_code)';
COMMENT ON COLUMN core.enforcement_complaint.dept_name IS '被投诉单位名称';
COMMENT ON COLUMN core.enforcement_complaint.town_code IS '被投诉执法行为所在镇街, 见 core.dim_town';
COMMENT ON COLUMN core.enforcement_complaint.time_limit_days IS '办理时限 (自然日, 自收件之日起; 30, 经批准延期 45)';
COMMENT ON COLUMN core.enforcement_complaint.concluded_at IS '办结时间 (未办结为空)';
COMMENT ON COLUMN core.enforcement_complaint.in_time IS '是否按期办结 (监督系统按办理时限判定; 未办结为空)';
COMMENT ON COLUMN core.enforcement_complaint.result IS '处理结果: 责令改正/撤销或变更执法行为/追究执法过错责任/解释说明/不予支持';
COMMENT ON COLUMN core.enforcement_complaint.founded IS '是否属实: 属实/部分属实/不属实';
COMMENT ON COLUMN core.enforcement_complaint.satisfaction IS '反馈满意度 (回访): 满意/基本满意/不满意/未评价';
COMMENT ON COLUMN core.enforcement_complaint.party_type IS '投诉举报人类型: person / org';
COMMENT ON COLUMN core.enforcement_complaint.party_key IS '投诉举报人键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.enforcement_complaint.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.enforcement_complaint.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.enforcement_complaint.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.enforcement_complaint.loaded_at IS '装入时间';
COMMENT ON COLUMN core.enforcement_complaint.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
COMMENT ON COLUMN core.enforcement_complaint.due_on IS '办理期限届满日: 收件日期 (北京时间) + 办理时限; 由收件时间和办理时限生成';
SELECT audit.copy_column_comments('core.enforcement_complaint', 'core.enforcement_complaint_version');

-- 督办件 -----------------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.supervision_order (
    batch_id            text NOT NULL,
    order_no            text,
    issued_at           timestamptz,
    order_source        text,
    problem_type        text,
    dept_code           text,
    dept_name           text,
    town_code           char(12),
    time_limit_days     integer,
    status              text,
    finished_at         timestamptz,
    in_time             boolean,
    outcome             text,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.supervision_order (batch_id);

CREATE TABLE core.supervision_order (
    order_no            text PRIMARY KEY,
    issued_at           timestamptz NOT NULL,
    order_source        text,
    problem_type        text,
    dept_code           text,
    dept_name           text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    time_limit_days     integer CHECK (time_limit_days BETWEEN 1 AND 365),
    status              text,
    finished_at         timestamptz,
    in_time             boolean,
    outcome             text,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    stale_since         timestamptz,
    -- 督办件按期办结率 is placed by the deadline: open and late is late in the deadline's month.
    due_on              date GENERATED ALWAYS AS
                            (((issued_at AT TIME ZONE 'Asia/Shanghai')::date + time_limit_days)) STORED
);
CREATE INDEX ON core.supervision_order (town_code, issued_at);
CREATE INDEX ON core.supervision_order (due_on);

CREATE TABLE core.supervision_order_version (LIKE core.supervision_order INCLUDING DEFAULTS INCLUDING GENERATED);
ALTER TABLE core.supervision_order_version ADD PRIMARY KEY (order_no, source_updated_at);

COMMENT ON TABLE core.supervision_order IS '执法问题督办件 (浙江省行政执法监督系统, 督查督办), 每件一行, 为最新版本';
COMMENT ON TABLE core.supervision_order_version IS '执法问题督办件的全部历史版本 (下发、办结及更正)';
COMMENT ON COLUMN core.supervision_order.order_no IS '督办件编号 (自然键)';
COMMENT ON COLUMN core.supervision_order.issued_at IS '下发时间';
COMMENT ON COLUMN core.supervision_order.order_source IS '督办来源: 执法监督检查/投诉举报/案卷评查/上级交办';
COMMENT ON COLUMN core.supervision_order.problem_type IS '督办问题类别: 执法不作为/执法不规范/案卷质量问题/裁量不当/其他';
COMMENT ON COLUMN core.supervision_order.dept_code IS '被督办单位代码 (同 core.case_review.dept_code)';
COMMENT ON COLUMN core.supervision_order.dept_name IS '被督办单位名称';
COMMENT ON COLUMN core.supervision_order.town_code IS '督办问题所在镇街, 见 core.dim_town';
COMMENT ON COLUMN core.supervision_order.time_limit_days IS '办理时限 (自然日, 自下发之日起: 15 或 30)';
COMMENT ON COLUMN core.supervision_order.status IS '办理状态: 办理中/已办结';
COMMENT ON COLUMN core.supervision_order.finished_at IS '办结时间 (整改完成报结; 未办结为空)';
COMMENT ON COLUMN core.supervision_order.in_time IS '是否按期办结 (监督系统按办理时限判定; 未办结为空)';
COMMENT ON COLUMN core.supervision_order.outcome IS '整改结果: 已整改/部分整改';
COMMENT ON COLUMN core.supervision_order.party_type IS '所涉案件当事人类型: person / org';
COMMENT ON COLUMN core.supervision_order.party_key IS '所涉案件当事人键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.supervision_order.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.supervision_order.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.supervision_order.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.supervision_order.loaded_at IS '装入时间';
COMMENT ON COLUMN core.supervision_order.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
COMMENT ON COLUMN core.supervision_order.due_on IS '办理期限届满日: 下发日期 (北京时间) + 办理时限; 由下发时间和办理时限生成';
SELECT audit.copy_column_comments('core.supervision_order', 'core.supervision_order_version');
