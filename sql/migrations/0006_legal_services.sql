-- 公共法律服务 (public legal services: 法律咨询、法律援助、司法鉴定、公证).

CREATE UNLOGGED TABLE staging.legal_service (
    batch_id            text NOT NULL,
    service_no          text,
    service_type        text,
    channel             text,
    fully_online        boolean,
    one_visit           boolean,
    same_day            boolean,
    satisfaction        text,
    town_code           char(12),
    party_type          text,
    party_key           char(64),
    accepted_at         timestamptz,
    reviewed_at         timestamptz,
    handled_at          timestamptz,
    concluded_at        timestamptz,
    stages              jsonb,
    source_updated_at   timestamptz,
    record_hash         text
);
CREATE INDEX ON staging.legal_service (batch_id);

CREATE TABLE core.legal_service (
    service_no          text PRIMARY KEY,
    service_type        text NOT NULL,
    channel             text,
    fully_online        boolean,
    one_visit           boolean,
    same_day            boolean,
    satisfaction        text,
    town_code           char(12) NOT NULL REFERENCES core.dim_town (town_code),
    party_type          text,
    party_key           char(64),
    accepted_at         timestamptz NOT NULL,
    reviewed_at         timestamptz,
    handled_at          timestamptz,
    concluded_at        timestamptz,
    stages              jsonb,
    source_updated_at   timestamptz NOT NULL,
    batch_id            text NOT NULL,
    record_hash         text NOT NULL,
    loaded_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.legal_service (town_code, accepted_at);

CREATE TABLE core.legal_service_version (LIKE core.legal_service INCLUDING DEFAULTS);
ALTER TABLE core.legal_service_version ADD PRIMARY KEY (service_no, source_updated_at);

COMMENT ON TABLE core.legal_service IS '公共法律服务办件 (法律咨询/法律援助/司法鉴定/公证), 每件一行, 为最新版本';
COMMENT ON TABLE core.legal_service_version IS '公共法律服务办件的全部历史版本';
COMMENT ON COLUMN core.legal_service.service_no IS '办件编号 (自然键)';
COMMENT ON COLUMN core.legal_service.service_type IS '服务类型: 法律咨询/法律援助/司法鉴定/公证';
COMMENT ON COLUMN core.legal_service.channel IS '服务渠道: 实体平台/12348热线/网络平台';
COMMENT ON COLUMN core.legal_service.fully_online IS '是否全流程网上办理 (公证即互联网公证)';
COMMENT ON COLUMN core.legal_service.one_visit IS '是否一次办';
COMMENT ON COLUMN core.legal_service.same_day IS '是否马上办 (当日办结)';
COMMENT ON COLUMN core.legal_service.satisfaction IS '满意度评价';
COMMENT ON COLUMN core.legal_service.town_code IS '服务所在镇街, 见 core.dim_town';
COMMENT ON COLUMN core.legal_service.party_type IS '申请人类型: person / org';
COMMENT ON COLUMN core.legal_service.party_key IS '申请人键: 身份证号/统一社会信用代码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.legal_service.accepted_at IS '受理时间';
COMMENT ON COLUMN core.legal_service.reviewed_at IS '审查时间 (缺失 = 该环节未留痕)';
COMMENT ON COLUMN core.legal_service.handled_at IS '办理时间 (缺失 = 该环节未留痕)';
COMMENT ON COLUMN core.legal_service.concluded_at IS '办结时间';
COMMENT ON COLUMN core.legal_service.stages IS '环节记录 [{stage, time, unit}], 用于全流程完整办件数据';
COMMENT ON COLUMN core.legal_service.source_updated_at IS '源系统更新时间';
COMMENT ON COLUMN core.legal_service.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.legal_service.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.legal_service.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.legal_service', 'core.legal_service_version');
