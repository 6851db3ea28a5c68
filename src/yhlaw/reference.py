"""Reference data (versioned seed files in ``reference/``) into the conformed dimensions.

``reference/towns.csv`` lists the 12 镇街 of Yuhang (2021 statistical codes) and the 8 units
that moved to 临平区 in 2021 (in_district = false). Every way a source may write a town — the
12-digit code, the 9-digit code, the full name, the short name, an old name — becomes a row of
``core.town_alias``. Loading is idempotent.
"""

from __future__ import annotations

import csv
from pathlib import Path

from yhlaw.settings import PROJECT_ROOT

REFERENCE_DIR = PROJECT_ROOT / "reference"


def town_rows(path: Path = REFERENCE_DIR / "towns.csv") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if len(r["town_code"]) != 12 or not r["town_code"].isdigit():
            raise ValueError(f"{path.name}: town_code {r['town_code']!r} is not 12 digits")
    return rows


def town_aliases(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    aliases: dict[str, tuple[str, str]] = {}
    for r in rows:
        code = r["town_code"]
        candidates = [(code, "code12"), (code[:9], "code9"), (r["town_name"], "name"),
                      (r["short_name"], "short_name")]
        candidates += [(n, "old_name") for n in r["old_names"].split(";") if n]
        for alias, kind in candidates:
            alias = "".join(alias.split())
            if alias in aliases and aliases[alias][0] != code:
                raise ValueError(f"towns.csv: alias {alias!r} names two towns")
            aliases.setdefault(alias, (code, kind))
    return [(alias, code, kind) for alias, (code, kind) in sorted(aliases.items())]


def load_reference(conn) -> dict[str, int]:
    rows = town_rows()
    with conn.cursor() as cur:
        for r in rows:
            cur.execute(
                """INSERT INTO core.dim_town (town_code, town_name, town_kind, in_district, note)
                   VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (town_code) DO UPDATE SET town_name = EXCLUDED.town_name,
                     town_kind = EXCLUDED.town_kind, in_district = EXCLUDED.in_district, note = EXCLUDED.note""",
                (r["town_code"], r["town_name"], r["town_kind"], r["in_district"] == "true", r["note"] or None),
            )
        cur.execute("DELETE FROM core.town_alias")
        aliases = town_aliases(rows)
        cur.executemany("INSERT INTO core.town_alias (alias, town_code, alias_kind) VALUES (%s, %s, %s)", aliases)
    return {"towns": len(rows), "aliases": len(aliases)}
