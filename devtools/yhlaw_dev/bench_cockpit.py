"""The cockpit's speed: server time per page (its own ``Server-Timing`` header), on the demo's
warehouse and on the benchmark's 10M-record one, side by side with the named alternative a
cockpit without marts would be: the overview's numbers computed on request from ``core`` with
the catalog's own measure SQL for the same month.

The cockpit runs as it does in production (``python -m yhlaw.cockpit.server``, role dashboard,
a clean environment); each page is requested ``repeats`` times after two warm-up requests.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from typing import Any, Iterator

from yhlaw.settings import with_user
from yhlaw.warehouse import transaction
from yhlaw_dev.stack import wait_healthy

CODE = "enf_legal_review_rate"
PAGES = [("总览 (月度)", "/?grain=month"), ("总览 (年度)", "/?grain=year"), ("镇街排名", f"/towns?code={CODE}"),
         ("指标详情", f"/indicator/{CODE}"), ("案卷明细 (全区)", f"/cases/{CODE}"), ("数据质量", "/quality"),
         ("月度通报", "/reports")]


@contextmanager
def cockpit_server(url: str, port: int) -> Iterator[str]:
    from yhlaw.cockpit.server import DATABASE_ENV, clean_environment

    env = clean_environment({**os.environ, DATABASE_ENV: with_user(url, "dashboard")})
    proc = subprocess.Popen([sys.executable, "-m", "yhlaw.cockpit.server", "127.0.0.1", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base + "/healthz", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _timing(header: str) -> dict[str, float]:
    parts = (p.strip().split(";dur=") for p in header.split(","))
    return {name: float(ms) for name, ms in parts}


def time_page(base: str, path: str, repeats: int) -> dict[str, float]:
    totals, dbs = [], []
    for i in range(repeats + 2):
        with urllib.request.urlopen(base + path, timeout=60) as resp:
            resp.read()
            t = _timing(resp.headers["Server-Timing"])
        if i >= 2:
            totals.append(t["total"])
            dbs.append(t["db"])
    totals.sort()
    return {"median": statistics.median(totals), "p95": totals[min(len(totals) - 1, round(0.95 * len(totals)))],
            "max": totals[-1], "db_median": statistics.median(dbs)}


def latest_month(url: str):
    from yhlaw.cockpit import queries
    from yhlaw.cockpit.db import Mart

    mart = Mart(with_user(url, "dashboard"), maxconn=1)
    try:
        found = queries.periods(mart, "month")
    finally:
        mart.close()
    return found[0] if found else None


def live_overview_ms(url: str, month, repeats: int = 3) -> float:
    """The overview's numerators and denominators for one month straight from core (best of
    ``repeats``), with the engine's own measure queries."""
    from yhlaw.indicators import catalog
    from yhlaw.indicators.atoms import measure_query
    from yhlaw.indicators.months import month_params

    best = float("inf")
    for _ in range(repeats):
        with transaction(url) as conn, conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            started = time.perf_counter()
            for ind in catalog():
                for m in ind.measures:
                    # A median's value is per record: live, it is the ordered-set aggregate.
                    value = (f"percentile_cont(0.5) WITHIN GROUP (ORDER BY ({m.value}))" if ind.rollup == "median"
                             else m.value)
                    cur.execute(measure_query(cur, m, [(value, m.where)], "months"), month_params(ind, [month], None))
                    cur.fetchall()
            best = min(best, (time.perf_counter() - started) * 1000)
    return best


def bench_cockpit(urls: dict[str, str], *, repeats: int = 20, port: int = 28850, log=print) -> dict[str, Any]:
    """``urls``: warehouse label -> etl URL. Per warehouse: each page's server time, the live overview."""
    out: dict[str, Any] = {}
    for label, url in urls.items():
        month = latest_month(url)
        with cockpit_server(url, port) as base:
            pages = {name: time_page(base, path, repeats) for name, path in PAGES}
        with transaction(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM mart.indicator_values")
            values = cur.fetchone()[0]
        out[label] = {"month": str(month), "pages": pages, "values": values, "repeats": repeats,
                      "live_overview_ms": live_overview_ms(url, month) if month else None}
        worst = max(p["p95"] for p in pages.values())
        log(f"  cockpit on {label}: slowest page p95 {worst:.0f} ms; live overview from core "
            f"{out[label]['live_overview_ms'] or 0:.0f} ms")
    return out


def render_cockpit(r: dict[str, Any] | None) -> list[str]:
    L = ["", "## 6a. 法治驾驶舱: server time per page", ""]
    if not r:
        return L + ["Not run."]
    labels = list(r)
    L += ["Server time from each response's `Server-Timing` (`total`, of which `db` in PostgreSQL), "
          f"median and p95 of {r[labels[0]]['repeats']} requests after two warm-ups, the cockpit as its own process "
          "(role dashboard). Alternative: the overview's numbers computed on request from `core` with the "
          "catalog's measure SQL (what a cockpit without marts would run), same month.", "",
          "| page | " + " | ".join(f"{lb} median ms | {lb} p95 ms | {lb} db ms" for lb in labels) + " |",
          "|---|" + "---:|---:|---:|" * len(labels)]
    for name, _ in PAGES:
        cells = [f"{r[lb]['pages'][name]['median']:.1f} | {r[lb]['pages'][name]['p95']:.1f} | "
                 f"{r[lb]['pages'][name]['db_median']:.1f}" for lb in labels]
        L.append(f"| {name} | " + " | ".join(cells) + " |")
    for lb in labels:
        x = r[lb]
        overview = x["pages"]["总览 (月度)"]["median"]
        live = x["live_overview_ms"]
        ratio = f" = **{live / overview:,.0f}x** the overview page" if live and overview else ""
        L += ["", f"{lb} ({x['values']:,} rows in mart.indicator_values, month {x['month']}): overview computed "
              f"live from core {live:,.0f} ms{ratio}. Goal: every page < 300 ms."]
    return L


def warehouse_with_values(url: str) -> bool:
    try:
        with transaction(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT EXISTS (SELECT 1 FROM mart.indicator_values WHERE value IS NOT NULL)")
            return cur.fetchone()[0]
    except Exception:       # no such database, or not migrated: nothing to measure there
        return False
