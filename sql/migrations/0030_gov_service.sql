-- 0030_gov_service.sql — 政务服务 (余杭区政务服务办件库 and 好差评系统 over the 数据共享交换平台's SOAP
-- web service; source spec: include/specs/gov_service.yaml): 政务服务办件 (core.gov_service_case), 好差评
-- (core.gov_service_evaluation) and the 事项实施清单 (core.gov_service_item), each with its version and
-- staging table. mart.stale_rows is generated from the specs at set-up.

-- 办件 --------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.gov_service_case (
    batch_id             text NOT NULL,
    case_no              text,
    item_code            text,
    item_name            text,
    category             text,
    channel              text,
    hall                 text,
    hall_town_code       text,
    town_code            char(12),
    accepted_at          timestamptz,
    finished_at          timestamptz,
    used_minutes         integer,
    promised_days        integer,
    paperless            boolean,
    status               text,
    party_type           text,
    party_key            char(64),
    source_updated_at    timestamptz,
    record_hash          text
);
CREATE INDEX ON staging.gov_service_case (batch_id);

CREATE TABLE core.gov_service_case (
    case_no              text PRIMARY KEY,
    item_code            text,
    item_name            text,
    category             text,
    channel              text,
    hall                 text,
    hall_town_code       text,
    town_code            char(12) NOT NULL REFERENCES core.dim_town (town_code),
    accepted_at          timestamptz NOT NULL,
    finished_at          timestamptz,
    used_minutes         integer CHECK (used_minutes >= 0),
    promised_days        integer CHECK (promised_days BETWEEN 0 AND 365),
    paperless            boolean,
    status               text,
    party_type           text,
    party_key            char(64),
    source_updated_at    timestamptz NOT NULL,
    batch_id             text NOT NULL,
    record_hash          text NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now(),
    stale_since          timestamptz
);
CREATE INDEX ON core.gov_service_case (town_code, accepted_at);
CREATE INDEX ON core.gov_service_case (category, accepted_at);
CREATE INDEX ON core.gov_service_case (item_code);

CREATE TABLE core.gov_service_case_version (LIKE core.gov_service_case INCLUDING DEFAULTS);
ALTER TABLE core.gov_service_case_version ADD PRIMARY KEY (case_no, source_updated_at);

COMMENT ON TABLE core.gov_service_case IS '政务服务办件 (余杭区政务服务办件库), 每件一行, 为最新版本';
COMMENT ON TABLE core.gov_service_case_version IS '政务服务办件的全部历史版本 (受理、办结及更正)';
COMMENT ON COLUMN core.gov_service_case.case_no IS '办件编号 (自然键, 办件库统一编号)';
COMMENT ON COLUMN core.gov_service_case.item_code IS '事项实施编码, 见 core.gov_service_item';
COMMENT ON COLUMN core.gov_service_case.item_name IS '事项名称 (办件时的名称)';
COMMENT ON COLUMN core.gov_service_case.category IS '事项类别 (分钟制口径): 个人办事/企业开办/不动产登记/其他';
COMMENT ON COLUMN core.gov_service_case.channel IS '申请渠道: 网上 (浙江政务服务网)/掌上 (浙里办)/窗口/自助终端';
COMMENT ON COLUMN core.gov_service_case.hall IS '受理/办理地点: 区行政服务中心 或 XX街道(镇)便民服务中心; 网上、掌上办件为承办部门所在服务中心';
COMMENT ON COLUMN core.gov_service_case.hall_town_code IS '办理地点所在镇街代码 (镇街便民服务中心; 区行政服务中心为空), 原样保存';
COMMENT ON COLUMN core.gov_service_case.town_code IS '申请人所在镇街 (个人住所地 / 企业注册地), 见 core.dim_town';
COMMENT ON COLUMN core.gov_service_case.accepted_at IS '受理时间';
COMMENT ON COLUMN core.gov_service_case.finished_at IS '办结时间 (未办结为空)';
COMMENT ON COLUMN core.gov_service_case.used_minutes IS '办理用时 (分钟, 受理至办结, 办件库按工作时间计); 未办结为空';
COMMENT ON COLUMN core.gov_service_case.promised_days IS '承诺办结时限 (工作日; 即办件为 0)';
COMMENT ON COLUMN core.gov_service_case.paperless IS '是否全流程无纸化 (申请材料电子化、电子证照、电子签章、电子归档, 无纸质材料流转)';
COMMENT ON COLUMN core.gov_service_case.status IS '办件状态: 已受理/办理中/已办结/不予受理/退件';
COMMENT ON COLUMN core.gov_service_case.party_type IS '申请人类型: person / org';
COMMENT ON COLUMN core.gov_service_case.party_key IS '申请人键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.gov_service_case.source_updated_at IS '源系统更新时间 (补正、更正为新版本)';
COMMENT ON COLUMN core.gov_service_case.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.gov_service_case.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.gov_service_case.loaded_at IS '装入时间';
COMMENT ON COLUMN core.gov_service_case.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
SELECT audit.copy_column_comments('core.gov_service_case', 'core.gov_service_case_version');

