"""Source records -> a typed frame, driven by the entity's field specs.

Every conversion is lenient: a value that cannot be converted becomes null and the row gets
a message in a helper column saying what is wrong with which field. Deciding what is
acceptable is the validation suite's job (expectations/<suite>.json), not this module's: here we
only make the values comparable and name what we saw.

Helper columns added for the suite (never loaded), each null or "; "-joined messages, one per
field (``HELPER_COLUMNS`` maps each to the quarantine reason its suite rule uses):

* ``_parse_errors`` -- a value that is not of its type at all (garbage, 2022-02-30, an object
  where text is expected, a record that is not an object);
* ``_date_format`` -- a recognisable date or time in another format than ISO 8601
  (2022年3月5日, 2022/3/5, 20220305, an Excel serial day number, a Unix epoch): not guessed,
  since a source silently changing its format must be noticed;
* ``_impossible_dates`` -- a real calendar date outside ``PLAUSIBLE_DATES`` (before any of the
  systems existed, or a typo/sentinel such as 2099 or 9999-12-31);
* ``_future_dates`` -- a date or time more than ``FUTURE_TOLERANCE`` after the record's own
  update time (nothing can happen after the record was last written), or, when the caller
  gives the batch's interval end (``Context.interval_end``, sources read by window), after it;
* ``_too_long`` -- text longer than the field's ``max_length`` (spec) or
  ``DEFAULT_MAX_TEXT_LENGTH``;
* ``_mojibake`` -- text that is UTF-8 decoded with the wrong codec (Latin-1/cp1252 or GBK), or
  that lost characters to U+FFFD in an earlier wrong decode (see ``looks_mojibake``).

Also ``_<town col>_status`` ('current' | 'moved_out' | 'unknown' | 'missing';
``TOWN_STATUS_REASONS`` maps the last three to their quarantine reasons; ``conform`` turns
'moved_out' into 'former' where the record is dated before the 镇街 left), and the
raw-batch flags ``_duplicate`` and ``_conflict`` supplied by the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from yhlaw.pii import PartyKeyer
from yhlaw.spec import Entity, Field, load_spec
from yhlaw.zone import DISTRICT_TZ

# Helper column -> the quarantine reason of the suite rule that requires it to be null.
HELPER_COLUMNS = {
    "_parse_errors": "unparseable_value",
    "_date_format": "date_format_not_iso",
    "_impossible_dates": "impossible_date",
    "_future_dates": "future_date",
    "_too_long": "field_too_long",
    "_mojibake": "mojibake_text",
}
# Town status (``_<town col>_status``: ``TownResolver`` here, the same statuses in SQL in
# ``conform``) -> the quarantine reason of the suite rule that rejects it; 'current' passes.
TOWN_STATUS_REASONS = {
    "missing": "missing_required_field",
    "unknown": "unknown_town",
    "moved_out": "town_out_of_district",
}
# Problem kind a converter reports for a value -> its helper column.
_KIND_COLUMN = {"parse": "_parse_errors", "date_format": "_date_format", "range": "_impossible_dates",
                "too_long": "_too_long", "mojibake": "_mojibake"}
# No record of these systems can be dated before 2000 or after 2049: such dates are typos
# (2202), sentinels (2099-12-31, 9999-12-31) or defaults (1900-01-01).
PLAUSIBLE_DATES = (pd.Timestamp("2000-01-01", tz=DISTRICT_TZ), pd.Timestamp("2050-01-01", tz=DISTRICT_TZ))
# Clock skew between the modules of a source system that stamp stages and update times.
FUTURE_TOLERANCE = pd.Timedelta(minutes=10)
# Text fields hold codes, names and short labels; longer values are a source fault (a whole
# document or a runaway field). A spec field may declare its own ``max_length``.
DEFAULT_MAX_TEXT_LENGTH = 500
# Transports that read a snapshot, not a window: their interval end says nothing about "now".
SNAPSHOT_TRANSPORTS = {"ledger_file"}

# ISO 8601 (extended format; date, or date and time with optional zone; "T" or a space).
_ISO_DATETIME = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?"
_ISO = re.compile(_ISO_DATETIME)
_TIME_TAIL = r"(?:[T ]?\d{1,2}(?:[:时]\d{1,2}(?:[:分]\d{1,2}秒?)?)?)?"
_NON_ISO_DATES = [re.compile(p + _TIME_TAIL + r"\s*$") for p in (
    r"^\s*\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号]?\s*",       # 2022年3月5日
    r"^\s*\d{4}[/.]\d{1,2}[/.]\d{1,2}\s*",                            # 2022/3/5, 2022.03.05
    r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\s*",                          # 5/3/2022, 03-05-2022
    r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*",                                  # 2022-3-5 (not zero-padded)
    r"^\s*(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:T?\d{4,6})?\s*",  # 20220305
)]
_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")

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
    # End of the batch's data interval, when the caller knows it: dates after it (plus
    # FUTURE_TOLERANCE) are future dates. Ignored for snapshot sources (SNAPSHOT_TRANSPORTS),
    # whose rows are read as they are now, whatever interval the run is for.
    interval_end: datetime | None = None


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


# A converter returns the typed values and, per row, None or (problem kind, what is wrong):
# the kind picks the helper column (``_KIND_COLUMN``), the text becomes "<column>: <text>".
Problems = pd.Series


def _no_problems(index: pd.Index) -> Problems:
    return pd.Series([None] * len(index), index=index, dtype=object)


def _problems_where(mask: pd.Series, raw: pd.Series, kind: str, what: Callable[[Any], str]) -> Problems:
    out = _no_problems(raw.index)
    for i in np.flatnonzero(mask.to_numpy(dtype=bool)):
        out.iat[i] = (kind, what(raw.iat[i]))
    return out


def _of_types(raw: pd.Series, *types: type) -> np.ndarray:
    """Which values are of one of ``types`` (exactly; a C loop over the values, no Python lambda)."""
    kinds = np.frompyfunc(type, 1, 1)(raw.to_numpy(dtype=object))
    out = np.zeros(len(raw), dtype=bool)
    for t in types:
        out |= kinds == t
    return out


def _shown(value: Any, limit: int = 80) -> str:
    return repr(str(value)[:limit])


def unrepresentable(value: Any) -> bool:
    """A value the spool escaped because PostgreSQL cannot hold it (``store.storable_json``)."""
    return isinstance(value, dict) and set(value) == {"_unrepresentable"}


UNREPRESENTABLE_NOTE = "a value PostgreSQL cannot hold (NUL, a lone surrogate, NaN or Infinity), kept escaped in raw"


FORMULA_NOTE = "a spreadsheet formula whose result the file does not carry (saved without calculation)"


def _cannot_read(v: Any, type_name: str) -> str:
    return _structured(v, type_name) if isinstance(v, (dict, list)) else f"cannot read {_shown(v)} as {type_name}"


def _structured(v: Any, expected: str) -> str:
    if unrepresentable(v):
        return UNREPRESENTABLE_NOTE
    if isinstance(v, dict) and set(v) == {"_formula"}:
        return FORMULA_NOTE
    return f"{type(v).__name__} where {expected} is expected"


def _text(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    """Trimmed text; ``map`` conforms a source's codes to the warehouse's (e.g. 自然人 -> person).
    Reports objects and lists (not text), values longer than ``max_length`` (spec) or
    ``DEFAULT_MAX_TEXT_LENGTH``, and mojibake (checked on the source's text, before ``map``)."""
    structured = pd.Series(_of_types(raw, dict, list), index=raw.index)
    s = raw.astype("string").str.strip()
    s = s.where(s != "", pd.NA)
    problems = _problems_where(structured, raw, "parse", lambda v: _structured(v, "text"))
    limit = int(f.options.get("max_length", DEFAULT_MAX_TEXT_LENGTH))
    lengths = s.str.len()
    too_long = (lengths > limit).fillna(False) & ~structured
    for i in np.flatnonzero(too_long.to_numpy(dtype=bool)):
        problems.iat[i] = ("too_long", f"{int(lengths.iat[i])} characters (at most {limit})")
    checkable = s.notna() & ~too_long & ~structured
    for i, note in _mojibake_notes(s, checkable).items():
        problems.iat[i] = ("mojibake", note)
    mapping = f.options.get("map")
    if mapping:
        s = s.map(lambda v: mapping.get(v, v), na_action="ignore").astype("string")
    return s, problems


# An amount as text: digits, optionally grouped by thousands with commas (1,234,567 — the way
# Chinese systems write them), optionally a point and decimals. A comma anywhere else (16,00 —
# a decimal comma, or a mistyped grouping) is not read as anything: it would be a guess.
_AMOUNT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
AMOUNT_DECIMALS = 2     # what the warehouse's numeric(14, 2) columns hold exactly


def exact_amount(value: Any) -> tuple[Decimal | None, str | None]:
    """(the amount, None), or (None, why it cannot be read exactly). Never rounded, never guessed:
    more decimals than the warehouse holds, NaN/Infinity or an odd comma is a problem."""
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        return None, _structured(value, "an amount")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not np.isfinite(value):
            return None, f"{value!r} is not an amount"
        amount = Decimal(repr(value))
    else:
        text = str(value).strip()
        if not _AMOUNT.fullmatch(text):
            return None, f"cannot read {_shown(value)} as an amount (digits, thousands commas, a decimal point)"
        amount = Decimal(text.replace(",", ""))
    if amount != amount.quantize(Decimal(1).scaleb(-AMOUNT_DECIMALS)):
        return None, f"{_shown(value)} has more than {AMOUNT_DECIMALS} decimals: it cannot be stored exactly"
    return amount, None


def _decimal(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    present = _present(raw).to_numpy(dtype=bool)
    read = [exact_amount(v) if p else (None, None) for v, p in zip(raw.tolist(), present)]
    values = pd.Series([a for a, _ in read], index=raw.index, dtype=object)
    problems = _no_problems(raw.index)
    for i, (_, why) in enumerate(read):
        if why:
            problems.iat[i] = ("parse", why)
    return values, problems


def _integer(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    values = pd.to_numeric(raw.astype("string"), errors="coerce")
    whole = values.where(values == values.round()).astype("Int64")
    bad = _present(raw) & whole.isna()
    return whole, _problems_where(bad, raw, "parse", lambda v: _cannot_read(v, f.type))


def _bool(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    def conv(v):
        if isinstance(v, (dict, list)):
            return pd.NA
        if v in TRUE_VALUES:
            return True
        if v in FALSE_VALUES:
            return False
        return pd.NA
    values = raw.map(conv, na_action="ignore").astype("boolean")
    bad = raw.notna() & values.isna()
    return values, _problems_where(bad, raw, "parse", lambda v: _cannot_read(v, f.type))


def date_problem(value: Any, type_name: str) -> tuple[str, str]:
    """Why a present value is not an ISO 8601 date or time: ('date_format', ...) for a date
    written another way, ('parse', ...) for anything else (including ISO-shaped values that are
    not on the calendar, such as 2022-02-30)."""
    text = str(value).strip()
    if isinstance(value, (bool, dict, list)):
        return "parse", _cannot_read(value, type_name)
    if isinstance(value, (int, float)) or _NUMBER.match(text):
        number = float(text)
        if 20000 <= number < 80000:
            return "date_format", f"{_shown(value)} looks like an Excel serial day number, not an ISO 8601 {type_name}"
        if 1e8 <= number < 1e10 or 1e11 <= number < 1e13:
            return "date_format", f"{_shown(value)} looks like a Unix time stamp, not an ISO 8601 {type_name}"
    if re.fullmatch(_ISO_DATETIME, text):
        return "parse", f"cannot read {_shown(value)} as {type_name}: not a calendar date or time"
    for pattern in _NON_ISO_DATES:
        if pattern.match(text):
            return "date_format", f"{_shown(value)} is a date in another format than ISO 8601 (YYYY-MM-DD)"
    return "parse", f"cannot read {_shown(value)} as {type_name}"


def _dated(raw: pd.Series, values: pd.Series, present: np.ndarray, f: Field) -> Problems:
    """Problems of a date/time column: unreadable values, other formats, implausible dates."""
    problems = _no_problems(raw.index)
    unread = present & values.isna().to_numpy(dtype=bool)
    for i in np.flatnonzero(unread):
        problems.iat[i] = date_problem(raw.iat[i], f.type)
    low, high = PLAUSIBLE_DATES
    outside = (values.notna() & ((values < low) | (values >= high))).to_numpy(dtype=bool)
    for i in np.flatnonzero(outside & ~unread):
        problems.iat[i] = ("range", f"{_shown(raw.iat[i])} is outside {low:%Y-%m-%d} .. "
                                    f"{high - pd.Timedelta(days=1):%Y-%m-%d}")
    return problems


def _iso_text(raw: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The ISO 8601 values as stripped text (others NA: pandas would guess 2022/3/1 or a
    number), whether each of those carries a zone, and which values are present at all.
    One pass in Python: cheaper than a chain of pandas string methods."""
    n = len(raw)
    text = np.full(n, None, dtype=object)
    zoned = np.zeros(n, dtype=bool)
    present = np.zeros(n, dtype=bool)
    for i, v in enumerate(raw.to_numpy(dtype=object)):
        if type(v) is str:
            v = v.strip()
            if not v:
                continue
            present[i] = True
            m = _ISO.fullmatch(v)
            if m:
                text[i], zoned[i] = v, m.group(1) is not None
        elif v is not None and not (isinstance(v, float) and v != v):
            present[i] = True
    return pd.Series(text, index=raw.index, dtype="string"), zoned, present


def _timestamp(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    text, zoned, present = _iso_text(raw)
    values = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    # Naive timestamps are local (Asia/Shanghai) times, as the source systems write them.
    naive = text.notna().to_numpy(dtype=bool) & ~zoned
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        values[naive] = local.dt.tz_localize(DISTRICT_TZ).dt.tz_convert("UTC")
    return values, _dated(raw, values, present, f)


def _date(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    """A calendar date, as local (Asia/Shanghai) midnight: comparable with timestamps in the
    suite, and COPYed into a ``date`` column as the same calendar day. An ISO date-time (as an
    XLSX date cell becomes) counts as its date."""
    text, _, present = _iso_text(raw)
    values = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce").dt.tz_localize(DISTRICT_TZ)
    return values, _dated(raw, values, present, f)


def _stage_time(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
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


def _json(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    keep = f.options.get("keep")

    def dump(v):
        if v is None:
            return None
        if keep and isinstance(v, list):
            v = [{k: item.get(k) for k in keep} if isinstance(item, dict) else item for item in v]
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    values = raw.map(dump, na_action="ignore").astype(object)
    problems = _no_problems(raw.index)
    for i, note in _mojibake_notes(pd.Series(values, dtype="string"), values.notna()).items():
        problems.iat[i] = ("mojibake", note)
    return values, problems


def _party_key(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    return raw.map(ctx.party_keyer, na_action="ignore").astype(object), _no_problems(raw.index)


def _party_code(item: dict, option: dict | None, what: str) -> tuple[str | None, str | None]:
    """A party's role or kind as the spec's ``map`` conforms it: (code, None) or (None, why not).
    Never shows the value (a clerk may have typed a name there), only the codes the map knows."""
    if option is None:
        return None, None
    value = item.get(option["from"])
    code = option["map"].get(value.strip()) if isinstance(value, str) else None
    if code is None:
        return None, f"{what} {'missing' if value is None else 'not one of ' + '/'.join(option['map'])}"
    return code, None


def _one_party(item: Any, f: Field, ctx: Context) -> tuple[dict | None, str | None]:
    """{role, party_type, party_key} of one party, or why it cannot be typed. A party without an
    ID number (a respondent whose number the applicant does not know) is kept, unkeyed."""
    if not isinstance(item, dict):
        return None, f"a JSON {type(item).__name__} where a party object is expected"
    role, why = _party_code(item, f.options["role"], "role")
    kind, why_kind = _party_code(item, f.options.get("kind"), "type")
    ident = item.get(f.options["id"])
    if ident is not None and (isinstance(ident, bool) or not isinstance(ident, (str, int))):
        why = why or "ID number not text"
    if why or why_kind:
        return None, why or why_kind
    return {"role": role, "party_type": kind, "party_key": ctx.party_keyer(ident)}, None


def party_list(value: Any, f: Field, ctx: Context) -> tuple[list[dict] | None, str | None]:
    """A record's parties (``parties`` type), or why the list cannot be typed (naming the party's
    position, never a value). A list exported into one CSV/XLSX cell arrives as JSON text.
    Any bad party makes the whole list unparseable (the record is quarantined, unparseable_value,
    and replayed once the spec's map knows the new role): a party silently skipped would make the
    record's parties, and every link through them, wrong without anyone seeing it."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None, "text that is not a JSON list of parties"
        if value is None:
            return None, None
    if not isinstance(value, list):
        return None, _structured(value, "a list of parties") if isinstance(value, dict) \
            else f"a JSON {type(value).__name__} where a list of parties is expected"
    parties = []
    for n, item in enumerate(value):
        party, why = _one_party(item, f, ctx)
        if why:
            return None, f"party {n}: {why}"
        parties.append(party)
    return parties, None


def _parties(raw: pd.Series, f: Field, ctx: Context) -> tuple[pd.Series, Problems]:
    """Each record's party list as JSON text (a ``jsonb`` column): per party its role and type as
    codes and its keyed HMAC; names, ID numbers and phones are dropped here. A blank is absent."""
    read = [(None, None) if v is None or (isinstance(v, str) and not v.strip()) else party_list(v, f, ctx)
            for v in raw.tolist()]
    values = pd.Series([None if p is None else json.dumps(p, ensure_ascii=False, sort_keys=True) for p, _ in read],
                       index=raw.index, dtype=object)
    problems = _no_problems(raw.index)
    for i, (_, why) in enumerate(read):
        if why:
            problems.iat[i] = ("parse", why)
    return values, problems


CONVERTERS: dict[str, Callable[[pd.Series, Field, Context], tuple[pd.Series, Problems]]] = {
    "text": _text, "decimal": _decimal, "integer": _integer, "bool": _bool,
    "timestamp": _timestamp, "date": _date, "stage_time": _stage_time, "json": _json,
    "party_key": _party_key, "parties": _parties,
}
DATED_TYPES = {"timestamp", "date", "stage_time"}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN1_HIGH = re.compile(r"[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u2026\u2030"
                          r"\u2039\u203a\u20ac\u2122]")


@lru_cache(maxsize=65536)
def looks_mojibake(text: str) -> str | None:
    """Why ``text`` looks like text decoded with the wrong codec, or None.

    * UTF-8 read as Latin-1/cp1252 ("å¼ ä¸‰" for 张三): the text holds Latin-1 range
      characters and re-encoding them gives UTF-8 with Chinese in it (at least one Chinese
      character per undecodable spot); genuine Latin-1 text (Müller, José) gives none;
    * UTF-8 read as GBK ("寮犱笁" for 张三): re-encoding as GB18030 and decoding as UTF-8
      gives at least two Chinese characters and at least three for every undecodable spot (a
      byte the wrong decode dropped or replaced). Genuine Chinese text practically never does:
      the GBK bytes of common characters are not valid UTF-8, and where a pair happens to be, it
      decodes to Latin, Greek, Hebrew or Arabic letters, not to Chinese;
    * U+FFFD: characters already lost to an earlier wrong decode (GBK read as UTF-8 and back).
    """
    if "\ufffd" in text:
        return "contains U+FFFD: characters were lost to a wrong decode upstream"
    if _LATIN1_HIGH.search(text):
        for codec in ("cp1252", "latin-1"):
            try:
                fixed = text.encode(codec).decode("utf-8", errors="replace")
            except UnicodeError:
                continue
            # (a lost last byte, e.g. U+0085 taken for white space and trimmed, costs one char)
            if len(_CJK.findall(fixed)) >= max(1, fixed.count("\ufffd")):
                return f"UTF-8 decoded as {codec} (re-encoded it reads {fixed[:40]!r})"
    if len(_CJK.findall(text)) >= 2:
        fixed = text.encode("gb18030").decode("utf-8", errors="replace")
        # A byte dropped or replaced by the wrong decode costs a character or two here; the
        # GBK bytes of genuine text give (almost) nothing but U+FFFD and non-Chinese letters.
        if fixed != text and len(_CJK.findall(fixed)) >= max(2, 3 * fixed.count("\ufffd")):
            return f"UTF-8 decoded as GBK (re-encoded it reads {fixed[:40]!r})"
    return None


def _gbk_markers() -> str:
    """Characters whose GBK bytes are a UTF-8 lead byte of Chinese (E4-E9) and a continuation
    byte (80-BF): UTF-8 Chinese decoded as GBK always yields one (at its first character, and
    after every ASCII character), while genuine text rarely holds any (rare level-2 and GBK/4
    characters). Only text with one goes through the full check."""
    chars = []
    for lead in range(0xE4, 0xEA):
        for trail in range(0x80, 0xC0):
            try:
                chars.append(bytes((lead, trail)).decode("gbk"))
            except UnicodeDecodeError:
                pass
    return "".join(chars)


_MOJIBAKE_CANDIDATE = re.compile("[\ufffd" + _LATIN1_HIGH.pattern[1:-1] + re.escape(_gbk_markers()) + "]")


def _mojibake_notes(text: pd.Series, check: pd.Series) -> dict[int, str]:
    """Row position -> why its text looks like mojibake, for the rows to ``check``. Each distinct
    value is checked once, and only if it holds a character mojibake is made of."""
    mask = check.to_numpy(dtype=bool)
    if not mask.any():
        return {}
    values = text.to_numpy(dtype=object)
    bad = {}
    for v in pd.unique(values[mask]):
        if isinstance(v, str) and _MOJIBAKE_CANDIDATE.search(v):
            why = looks_mojibake(v)
            if why:
                bad[v] = why
    if not bad:
        return {}
    return {int(i): bad[values[i]] for i in np.flatnonzero(mask) if values[i] in bad}


def _future_dates(out: dict[str, pd.Series], entity: Entity, ctx: Context, index: pd.Index) -> pd.Series:
    """Per row: the dates later than the record's own update time (+ tolerance), or than the
    batch's interval end (+ tolerance) when the caller knows it and the source is read by
    window. Fields the reader adds (source ``_...``: file name, delivery time) are not events of
    the record and are only held against the interval end."""
    messages: list[list[str]] = [[] for _ in range(len(index))]
    updated_col = entity.updated_column
    updated = out[updated_col]
    limit_end = None
    if ctx.interval_end is not None and load_spec(entity.source).transport.get("kind") not in SNAPSHOT_TRANSPORTS:
        limit_end = pd.Timestamp(ctx.interval_end).tz_convert("UTC") + FUTURE_TOLERANCE
    for f in entity.fields:
        if f.type not in DATED_TYPES:
            continue
        values = out[f.name]
        if f.name != updated_col and not f.source.startswith("_"):
            after = (values.notna() & updated.notna() & (values > updated + FUTURE_TOLERANCE)).to_numpy(dtype=bool)
            for i in np.flatnonzero(after):
                messages[i].append(f"{f.name} {_local(values.iat[i])} is after the record's update time "
                                   f"{_local(updated.iat[i])}")
        if limit_end is not None:
            late = (values.notna() & (values > limit_end)).to_numpy(dtype=bool)
            for i in np.flatnonzero(late):
                messages[i].append(f"{f.name} {_local(values.iat[i])} is after the batch's interval end "
                                   f"{_local(pd.Timestamp(ctx.interval_end))}")
    return pd.Series(["; ".join(m) if m else None for m in messages], index=index, dtype=object)


def _local(moment: pd.Timestamp) -> str:
    return moment.tz_convert(DISTRICT_TZ).isoformat()


def normalise(records: list[dict], entity: Entity, ctx: Context) -> pd.DataFrame:
    """Typed frame with one column per spec field plus the helper columns for validation."""
    index = pd.RangeIndex(len(records))
    out: dict[str, pd.Series] = {}
    notes: dict[str, dict[int, list[str]]] = {c: {} for c in HELPER_COLUMNS}   # column -> row -> messages
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            notes["_parse_errors"].setdefault(i, []).append(f"record: a JSON {type(r).__name__}, not an object")
    for f in entity.fields:
        raw = pd.Series([get_path(r, f.source) for r in records], index=index, dtype=object)
        if f.type == "town":
            resolved = [ctx.towns.resolve(v) for v in raw]
            out[f.name] = pd.Series([c for c, _ in resolved], index=index, dtype=object)
            out[f"_{f.name}_status"] = pd.Series([s for _, s in resolved], index=index, dtype=object)
            unknown = pd.Series([s == "unknown" for _, s in resolved], index=index)
            for i, note in _mojibake_notes(raw.astype("string"), unknown).items():
                notes["_mojibake"].setdefault(i, []).append(f"{f.name}: {_shown(raw.iat[i])} {note}")
            continue
        values, problems = CONVERTERS[f.type](raw, f, ctx)
        out[f.name] = values
        for i in np.flatnonzero(problems.notna().to_numpy(dtype=bool)):
            kind, what = problems.iat[i]
            notes[_KIND_COLUMN[kind]].setdefault(int(i), []).append(f"{f.name}: {what}")
    frame = pd.DataFrame(out, index=index)
    for column, rows in notes.items():
        values = np.full(len(index), None, dtype=object)
        for i, messages in rows.items():
            values[i] = "; ".join(messages)
        frame[column] = pd.Series(values, index=index, dtype=object)
    frame["_future_dates"] = _future_dates(out, entity, ctx, index)
    return frame


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
