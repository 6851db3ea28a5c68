-- 0029_investment.sql — 投资项目审批 (浙江省投资项目在线审批监管平台 3.0, source spec:
-- include/specs/investment.yaml): 赋码项目 (core.investment_project) with the platform's own
-- 全过程审批用时 per project, and the 审批事项办件 of the four 工程建设项目审批 stages
-- (core.investment_approval), each with its version table and staging table.
-- “最多80天” is read from core.investment_project: approval_days (工作日, the platform's count of the
-- government's time only) of 一般企业投资项目 placed by completed_on (竣工验收备案) and town_code.
-- mart.stale_rows is generated from the specs at set-up.

-- 投资项目 ---------------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.investment_project (
    batch_id            text NOT NULL,
    project_code        text,
    project_name        text,
    project_type        text,
    management_type     text,
    is_general          boolean,
    is_industrial       boolean,
    is_standard_land    boolean,
    is_commitment       boolean,
    industry            text,
    total_investment    numeric(14, 2),
    town_code           char(12),
    coded_at            timestamptz,
    permit_on           date,
    completed_on        date,
    approval_days       integer,
    status              text,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.investment_project (batch_id);

CREATE TABLE core.investment_project (
    project_code        text PRIMARY KEY,
    project_name        text,
    project_type        text,
    management_type     text,
    is_general          boolean,
    is_industrial       boolean,
    is_standard_land    boolean,
    is_commitment       boolean,
    industry            text,
    total_investment    numeric(14, 2) CHECK (total_investment >= 0),
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    coded_at            timestamptz NOT NULL,
    permit_on           date,
    completed_on        date,
    approval_days       integer CHECK (approval_days BETWEEN 0 AND 2000),
    status              text,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    stale_since         timestamptz
);
CREATE INDEX ON core.investment_project (town_code, coded_at);
-- The “最多80天” indicators place a project by its 竣工验收备案 date.
CREATE INDEX ON core.investment_project (completed_on);

CREATE TABLE core.investment_project_version (LIKE core.investment_project INCLUDING DEFAULTS);
ALTER TABLE core.investment_project_version ADD PRIMARY KEY (project_code, source_updated_at);

COMMENT ON TABLE core.investment_project IS '投资项目 (浙江省投资项目在线审批监管平台, 赋码项目), 每个项目代码一行, 为最新版本; approval_days 为平台按“最多80天”口径计的全过程审批用时 (工作日), 竣工验收备案后给出';
COMMENT ON TABLE core.investment_project_version IS '投资项目的全部历史版本 (赋码、各阶段审批完成、开工、竣工验收及更正)';
COMMENT ON COLUMN core.investment_project.project_code IS '项目代码 (自然键): 年份-行政区划-行业-类型-流水号, 如 2022-330110-34-03-123456, 赋码时生成, 终身不变';
COMMENT ON COLUMN core.investment_project.project_name IS '项目名称';
COMMENT ON COLUMN core.investment_project.project_type IS '项目类型: 企业投资/政府投资';
COMMENT ON COLUMN core.investment_project.management_type IS '管理类型: 备案 (企业投资, 一般项目)/核准 (企业投资, 目录内)/审批 (政府投资)';
COMMENT ON COLUMN core.investment_project.is_general IS '是否一般企业投资项目 (“最多80天”适用范围: 备案类企业投资项目, 不含重大及特殊工程)';
COMMENT ON COLUMN core.investment_project.is_industrial IS '是否工业项目 (工业“小时制”审批适用范围)';
COMMENT ON COLUMN core.investment_project.is_standard_land IS '是否“标准地”出让项目';
COMMENT ON COLUMN core.investment_project.is_commitment IS '是否实行承诺制 (“标准地+承诺制”: 企业承诺后即可开展相关审批)';
COMMENT ON COLUMN core.investment_project.industry IS '国民经济行业门类 (项目代码第三段的大类所属门类)';
COMMENT ON COLUMN core.investment_project.total_investment IS '总投资 (万元)';
COMMENT ON COLUMN core.investment_project.town_code IS '项目建设地点所在镇街, 见 core.dim_town';
COMMENT ON COLUMN core.investment_project.coded_at IS '赋码时间 (取得项目代码, 全过程审批计时起点)';
COMMENT ON COLUMN core.investment_project.permit_on IS '施工许可核发日期 (开工前审批完成; 未完成为空)';
COMMENT ON COLUMN core.investment_project.completed_on IS '竣工验收备案日期 (全过程审批终点; 未竣工为空)';
COMMENT ON COLUMN core.investment_project.approval_days IS '全过程审批用时 (工作日): 平台按“最多80天”口径计, 赋码至竣工验收备案, 各阶段政府审批、政府委托中介服务及公用事业接入时间之和, 不含企业自身准备、补正、企业委托中介、公示、施工期; 竣工验收备案后给出, 此前为空';
COMMENT ON COLUMN core.investment_project.status IS '项目状态: 审批中/已开工/已竣工/已终止';
COMMENT ON COLUMN core.investment_project.party_type IS '项目单位类型: org (企业、机关事业单位) / person (个体)';
COMMENT ON COLUMN core.investment_project.party_key IS '项目单位键: 统一社会信用代码 (或身份证号) 的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.investment_project.source_updated_at IS '源系统更新时间 (阶段推进、竣工及更正为新版本)';
COMMENT ON COLUMN core.investment_project.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.investment_project.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.investment_project.loaded_at IS '装入时间';
COMMENT ON COLUMN core.investment_project.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
SELECT audit.copy_column_comments('core.investment_project', 'core.investment_project_version');

-- 审批事项办件 -----------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.investment_approval (
    batch_id            text NOT NULL,
    case_no             text,
    project_code        text,
    stage               text,
    item_name           text,
    dept_code           text,
    dept_name           text,
    town_code           char(12),
    accepted_at         timestamptz,
    concluded_at        timestamptz,
    approval_days       integer,
    is_commitment       boolean,
    result              text,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.investment_approval (batch_id);

CREATE TABLE core.investment_approval (
    case_no             text PRIMARY KEY,
    project_code        text,
    stage               text,
    item_name           text,
    dept_code           text,
    dept_name           text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    accepted_at         timestamptz NOT NULL,
    concluded_at        timestamptz,
    approval_days       integer CHECK (approval_days BETWEEN 0 AND 365),
    is_commitment       boolean,
    result              text,
    party_type          text,
    party_key           char(64),
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    stale_since         timestamptz,
    -- 工业项目审批“小时制”: the elapsed hours from 受理 to 办结 (the platform's 工作日 count is too
    -- coarse for an hour threshold: a same-day item is 0 days whether it took 1 hour or 8).
    handled_hours       numeric(9, 2) GENERATED ALWAYS AS
                            (round(extract(epoch FROM concluded_at - accepted_at) / 3600.0, 2)) STORED
);
-- Not a foreign key to core.investment_project: an 办件 can arrive before its project's version does
-- (the two entities are read as separate windows), and a quarantined project must not block its 办件.
CREATE INDEX ON core.investment_approval (project_code);
CREATE INDEX ON core.investment_approval (town_code, accepted_at);
CREATE INDEX ON core.investment_approval (concluded_at);

CREATE TABLE core.investment_approval_version (LIKE core.investment_approval INCLUDING DEFAULTS INCLUDING GENERATED);
ALTER TABLE core.investment_approval_version ADD PRIMARY KEY (case_no, source_updated_at);

COMMENT ON TABLE core.investment_approval IS '投资项目审批事项办件 (浙江省投资项目在线审批监管平台), 每个办件一行, 为最新版本';
COMMENT ON TABLE core.investment_approval_version IS '审批事项办件的全部历史版本 (受理、办结及更正)';
COMMENT ON COLUMN core.investment_approval.case_no IS '办件编号 (自然键), 每个审批事项办件一个';
COMMENT ON COLUMN core.investment_approval.project_code IS '所属项目代码, 见 core.investment_project';
COMMENT ON COLUMN core.investment_approval.stage IS '审批阶段 (工程建设项目审批四阶段): 立项用地规划许可/工程建设许可/施工许可/竣工验收';
COMMENT ON COLUMN core.investment_approval.item_name IS '审批事项名称 (《浙江省投资项目审批事项目录》), 如 建设工程规划许可证核发';
COMMENT ON COLUMN core.investment_approval.dept_code IS '审批部门代码';
COMMENT ON COLUMN core.investment_approval.dept_name IS '审批部门名称';
COMMENT ON COLUMN core.investment_approval.town_code IS '项目建设地点所在镇街 (同所属项目), 见 core.dim_town';
COMMENT ON COLUMN core.investment_approval.accepted_at IS '受理时间';
COMMENT ON COLUMN core.investment_approval.concluded_at IS '办结时间 (未办结为空)';
COMMENT ON COLUMN core.investment_approval.approval_days IS '审批用时 (工作日, 平台计): 受理至办结, 不含补正、公示、专家评审、企业委托中介等不计时环节; 当日办结为 0; 未办结为空';
COMMENT ON COLUMN core.investment_approval.is_commitment IS '是否以告知承诺制办理';
COMMENT ON COLUMN core.investment_approval.result IS '办理结果: 准予许可/不予许可/撤回 (未办结为空)';
COMMENT ON COLUMN core.investment_approval.party_type IS '申请单位类型: org / person (同项目单位)';
COMMENT ON COLUMN core.investment_approval.party_key IS '申请单位键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.investment_approval.source_updated_at IS '源系统更新时间 (受理、办结及更正为新版本)';
COMMENT ON COLUMN core.investment_approval.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.investment_approval.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.investment_approval.loaded_at IS '装入时间';
COMMENT ON COLUMN core.investment_approval.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
COMMENT ON COLUMN core.investment_approval.handled_hours IS '受理至办结的实际经过小时数 (办结时间 - 受理时间, 含非工作时间; 未办结为空): 工业项目审批“小时制”按此判定';
SELECT audit.copy_column_comments('core.investment_approval', 'core.investment_approval_version');
