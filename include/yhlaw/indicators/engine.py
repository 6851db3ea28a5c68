"""``refresh``: bring the marts up to date with core, incrementally or in full.

One refresh, in order: take ``MARTS_LOCK`` and open an ``audit.indicator_refresh`` row; sync
the catalog table; read what changed since the last refresh (new batches, batches to recheck,
reference inputs); per indicator, plan the months to recompute whole and those to maintain by
delta, recompute the atoms and roll them up; publish; record what was consumed."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from psycopg2 import sql

from yhlaw.indicators.atoms import compute_atoms
from yhlaw.indicators.completeness import record_completeness
from yhlaw.indicators.definitions import Indicator, Measure, breakdown_dimensions, catalog, spec_tables
from yhlaw.indicators.columns import forget_column_types, ident
from yhlaw.indicators.delta import Changes, apply_delta, delta_eligible
from yhlaw.indicators.months import (add_months, drop_after, months_up_to_horizon, stock_horizon,
                                     stock_touched_months, touched_months)
from yhlaw.indicators.publish import (assess_trends, create_staging_tables, publish, publish_breakdowns,
                                      record_breakdown_periods, sync_catalog)
from yhlaw.indicators.rollup import rollup_values
from yhlaw.warehouse import MARTS_LOCK
from yhlaw.zone import DISTRICT_ZONE

log = logging.getLogger("yhlaw.indicators")   # the engine's logger, whichever module logs

LOCK_KEY = MARTS_LOCK  # exclusive: one refresh at a time, and no merge into core meanwhile

Batches = dict[str, list[tuple[str, Any]]]        # core table -> [(batch id, interval start)]
Reason = tuple[str, str, date | None]             # (kind, reason text, horizon), see publish


@dataclass(frozen=True)
class Inputs:
    """What changed since the last refresh."""

    new: list[tuple]                 # batches loaded and not yet consumed (audit.batch rows)
    recheck: list[tuple]             # batches consumed before and merged again with changes since
    by_table: Batches                # the new batches by core table
    recheck_by_table: Batches        # the batches to recheck by core table
    changes: Changes                 # the records the new batches changed
    uncounted: set[str]              # indicators whose breakdown atoms predate record counts
    checksums: dict[str, str]        # reference input -> checksum now
    changed_refs: set[str]           # reference inputs whose checksum changed


@dataclass(frozen=True)
class Context:
    refresh_id: int
    full: bool
    previous_hash: dict[str, str | None]   # indicator -> spec hash before this refresh (None: new)
    keys: dict[str, str]                    # core table -> natural key
    inputs: Inputs


@dataclass
class Plan:
    """The months of one indicator that a refresh recomputes."""

    months: set[date] = field(default_factory=set)   # recomputed whole
    delta: set[date] = field(default_factory=set)    # maintained by the changed records' contributions
    horizon: date | None = None                      # see publish: a late correction ends before it
    feeding: list[str] = field(default_factory=list)  # the tables and batches that fed it


@dataclass
class Outcome:
    touched: dict[str, list[str]] = field(default_factory=dict)   # indicator -> recomputed months (YYYY-MM)
    delta: dict[str, int] = field(default_factory=dict)           # indicator -> months maintained by delta
    reasons: dict[str, Reason] = field(default_factory=dict)


def refresh(conn, *, full: bool = False, trigger: str | None = None,
            indicators: tuple[Indicator, ...] | None = None) -> dict[str, Any]:
    """Bring the marts up to date with core. Incremental unless ``full``. Caller commits."""
    indicators = indicators if indicators is not None else catalog()
    tables = spec_tables()
    keys = {t: k for t, k, *_ in tables.values()}
    forget_column_types()
    with conn.cursor() as cur:
        refresh_id = _begin(cur, full, trigger)
        previous_hash = sync_catalog(cur, indicators)
        inputs = _read_inputs(cur, tables, indicators, full)
        create_staging_tables(cur)
        ctx = Context(refresh_id, full, previous_hash, keys, inputs)
        outcome = Outcome()
        for ind in indicators:
            _refresh_indicator(cur, ind, ctx, outcome)
        written, revised, written_breakdowns = _publish(cur, refresh_id, outcome.reasons)
        _record_consumed(cur, ctx, outcome, written, revised)
    new = len(inputs.new)
    log.info("indicator refresh %d (%s): %d new batches, %d indicators recomputed, %d rows written, %d revised",
             refresh_id, "full" if full else "incremental", new, len(outcome.touched), written, revised)
    return {"refresh_id": refresh_id, "new_batches": new, "indicators": len(outcome.touched),
            "months": sum(len(v) for v in outcome.touched.values()), "delta_months": sum(outcome.delta.values()),
            "rows_written": written, "rows_revised": revised,
            "breakdown_rows_written": written_breakdowns}


# --------------------------------------------------------------------------------------------
# Start: the lock, the audit row, what changed


def _begin(cur, full: bool, trigger: str | None) -> int:
    """Take the lock and open the refresh's audit row; returns its id."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    # Sorts and hashes over a month of a large table (distinct counts of a stock) stay in memory.
    cur.execute("SET LOCAL work_mem = '256MB'")
    cur.execute("INSERT INTO audit.indicator_refresh (mode, trigger) VALUES (%s, %s) RETURNING refresh_id",
                ("full" if full else "incremental", trigger))
    return cur.fetchone()[0]


