"""The indicator catalog: ``indicators/*.yaml`` parsed into ``Indicator`` definitions, and the
core tables of the source specs that the measures read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from yhlaw import paths
from yhlaw.schemas import DocumentError, validate_document
from yhlaw.spec import load_spec, source_names

CATALOG_DIR = paths.CATALOG_DIR
GRAINS = ("month", "quarter", "year")

_REQUIRED = ("code", "name_zh", "name_en", "area", "policy", "unit", "direction", "target", "numerator",
             "assumptions", "caliber")
CALIBER_KEYS = ("numerator", "denominator", "population", "coverage", "placement")
TRENDS = {"down": "lower", "up": "higher"}   # a direction target (稳步下降 / 稳步提升) and the direction it needs


class CatalogError(ValueError):
    """An indicator file is incomplete or inconsistent."""


@dataclass(frozen=True)
class Measure:
    """One side of an indicator: an aggregate over a core table, placed in months."""

    table: str                   # core.<table> (schema-qualified)
    value: str = "count(*)"      # one aggregate call (FILTER is appended)
    where: str = "true"
    period: str | None = None    # column placing a record in a month (flow)
    active: tuple[str, str] | None = None   # (start, end) columns: counted while active (stock)
    town: str = "town_code"
    join: str = ""
    population: bool = False     # denominator = resident population of the town

    @property
    def version_table(self) -> str:
        return f"{self.table}_version"

    def key(self) -> tuple:
        return (self.table, self.period, self.active, self.town, self.join)


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    name_en: str
    area: str
    section: str
    clause: str
    unit: str
    scale: float
    direction: str
    target: float | None
    target_source: str
    grains: tuple[str, ...]
    levels: tuple[str, ...]
    dimensions: tuple[str, ...]
    rollup: str
    numerator: Measure
    denominator: Measure | None
    parameters: dict[str, Any]
    assumptions: tuple[str, ...]
    spec_file: str
    spec_hash: str
    references: tuple[str, ...] = field(default=())
    caliber: dict[str, str] = field(default_factory=dict)   # 口径: numerator, denominator, population, ...
    target_trend: str | None = None   # down / up: met when better than the same period a year earlier
    lookback_months: int = 0          # a record can change the months up to this many before its own
    depends_on: tuple[Measure, ...] = ()   # other tables the where reads, each dated by its period

    @property
    def measures(self) -> list[Measure]:
        return [m for m in (self.numerator, self.denominator) if m is not None and not m.population]


def _measure(d: dict[str, Any] | None, where: str, params: dict[str, Any]) -> Measure | None:
    if d is None:
        return None
    if d.get("population"):
        return Measure(table="core.town_population", population=True)
    table = d.get("from")
    if not table or not str(table).startswith("core."):
        raise CatalogError(f"{where}: 'from' must name a core table")
    if bool(d.get("period")) == bool(d.get("active")):
        raise CatalogError(f"{where}: give exactly one of 'period' (flow) or 'active' (stock)")

    def render(text: str) -> str:
        try:
            return text.format(**{k: _literal(v) for k, v in params.items()})
        except KeyError as exc:
            raise CatalogError(f"{where}: unknown parameter {exc}") from exc

    return Measure(table=table, value=render(d.get("value", "count(*)")), where=render(str(d.get("where", "true"))),
                   period=d.get("period"), active=tuple(d["active"]) if d.get("active") else None,
                   town=d.get("town", "town_code"), join=render(d.get("join", "")))


def _literal(value: Any) -> str:
    """A parameter as SQL text: strings quoted, lists as ARRAY[...]."""
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _check(data: dict[str, Any], where: str, num: Measure, den: Measure | None) -> None:
    """What the schema cannot say: the rules between fields."""
    if data["direction"] not in ("higher", "lower"):
        raise CatalogError(f"{where}: direction must be higher or lower")
    grains = data.get("grains", GRAINS)
    if set(grains) - set(GRAINS) or "month" not in grains:
        raise CatalogError(f"{where}: grains must include month and be among {GRAINS}")
    _check_rollup(data, where, num, den)
    if num.population:
        raise CatalogError(f"{where}: population can only be a denominator")
    trend = (data["target"] or {}).get("trend")
    if trend is not None and TRENDS.get(trend) != data["direction"]:
        raise CatalogError(f"{where}: target trend {trend!r} contradicts direction {data['direction']!r}")
    if den is not None and den.population and "population" not in (data["caliber"] or {}):
        raise CatalogError(f"{where}: a rate per resident states its population in caliber.population")


def _check_rollup(data: dict[str, Any], where: str, num: Measure, den: Measure | None) -> None:
    if data.get("rollup", "sum") not in ("sum", "snapshot", "median"):
        raise CatalogError(f"{where}: rollup must be sum, snapshot or median")
    if data.get("rollup") == "median" and (den is not None or not num.period):
        raise CatalogError(f"{where}: a median is over records placed in months (numerator.period), "
                           "with no denominator")


def parse_indicator(data: dict[str, Any], where: str, text: str = "") -> Indicator:
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise CatalogError(f"{where}: missing key {missing[0]!r}")
    params = dict(data.get("parameters") or {})
    num = _measure(data["numerator"], f"{where}: numerator", params)
    den = _measure(data.get("denominator"), f"{where}: denominator", params)
    _check(data, where, num, den)
    target, caliber = data["target"] or {}, data["caliber"] or {}
    references = tuple(data.get("references", ())) + (("core.town_population",) if den and den.population else ())
    return Indicator(
        code=data["code"], name_zh=data["name_zh"], name_en=data["name_en"], area=data["area"],
        section=data["policy"]["section"], clause=data["policy"]["clause"], unit=data["unit"],
        scale=float(data.get("scale", 1)), direction=data["direction"],
        target=None if target.get("value") is None else float(target["value"]),
        target_source=target.get("source", "none stated"), grains=tuple(data.get("grains", GRAINS)),
        levels=tuple(data.get("levels", ("town", "district"))),
        dimensions=tuple(data.get("dimensions", ("town_code",))), rollup=data.get("rollup", "sum"),
        numerator=num, denominator=den, parameters=params, assumptions=tuple(data["assumptions"]), spec_file=where,
        spec_hash=hashlib.sha256(text.encode()).hexdigest()[:16], references=references,
        caliber={k: caliber[k] for k in CALIBER_KEYS if k in caliber}, target_trend=target.get("trend"),
        lookback_months=int(data.get("lookback_months", 0)),
        depends_on=tuple(Measure(table=x["from"], period=x["period"]) for x in data.get("depends_on", ())))


@lru_cache(maxsize=1)
def catalog(directory: Path = CATALOG_DIR) -> tuple[Indicator, ...]:
    out = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        try:
            validate_document(data, "indicator", path.name)
        except DocumentError as exc:
            raise CatalogError(str(exc)) from exc
        ind = parse_indicator(data, path.name, text)
        if ind.code != path.stem:
            raise CatalogError(f"{path.name}: code {ind.code!r} must match the file name")
        out.append(ind)
    return tuple(out)


def breakdown_dimensions(ind: Indicator) -> list[str]:
    """The catalog's dimensions other than the town (which every value already has)."""
    return [d for d in ind.dimensions if d != "town_code"]


