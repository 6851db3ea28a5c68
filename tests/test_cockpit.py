"""The 法治驾驶舱 and the monthly 通报 on the real stack: a warehouse of its own loaded through the
real loader (the indicator tests' dataset), the cockpit as its own process connected as role
dashboard, Debian's Chromium driven by Playwright, the monthly_report DAG run by Airflow.

What a person sees is held to the marts: every number on the overview, the ranking, the trend,
the drill-down's totals (equal to the value's numerator and denominator), the quarantine counts.
Screenshots of every page are written to .local/screenshots/ (look at them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest

from yhlaw.cockpit.browser import chromium_path, missing
from yhlaw.cockpit.report import MonthNotComplete, pdf_page_count, render_month
from yhlaw.indicators import catalog
from yhlaw.cockpit.drilldown import listable
from yhlaw.paths import LOCAL_DIR
from yhlaw.reference import DISTRICT_CODE
from yhlaw.settings import postgres_connection, with_database, with_user
from yhlaw.warehouse import transaction

from conftest import TEST_SIM_BASE_PORT, own_database
from yhlaw_dev.stack import wait_healthy

pytestmark = pytest.mark.stack
SHOTS = LOCAL_DIR / "screenshots"
PORT = TEST_SIM_BASE_PORT + 70          # beside the test simulators (+0…, +50 the dirty one, +100… this module's own)
JANUARY, FEBRUARY, MARCH = date(2022, 1, 1), date(2022, 2, 1), date(2022, 3, 1)


REAL_DAY = "2022-03-06"


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reports")


def own_environment(world, reports: Path) -> dict[str, str]:
    """The environment of this module's warehouse for a harness process: its own simulators,
    Airflow metadata DB and reports folder (none of the test session's Airflow settings: one
    metadata DB holds one warehouse's Assets)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW") and k not in ("WAREHOUSE_ADMIN_URL", "COCKPIT_DATABASE_URL")}
    return {**env, "WAREHOUSE_URL": world.warehouse_url, "SIM_BASE_PORT": str(TEST_SIM_BASE_PORT + 100),
            "REPORTS_DIR": str(reports), "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}


def harness(world, reports: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "yhlaw_dev", *args], env=own_environment(world, reports),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"yhlaw_dev {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def world(settings, reports):
    """A warehouse of its own: the indicator tests' dataset on 03-02; one real day (03-06) of
    every simulated source through its ingest DAG and compute_indicators (`make demo` for one
    day, with its own simulators and Airflow metadata DB: dirty records, quarantine, all 12
    镇街); every entity loaded daily through February and 03-03 … 03-05 (nothing changed);
    indicators refreshed. February is complete (终值), March 初步数, January 不完整."""
    from test_indicators import DATASET, Deliveries, t

    from yhlaw import indicators
    from yhlaw.bootstrap import prepare_warehouse
    from yhlaw.spec import load_spec, source_names

    if missing():
        pytest.fail(f"the browser tests need {' and '.join(missing())}: apt-get install -y {' '.join(missing())}")
    own = replace(settings, warehouse_url=with_database(settings.warehouse_url, own_database(settings, "cockpit")))
    mp = pytest.MonkeyPatch()
    mp.delenv("WAREHOUSE_ADMIN_URL", raising=False)
    prepare_warehouse(own, recreate=True)
    mp.undo()
    deliveries = Deliveries(own.warehouse_url)
    for source, entity, rows in DATASET:
        deliveries.deliver(source, entity, rows(), t("2022-03-02 00:00"))
    harness(own, reports, "demo", "--days", "1", "--start", REAL_DAY)
    # The quiet days after the real one: as its history they would make the batch checks reject
    # a normal day's volume (a median of 0).
    quiet = [t("2022-02-01 00:00") + timedelta(days=d) for d in range(29)] + \
        [t("2022-03-03 00:00") + timedelta(days=d) for d in range(3)]
    in_dataset = {(source, entity) for source, entity, _ in DATASET}
    for source in source_names():          # every entity: 03-02 too where the dataset brought none
        for entity in load_spec(source).entities:
            extra = [] if (source, entity) in in_dataset else [t("2022-03-02 00:00")]
            for start in quiet + extra:
                deliveries.deliver(source, entity, [], start)
    with transaction(own.warehouse_url) as conn:
        indicators.refresh(conn, trigger="test")
    return own


@pytest.fixture(scope="module")
def cockpit(world, reports):
    """`python -m yhlaw cockpit` as its own process, with secrets in the environment it starts from."""
    env = {**os.environ, "WAREHOUSE_URL": world.warehouse_url, "PII_HMAC_KEY": "not-for-the-cockpit",
           "AIRFLOW_CONN_WAREHOUSE": json.dumps(postgres_connection(world.warehouse_url)), "REPORTS_DIR": str(reports)}
    env.pop("COCKPIT_DATABASE_URL", None)
    log_path = reports.parent / "cockpit.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "yhlaw", "cockpit", "--port", str(PORT)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{PORT}"
    try:
        wait_healthy(base + "/healthz", proc)
    except RuntimeError as exc:
        proc.kill()
        pytest.fail(f"the cockpit {exc}:\n{log_path.read_text()[-3000:]}")
    yield base, proc
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    pg.close()
    assert not errors, f"the page logged errors: {errors}"


def open_page(page, base: str, path: str, shot: str | None):
    response = page.goto(base + path)
    assert response.status == 200, f"{path}: {response.status}"
    assert "db;dur=" in response.headers["server-timing"]
    page.wait_for_load_state("networkidle")
    if shot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"cockpit-{shot}.png"), full_page=True)
        assert (SHOTS / f"cockpit-{shot}.png").stat().st_size > 20_000
    return response