def _read_inputs(cur, tables: dict, indicators: tuple[Indicator, ...], full: bool) -> Inputs:
    cur.execute("""SELECT b.batch_id, b.source, b.entity, b.interval_start FROM audit.batch b
                   LEFT JOIN audit.indicator_input i USING (batch_id)
                   WHERE b.status = 'loaded' AND i.batch_id IS NULL""")
    new = cur.fetchall()
    by_table = _by_table(new, tables)
    # Batches consumed before and merged again with changes since: recomputed by month.
    cur.execute("""SELECT r.batch_id, b.source, b.entity, b.interval_start FROM audit.indicator_recheck r
                   JOIN audit.batch b USING (batch_id)""")
    recheck = cur.fetchall()
    recheck_by_table = _by_table(recheck, tables)
    changes = Changes({t: [b for b, _ in bs] for t, bs in by_table.items()},
                      {t: (k, u) for t, k, u, _ in tables.values()},
                      {t: p for t, _, _, p in tables.values()})
    if not full:
        changes.materialise(cur)
    # Breakdown atoms from before they kept their record counts are recomputed once.
    cur.execute("SELECT DISTINCT indicator_code FROM mart.indicator_dimension_month_base WHERE records IS NULL")
    uncounted = {r[0] for r in cur.fetchall()}
    checksums, changed_refs = _reference_changes(cur, indicators)
    return Inputs(new, recheck, by_table, recheck_by_table, changes, uncounted, checksums, changed_refs)


def _by_table(rows: list[tuple], tables: dict) -> Batches:
    """(batch id, source, entity, interval start) rows grouped by core table."""
    out: Batches = {}
    for batch_id, source, entity, start in rows:
        out.setdefault(tables.get((source, entity), ("?",))[0], []).append((batch_id, start))
    return out


def _reference_changes(cur, indicators: tuple[Indicator, ...]) -> tuple[dict[str, str], set[str]]:
    """The checksums of the reference inputs the indicators read, and those that changed."""
    ref_tables = {t for i in indicators for t in i.references}
    checksums = _reference_checksums(cur, ref_tables)
    cur.execute("SELECT input, checksum FROM audit.indicator_reference_state")
    old_checksums = dict(cur.fetchall())
    return checksums, {t for t, c in checksums.items() if old_checksums.get(t) != c}


def _reference_checksums(cur, tables: set[str]) -> dict[str, str]:
    out = {}
    for t in sorted(tables):
        cur.execute(sql.SQL("SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {} x").format(
            ident(t)))
        out[t] = cur.fetchone()[0]
    return out


# --------------------------------------------------------------------------------------------
# One indicator: plan its months, recompute them


def _refresh_indicator(cur, ind: Indicator, ctx: Context, outcome: Outcome) -> None:
    redefined = ctx.previous_hash.get(ind.code) not in (None, ind.spec_hash)
    all_months = _recomputes_all(ind, ctx, redefined)
    plan = _plan_all_months(cur, ind, ctx) if all_months else _plan_incremental(cur, ind, ctx)
    if not plan.months and not plan.delta:
        return
    months_sorted = _recompute(cur, ind, plan, ctx.inputs.changes)
    outcome.touched[ind.code] = [m.isoformat()[:7] for m in months_sorted]
    outcome.delta[ind.code] = len(plan.delta)
    outcome.reasons[ind.code] = _reason(ind, ctx, plan, redefined, all_months)


