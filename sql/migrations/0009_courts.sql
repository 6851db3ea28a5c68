-- 诉讼 (courts): cases from the daily exports, and the list of 失信被执行人.

CREATE TABLE core.court_case (
    case_no                text PRIMARY KEY,
    case_type              text,
    cause                  text,
    procedure              text,
    filed_on               date NOT NULL,
    filing_channel         text,
    hearing_mode           text,
    e_dossier              boolean,
    e_payment_order        boolean,
    closed_on              date,
    closing_manner         text,
    party_type             text,
    party_key              char(64),
    town_code              char(12) NOT NULL REFERENCES core.dim_town (town_code),
    mediation_referral_no  text,
    source_file            text NOT NULL,
    delivered_at           timestamptz NOT NULL,
    source_updated_at      timestamptz NOT NULL,
    batch_id               text NOT NULL,
    record_hash            text NOT NULL,
    loaded_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.court_case (town_code, filed_on);
CREATE INDEX ON core.court_case (mediation_referral_no) WHERE mediation_referral_no IS NOT NULL;

CREATE TABLE core.court_case_version (LIKE core.court_case INCLUDING DEFAULTS);
ALTER TABLE core.court_case_version ADD PRIMARY KEY (case_no, source_updated_at);

COMMENT ON TABLE core.court_case IS '诉讼案件 (法院一体化办案系统每日导出), 每案一行, 为最新状态';
COMMENT ON TABLE core.court_case_version IS '诉讼案件的全部历史状态 (按导出日, 含更正重发)';
COMMENT ON COLUMN core.court_case.case_no IS '案号, 如 (2022)浙0110民初1234号 (自然键)';
COMMENT ON COLUMN core.court_case.case_type IS '案件类型: 民事/商事/行政/刑事/执行';
COMMENT ON COLUMN core.court_case.cause IS '案由';
COMMENT ON COLUMN core.court_case.procedure IS '审判程序: 一审/二审/执行';
COMMENT ON COLUMN core.court_case.filed_on IS '立案日期';
COMMENT ON COLUMN core.court_case.filing_channel IS '立案方式: 窗口立案/网上立案/跨域立案/移动微法院';
COMMENT ON COLUMN core.court_case.hearing_mode IS '庭审方式: 现场/远程视频/在线异步 (未开庭为空)';
COMMENT ON COLUMN core.court_case.e_dossier IS '是否电子卷宗随案生成 (单轨制)';
COMMENT ON COLUMN core.court_case.e_payment_order IS '是否适用电子督促程序 (支付令)';
COMMENT ON COLUMN core.court_case.closed_on IS '结案日期';
COMMENT ON COLUMN core.court_case.closing_manner IS '结案方式: 判决/调解/撤诉/驳回/裁定/执行完毕';
COMMENT ON COLUMN core.court_case.party_type IS '当事人类型: person / org';
COMMENT ON COLUMN core.court_case.party_key IS '当事人键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.court_case.town_code IS '当事人住所地镇街, 见 core.dim_town';
COMMENT ON COLUMN core.court_case.mediation_referral_no IS '诉前委派调解编号, 对应 core.mediation_case.court_referral_no';
COMMENT ON COLUMN core.court_case.source_file IS '来源导出文件名';
COMMENT ON COLUMN core.court_case.delivered_at IS '导出文件送达时间';
COMMENT ON COLUMN core.court_case.source_updated_at IS '状态时点: 导出日结束 (更正重发按版本顺延)';
COMMENT ON COLUMN core.court_case.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.court_case.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.court_case.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.court_case', 'core.court_case_version');

-- Staging holds the batch in flight with the core table's columns (validated rows only).
CREATE UNLOGGED TABLE staging.court_case (LIKE core.court_case INCLUDING DEFAULTS);
CREATE INDEX ON staging.court_case (batch_id);

CREATE TABLE core.dishonest_debtor (
    listing_no             text PRIMARY KEY,
    enforcement_case_no    text,
    party_type             text,
    party_key              char(64),
    town_code              char(12) NOT NULL REFERENCES core.dim_town (town_code),
    listed_on              date NOT NULL,
    removed_on             date,
    source_file            text NOT NULL,
    delivered_at           timestamptz NOT NULL,
    source_updated_at      timestamptz NOT NULL,
    batch_id               text NOT NULL,
    record_hash            text NOT NULL,
    loaded_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON core.dishonest_debtor (town_code, listed_on);

CREATE TABLE core.dishonest_debtor_version (LIKE core.dishonest_debtor INCLUDING DEFAULTS);
ALTER TABLE core.dishonest_debtor_version ADD PRIMARY KEY (listing_no, source_updated_at);

COMMENT ON TABLE core.dishonest_debtor IS '失信被执行人名单 (法院导出), 每次纳入一行; removed_on 非空表示已移除';
COMMENT ON TABLE core.dishonest_debtor_version IS '失信被执行人名单的全部历史状态';
COMMENT ON COLUMN core.dishonest_debtor.listing_no IS '失信编号 (自然键)';
COMMENT ON COLUMN core.dishonest_debtor.enforcement_case_no IS '执行案号, 见 core.court_case';
COMMENT ON COLUMN core.dishonest_debtor.party_type IS '被执行人类型: person / org';
COMMENT ON COLUMN core.dishonest_debtor.party_key IS '被执行人键: 证件号码的 HMAC-SHA256, 与其他来源一致';
COMMENT ON COLUMN core.dishonest_debtor.town_code IS '被执行人住所地镇街, 见 core.dim_town';
COMMENT ON COLUMN core.dishonest_debtor.listed_on IS '纳入失信名单日期';
COMMENT ON COLUMN core.dishonest_debtor.removed_on IS '移除日期 (未移除为空)';
COMMENT ON COLUMN core.dishonest_debtor.source_file IS '来源导出文件名';
COMMENT ON COLUMN core.dishonest_debtor.delivered_at IS '导出文件送达时间';
COMMENT ON COLUMN core.dishonest_debtor.source_updated_at IS '状态时点: 导出日结束 (更正重发按版本顺延)';
COMMENT ON COLUMN core.dishonest_debtor.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.dishonest_debtor.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.dishonest_debtor.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.dishonest_debtor', 'core.dishonest_debtor_version');

CREATE UNLOGGED TABLE staging.dishonest_debtor (LIKE core.dishonest_debtor INCLUDING DEFAULTS);
CREATE INDEX ON staging.dishonest_debtor (batch_id);
