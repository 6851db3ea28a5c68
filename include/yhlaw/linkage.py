"""Linkage of disputes across systems (#17): fills ``core.dispute_link`` from the rules in
migration 0038 (explicit keys first, the party key as the fallback); see docs/linkage.md.

The rules are SQL (``core.dispute_link_computed``); this module only runs the refresh, from the
``link_disputes`` DAG every morning.
"""

from __future__ import annotations

import re
import unicodedata

# The normalisation of ``core.normalise_link_key`` for callers in Python (the linkage test's
# oracle): NFKC turns full-width brackets, digits and the ideographic space half-width; 〔〕 is
# the bracket courts also print; every space goes. The stack test holds the two equal on every
# key in the warehouse.
_BRACKETS = str.maketrans("〔〕", "()")


def normalise_key(key: str | None) -> str | None:
    if key is None:
        return None
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", key).translate(_BRACKETS)) or None


def refresh_links(conn) -> dict[str, int]:
    """Recompute the links in the caller's transaction; returns rows inserted, updated, deleted."""
    with conn.cursor() as cur:
        cur.execute("SELECT inserted, updated, deleted FROM core.refresh_dispute_links()")
        inserted, updated, deleted = cur.fetchone()
    return {"inserted": inserted, "updated": updated, "deleted": deleted}