-- 好差评 --------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.gov_service_evaluation (
    batch_id             text NOT NULL,
    eval_no              text,
    case_no              text,
    item_code            text,
    channel              text,
    grade                text,
    evaluated_at         timestamptz,
    town_code            char(12),
    rectify_status       text,
    rectified_at         timestamptz,
    party_type           text,
    party_key            char(64),
    source_updated_at    timestamptz,
    record_hash          text
);
CREATE INDEX ON staging.gov_service_evaluation (batch_id);

CREATE TABLE core.gov_service_evaluation (
    eval_no              text PRIMARY KEY,
    case_no              text,
    item_code            text,
    channel              text,
    grade                text,
    evaluated_at         timestamptz NOT NULL,
    town_code            char(12) NOT NULL REFERENCES core.dim_town (town_code),
    rectify_status       text,
    rectified_at         timestamptz,
    party_type           text,
    party_key            char(64),
    source_updated_at    timestamptz NOT NULL,
    batch_id             text NOT NULL,
    record_hash          text NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now(),
    stale_since          timestamptz
);
CREATE INDEX ON core.gov_service_evaluation (town_code, evaluated_at);
CREATE INDEX ON core.gov_service_evaluation (case_no);

CREATE TABLE core.gov_service_evaluation_version (LIKE core.gov_service_evaluation INCLUDING DEFAULTS);
ALTER TABLE core.gov_service_evaluation_version ADD PRIMARY KEY (eval_no, source_updated_at);

COMMENT ON TABLE core.gov_service_evaluation IS '政务服务好差评评价 (政务服务好差评系统), 每条评价一行, 为最新版本 (差评整改后为整改状态)';
COMMENT ON TABLE core.gov_service_evaluation_version IS '政务服务好差评评价的全部历史版本 (评价、差评整改及更正)';
COMMENT ON COLUMN core.gov_service_evaluation.eval_no IS '评价编号 (自然键)';
COMMENT ON COLUMN core.gov_service_evaluation.case_no IS '被评价办件编号, 见 core.gov_service_case';
COMMENT ON COLUMN core.gov_service_evaluation.item_code IS '事项实施编码';
COMMENT ON COLUMN core.gov_service_evaluation.channel IS '评价渠道: 政务服务网/浙里办/评价器/二维码/短信/12345热线';
COMMENT ON COLUMN core.gov_service_evaluation.grade IS '评价等级 (国办发〔2019〕51号 五级): 非常满意/满意/基本满意/不满意/非常不满意; 后两级为差评';
COMMENT ON COLUMN core.gov_service_evaluation.evaluated_at IS '评价时间';
COMMENT ON COLUMN core.gov_service_evaluation.town_code IS '被评价办件的申请人所在镇街, 见 core.dim_town';
COMMENT ON COLUMN core.gov_service_evaluation.rectify_status IS '差评整改状态: 待整改/整改中/已整改/不属实 (核实后差评不成立); 非差评为空';
COMMENT ON COLUMN core.gov_service_evaluation.rectified_at IS '差评整改完成 (回访) 时间; 未整改为空';
COMMENT ON COLUMN core.gov_service_evaluation.party_type IS '评价人类型: person / org';
COMMENT ON COLUMN core.gov_service_evaluation.party_key IS '评价人键: 证件号码的 HMAC-SHA256 (匿名评价为空)';
COMMENT ON COLUMN core.gov_service_evaluation.source_updated_at IS '源系统更新时间 (差评整改为新版本)';
COMMENT ON COLUMN core.gov_service_evaluation.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.gov_service_evaluation.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.gov_service_evaluation.loaded_at IS '装入时间';
COMMENT ON COLUMN core.gov_service_evaluation.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
SELECT audit.copy_column_comments('core.gov_service_evaluation', 'core.gov_service_evaluation_version');

