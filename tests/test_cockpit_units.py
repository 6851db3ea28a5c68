"""The cockpit's logic without a server or a database: colours, periods and completeness, the
cards' comparisons, the generated mart views, the drill-down's reach, the process's environment,
the report's page count and lagging sources."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from yhlaw.cockpit import pages, periods, report, server, status
from yhlaw.cockpit.drilldown import listable
from yhlaw.indicators import catalog
from yhlaw.mart_views import (column_labels, entity_for_table, list_view_sql, listed_columns,
                              quarantine_view_sql, _entities)
from yhlaw.reference import town_rows

TZ = ZoneInfo("Asia/Shanghai")


def local(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=TZ)


@pytest.mark.parametrize("value, target, meets, direction, previous, expected", [
    (96, 95, True, "higher", None, "green"),
    (90, 95, False, "higher", None, "amber"),     # 5 below a target of 95: within 10% of it
    (85, 95, False, "higher", None, "red"),       # 10 below: more than 9.5
    (4.6, 5, False, "higher", None, "amber"),     # 法制审核人员配备率 ≥ 5%: 4.6 within 0.5
    (4.39, 5, False, "higher", None, "red"),
    (10.8, 10, False, "lower", None, "amber"),
    (14, 10, False, "lower", None, "red"),
    (24.5, None, None, "higher", 28.1, "amber"),  # no target, fell by more than 10% of itself
    (60.0, None, None, "higher", 62.6, "grey"),   # fell by 4%: no warning
    (30.0, None, None, "higher", 20.0, "grey"),
    (None, 95, None, "higher", 90, "nodata"),
])
def test_status_colours(value, target, meets, direction, previous, expected):
    assert status.status(value, target, meets, direction, previous) == expected


def test_numbers_and_changes_as_printed():
    assert status.fmt(Decimal("88.6811"), "%") == "88.68"
    assert status.fmt(Decimal("1234"), "件") == "1,234"
    assert status.fmt(Decimal("21.54"), "天") == "21.5"
    assert status.fmt(None, "%") == "—"
    assert status.fmt_change(Decimal("-3.614"), "%") == "−3.61个百分点"
    assert status.fmt_change(Decimal("2"), "件") == "+2"
    assert status.change_direction(Decimal("-0.5"), "lower") == "better"
    assert status.change_direction(Decimal("-0.5"), "higher") == "worse"


def test_period_labels_and_arithmetic():
    assert periods.label("month", date(2022, 3, 1)) == "2022年3月"
    assert periods.label("quarter", date(2022, 4, 1)) == "2022年第2季度"
    assert periods.label("year", date(2022, 1, 1)) == "2022年"
    assert periods.previous(date(2022, 1, 1), "month") == date(2021, 12, 1)
    assert periods.previous(date(2022, 1, 1), "quarter") == date(2021, 10, 1)
    assert periods.year_before(date(2022, 3, 1)) == date(2021, 3, 1)


def test_a_span_is_as_complete_as_its_least_complete_month():
    cover = pages.coverage([
        {"indicator_code": "x", "grain": "month", "period_start": date(2022, m, 1), "completeness": c}
        for m, c in ((1, "final"), (2, "provisional"), (3, "final"))])
    assert pages.completeness("x", "month", date(2022, 2, 1), cover) == "provisional"
    assert pages.completeness("x", "month", date(2022, 4, 1), cover) == "nodata"      # no value that month
    assert pages.ytd_completeness("x", "month", date(2022, 1, 1), cover) == "final"   # 年度累计 to January
    assert pages.ytd_completeness("x", "month", date(2022, 3, 1), cover) == "provisional"
    assert pages.ytd_completeness("x", "quarter", date(2022, 1, 1), cover) == "provisional"
    assert periods.least_complete(["final", "future", "partial"]) == "partial"
    assert periods.least_complete([]) == "nodata"


def _row(**over):
    row = {"indicator_code": "x", "name_zh": "某率", "area": "严格执法", "unit": "%", "direction": "higher",
           "target": Decimal("95"), "meets_target": False, "value": Decimal("90"), "previous_value": Decimal("80"),
           "last_year_value": Decimal("70")}
    return {**row, **over}


def test_a_card_does_not_compare_with_a_period_that_is_not_complete():
    marks = {date(2022, 2, 1): "partial", date(2022, 3, 1): "final", date(2022, 4, 1): "final"}
    cover = pages.coverage([{"indicator_code": "x", "grain": "month", "period_start": p, "completeness": c}
                            for p, c in marks.items()])
    card = pages.card(_row(), "month", date(2022, 4, 1), cover)
    assert (card["status"], card["change"], card["change_dir"]) == ("amber", 10.0, "better")
    assert card["completeness"] == "final"
    assert card["yoy"] is None and card["yoy_text"].startswith("不可比")     # 2021-04: not published
    assert card["ytd_partial"] is True                                       # February is partial
    early = pages.card(_row(), "month", date(2022, 3, 1), cover)
    assert early["change"] is None and early["change_text"].startswith("不可比")   # February is partial


def test_notable_changes_are_the_largest_relative_moves():
    cards = [{"change": 1.0, "previous_value": Decimal("100")}, {"change": -5.0, "previous_value": Decimal("10")},
             {"change": None, "previous_value": None}, {"change": 2.0, "previous_value": Decimal("0")}]
    assert [c["change"] for c in report.notable_changes(cards, limit=3)] == [2.0, -5.0, 1.0]


def test_tiles_place_each_of_the_twelve_towns_once():
    towns = [r["town_name"] for r in town_rows() if r["town_kind"] in ("街道", "镇") and r["in_district"] == "true"]
    assert sorted(towns) == sorted(pages.TILE_POSITIONS)
    assert len(set(pages.TILE_POSITIONS.values())) == 12


def test_list_views_hide_every_party_key_and_keep_core_names():
    for entity in _entities():
        cols = listed_columns(entity)
        hidden = {f.name for f in entity.fields if f.type == "party_key"}
        assert not hidden & set(cols)
        text = repr(list_view_sql(entity))
        assert all(h not in text for h in hidden)
        assert entity_for_table(f"core.{entity.table}") is entity
        assert set(column_labels(entity)) == set(cols)
        assert all(label and "," not in label for label in column_labels(entity).values())


def test_the_quarantine_view_covers_every_entity_and_no_payload_column():
    text = str(quarantine_view_sql(_entities()))
    for e in _entities():
        assert f"'{e.source}'" in text and f"'{e.name}'" in text
    assert "q.payload AS" not in text and "details" not in text


def test_drilldown_lists_only_single_table_measures():
    by_code = {i.code: i for i in catalog()}
    assert listable(by_code["enf_legal_review_rate"])
    for ind in catalog():
        if ind.denominator is not None and (ind.denominator.population or ind.denominator.table != ind.numerator.table):
            assert not listable(ind), ind.code


def test_the_cockpit_process_keeps_no_other_credential():
    env = {"WAREHOUSE_URL": "postgresql://etl@h/db", "WAREHOUSE_ADMIN_URL": "postgresql://postgres@h/db",
           "PII_HMAC_KEY": "k", "AIRFLOW_CONN_WAREHOUSE": "{}", "AIRFLOW__CORE__FERNET_KEY": "f",
           "SMTP_PASSWORD": "p", "SIM_TOKEN": "t", "PATH": "/usr/bin", "COCKPIT_DATABASE_URL": "postgresql://dashboard@h/db"}
    assert server.database_url(env) == "postgresql://dashboard@h/db"
    removed = server.strip_secrets(env)
    assert set(env) == {"PATH", "COCKPIT_DATABASE_URL"}
    assert "PII_HMAC_KEY" in removed
    assert server.database_url({"WAREHOUSE_URL": "postgresql://etl:pw@db:5432/yuhang_law"}) == \
        "postgresql://dashboard@db:5432/yuhang_law"


def test_pdf_page_count_reads_the_page_tree():
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >> endobj\n"
    pdf += b"".join(b"%d 0 obj << /Type /Page /Parent 2 0 R >> endobj\n" % n for n in (3, 4, 5))
    assert report.pdf_page_count(pdf) == 3


def test_a_month_lags_while_any_entity_has_not_loaded_to_its_end():
    rows = [{"source": "a", "entity": "x", "last_loaded_interval_end": local("2022-04-01 00:00")},
            {"source": "a", "entity": "y", "last_loaded_interval_end": local("2022-03-31 06:00")}]
    wanted = [("a", "x"), ("a", "y"), ("b", "z")]
    assert report.lagging_sources(rows, date(2022, 3, 1), wanted) == ["a.y", "b.z"]
    assert report.lagging_sources(rows, date(2022, 2, 1), wanted) == ["b.z"]


def test_the_server_starts_with_a_clean_environment_derived_from_the_warehouse():
    clean = server.clean_environment({"WAREHOUSE_URL": "postgresql://etl:pw@db/yuhang_law", "PII_HMAC_KEY": "k",
                                      "AIRFLOW_CONN_PII_HMAC": "{}", "LANG": "C.UTF-8"})
    assert clean == {"LANG": "C.UTF-8", "COCKPIT_DATABASE_URL": "postgresql://dashboard@db/yuhang_law"}


def test_list_views_mask_identifier_runs_in_free_text_but_not_the_key():
    entity = entity_for_table("core.enforcement_case")
    text = repr(list_view_sql(entity))
    assert "regexp_replace" in text
    key = entity.natural_key
    assert f"regexp_replace(Identifier('{key}')" not in text
    free = [f.name for f in entity.fields if f.type == "text" and f.name != key]
    assert free and all(f"Identifier('{name}')" in text for name in free)


def test_assets_without_npm_say_what_is_missing(tmp_path, monkeypatch):
    from yhlaw.cockpit import vendor

    monkeypatch.setattr(vendor.shutil, "which", lambda name: None)
    monkeypatch.setattr(vendor.os, "geteuid", lambda: 1000)          # not root: nothing is installed
    with pytest.raises(RuntimeError, match="apt-get install -y nodejs npm"):
        vendor.install_assets(tmp_path)
    assert not vendor.echarts_path(tmp_path).exists()


def test_the_browser_check_names_the_packages_it_lacks(monkeypatch):
    from yhlaw.cockpit import browser

    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    assert browser.missing() == ["chromium", "fonts-noto-cjk"]
    line = browser.browser_status(install=False)
    assert "MISSING chromium and fonts-noto-cjk" in line and "apt-get install -y chromium fonts-noto-cjk" in line
