"""The one indicator engine: the catalog in ``indicators/*.yaml`` -> ``mart.indicator_values``.

Each catalog file declares an indicator: what it measures (policy section and clause), its
numerator and denominator as SQL over ``core`` (a ``measure``: table, the column that places a
record in a month, a filter, an aggregate), its unit, direction, target and grains. A new
indicator is a new file; nothing here is per indicator.

How values are computed
  1. Monthly atoms (``mart.indicator_month_base``): per indicator, month and 镇街 the numerator
     and the denominator, for every town of the district, 0 where a town had no records.
  2. Every grain and level is rolled up from the atoms: a quarter, a year and the district are
     sums of numerators over sums of denominators (never averages of rates); a ``snapshot``
     indicator (staffing ledgers, stock of 失信被执行人) takes the last month of the period that
     has data. value = numerator / denominator x scale, NULL where the denominator is 0.

Incremental refresh
  A batch loaded since the last refresh (``audit.batch`` minus ``audit.indicator_input``)
  touches the months its records fall in now *and* fell in before (through the ``*_version``
  tables, so a correction that moves a case from March to April touches both). For counts and
  sums over records placed in a month (``delta_eligible``) the atoms of those months are
  maintained: what the changed records contribute now (``core``) is added and what they
  contributed before (their latest version from any other batch) is taken away, so a day's
  refresh costs in proportion to the records it changed. Other indicators (snapshots, stocks)
  and months without atoms yet are recomputed whole, as are the months of a batch merged again
  after the marts consumed it (a replay, a rebuild: ``audit.indicator_recheck``). Merges hold
  ``MARTS_LOCK`` shared and a refresh holds it exclusively, so a refresh sees one state.
  The quarters and years containing a touched month are rolled up again. A changed definition
  (spec hash) or reference input (population, departments) recomputes that indicator in full.
  ``refresh(full=True)`` recomputes everything and must give the same table; tests hold both
  paths to that. Changed published values are kept in ``mart.indicator_value_revision``.

Modules
  ``definitions``  the definitions (``Indicator``, ``Measure``) parsed from the catalog files
  ``columns``  SQL over core columns: types, the local month a column places a record in
  ``months``   period arithmetic, the months changed records touch, the horizon of a stock
  ``atoms``    the measures' queries and the monthly atoms (``compute_atoms``)
  ``delta``    the changed records (``Changes``) and delta maintenance (``apply_delta``)
  ``rollup``   quarters, years and the district from the atoms (``rollup_values``)
  ``publish``  the catalog table, the values with their revisions, the latest values
  ``engine``   one refresh, step by step (``refresh``)
  ``docs``     docs/indicators.md (``render_docs``, ``write_docs``)
"""

from __future__ import annotations

from yhlaw.indicators.atoms import UNFILLED, compute_atoms, measure_query
from yhlaw.reference import DISTRICT_CODE
from yhlaw.indicators.definitions import (CATALOG_DIR, GRAINS, CatalogError, Indicator, Measure,
                                      breakdown_dimensions, catalog, describe, parse_indicator, spec_tables)
from yhlaw.indicators.delta import Changes, apply_delta, delta_eligible
from yhlaw.indicators.docs import DOCS_PATH, render_docs, write_docs
from yhlaw.indicators.months import period_end, period_start, stock_horizon
from yhlaw.indicators.publish import latest_district_values, publish, publish_breakdowns, sync_catalog
from yhlaw.indicators.engine import LOCK_KEY, refresh
from yhlaw.indicators.rollup import rollup_values

__all__ = [
    "CATALOG_DIR", "DISTRICT_CODE", "DOCS_PATH", "GRAINS", "LOCK_KEY", "UNFILLED",
    "CatalogError", "Changes", "Indicator", "Measure",
    "apply_delta", "breakdown_dimensions", "catalog", "compute_atoms", "delta_eligible", "describe",
    "latest_district_values", "measure_query", "parse_indicator", "period_end", "period_start", "publish",
    "publish_breakdowns", "refresh", "render_docs", "rollup_values", "spec_tables", "stock_horizon",
    "sync_catalog", "write_docs",
]
