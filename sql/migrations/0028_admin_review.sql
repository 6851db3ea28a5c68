-- 0028: 行政复议 and 行政应诉 (source `review`, include/specs/review.yaml): cases from the daily
-- XML exports of the 行政复议办案系统 (智慧复议) and of 区司法局's 行政应诉 ledger.
-- Conventions as in 0009 (courts) plus what later migrations added to every core table: the
-- version table's batch index (0011), stale_since and its partial index (0019, 0022); mart.stale_rows
-- is generated from the specs at set-up (yhlaw.mart_views).

CREATE TABLE core.admin_review_case (
    review_no              text PRIMARY KEY,
    applied_on             date,
    received_on            date NOT NULL,
    accepted_on            date,
    channel                text,
    category               text,
    respondent_kind        text,
    respondent_dept_code   text,
    respondent_town_code   char(12) REFERENCES core.dim_town (town_code),
    respondent_name        text,
    term_days              integer,
    extension_days         integer,
    closed_on              date,
    result                 text,
    party_type             text,
    party_key              char(64),
    town_code              char(12) NOT NULL REFERENCES core.dim_town (town_code),
    source_file            text NOT NULL,
    delivered_at           timestamptz NOT NULL,
    source_updated_at      timestamptz NOT NULL,
    batch_id               text NOT NULL,
    record_hash            text NOT NULL,
    loaded_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.admin_review_case (received_on);
CREATE INDEX ON core.admin_review_case (closed_on);
CREATE INDEX ON core.admin_review_case (respondent_town_code) WHERE respondent_town_code IS NOT NULL;

CREATE TABLE core.admin_review_case_version (LIKE core.admin_review_case INCLUDING DEFAULTS);
ALTER TABLE core.admin_review_case_version ADD PRIMARY KEY (review_no, source_updated_at);
CREATE INDEX ON core.admin_review_case_version (batch_id);

COMMENT ON TABLE core.admin_review_case IS '行政复议案件 (行政复议办案系统/智慧复议每日 XML 导出), 每案一行, 为最新状态';
COMMENT ON TABLE core.admin_review_case_version IS '行政复议案件的全部历史状态 (按导出日, 含更正重发)';
COMMENT ON COLUMN core.admin_review_case.review_no IS '复议案号, 如 余政复〔2022〕15号 (自然键)';
COMMENT ON COLUMN core.admin_review_case.applied_on IS '申请日期 (申请人提出复议申请之日)';
COMMENT ON COLUMN core.admin_review_case.received_on IS '收案日期 (复议机构收到申请之日)';
COMMENT ON COLUMN core.admin_review_case.accepted_on IS '受理日期 (未受理为空); 审理期限自此起算';
COMMENT ON COLUMN core.admin_review_case.channel IS '申请方式: 网上申请 (智慧复议)/当面递交/邮寄';
COMMENT ON COLUMN core.admin_review_case.category IS '申请事项类别';
COMMENT ON COLUMN core.admin_review_case.respondent_kind IS '被申请人类型: 区级部门 / 镇街政府';
COMMENT ON COLUMN core.admin_review_case.respondent_dept_code IS '被申请人为区级部门时其部门代码, 见 core.dim_department (镇街政府为空)';
COMMENT ON COLUMN core.admin_review_case.respondent_town_code IS '被申请人为镇街政府 (街道办事处/镇人民政府) 时其镇街, 见 core.dim_town (区级部门为空); 镇街行政争议按此归属';
COMMENT ON COLUMN core.admin_review_case.respondent_name IS '被申请人名称 (行政机关, 非个人信息)';
COMMENT ON COLUMN core.admin_review_case.term_days IS '法定审理期限 (日): 受理之日起 60 日';
COMMENT ON COLUMN core.admin_review_case.extension_days IS '经批准延长的期限 (日, 最多 30; 未延长为 0 或空)';
COMMENT ON COLUMN core.admin_review_case.closed_on IS '审结日期 (未审结为空)';
COMMENT ON COLUMN core.admin_review_case.result IS '审理结果: 维持/撤销/变更/确认违法/责令履行/驳回/调解/和解/撤回/终止 (已审结而结果待录入时为空)';
COMMENT ON COLUMN core.admin_review_case.party_type IS '第一申请人类型: person / org';
COMMENT ON COLUMN core.admin_review_case.party_key IS '第一申请人键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.admin_review_case.town_code IS '第一申请人住所地镇街, 见 core.dim_town (不用于镇街行政争议归属)';
COMMENT ON COLUMN core.admin_review_case.source_file IS '来源导出文件名';
COMMENT ON COLUMN core.admin_review_case.delivered_at IS '导出文件送达时间';
COMMENT ON COLUMN core.admin_review_case.source_updated_at IS '状态时点: 导出日结束 (更正重发按版本顺延)';
COMMENT ON COLUMN core.admin_review_case.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.admin_review_case.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.admin_review_case.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.admin_review_case', 'core.admin_review_case_version');

-- Staging holds the batch in flight with the core table's columns (validated rows only).
CREATE UNLOGGED TABLE staging.admin_review_case (LIKE core.admin_review_case INCLUDING DEFAULTS);
CREATE INDEX ON staging.admin_review_case (batch_id);

-- Core only (as 0019 did for the other sources): stale_since, maintained by store.merge.
ALTER TABLE core.admin_review_case ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.admin_review_case.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
CREATE INDEX admin_review_case_stale_since_idx ON core.admin_review_case (stale_since) WHERE stale_since IS NOT NULL;

CREATE TABLE core.admin_litigation_case (
    case_no                text PRIMARY KEY,
    court                  text,
    filed_on               date NOT NULL,
    registered_on          date,
    cause                  text,
    defendant_kind         text,
    defendant_dept_code    text,
    defendant_town_code    char(12) REFERENCES core.dim_town (town_code),
    defendant_name         text,
    review_co_defendant    boolean,
    review_no              text,
    first_hearing_on       date,
    hearings               jsonb,
    head_appeared          boolean,
    head_title             text,
    judgment               text,
    lost                   boolean,
    closed_on              date,
    party_type             text,
    party_key              char(64),
    town_code              char(12) NOT NULL REFERENCES core.dim_town (town_code),
    source_file            text NOT NULL,
    delivered_at           timestamptz NOT NULL,
    source_updated_at      timestamptz NOT NULL,
    batch_id               text NOT NULL,
    record_hash            text NOT NULL,
    loaded_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.admin_litigation_case (filed_on);
CREATE INDEX ON core.admin_litigation_case (closed_on);
CREATE INDEX ON core.admin_litigation_case (defendant_town_code) WHERE defendant_town_code IS NOT NULL;

CREATE TABLE core.admin_litigation_case_version (LIKE core.admin_litigation_case INCLUDING DEFAULTS);
ALTER TABLE core.admin_litigation_case_version ADD PRIMARY KEY (case_no, source_updated_at);
CREATE INDEX ON core.admin_litigation_case_version (batch_id);

COMMENT ON TABLE core.admin_litigation_case IS '行政应诉案件 (区司法局行政应诉台账每日 XML 导出; 以区级部门或镇街政府为被告的一审行政案件), 每案一行, 为最新状态';
COMMENT ON TABLE core.admin_litigation_case_version IS '行政应诉案件的全部历史状态 (按导出日, 含更正重发)';
COMMENT ON COLUMN core.admin_litigation_case.case_no IS '一审案号, 如 (2022)浙8601行初123号 (杭州铁路运输法院) 或 (2022)浙0110行初45号 (自然键)';
COMMENT ON COLUMN core.admin_litigation_case.court IS '一审法院: 余杭区一审行政案件多由杭州铁路运输法院跨区域集中管辖, 不动产案件由余杭区人民法院, 部分异地交叉管辖';
COMMENT ON COLUMN core.admin_litigation_case.filed_on IS '法院立案日期';
COMMENT ON COLUMN core.admin_litigation_case.registered_on IS '应诉台账登记日期 (收到应诉通知书之日)';
COMMENT ON COLUMN core.admin_litigation_case.cause IS '案由 (被诉行政行为类别)';
COMMENT ON COLUMN core.admin_litigation_case.defendant_kind IS '被告类型: 区级部门 / 镇街政府';
COMMENT ON COLUMN core.admin_litigation_case.defendant_dept_code IS '被告为区级部门时其部门代码, 见 core.dim_department (镇街政府为空)';
COMMENT ON COLUMN core.admin_litigation_case.defendant_town_code IS '被告为镇街政府时其镇街, 见 core.dim_town (区级部门为空); 镇街行政争议按此归属';
COMMENT ON COLUMN core.admin_litigation_case.defendant_name IS '被告名称 (行政机关, 非个人信息)';
COMMENT ON COLUMN core.admin_litigation_case.review_co_defendant IS '区政府作为复议机关是否为共同被告 (复议维持后起诉)';
COMMENT ON COLUMN core.admin_litigation_case.review_no IS '经复议的案件: 原复议案号, 见 core.admin_review_case';
COMMENT ON COLUMN core.admin_litigation_case.first_hearing_on IS '第一次开庭日期 (未开庭为空)';
COMMENT ON COLUMN core.admin_litigation_case.hearings IS '庭审记录 [{开庭日期, 庭审方式}]';
COMMENT ON COLUMN core.admin_litigation_case.head_appeared IS '行政机关负责人是否出庭应诉 (开庭后填报; 未开庭为空)';
COMMENT ON COLUMN core.admin_litigation_case.head_title IS '出庭负责人职务 (如 局长/副局长/镇长/副主任; 未出庭为空)';
COMMENT ON COLUMN core.admin_litigation_case.judgment IS '裁判结果: 驳回诉讼请求/撤销/确认违法/责令履行/变更/确认无效/驳回起诉/准予撤诉';
COMMENT ON COLUMN core.admin_litigation_case.lost IS '行政机关是否败诉 (撤销/确认违法/责令履行/变更/确认无效为败诉)';
COMMENT ON COLUMN core.admin_litigation_case.closed_on IS '一审审结日期 (未审结为空)';
COMMENT ON COLUMN core.admin_litigation_case.party_type IS '第一原告类型: person / org';
COMMENT ON COLUMN core.admin_litigation_case.party_key IS '第一原告键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.admin_litigation_case.town_code IS '第一原告住所地镇街, 见 core.dim_town (不用于镇街行政争议归属)';
COMMENT ON COLUMN core.admin_litigation_case.source_file IS '来源导出文件名';
COMMENT ON COLUMN core.admin_litigation_case.delivered_at IS '导出文件送达时间';
COMMENT ON COLUMN core.admin_litigation_case.source_updated_at IS '状态时点: 导出日结束 (更正重发按版本顺延)';
COMMENT ON COLUMN core.admin_litigation_case.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.admin_litigation_case.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.admin_litigation_case.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.admin_litigation_case', 'core.admin_litigation_case_version');

-- Staging holds the batch in flight with the core table's columns (validated rows only).
CREATE UNLOGGED TABLE staging.admin_litigation_case (LIKE core.admin_litigation_case INCLUDING DEFAULTS);
CREATE INDEX ON staging.admin_litigation_case (batch_id);

-- Core only (as 0019 did for the other sources): stale_since, maintained by store.merge.
ALTER TABLE core.admin_litigation_case ADD COLUMN stale_since timestamptz;
COMMENT ON COLUMN core.admin_litigation_case.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
CREATE INDEX admin_litigation_case_stale_since_idx ON core.admin_litigation_case (stale_since) WHERE stale_since IS NOT NULL;
