"""Pseudonymous party keys: one keyed HMAC, one implementation, used by every source.

A person or organisation is identified in ``core`` only by
``HMAC-SHA256(key, normalised identifier)``. The key comes from the Airflow connection
``pii_hmac`` (its password), never from code; without it the hash cannot be recomputed from
a dictionary of ID numbers. The same identifier gives the same key in every source, so
records link across sources. Rotation: docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_SEPARATORS = re.compile(r"[\s\-－_]+")
_FULLWIDTH = {ord(c): ord(c) - 0xFEE0 for c in "０１２３４５６７８９ＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹｘＸ"}


def normalise_identifier(value: object) -> str | None:
    """身份证号 / 统一社会信用代码 in one canonical form: half-width, no separators, upper case."""
    if value is None:
        return None
    text = _SEPARATORS.sub("", str(value).translate(_FULLWIDTH)).upper()
    return text or None


class PartyKeyer:
    """Computes party keys with one secret key. Construct once per task, call per value."""

    def __init__(self, key: str | bytes):
        if not key:
            raise ValueError("the PII HMAC key is empty: set the password of the Airflow connection 'pii_hmac'")
        self._key = key.encode() if isinstance(key, str) else key

    @property
    def key_bytes(self) -> bytes:
        """The key itself, for typing in the warehouse (``typer``), which computes the same HMAC."""
        return self._key

    def __call__(self, identifier: object) -> str | None:
        norm = normalise_identifier(identifier)
        if norm is None:
            return None
        return hmac.new(self._key, norm.encode(), hashlib.sha256).hexdigest()
