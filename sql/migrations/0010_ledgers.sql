-- 法治力量与宣传阵地台账: ledgers departments maintain by hand (source spec: ledgers.yaml).
-- They carry the numbers behind the policy's stated staffing and coverage targets.

CREATE TABLE core.enforcement_staffing (
    ledger_no          text PRIMARY KEY,
    as_of              date NOT NULL,
    dept_code          text NOT NULL REFERENCES core.dim_department (dept_code),
    establishment      integer NOT NULL CHECK (establishment >= 0),
    enforcement_staff  integer NOT NULL CHECK (enforcement_staff >= 0),
    legal_reviewers    integer NOT NULL CHECK (legal_reviewers >= 0),
    staff_at_towns     integer NOT NULL CHECK (staff_at_towns >= 0),
    source_file        text NOT NULL,
    source_updated_at  timestamptz NOT NULL,
    batch_id           text NOT NULL,
    record_hash        text NOT NULL,
    loaded_at          timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE core.enforcement_staffing_version (LIKE core.enforcement_staffing INCLUDING DEFAULTS);
ALTER TABLE core.enforcement_staffing_version ADD PRIMARY KEY (ledger_no, source_updated_at);

COMMENT ON TABLE core.enforcement_staffing IS '执法力量台账: 每个执法部门每季度末一行 (部门填报)';
COMMENT ON TABLE core.enforcement_staffing_version IS '执法力量台账的全部历史版本';
COMMENT ON COLUMN core.enforcement_staffing.ledger_no IS '台账编号 (自然键), 如 2022Q1-YH-ZHZF';
COMMENT ON COLUMN core.enforcement_staffing.as_of IS '统计日期 (季度末)';
COMMENT ON COLUMN core.enforcement_staffing.dept_code IS '执法部门, 见 core.dim_department';
COMMENT ON COLUMN core.enforcement_staffing.establishment IS '执法编制数 (核定)';
COMMENT ON COLUMN core.enforcement_staffing.enforcement_staff IS '在岗执法人员数';
COMMENT ON COLUMN core.enforcement_staffing.legal_reviewers IS '法制审核人员数';
COMMENT ON COLUMN core.enforcement_staffing.staff_at_towns IS '下沉到镇街的执法人员数';
COMMENT ON COLUMN core.enforcement_staffing.source_file IS '来源台账文件名';
COMMENT ON COLUMN core.enforcement_staffing.source_updated_at IS '台账行的更新日期';
COMMENT ON COLUMN core.enforcement_staffing.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.enforcement_staffing.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.enforcement_staffing.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.enforcement_staffing', 'core.enforcement_staffing_version');
CREATE UNLOGGED TABLE staging.enforcement_staffing (LIKE core.enforcement_staffing INCLUDING DEFAULTS);
CREATE INDEX ON staging.enforcement_staffing (batch_id);

CREATE TABLE core.publicity_site (
    ledger_no          text PRIMARY KEY,
    as_of              date NOT NULL,
    town_code          char(12) NOT NULL REFERENCES core.dim_town (town_code),
    units_total        integer NOT NULL CHECK (units_total > 0),
    units_with_site    integer NOT NULL CHECK (units_with_site >= 0),
    source_file        text NOT NULL,
    source_updated_at  timestamptz NOT NULL,
    batch_id           text NOT NULL,
    record_hash        text NOT NULL,
    loaded_at          timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE core.publicity_site_version (LIKE core.publicity_site INCLUDING DEFAULTS);
ALTER TABLE core.publicity_site_version ADD PRIMARY KEY (ledger_no, source_updated_at);

COMMENT ON TABLE core.publicity_site IS '法治宣传阵地台账: 每个镇街每季度末一行 (区司法局汇总)';
COMMENT ON TABLE core.publicity_site_version IS '法治宣传阵地台账的全部历史版本';
COMMENT ON COLUMN core.publicity_site.ledger_no IS '台账编号 (自然键), 如 2022Q1-330110005000';
COMMENT ON COLUMN core.publicity_site.as_of IS '统计日期 (季度末)';
COMMENT ON COLUMN core.publicity_site.town_code IS '镇街, 见 core.dim_town';
COMMENT ON COLUMN core.publicity_site.units_total IS '应建阵地单位数: 镇街本级 + 村 (社区) 数';
COMMENT ON COLUMN core.publicity_site.units_with_site IS '已建成法治宣传阵地的单位数';
COMMENT ON COLUMN core.publicity_site.source_file IS '来源台账文件名';
COMMENT ON COLUMN core.publicity_site.source_updated_at IS '台账行的更新日期';
COMMENT ON COLUMN core.publicity_site.batch_id IS '装入该版本的批次, 见 audit.batch';
COMMENT ON COLUMN core.publicity_site.record_hash IS '规范化记录内容哈希';
COMMENT ON COLUMN core.publicity_site.loaded_at IS '装入时间';
SELECT audit.copy_column_comments('core.publicity_site', 'core.publicity_site_version');
CREATE UNLOGGED TABLE staging.publicity_site (LIKE core.publicity_site INCLUDING DEFAULTS);
CREATE INDEX ON staging.publicity_site (batch_id);