-- 事项 --------------------------------------------------------------------------------

CREATE UNLOGGED TABLE staging.gov_service_item (
    batch_id             text NOT NULL,
    item_code            text,
    base_code            text,
    item_name            text,
    item_type            text,
    category             text,
    service_object       text,
    dept_code            text,
    dept_name            text,
    impl_level           text,
    online               boolean,
    mobile               boolean,
    paperless            boolean,
    legal_exception      boolean,
    promised_days        integer,
    status               text,
    published_on         date,
    source_updated_at    timestamptz,
    record_hash          text
);
CREATE INDEX ON staging.gov_service_item (batch_id);

CREATE TABLE core.gov_service_item (
    item_code            text PRIMARY KEY,
    base_code            text,
    item_name            text,
    item_type            text,
    category             text,
    service_object       text,
    dept_code            text,
    dept_name            text,
    impl_level           text,
    online               boolean,
    mobile               boolean,
    paperless            boolean,
    legal_exception      boolean,
    promised_days        integer CHECK (promised_days BETWEEN 0 AND 365),
    status               text,
    published_on         date NOT NULL,
    source_updated_at    timestamptz NOT NULL,
    batch_id             text NOT NULL,
    record_hash          text NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now(),
    stale_since          timestamptz
);
CREATE INDEX ON core.gov_service_item (status, published_on);

CREATE TABLE core.gov_service_item_version (LIKE core.gov_service_item INCLUDING DEFAULTS);
ALTER TABLE core.gov_service_item_version ADD PRIMARY KEY (item_code, source_updated_at);

COMMENT ON TABLE core.gov_service_item IS '政务服务事项实施清单 (余杭区, 区级部门与镇街), 每个实施事项一行, 为最新版本';
COMMENT ON TABLE core.gov_service_item_version IS '政务服务事项的全部历史版本 (发布、动态调整、停用)';
COMMENT ON COLUMN core.gov_service_item.item_code IS '事项实施编码 (自然键, 实施主体 + 基本编码)';
COMMENT ON COLUMN core.gov_service_item.base_code IS '事项基本编码 (省级统一)';
COMMENT ON COLUMN core.gov_service_item.item_name IS '事项名称';
COMMENT ON COLUMN core.gov_service_item.item_type IS '事项类型: 行政许可/行政确认/行政给付/其他行政权力/公共服务';
COMMENT ON COLUMN core.gov_service_item.category IS '事项类别 (分钟制口径): 个人办事/企业开办/不动产登记/其他';
COMMENT ON COLUMN core.gov_service_item.service_object IS '服务对象: 个人/法人/个人和法人';
COMMENT ON COLUMN core.gov_service_item.dept_code IS '实施部门代码 (区级部门见 core.dim_department; YH-ZJ = 镇街)';
COMMENT ON COLUMN core.gov_service_item.dept_name IS '实施部门 (实施主体) 名称';
COMMENT ON COLUMN core.gov_service_item.impl_level IS '实施层级: 区级/镇街级';
COMMENT ON COLUMN core.gov_service_item.online IS '网上可办 (浙江政务服务网可在线申请)';
COMMENT ON COLUMN core.gov_service_item.mobile IS '掌上可办 (浙里办可在线申请)';
COMMENT ON COLUMN core.gov_service_item.paperless IS '全流程无纸化 (事项已实现申请至归档全程电子化)';
COMMENT ON COLUMN core.gov_service_item.legal_exception IS '法律法规有特殊规定不能网上办理 (如须当场核验、现场勘验), 不计入网上可办率分母';
COMMENT ON COLUMN core.gov_service_item.promised_days IS '承诺办结时限 (工作日; 即办件为 0)';
COMMENT ON COLUMN core.gov_service_item.status IS '事项状态: 在用/停用';
COMMENT ON COLUMN core.gov_service_item.published_on IS '事项发布 (认领) 日期';
COMMENT ON COLUMN core.gov_service_item.source_updated_at IS '源系统更新时间 (事项动态调整为新版本)';
COMMENT ON COLUMN core.gov_service_item.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.gov_service_item.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.gov_service_item.loaded_at IS '装入时间';
COMMENT ON COLUMN core.gov_service_item.stale_since IS '过期标记: 该记录有更新的版本 (此来源更新时间) 被隔离, 核心层仍是旧版本; NULL = 核心行即最新版本';
SELECT audit.copy_column_comments('core.gov_service_item', 'core.gov_service_item_version');
