"""Source records -> a typed frame, driven by the entity's field specs.

Every conversion is lenient: a value that cannot be converted becomes null and the row gets
a message in ``_parse_errors``. Deciding what is acceptable is the validation suite's job
(expectations/<suite>.json), not this module's: here we only make the values comparable.

Helper columns added for the suite (never loaded): ``_parse_errors``, ``_<town col>_status``
('current' | 'moved_out' | 'unknown' | 'missing'), and the raw-batch flags ``_duplicate`` and
``_conflict`` supplied by the caller.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from yhlaw.pii import PartyKeyer
from yhlaw.spec import Entity, Field

TRUE_VALUES = {True, 1, "1", "true", "True", "TRUE", "是", "Y", "y", "yes"}
FALSE_VALUES = {False, 0, "0", "false", "False", "FALSE", "否", "N", "n", "no"}


@dataclass(frozen=True)
class TownResolver:
    """Maps whatever a source writes for a town (codes, names, old names) to the 12-digit code."""

    aliases: dict[str, tuple[str, bool]]   # alias -> (town_code, in_district)

    def resolve(self, value: object) -> tuple[str | None, str]:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None, "missing"
        text = "".join(str(value).split())
        if not text:
            return None, "missing"
        hit = self.aliases.get(text)
        if hit is None:
            return None, "unknown"
        code, in_district = hit
        return code, "current" if in_district else "moved_out"

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, bool]]) -> "TownResolver":
        return cls({alias: (code, bool(in_district)) for alias, code, in_district in rows})


@dataclass(frozen=True)
class Context:
    towns: TownResolver
    party_keyer: PartyKeyer


def get_path(record: dict, path: str) -> Any:
    """``a.b`` reads nested objects; a numeric part indexes a list (``parties.0.idNo``)."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            return None
    return value


def _present(raw: pd.Series) -> pd.Series:
    return raw.notna() & (raw.astype("string").str.strip().fillna("") != "")


