-- The fingerprint of the PII HMAC key the warehouse's party keys are made with. Party keys made
-- with two keys no longer link (the same person would be two parties), so a task or a set-up
-- that brings another key is refused (yhlaw.key_check) until the key is rotated on purpose
-- (docs/security.md: `python -m yhlaw rotate-key`). The fingerprint is an HMAC of a fixed text
-- under the key: it identifies the key without revealing it.

CREATE TABLE audit.pii_key (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint   text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
    first_used_at timestamptz NOT NULL DEFAULT now(),
    rotated_at    timestamptz
);
COMMENT ON TABLE audit.pii_key IS '个人信息假名化密钥指纹: 主体键 (party_key) 所用 HMAC 密钥的指纹 (一行; 不含密钥本身)';
COMMENT ON COLUMN audit.pii_key.singleton IS '恒为 true (表中只有一行)';
COMMENT ON COLUMN audit.pii_key.fingerprint IS '密钥指纹: HMAC-SHA256(密钥, 固定文本) 的前 16 位十六进制';
COMMENT ON COLUMN audit.pii_key.first_used_at IS '该密钥首次用于生成主体键的时间';
COMMENT ON COLUMN audit.pii_key.rotated_at IS '最近一次密钥轮换 (rotate-key) 完成的时间; 从未轮换为空';
