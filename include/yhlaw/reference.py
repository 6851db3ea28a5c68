"""Reference data (versioned seed files in ``reference/``) into the conformed dimensions.

``reference/towns.csv`` lists the 12 镇街 of Yuhang (2021 statistical codes) and the 8 units
that moved to 临平区 in 2021 (in_district = false). Every way a source may write a town — the
12-digit code, the 9-digit code, the full name, the short name, an old name — becomes a row of
``core.town_alias``. ``population.csv`` (resident population per 镇街 and year; per-town figures
are estimates unless replaced by the statistics bureau's table) and ``departments.csv`` fill
``core.town_population`` and ``core.dim_department``. Loading is idempotent and checks the files.
"""

from __future__ import annotations

import csv

from yhlaw import paths

REFERENCE_DIR = paths.REFERENCE_DIR


def town_rows() -> list[dict[str, str]]:
    rows = read_csv("towns.csv")
    for r in rows:
        if len(r["town_code"]) != 12 or not r["town_code"].isdigit():
            raise ValueError(f"towns.csv: town_code {r['town_code']!r} is not 12 digits")
    return rows


DISTRICT_CODE = "330110000000"


def town_aliases(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    """Every spelling of every 镇街. The district row (区) is not a town and gets no alias:
    a record that names only the district cannot be placed in a 镇街."""
    aliases: dict[str, tuple[str, str]] = {}
    for r in rows:
        code = r["town_code"]
        if r["town_kind"] == "区":
            continue
        candidates = [(code, "code12"), (code[:9], "code9"), (r["town_name"], "name"),
                      (r["short_name"], "short_name")]
        candidates += [(n, "old_name") for n in r["old_names"].split(";") if n]
        # The codes a unit has had since it moved (临平区's 330113… from 2021): the same unit.
        for later in (c for c in (r.get("later_codes") or "").split(";") if c):
            candidates += [(later, "code12"), (later[:9], "code9")]
        for alias, kind in candidates:
            alias = "".join(alias.split())
            if alias in aliases and aliases[alias][0] != code:
                raise ValueError(f"towns.csv: alias {alias!r} names two towns")
            aliases.setdefault(alias, (code, kind))
    return [(alias, code, kind) for alias, (code, kind) in sorted(aliases.items())]


def read_csv(name: str) -> list[dict[str, str]]:
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def population_rows(towns: list[dict[str, str]]) -> list[dict[str, str]]:
    """reference/population.csv, checked: every year has every in-district 镇街, positive counts."""
    rows = read_csv("population.csv")
    in_district = {t["town_code"] for t in towns if t["in_district"] == "true" and t["town_kind"] != "区"}
    by_year: dict[str, set[str]] = {}
    for r in rows:
        if not r["population"].isdigit() or int(r["population"]) <= 0:
            raise ValueError(f"population.csv: {r['year']} {r['town_code']}: population {r['population']!r}")
        if r["basis"] not in ("official", "estimate"):
            raise ValueError(f"population.csv: basis must be official or estimate, not {r['basis']!r}")
        by_year.setdefault(r["year"], set()).add(r["town_code"])
    for year, codes in by_year.items():
        if not in_district <= codes:
            raise ValueError(f"population.csv: {year} lacks towns {sorted(in_district - codes)}")
    return rows


def load_reference(conn) -> dict[str, int]:
    rows = town_rows()
    with conn.cursor() as cur:
        for r in rows:
            cur.execute(
                """INSERT INTO core.dim_town (town_code, town_name, town_kind, in_district, note, left_on)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (town_code) DO UPDATE SET town_name = EXCLUDED.town_name,
                     town_kind = EXCLUDED.town_kind, in_district = EXCLUDED.in_district, note = EXCLUDED.note,
                     left_on = EXCLUDED.left_on""",
                (r["town_code"], r["town_name"], r["town_kind"], r["in_district"] == "true", r["note"] or None,
                 r.get("left_on") or None),
            )
        cur.execute("DELETE FROM core.town_alias")
        aliases = town_aliases(rows)
        cur.executemany("INSERT INTO core.town_alias (alias, town_code, alias_kind) VALUES (%s, %s, %s)", aliases)
        population = population_rows(rows)
        cur.execute("DELETE FROM core.town_population")
        cur.executemany(
            "INSERT INTO core.town_population (year, town_code, population, basis, source) VALUES (%s, %s, %s, %s, %s)",
            [(int(r["year"]), r["town_code"], int(r["population"]), r["basis"], r["source"]) for r in population])
        departments = read_csv("departments.csv")
        for d in departments:
            cur.execute(
                """INSERT INTO core.dim_department (dept_code, dept_name, kind, note) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (dept_code) DO UPDATE SET dept_name = EXCLUDED.dept_name, kind = EXCLUDED.kind,
                     note = EXCLUDED.note""",
                (d["dept_code"], d["dept_name"], d["kind"], d["note"] or None))
    return {"towns": len(rows), "aliases": len(aliases), "population_rows": len(population),
            "departments": len(departments)}