def mart_rows(url: str, query: str, params=()) -> list[tuple]:
    with psycopg2.connect(with_user(url, "dashboard")) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def number(text: str) -> Decimal | None:
    return Decimal(text) if text != "" else None


def test_overview_shows_every_indicator_as_the_marts_hold_it(cockpit, world, page):
    base, _ = cockpit
    open_page(page, base, f"/?grain=month&period={MARCH}", "overview")
    shown = {tr.get_attribute("data-code"): number(tr.query_selector("td.value").get_attribute("data-value"))
             for tr in page.query_selector_all("#overview tr[data-code]")}
    marts = dict(mart_rows(world.warehouse_url, """SELECT c.indicator_code, v.value FROM mart.indicator_catalog c
        LEFT JOIN mart.indicator_values v ON v.indicator_code = c.indicator_code AND v.grain = 'month'
             AND v.period_start = %s AND v.town_code = %s""", (MARCH, DISTRICT_CODE)))
    assert shown == marts
    assert len(shown) == len(catalog())
    counts = {el.get_attribute("data-status"): int(el.get_attribute("data-count"))
              for el in page.query_selector_all("#summary .pill")}
    assert sum(counts.values()) == len(shown)

    def marks_shown_and_in_the_marts(month):
        shown = {tr.get_attribute("data-code"): tr.get_attribute("data-completeness")
                 for tr in page.query_selector_all("#overview tr[data-code]")}
        held = dict(mart_rows(world.warehouse_url, """SELECT indicator_code, completeness
            FROM mart.indicator_period_status WHERE grain = 'month' AND period_start = %s""", (month,)))
        assert shown == {code: held.get(code, "nodata") for code in shown}   # the cockpit says what the marts say
        return held

    assert set(marks_shown_and_in_the_marts(MARCH).values()) == {"provisional"}     # loaded to its first days only
    open_page(page, base, f"/?grain=month&period={FEBRUARY}", "overview-february")
    # February is loaded to its end: final, but for the indicators with an observation window
    # after the month (a repeat petition within 90 days), which stay 观察期内 until May has loaded.
    observed = {i.code for i in catalog() if i.lookback_months}
    february = marks_shown_and_in_the_marts(FEBRUARY)
    assert observed & february.keys()
    assert february == {code: "settling" if code in observed else "final" for code in february}
    open_page(page, base, f"/?grain=month&period={JANUARY}", "overview-january")
    assert set(marks_shown_and_in_the_marts(JANUARY).values()) == {"partial"}