def _recomputes_all(ind: Indicator, ctx: Context, redefined: bool) -> bool:
    """Every month of the indicator is recomputed: a full refresh, a new or changed definition,
    a changed reference input, or breakdown atoms without record counts."""
    return ctx.full or ctx.previous_hash.get(ind.code) is None or redefined or bool(
        ctx.inputs.changed_refs & set(ind.references)) or ind.code in ctx.inputs.uncounted


def _plan_all_months(cur, ind: Indicator, ctx: Context) -> Plan:
    """Every month any record falls in and every month with atoms, a stock up to its horizon
    only; drops what lies beyond the horizon and breakdowns no longer declared."""
    plan = Plan()
    for m in ind.measures:
        plan.months |= touched_months(cur, m, ctx.keys.get(m.table), None)
    cur.execute("SELECT DISTINCT month_start FROM mart.indicator_month_base WHERE indicator_code = %s",
                (ind.code,))
    plan.months |= {r[0] for r in cur.fetchall()}
    for m in ind.measures:
        if m.active:      # no stock beyond its horizon (months an earlier refresh projected)
            plan.horizon = stock_horizon(cur, m)
            plan.months = {x for x in plan.months if plan.horizon is not None and x <= plan.horizon}
            drop_after(cur, ind, plan.horizon)
    # Breakdowns by a dimension the definition no longer declares go.
    for table in ("mart.indicator_dimension_month_base", "mart.indicator_values_by_dimension"):
        cur.execute(sql.SQL("DELETE FROM {} WHERE indicator_code = %s AND dimension <> ALL(%s)").format(
            ident(table)), (ind.code, breakdown_dimensions(ind)))
    return plan


def _plan_incremental(cur, ind: Indicator, ctx: Context) -> Plan:
    """The months the new and rechecked batches touched: by delta where the indicator allows it
    and the month has atoms already, else whole."""
    plan = Plan()
    eligible = delta_eligible(ind)
    for m in ind.measures:
        _plan_measure(cur, ind, m, ctx, plan, eligible)
    _plan_dependencies(cur, ind, ctx, plan)
    if ind.lookback_months:
        plan.months |= _lookback(cur, ind, plan.months | plan.delta | _batch_months(ind, ctx))
    if plan.delta:
        # A month without atoms yet (a new month) is computed whole.
        cur.execute("""SELECT DISTINCT month_start FROM mart.indicator_month_base
                       WHERE indicator_code = %s AND month_start = ANY(%s::date[])""",
                    (ind.code, sorted(plan.delta)))
        existing = {r[0] for r in cur.fetchall()}
        plan.months |= plan.delta - existing
        plan.delta = existing - plan.months
    return plan


def _plan_dependencies(cur, ind: Indicator, ctx: Context, plan: Plan) -> None:
    """A changed record of a table the where reads (``depends_on``) changes the months from its
    own month (by the dependency's period, now or before) back ``lookback_months``: whole."""
    for dep in ind.depends_on:
        batches = ctx.inputs.by_table.get(dep.table, []) + ctx.inputs.recheck_by_table.get(dep.table, [])
        if not batches:
            continue
        plan.months |= _lookback(cur, ind, touched_months(cur, dep, ctx.keys.get(dep.table), [b for b, _ in batches]))
        plan.feeding.append(f"{dep.table} (read by the where): {len(batches)} batch(es)")


def _batch_months(ind: Indicator, ctx: Context) -> set[date]:
    """The months of the intervals of the batches that feed the indicator."""
    batches = [s for m in ind.measures for _, s in (ctx.inputs.by_table.get(m.table, [])
                                                     + ctx.inputs.recheck_by_table.get(m.table, []))]
    return {s.astimezone(DISTRICT_ZONE).date().replace(day=1) for s in batches}


def _lookback(cur, ind: Indicator, anchors: set[date]) -> set[date]:
    """The months a changed record can change besides its own (``lookback_months``: up to that
    many before the month it was loaded in, or before the months it falls in), among those with
    atoms already (a month without records is no month of the indicator, as in a full refresh)."""
    earlier = {add_months(m, -k) for m in anchors for k in range(0, ind.lookback_months + 1)}
    if not earlier:
        return set()
    cur.execute("""SELECT DISTINCT month_start FROM mart.indicator_month_base
                   WHERE indicator_code = %s AND month_start = ANY(%s::date[])""", (ind.code, sorted(earlier)))
    return {r[0] for r in cur.fetchall()}


