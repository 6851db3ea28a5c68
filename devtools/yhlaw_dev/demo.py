"""``make demo``: every source's simulator, every ingest DAG, N consecutive days, one process,
then the indicators: ``compute_indicators`` runs after each day's ingests (as its Assets would
trigger it) and the demo ends with the latest district value of every indicator vs its target.

The simulators' world clock is moved to one hour after each interval's end before its run,
as if the daily schedule had run on time in 2022: records still change afterwards (cases move
through their stages, late corrections arrive), and later runs carry those changes into the
warehouse. Runs go through real Airflow (``dag.test`` on the DAG parsed from ``dags/``), all in
this one process, so Airflow's start-up cost is paid once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from datetime import timedelta

import pendulum
from psycopg2 import sql

from yhlaw.spec import load_spec, source_names

from yhlaw_dev.sim import simulated_sources
from yhlaw_dev.world import DevSettings as Settings
from yhlaw.warehouse import table_checksum, transaction

CLOCK_LAG = timedelta(hours=1)


def main(days: int = 30, start: str = "2022-03-01") -> int:
    from yhlaw.bootstrap import prepare_airflow, prepare_warehouse
    from yhlaw_dev.stack import load_dag, run_dag_for_interval, run_state, simulators, task_seconds

    t0 = time.monotonic()
    # dag.test logs to this console: the demo prints its own summary, tasks log only warnings here.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    settings = Settings.from_env()
    prepare_warehouse(settings)
    sources = simulated_sources()
    ledgers = [s for s in source_names() if s not in sources]   # files in the repository: read once
    first = pendulum.parse(start, tz="Asia/Shanghai")
    failures: list[str] = []
    t_indicators = 0.0
    spent = {"runs": 0, "run_seconds": 0.0, "task_seconds": 0.0}

    def run(dag, interval_end, label):
        t = time.monotonic()
        dag_run = run_dag_for_interval(dag, interval_end)
        spent["run_seconds"] += time.monotonic() - t
        spent["task_seconds"] += task_seconds(dag_run)
        spent["runs"] += 1
        state = run_state(dag_run)
        print(f"  {interval_end.subtract(days=1).to_date_string()} {label}: {state}", flush=True)
        if state != "success":
            failures.append(f"{label} for {interval_end.subtract(days=1).to_date_string()}: {state}")

    with simulators(settings, sources, now=first) as sims:
        prepare_airflow(settings, settings.airflow_environment({s: sim.url for s, sim in sims.items()}))
        dags = {s: load_dag(f"ingest_{s}") for s in sources + ledgers}
        compute = load_dag("compute_indicators")
        t_setup = time.monotonic() - t0
        for source in ledgers:
            run(dags[source], first.add(days=1), f"ingest_{source}")
        for d in range(days):
            interval_end = first.add(days=d + 1)
            for source in sources:
                sims[source].set_clock(interval_end + CLOCK_LAG)
                run(dags[source], interval_end, f"ingest_{source}")
            t = time.monotonic()
            run(compute, interval_end, "compute_indicators")
            t_indicators += time.monotonic() - t
    t_runs = time.monotonic() - t0 - t_setup
    print_summary(settings, sources + ledgers, first, first.add(days=days))
    print_indicators(settings, first.add(days=days - 1).date())
    print(f"\nwall time {time.monotonic() - t0:.1f} s (set-up and Airflow start {t_setup:.1f} s, "
          f"{days} days x {len(sources)} source(s) {t_runs:.1f} s, of which compute_indicators {t_indicators:.1f} s)")
    overhead = {"days": days, "runs": spent["runs"], "wall": round(time.monotonic() - t0, 2),
                "setup_seconds": round(t_setup, 2), "runs_seconds": round(spent["run_seconds"], 2),
                "task_seconds": round(spent["task_seconds"], 2),
                "airflow_seconds": round(spent["run_seconds"] - spent["task_seconds"], 2)}
    print(f"airflow overhead: {json.dumps(overhead)}")
    print_report_and_cockpit(settings, first.date().replace(day=1))
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def print_report_and_cockpit(settings: Settings, month) -> None:
    """The month's 通报 (rendered now, 含初步数 while a source has not loaded the whole month) and
    how to open the cockpit."""
    from yhlaw.cockpit.browser import missing
    from yhlaw.cockpit.report import render_month

    print("\n== 月度通报 and 法治驾驶舱 ==")
    if missing():
        print(f"monthly report: not rendered, {' and '.join(missing())} missing (apt-get install -y {' '.join(missing())})")
    else:
        row = render_month(settings.warehouse_url, month, force=True, run_id="demo")
        print(f"monthly report {month:%Y-%m}{' (含初步数)' if row['provisional'] else ''}: {row['pdf_path']} "
              f"({row['pdf_pages']} pages)")
    print("cockpit: run `make cockpit`, then open http://127.0.0.1:8050/ (reads the marts as role dashboard)")


def print_indicators(settings: Settings, as_of) -> None:
    from yhlaw.indicators import latest_district_values

    with transaction(settings.warehouse_url) as conn, conn.cursor() as cur:
        rows = latest_district_values(conn, as_of=as_of)
        cur.execute("""SELECT md5(string_agg(concat_ws(',', indicator_code, grain, period_start, town_code, numerator,
                                                    denominator, value, target, meets_target), '|'
                                          ORDER BY indicator_code, grain, period_start, town_code)), count(*)
                       FROM mart.indicator_values""")
        mart_digest, mart_rows = cur.fetchone()
    print(f"\n== 指标: latest district (全区) monthly value up to {as_of} vs target ==")
    print(f"{'indicator':<36}{'month':>8}{'value':>10}  {'unit':<8}{'target':>7}  {'status':<17}name")
    for r in rows:
        value = "—" if r["value"] is None else f"{r['value']:.2f}"
        target = "—" if r["target"] is None else f"{r['target']:g}"
        status = ("no target stated" if r["target"] is None else "no data" if r["value"] is None
                  else "meets target" if r["meets_target"] else "below target")
        month = r["period_start"].strftime("%Y-%m") if r["period_start"] else "—"
        print(f"{r['indicator_code']:<36}{month:>8}{value:>10}  {r['unit']:<8}{target:>7}  {status:<17}{r['name_zh']}")
    print(f"\nmart checksum {mart_digest} ({mart_rows} indicator values): a rerun must print the same")


def print_summary(settings: Settings, sources: list[str], start, end) -> None:
    with transaction(settings.warehouse_url) as conn, conn.cursor() as cur:
        for source in sources:
            spec = load_spec(source)
            print(f"\n== {spec.title} ({source}) ==")
            cur.execute(
                """SELECT (interval_start AT TIME ZONE 'Asia/Shanghai')::date AS day, entity,
                          sum(received), sum(loaded), sum(quarantined), string_agg(DISTINCT status, ',')
                   FROM (SELECT DISTINCT ON (entity, interval_start) * FROM audit.batch
                         WHERE source = %s AND interval_end > %s AND interval_start < %s
                         ORDER BY entity, interval_start, landed_at DESC) b
                   GROUP BY 1, 2 ORDER BY 1, 2""",
                (source, start, end),
            )
            rows = cur.fetchall()
            print(f"{'day':<12}{'entity':<12}{'received':>9}{'loaded':>8}{'quarant.':>9}  status")
            totals = [0, 0, 0]
            for day, entity, rec, loaded, quar, status in rows:
                print(f"{day!s:<12}{entity:<12}{rec:>9}{loaded or 0:>8}{quar or 0:>9}  {status}")
                totals = [totals[0] + rec, totals[1] + (loaded or 0), totals[2] + (quar or 0)]
            print(f"{'total':<24}{totals[0]:>9}{totals[1]:>8}{totals[2]:>9}")
            cur.execute(
                """SELECT unnest(reasons) AS reason, count(*) FROM quarantine.record
                   WHERE source = %s GROUP BY 1 ORDER BY 2 DESC""", (source,))
            print("quarantine reasons: " + ", ".join(f"{r} {n}" for r, n in cur.fetchall()))
            tables = [e.table for e in spec.entities.values() if "town_code" in e.columns]
            if not tables:
                continue
            counts = {}
            for table in tables:
                cur.execute(sql.SQL("SELECT town_code, count(*) FROM {} GROUP BY 1").format(
                    sql.Identifier("core", table)))
                counts[table] = dict(cur.fetchall())
            cur.execute("SELECT town_code, town_name FROM core.dim_town WHERE in_district AND town_kind <> '区' ORDER BY town_code")
            print(f"\n{'镇街':<10}" + "".join(f"{t:>26}" for t in tables))
            for code, name in cur.fetchall():
                print(f"{name:<10}" + "".join(f"{counts[t].get(code, 0):>26}" for t in tables))
        sums = [table_checksum(conn, "core", f"{e.table}{v}") for s in sources
                for e in load_spec(s).entities.values() for v in ("", "_version")]
        digest = hashlib.md5(repr(sums).encode()).hexdigest()
        print(f"\ncore checksum {digest} ({sum(n for n, _ in sums)} rows): a rerun must print the same")
