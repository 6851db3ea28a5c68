-- The schema-drift checks (validate.batch_checks: schema_missing_fields, schema_extra_fields)
-- need how many records of a batch carry each top-level key. The loader counts them while it
-- spools the records, so landing stores them with the batch instead of validation scanning every
-- payload's keys again (about 3.5 s per million records). Batches landed before this column
-- existed have NULL here and are still counted from raw.record.

ALTER TABLE raw.batch ADD COLUMN source_keys jsonb;
COMMENT ON COLUMN raw.batch.source_keys IS
    '源字段计数: 本批次中带有各顶层字段的记录数 {字段: 记录数}, 落地时统计 (仅对象型记录); NULL = 本列出现前落地的批次';