def _plan_measure(cur, ind: Indicator, m: Measure, ctx: Context, plan: Plan, eligible: bool) -> None:
    """Add the months one measure's batches touched to ``plan``, and what fed them."""
    inputs, key = ctx.inputs, ctx.keys.get(m.table)
    batches = inputs.by_table.get(m.table, [])
    if m.active and batches and m.table in inputs.changes.tables:
        touched = stock_touched_months(cur, m, inputs.changes) | months_up_to_horizon(cur, ind, m)
    else:
        touched = touched_months(cur, m, key, [b for b, _ in batches])
    (plan.delta if eligible else plan.months).update(touched)
    again = inputs.recheck_by_table.get(m.table, [])
    plan.months |= touched_months(cur, m, key, [b for b, _ in again])
    if batches or again:
        plan.feeding.append(f"{m.table}: {len(batches) + len(again)} batch(es)")
        first = min(s for _, s in batches + again).astimezone(DISTRICT_ZONE).date()
        plan.horizon = first if plan.horizon is None else min(plan.horizon, first)


def _recompute(cur, ind: Indicator, plan: Plan, changes: Changes) -> list[date]:
    """Atoms (whole or by delta) and roll-ups of the planned months, totals then each breakdown;
    returns the months recomputed."""
    months_sorted = sorted(plan.months | plan.delta)
    compute_atoms(cur, ind, sorted(plan.months))
    apply_delta(cur, ind, sorted(plan.delta), changes)
    rollup_values(cur, ind, months_sorted)
    for dimension in breakdown_dimensions(ind):
        compute_atoms(cur, ind, sorted(plan.months), dimension)
        apply_delta(cur, ind, sorted(plan.delta), changes, dimension)
        rollup_values(cur, ind, months_sorted, dimension)
        record_breakdown_periods(cur, ind, dimension, months_sorted)
    return months_sorted


def _reason(ind: Indicator, ctx: Context, plan: Plan, redefined: bool, all_months: bool) -> Reason:
    """Why the indicator's values changed, for the revision history (see publish)."""
    if redefined:
        return ("definition_change", f"definition changed ({ind.spec_file} {ind.spec_hash})", None)
    if all_months and not ctx.full and ctx.previous_hash.get(ind.code) is not None:
        return ("late_correction",
                "reference data changed: " + ", ".join(sorted(ctx.inputs.changed_refs & set(ind.references))),
                None)
    return ("data", (f"refresh {ctx.refresh_id}: " + "; ".join(plan.feeding)) if plan.feeding
            else f"full refresh {ctx.refresh_id}", plan.horizon or date.max)


# --------------------------------------------------------------------------------------------
# Finish: publish, record what was consumed


def _publish(cur, refresh_id: int, reasons: dict[str, Reason]) -> tuple[int, int, int]:
    """Publish the rolled-up values; returns (rows written, rows revised, breakdown rows written)."""
    cur.execute("ANALYZE _iv_new")
    cur.execute("ANALYZE _ivd_new")
    cur.execute("ANALYZE _ivd_periods")
    written, revised = publish(cur, refresh_id, reasons)
    record_completeness(cur)
    return written + assess_trends(cur), revised, publish_breakdowns(cur)


def _record_consumed(cur, ctx: Context, outcome: Outcome, written: int, revised: int) -> None:
    """The reference state, the batches consumed, the rechecks done, and the refresh's audit row."""
    inputs = ctx.inputs
    for t, c in inputs.checksums.items():
        cur.execute("""INSERT INTO audit.indicator_reference_state (input, checksum) VALUES (%s, %s)
                       ON CONFLICT (input) DO UPDATE SET checksum = EXCLUDED.checksum""", (t, c))
    if inputs.new:
        cur.execute("INSERT INTO audit.indicator_input (batch_id, refresh_id) SELECT unnest(%s::text[]), %s",
                    ([b for b, *_ in inputs.new], ctx.refresh_id))
    if inputs.recheck:
        cur.execute("DELETE FROM audit.indicator_recheck WHERE batch_id = ANY(%s)",
                    ([b for b, *_ in inputs.recheck],))
    cur.execute("""UPDATE audit.indicator_refresh SET finished_at = clock_timestamp(), new_batches = %s,
                     touched = %s, rows_written = %s, rows_revised = %s WHERE refresh_id = %s""",
                (len(inputs.new), json.dumps(outcome.touched), written, revised, ctx.refresh_id))