def _text(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    """Trimmed text; ``map`` conforms a source's codes to the warehouse's (e.g. 自然人 -> person);
    ``max_length`` rejects oversize values."""
    s = raw.astype("string").str.strip()
    s = s.where(s != "", pd.NA)
    mapping = f.options.get("map")
    if mapping:
        s = s.map(lambda v: mapping.get(v, v), na_action="ignore").astype("string")
    limit = f.options.get("max_length")
    if limit:
        too_long = s.str.len() > int(limit)
        return s.where(~too_long.fillna(False), pd.NA), too_long.fillna(False)
    return s, pd.Series(False, index=raw.index)


def _decimal(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    values = pd.to_numeric(raw.astype("string").str.replace(",", "", regex=False), errors="coerce")
    return values.round(2), _present(raw) & values.isna()


def _integer(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    values = pd.to_numeric(raw.astype("string"), errors="coerce")
    whole = values.where(values == values.round()).astype("Int64")
    return whole, _present(raw) & whole.isna()


def _bool(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    def conv(v):
        if v in TRUE_VALUES:
            return True
        if v in FALSE_VALUES:
            return False
        return pd.NA
    values = raw.map(conv, na_action="ignore").astype("boolean")
    return values, raw.notna() & values.isna()


def _timestamp(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    text = raw.astype("string").str.strip()
    values = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    # Naive timestamps are local (Asia/Shanghai) times, as the source systems write them.
    naive = text.notna() & ~text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True).fillna(False)
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        values[naive] = local.dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    return values, _present(raw) & values.isna()


def _date(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    """A calendar date, as local (Asia/Shanghai) midnight: comparable with timestamps in the
    suite, and COPYed into a ``date`` column as the same calendar day."""
    text = raw.astype("string").str.strip().str.slice(0, 10)
    values = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").dt.tz_localize("Asia/Shanghai")
    return values, _present(raw) & values.isna()


def _stage_time(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    list_key = f.options.get("list_key", "stage")
    time_key = f.options.get("time_key", "time")
    stage = f.options["stage"]

    def pick(stages):
        if isinstance(stages, list):
            for item in stages:
                if isinstance(item, dict) and item.get(list_key) == stage:
                    return item.get(time_key)
        return None
    return _timestamp(raw.map(pick, na_action="ignore").astype(object), f, ctx)


def _json(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    keep = f.options.get("keep")

    def dump(v):
        if v is None:
            return None
        if keep and isinstance(v, list):
            v = [{k: item.get(k) for k in keep} if isinstance(item, dict) else item for item in v]
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    return raw.map(dump, na_action="ignore").astype(object), pd.Series(False, index=raw.index)


def _party_key(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, pd.Series]:
    return raw.map(ctx.party_keyer, na_action="ignore").astype(object), pd.Series(False, index=raw.index)


CONVERTERS: dict[str, Callable[[pd.Series, Field, Context], tuple[pd.Series, pd.Series]]] = {
    "text": _text, "decimal": _decimal, "integer": _integer, "bool": _bool,
    "timestamp": _timestamp, "date": _date, "stage_time": _stage_time, "json": _json,
    "party_key": _party_key,
}


def normalise(records: list[dict], entity: Entity, ctx: Context) -> pd.DataFrame:
    """Typed frame with one column per spec field plus the helper columns for validation."""
    index = pd.RangeIndex(len(records))
    out: dict[str, pd.Series] = {}
    errors: list[list[str]] = [[] for _ in records]
    for f in entity.fields:
        raw = pd.Series([get_path(r, f.source) for r in records], index=index, dtype=object)
        if f.type == "town":
            resolved = [ctx.towns.resolve(v) for v in raw]
            out[f.name] = pd.Series([c for c, _ in resolved], index=index, dtype=object)
            out[f"_{f.name}_status"] = pd.Series([s for _, s in resolved], index=index, dtype=object)
            continue
        values, bad = CONVERTERS[f.type](raw, f, ctx)
        out[f.name] = values
        for i in np.flatnonzero(bad.to_numpy(dtype=bool)):
            errors[i].append(f"{f.name}: cannot read {str(raw.iat[i])[:80]!r} as {f.type}")
    frame = pd.DataFrame(out, index=index)
    frame["_parse_errors"] = pd.Series(["; ".join(e) if e else None for e in errors], index=index, dtype=object)
    frame["record_hash"] = record_hashes(frame, entity.columns)
    return frame


def record_hashes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """md5 of the typed values: equal content, equal hash, whatever the source's formatting.
    Vectorised per column (a row-wise join over pandas' datetime formatting was half of the
    time spent typing a batch)."""
    parts = []
    for c in columns:
        txt = datetime_text(frame[c])
        if txt is None:
            txt = frame[c].astype("string").fillna("\\N").to_numpy(dtype=object)
        else:
            txt[pd.isna(txt)] = "\\N"
        parts.append(txt)
    joined = ["\x1f".join(row) for row in zip(*parts)]
    return pd.Series([hashlib.md5(x.encode()).hexdigest() for x in joined], index=frame.index, dtype=object)


def datetime_text(s: pd.Series) -> np.ndarray | None:
    """ISO text of a tz-aware datetime column, vectorised with numpy (pandas' own formatting is
    far slower): UTC columns as timestamps with "+00:00", columns of local midnights (the
    ``date`` type) as YYYY-MM-DD. None for anything else (callers fall back to pandas)."""
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        return None
    na = s.isna().to_numpy()
    wall = s.dt.tz_localize(None).to_numpy("datetime64[us]")   # wall time in the column's zone
    if str(s.dt.tz) == "UTC":
        txt = np.char.add(np.datetime_as_string(wall, unit="us"), "+00:00").astype(object)
    else:
        days = wall.astype("datetime64[D]")
        if (wall[~na] != days[~na]).any():
            return None
        txt = np.datetime_as_string(days, unit="D").astype(object)
    txt[na] = None
    return txt