def test_towns_ranking_and_tile_map(cockpit, world, page):
    base, _ = cockpit
    code = "enf_legal_review_rate"
    open_page(page, base, f"/towns?code={code}&grain=month&period={MARCH}", "towns")
    shown = {tr.get_attribute("data-town"): (number(tr.query_selector("td.value").get_attribute("data-value")),
                                             tr.get_attribute("data-rank"))
             for tr in page.query_selector_all("#ranking tbody tr")}
    marts = {t.strip(): (v, "" if r is None else str(r)) for t, v, r in mart_rows(world.warehouse_url, """
        SELECT town_code, value, rank_all FROM mart.indicator_ranking
        WHERE indicator_code = %s AND grain = 'month' AND period_start = %s""", (code, MARCH))}
    assert shown == marts and len(shown) == 12
    assert page.evaluate("document.documentElement.dataset.chartsReady") == "1"
    ranked = sum(1 for v, _ in shown.values() if v is not None)
    assert ranked >= 3
    assert page.locator("#tile-map svg path").count() >= ranked       # a tile per 镇街 with a value
    labels = " ".join(page.locator("#tile-map svg text").all_text_contents())
    names = [n for n, in mart_rows(world.warehouse_url, """SELECT town_name FROM mart.dim_town
                                                          WHERE in_district AND town_kind IN ('街道', '镇')""")]
    assert len(names) == 12 and all(n in labels for n in names)        # a tile for every 镇街, with or without a value


def test_indicator_trend_breakdowns_and_definition(cockpit, world, page):
    base, _ = cockpit
    code = "enf_legal_review_rate"
    open_page(page, base, f"/indicator/{code}?grain=month&period={MARCH}", "indicator")
    shown = {tr.get_attribute("data-period"): number(tr.query_selector("td.value").get_attribute("data-value"))
             for tr in page.query_selector_all("#trend-table tbody tr")}
    marts = {p.isoformat(): v for p, v in mart_rows(world.warehouse_url, """SELECT period_start, value
        FROM mart.indicator_values WHERE indicator_code = %s AND grain = 'month' AND town_code = %s""",
                                                     (code, DISTRICT_CODE))}
    assert shown == marts
    assert page.locator("#trend svg path").count() >= 2
    assert page.locator("table.breakdown[data-dimension='dept_code'] tbody tr").count() >= 1
    assert "法制审核" in page.locator("dl.defn").inner_text()
    # The 口径 as the catalog states it: every key of the definition's caliber, word for word.
    caliber = {c.code: c.caliber for c in catalog()}[code]
    shown_caliber = {dd.get_attribute("data-key"): dd.inner_text() for dd in page.query_selector_all("dd.caliber")}
    assert shown_caliber == caliber
    page.click("#trend-tabs button[data-series='ytd']")
    assert page.locator("#trend-tabs button.on").get_attribute("data-series") == "ytd"


@pytest.mark.parametrize("town", [DISTRICT_CODE, "330110005000"])
def test_case_lists_add_up_to_the_values_they_explain(cockpit, world, page, town):
    base, _ = cockpit
    values = {c: (n, d) for c, n, d in mart_rows(world.warehouse_url, """SELECT indicator_code, numerator, denominator
        FROM mart.indicator_values WHERE grain = 'month' AND period_start = %s AND town_code = %s""", (MARCH, town))}
    checked = 0
    for ind in catalog():
        counted = ind.numerator.value == "count(*)" and (ind.denominator is None or ind.denominator.value == "count(*)")
        if not (listable(ind) and counted and ind.code in values and "month" in ind.grains):
            continue
        shot = f"cases-{town}" if ind.code == "enf_legal_review_rate" else None
        open_page(page, base, f"/cases/{ind.code}?grain=month&period={MARCH}&town={town}", shot)
        if page.locator("#no-listing").count():
            continue
        totals = page.locator("#totals")
        num, den = values[ind.code]
        expected = (int(den), int(num)) if ind.denominator else (int(num), int(num))
        assert (int(totals.get_attribute("data-total")), int(totals.get_attribute("data-counted"))) == expected, ind.code
        rows = page.locator("#cases tbody tr")
        assert rows.count() == min(expected[0], 500)
        checked += 1
    assert checked >= 5
    text = page.content()
    assert "party_key" not in text


@pytest.mark.parametrize("path, status", [("/indicator/no_such_code", 404), ("/?grain=week", 400),
                                          ("/?period=March", 400), ("/?town=330110999000", 404),
                                          ("/cases/gov_litigation_per_10k", 404), ("/reports/2022-13.pdf", 400)])
def test_bad_requests_get_a_page_not_a_trace(cockpit, path, status):
    base, _ = cockpit
    try:
        urllib.request.urlopen(base + path)
        raise AssertionError(f"{path} answered 200")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        assert exc.code == status
        assert 'id="error"' in body and "Traceback" not in body


