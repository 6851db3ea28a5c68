"""The warehouse remembers which PII HMAC key its party keys were made with, and refuses another.

A party key is ``HMAC(key, ID number)``; records made under two keys never link again (one
person becomes two parties) and nothing in the data says so. So the first validation records
the key's fingerprint in ``audit.pii_key``; every later validation and every set-up compares,
and a different key is an error that names the rotation procedure (docs/security.md), never a
silent change. The fingerprint is an HMAC of a fixed text under the key: it identifies the key
and reveals nothing of it.
"""

from __future__ import annotations

import hashlib
import hmac

ROTATION_DOC = "docs/security.md (Rotating the HMAC key: python -m yhlaw rotate-key)"
_FINGERPRINT_TEXT = b"yhlaw/pii-key-fingerprint/v1"


class KeyMismatch(RuntimeError):
    """The PII HMAC key in use is not the one the warehouse's party keys were made with."""


def fingerprint(key: str | bytes) -> str:
    """16 hex digits identifying ``key`` (an HMAC under it, so the key cannot be recovered)."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, _FINGERPRINT_TEXT, hashlib.sha256).hexdigest()[:16]


def recorded_fingerprint(cur) -> str | None:
    cur.execute("SELECT fingerprint FROM audit.pii_key")
    row = cur.fetchone()
    return row[0] if row else None


def check_key(cur, key: str | bytes, *, record: bool = True) -> str:
    """Compare ``key`` with the warehouse's; on first use record it (``record``). Returns the
    fingerprint; raises KeyMismatch naming both fingerprints and the rotation procedure."""
    mine = fingerprint(key)
    if record:
        cur.execute("INSERT INTO audit.pii_key (fingerprint) VALUES (%s) ON CONFLICT DO NOTHING", (mine,))
    theirs = recorded_fingerprint(cur)
    if theirs is not None and theirs != mine:
        raise KeyMismatch(
            f"the PII HMAC key in use (fingerprint {mine}) is not the one this warehouse's party keys were "
            f"made with (fingerprint {theirs}); party keys made with both would no longer link. Use the "
            f"warehouse's key (the pii_hmac connection / PII_HMAC_KEY, locally .local/secrets.env), or "
            f"rotate on purpose: {ROTATION_DOC}")
    return mine


def record_rotation(cur, new_key: str | bytes) -> str:
    """After every entity was rebuilt with ``new_key``: it is now the warehouse's key."""
    mine = fingerprint(new_key)
    cur.execute("""INSERT INTO audit.pii_key (fingerprint, rotated_at) VALUES (%s, now())
                   ON CONFLICT (singleton) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
                                                         rotated_at = now()""", (mine,))
    return mine