def describe(m: Measure) -> str:
    """A measure as one line of SQL-like text (the catalog table and the docs show it)."""
    if m.population:
        return "core.town_population.population (常住人口)"
    place = f"by month of {m.period}" if m.period else f"active at month end ({m.active[0]} .. {m.active[1]})"
    join = f" {m.join}" if m.join else ""
    return f"SELECT {m.value} FROM {m.table}{join} WHERE {m.where} -- {place}, per {m.town}"


def spec_tables() -> dict[tuple[str, str], tuple[str, str, str, tuple[str, ...]]]:
    """(source, entity) -> (core.<table>, natural key, update-time column, provenance columns)."""
    return {(s, e.name): (f"core.{e.table}", e.natural_key, e.updated_column, tuple(e.provenance_columns))
            for s in source_names() for e in load_spec(s).entities.values()}


def source_entities() -> list[tuple[str, str, str, str]]:
    """(source, entity, core.<table>, reads) of every spec entity; reads: window or snapshot."""
    return [(s, e.name, f"core.{e.table}", spec.reads) for s in source_names()
            for spec in (load_spec(s),) for e in spec.entities.values()]


def updated_column(table: str) -> str:
    """The update-time column of a core table, from the source spec that loads it."""
    for t, _, updated, _ in spec_tables().values():
        if t == table:
            return updated
    raise CatalogError(f"{table} is not the core table of any source spec")
