-- 行政执法 (administrative enforcement): cases (办案) and inspections (检查).
-- Each entity has a staging table (typed rows of the batch in flight), a core table (the
-- current version of each record) and a version table (every version ever loaded).

CREATE UNLOGGED TABLE staging.enforcement_case (
    batch_id            text NOT NULL,
    case_no             text,
    dept_code           text,
    dept_name           text,
    town_code           char(12),
    cause               text,
    case_source         text,
    status              text,
    penalty_amount      numeric(14, 2),
    fully_online        boolean,
    mobile_handled      boolean,
    legal_review_done   boolean,
    party_type          text,
    party_key           char(64),
    filed_at            timestamptz,
    investigated_at     timestamptz,
    legal_reviewed_at   timestamptz,
    decided_at          timestamptz,
    served_at           timestamptz,
    executed_at         timestamptz,
    closed_at           timestamptz,
    stages              jsonb,
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.enforcement_case (batch_id);

CREATE TABLE core.enforcement_case (
    case_no             text PRIMARY KEY,
    dept_code           text NOT NULL,
    dept_name           text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    cause               text,
    case_source         text,
    status              text,
    penalty_amount      numeric(14, 2) CHECK (penalty_amount >= 0),
    fully_online        boolean,
    mobile_handled      boolean,
    legal_review_done   boolean,
    party_type          text,
    party_key           char(64),
    filed_at            timestamptz NOT NULL,
    investigated_at     timestamptz,
    legal_reviewed_at   timestamptz,
    decided_at          timestamptz,
    served_at           timestamptz,
    executed_at         timestamptz,
    closed_at           timestamptz,
    stages              jsonb,
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.enforcement_case (town_code, filed_at);
CREATE INDEX ON core.enforcement_case (source_updated_at);

CREATE TABLE core.enforcement_case_version (LIKE core.enforcement_case INCLUDING DEFAULTS);
ALTER TABLE core.enforcement_case_version ADD PRIMARY KEY (case_no, source_updated_at);

COMMENT ON TABLE core.enforcement_case IS '行政处罚案件 (统一处罚办案系统), 每案一行, 为最新版本';
COMMENT ON TABLE core.enforcement_case_version IS '行政处罚案件的全部历史版本 (案件推进与事后更正), 主键 案号+源更新时间';
COMMENT ON COLUMN core.enforcement_case.case_no IS '案号 (自然键)';
COMMENT ON COLUMN core.enforcement_case.dept_code IS '执法部门代码';
COMMENT ON COLUMN core.enforcement_case.dept_name IS '执法部门名称';
COMMENT ON COLUMN core.enforcement_case.town_code IS '案发镇街, 12位统计区划代码, 见 core.dim_town';
COMMENT ON COLUMN core.enforcement_case.cause IS '案由';
COMMENT ON COLUMN core.enforcement_case.case_source IS '案件来源: 巡查发现/投诉举报/上级交办/部门移送/数据监测';
COMMENT ON COLUMN core.enforcement_case.status IS '办理状态: 办理中/已结案';
COMMENT ON COLUMN core.enforcement_case.penalty_amount IS '罚没金额 (元)';
COMMENT ON COLUMN core.enforcement_case.fully_online IS '是否全流程网上运行';
COMMENT ON COLUMN core.enforcement_case.mobile_handled IS '是否掌上执法/掌上办案 (浙政钉·掌上执法)';
COMMENT ON COLUMN core.enforcement_case.legal_review_done IS '是否经法制审核';
COMMENT ON COLUMN core.enforcement_case.party_type IS '当事人类型: person 自然人 / org 法人或其他组织';
COMMENT ON COLUMN core.enforcement_case.party_key IS '当事人键: 规范化身份证号/统一社会信用代码的 HMAC-SHA256 (密钥不在库中), 跨来源一致';
COMMENT ON COLUMN core.enforcement_case.filed_at IS '立案时间';
COMMENT ON COLUMN core.enforcement_case.investigated_at IS '调查取证时间';
COMMENT ON COLUMN core.enforcement_case.legal_reviewed_at IS '法制审核时间';
COMMENT ON COLUMN core.enforcement_case.decided_at IS '处罚决定时间';
COMMENT ON COLUMN core.enforcement_case.served_at IS '送达时间';
COMMENT ON COLUMN core.enforcement_case.executed_at IS '执行时间';
COMMENT ON COLUMN core.enforcement_case.closed_at IS '结案时间';
COMMENT ON COLUMN core.enforcement_case.stages IS '环节时间线 [{stage, time, unit}], 全流程留痕';
COMMENT ON COLUMN core.enforcement_case.source_updated_at IS '源系统更新时间 (增量抽取依据, 最新者生效)';
COMMENT ON COLUMN core.enforcement_case.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.enforcement_case.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.enforcement_case.loaded_at IS '装入时间';

CREATE UNLOGGED TABLE staging.enforcement_inspection (
    batch_id            text NOT NULL,
    inspection_no       text,
    dept_code           text,
    dept_name           text,
    town_code           char(12),
    inspected_at        timestamptz,
    party_type          text,
    party_key           char(64),
    is_mobile           boolean,
    is_non_contact      boolean,
    is_joint            boolean,
    is_double_random    boolean,
    result              text,
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.enforcement_inspection (batch_id);

CREATE TABLE core.enforcement_inspection (
    inspection_no       text PRIMARY KEY,
    dept_code           text NOT NULL,
    dept_name           text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    inspected_at        timestamptz NOT NULL,
    party_type          text,
    party_key           char(64),
    is_mobile           boolean,
    is_non_contact      boolean,
    is_joint            boolean,
    is_double_random    boolean,
    result              text,
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.enforcement_inspection (town_code, inspected_at);

CREATE TABLE core.enforcement_inspection_version (LIKE core.enforcement_inspection INCLUDING DEFAULTS);
ALTER TABLE core.enforcement_inspection_version ADD PRIMARY KEY (inspection_no, source_updated_at);

COMMENT ON TABLE core.enforcement_inspection IS '行政检查记录 (统一执法监管系统), 每次检查一行, 为最新版本';
COMMENT ON TABLE core.enforcement_inspection_version IS '行政检查记录的全部历史版本';
COMMENT ON COLUMN core.enforcement_inspection.inspection_no IS '检查编号 (自然键)';
COMMENT ON COLUMN core.enforcement_inspection.dept_code IS '检查部门代码';
COMMENT ON COLUMN core.enforcement_inspection.dept_name IS '检查部门名称';
COMMENT ON COLUMN core.enforcement_inspection.town_code IS '检查所在镇街, 见 core.dim_town';
COMMENT ON COLUMN core.enforcement_inspection.inspected_at IS '检查时间';
COMMENT ON COLUMN core.enforcement_inspection.party_type IS '检查对象类型: person / org';
COMMENT ON COLUMN core.enforcement_inspection.party_key IS '检查对象键 (HMAC, 同 enforcement_case.party_key)';
COMMENT ON COLUMN core.enforcement_inspection.is_mobile IS '是否移动检查 (掌上执法)';
COMMENT ON COLUMN core.enforcement_inspection.is_non_contact IS '是否非接触式监管 (远程/在线)';
COMMENT ON COLUMN core.enforcement_inspection.is_joint IS '是否综合查一次 (跨部门联合检查)';
COMMENT ON COLUMN core.enforcement_inspection.is_double_random IS '是否双随机抽查';
COMMENT ON COLUMN core.enforcement_inspection.result IS '检查结果: 合格/责令整改/立案查处';
COMMENT ON COLUMN core.enforcement_inspection.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.enforcement_inspection.batch_id IS '装入该版本的批次';
COMMENT ON COLUMN core.enforcement_inspection.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.enforcement_inspection.loaded_at IS '装入时间';

SELECT audit.copy_column_comments('core.enforcement_case', 'core.enforcement_case_version');
SELECT audit.copy_column_comments('core.enforcement_inspection', 'core.enforcement_inspection_version');
