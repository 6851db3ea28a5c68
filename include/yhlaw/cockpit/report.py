"""The monthly 通报: one month's headline indicators, targets met and missed, the 镇街 ranking,
notable changes, the data-quality disclosure and the 口径 notes; HTML from the cockpit's
templates, PDF printed by headless Chromium, both kept under ``.local/reports/YYYY-MM/`` and
recorded in ``mart.monthly_report``.

A month is complete when every source entity has loaded up to the month's end (local
midnight); rendered before that (``force``), the report says 初步数 on its cover.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

from psycopg2 import sql

from yhlaw import paths
from yhlaw.cockpit import pages, periods, queries, status
from yhlaw.cockpit.browser import chromium_path
from yhlaw.cockpit.db import Mart
from yhlaw.indicators.definitions import spec_tables
from yhlaw.indicators.months import add_months
from yhlaw.warehouse import transaction

NOTABLE = 8          # changes listed under 显著变化


def reports_dir() -> Path:
    """Where the reports are kept (``REPORTS_DIR``; default ``.local/reports``)."""
    return Path(os.environ.get("REPORTS_DIR", paths.LOCAL_DIR / "reports"))


class MonthNotComplete(RuntimeError):
    """A source has not loaded the whole month yet."""


def lagging_sources(freshness_rows: list[dict], month: date, entities: list[tuple[str, str]] | None = None) -> list[str]:
    """Source entities (default: every entity of every spec) that have not loaded up to the
    month's end; one that never loaded anything is lagging too."""
    end = periods.local_midnight(add_months(month, 1))
    loaded = {(r["source"], r["entity"]): r["last_loaded_interval_end"] for r in freshness_rows}
    wanted = entities if entities is not None else sorted(spec_tables())
    return [f"{s}.{e}" for s, e in wanted if loaded.get((s, e)) is None or loaded[(s, e)] < end]


def notable_changes(cards: list[dict], limit: int = NOTABLE) -> list[dict]:
    """The largest relative changes on the previous month (from 0, any change comes first)."""
    def weight(c: dict) -> float:
        prev = c["previous_value"]
        return abs(c["change"]) / abs(float(prev)) if prev else float("inf")
    moved = [c for c in cards if c["change"] not in (None, 0.0)]
    return sorted(moved, key=weight, reverse=True)[:limit]


def town_summary(cards: list[dict], ranking_rows: list[dict]) -> list[dict]:
    """Per indicator published per 镇街: best and last 镇街, and how many miss the target."""
    by_code: dict[str, list[dict]] = {}
    for r in ranking_rows:
        if r["rank_all"] is not None:
            by_code.setdefault(r["indicator_code"], []).append(r)
    out = []
    for c in cards:
        ranked = by_code.get(c["indicator_code"])
        if ranked:
            out.append({"card": c, "best": ranked[0], "last": ranked[-1], "ranked": len(ranked),
                        "missing": sum(1 for r in ranked if r["meets_target"] is False)})
    return out


def context(mart: Mart, month: date) -> dict:
    freshness = queries.freshness(mart)
    cover = pages.coverage(queries.period_status(mart))
    cards = [pages.card(r, "month", month, cover) for r in queries.overview(mart, "month", month)]
    lagging = lagging_sources(freshness, month)
    return {"month": month, "label": periods.label("month", month), "cards": cards,
            "counts": pages.status_counts(cards), "ytd": queries.ytd_at(mart, month),
            "met": [c for c in cards if c["status"] == "green"],
            "missed": [c for c in cards if c["status"] in ("red", "amber") and c["target"] is not None],
            "towns": town_summary(cards, queries.ranking_all(mart, "month", month)),
            "changes": notable_changes(cards), "freshness": freshness, "lagging": lagging,
            "quarantine": queries.quarantined_between(mart, month, add_months(month, 1)),
            "provisional": bool(lagging) or any(c["completeness"] == "provisional" for c in cards),
            "generated_at": datetime.now(timezone.utc)}


def render_html(ctx: dict) -> str:
    from yhlaw.cockpit.app import TEMPLATES

    return TEMPLATES.env.get_template("report.html").render(**ctx, fmt=status.fmt)


def print_pdf(html_path: Path, pdf_path: Path) -> None:
    """Headless Chromium prints the HTML (A4, the page's own @page rules, no header or footer)."""
    chromium = chromium_path()
    if chromium is None:
        raise RuntimeError("printing the 通报 needs Chromium: apt-get install -y chromium fonts-noto-cjk")
    with tempfile.TemporaryDirectory(prefix="yhlaw-chromium-") as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                        f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path}", html_path.as_uri()],
                       check=True, capture_output=True, timeout=120)
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no PDF for {html_path.name}")


def pdf_page_count(pdf: bytes) -> int:
    """Pages of a PDF as its page tree counts them (Chromium writes no object streams)."""
    counts = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(n) for n in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    return max(counts) if counts else len(re.findall(rb"/Type\s*/Page\b", pdf))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render_month(warehouse_url: str, month: date, *, force: bool = False, run_id: str | None = None,
                 out_dir: Path | None = None) -> dict:
    """Render and record one month's 通报; refuses an incomplete month unless ``force``."""
    mart = Mart(warehouse_url, maxconn=2)
    try:
        ctx = context(mart, month)
    finally:
        mart.close()
    if ctx["lagging"] and not force:
        raise MonthNotComplete(f"{month:%Y-%m} is not complete: {', '.join(ctx['lagging'])} not loaded to its end")
    folder = (out_dir or reports_dir()) / f"{month:%Y-%m}"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"yuhang-monthly-report-{month:%Y-%m}-{ctx['generated_at']:%Y%m%dT%H%M%S}"
    html_path, pdf_path = folder / f"{stem}.html", folder / f"{stem}.pdf"
    html_path.write_text(render_html(ctx), encoding="utf-8")
    print_pdf(html_path, pdf_path)
    row = {"month_start": month, "rendered_at": ctx["generated_at"], "html_path": str(html_path),
           "pdf_path": str(pdf_path), "html_sha256": _sha256(html_path), "pdf_sha256": _sha256(pdf_path),
           "pdf_pages": pdf_page_count(pdf_path.read_bytes()), "indicators": len(ctx["cards"]),
           "provisional": ctx["provisional"], "dag_run_id": run_id}
    with transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO mart.monthly_report ({}) VALUES ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, row)), sql.SQL(", ").join(sql.Placeholder() * len(row))),
            list(row.values()))
    return row