def test_data_quality_page_counts_what_was_quarantined(cockpit, world, page):
    base, _ = cockpit
    open_page(page, base, "/quality", "quality")
    shown = sum(int(td.get_attribute("data-value")) for td in page.query_selector_all("#quarantine td.records"))
    with transaction(world.admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM quarantine.record, unnest(reasons)")
        reasons = cur.fetchone()[0]
        cur.execute("SELECT count(DISTINCT (source, entity)) FROM audit.batch")
        entities = cur.fetchone()[0]
    assert shown == reasons
    assert page.locator("#freshness tbody tr").count() == entities
    stale = sum(int(td.get_attribute("data-value")) for td in page.query_selector_all("#stale td.stale"))
    assert stale == sum(n for n, in mart_rows(world.warehouse_url, "SELECT stale_rows FROM mart.stale_rows"))


def test_free_text_in_the_list_views_hides_identifier_runs(world):
    from yhlaw.mart_views import masked
    from psycopg2 import sql

    with transaction(world.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT {}").format(masked(sql.Literal("当事人330110199001011234 电话13812345678 (2022)浙0110民初1234号"))))
        assert cur.fetchone()[0] == "当事人＊＊＊ 电话＊＊＊ (2022)浙0110民初1234号"


def test_the_cockpit_reads_nothing_outside_mart(cockpit, world):
    _, proc = cockpit
    with open(f"/proc/{proc.pid}/environ", "rb") as f:
        environ = f.read().decode(errors="replace")
    for secret in ("PII_HMAC_KEY", "AIRFLOW_CONN_", "WAREHOUSE_URL", "not-for-the-cockpit"):
        assert secret not in environ
    with transaction(world.admin_url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT table_schema, table_name FROM information_schema.tables
                       WHERE table_schema IN ('raw', 'staging', 'core', 'quarantine', 'audit')""")
        outside = cur.fetchall()
    assert len(outside) > 20
    conn = psycopg2.connect(with_user(world.warehouse_url, "dashboard"))
    conn.autocommit = True
    try:
        for schema, table in outside:
            with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(f'SELECT 1 FROM "{schema}"."{table}" LIMIT 1')
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("INSERT INTO mart.monthly_report (month_start, html_path, pdf_path, html_sha256, pdf_sha256, "
                        "pdf_pages, indicators, provisional) VALUES ('2022-01-01', '', '', '', '', 1, 0, false)")
    finally:
        conn.close()


def test_monthly_report_dag_renders_a_complete_month(world, reports, cockpit, page):
    out = harness(world, reports, "run", "--dag", "monthly_report", "--interval-end", "2022-03-01T00:00:00+08:00")
    assert "monthly_report for the interval ending 2022-03-01T00:00:00+08:00: success" in out
    (month, pdf, pages, sha, provisional), = mart_rows(world.warehouse_url, """SELECT month_start, pdf_path, pdf_pages,
        pdf_sha256, provisional FROM mart.monthly_report WHERE month_start = %s""", (FEBRUARY,))
    assert (month, provisional) == (FEBRUARY, False)       # February: loaded to March
    data = Path(pdf).read_bytes()
    assert Path(pdf).is_relative_to(reports / "2022-02")
    assert data.startswith(b"%PDF") and pdf_page_count(data) == pages
    assert pages >= 4              # the headline table, then 目标/排名, 变化/数据质量, 口径 each from a new page
    html = Path(pdf).with_suffix(".html").read_text(encoding="utf-8")
    assert "余杭区法治建设月度通报" in html and "含初步数" not in html
    assert '<span class="prov">观察期内</span>' in html   # 初信初访一次性化解率: May has not loaded

    base, _ = cockpit
    open_page(page, base, "/reports", "reports")
    assert page.locator("#reports tr[data-month='2022-02']").count() == 1
    served = urllib.request.urlopen(f"{base}/reports/2022-02.pdf").read()
    import hashlib
    assert hashlib.sha256(served).hexdigest() == sha


def test_an_incomplete_month_is_refused_or_marked_provisional(world, reports):
    with pytest.raises(MonthNotComplete):
        render_month(world.warehouse_url, MARCH, out_dir=reports)
    row = render_month(world.warehouse_url, MARCH, force=True, out_dir=reports)
    assert row["provisional"] is True
    html = Path(row["html_path"]).read_text(encoding="utf-8")
    assert 'id="provisional"' in html
    assert "执法力量台账" in html.split('id="lagging"')[1].split("</span>")[0]     # the ledgers: loaded to 03-06 only
    # `make demo` ends the same way: its month's 通报, marked 含初步数.
    assert mart_rows(world.warehouse_url, "SELECT provisional FROM mart.monthly_report WHERE dag_run_id = 'demo'") \
        == [(True,)]
