"""The 投资项目审批 indicators against a small hand-built dataset, every value worked out by hand
below, in a warehouse of its own; records go in through the real loader (staging -> store.merge)
as tests/test_indicators.py does. Towns: A = 五常街道, B = 仁和街道. Months: January and February 2022.
"""

from __future__ import annotations

from datetime import date

import pytest

from yhlaw.settings import with_database
from yhlaw.warehouse import transaction

from conftest import own_database
from test_indicators import d, delivered_world, t

A, B = "330110005000", "330110009000"
DISTRICT = "330110000000"
JAN, FEB, Q1 = date(2022, 1, 1), date(2022, 2, 1), date(2022, 1, 1)


def projects():
    g = dict(project_type="企业投资", management_type="备案", is_general=True, coded_at=t("2021-06-01 10:00"))
    return [
        dict(g, project_code="P1", town_code=A, is_industrial=True, completed_on=d("2022-01-20"), approval_days=60),
        dict(g, project_code="P2", town_code=A, is_industrial=False, completed_on=d("2022-01-25"), approval_days=95),
        # P3: exactly 80 days is within “最多80天”.
        dict(g, project_code="P3", town_code=B, is_industrial=True, completed_on=d("2022-02-10"), approval_days=80),
        # P4: 核准 (not 一般), P5: not completed, P6: completed but the platform gave no figure -- none counted.
        dict(g, project_code="P4", town_code=B, management_type="核准", is_general=False, is_industrial=False,
             completed_on=d("2022-02-12"), approval_days=30),
        dict(g, project_code="P5", town_code=B, is_industrial=False),
        dict(g, project_code="P6", town_code=A, is_industrial=False, completed_on=d("2022-02-28")),
    ]


def approvals():
    done = dict(result="准予许可")
    return [
        # P1 (industrial, A): X1 in 1 hour (0 days), X2 in 96 hours (2 working days), X7 still open.
        dict(done, case_no="X1", project_code="P1", town_code=A, stage="立项用地规划许可", approval_days=0,
             accepted_at=t("2022-01-05 09:00"), concluded_at=t("2022-01-05 10:00")),
        dict(done, case_no="X2", project_code="P1", town_code=A, stage="施工许可", approval_days=2,
             accepted_at=t("2022-01-06 09:00"), concluded_at=t("2022-01-10 09:00")),
        dict(case_no="X7", project_code="P1", town_code=A, stage="工程建设许可", accepted_at=t("2022-01-25 09:00")),
        # P2 (not industrial, A): 12 days.
        dict(done, case_no="X3", project_code="P2", town_code=A, stage="工程建设许可", approval_days=12,
             accepted_at=t("2022-01-03 09:00"), concluded_at=t("2022-01-20 09:00")),
        # P3 (industrial, B): X4 in 23 hours (within 24), X5 in 25 hours (not), X6 withdrawn (not counted).
        dict(done, case_no="X4", project_code="P3", town_code=B, stage="施工许可", approval_days=1,
             accepted_at=t("2022-02-07 09:00"), concluded_at=t("2022-02-08 08:00")),
        dict(done, case_no="X5", project_code="P3", town_code=B, stage="竣工验收", approval_days=1,
             accepted_at=t("2022-02-07 09:00"), concluded_at=t("2022-02-08 10:00")),
        dict(case_no="X6", project_code="P3", town_code=B, stage="竣工验收", approval_days=1, result="撤回",
             accepted_at=t("2022-02-08 09:00"), concluded_at=t("2022-02-09 09:00")),
        # X8: a 办件 whose project has not arrived: in the stage average, not in 小时制 (no project to say industrial).
        dict(done, case_no="X8", project_code="PX", town_code=B, stage="立项用地规划许可", approval_days=5,
             accepted_at=t("2022-02-07 09:00"), concluded_at=t("2022-02-15 09:00")),
    ]


@pytest.fixture(scope="module")
def world(settings):
    url, _, _ = delivered_world(settings, "inv_indicators", [("investment", "project", projects),
                                                              ("investment", "approval", approvals)])
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT indicator_code, grain, period_start, town_code, numerator, denominator, value
                       FROM mart.indicator_values WHERE indicator_code LIKE 'inv\\_%%'""")
        return {r[:4]: tuple(None if x is None else float(x) for x in r[4:]) for r in cur.fetchall()}


def expect(vals, code, grain, period, town, n, dd, scale=100):
    value = None if dd == 0 else pytest.approx(n / dd * scale, abs=1e-4)
    assert vals[(code, grain, period, town)] == (n, dd, value), (code, grain, period, town)


def test_general_projects_within_80_days(world):
    code = "inv_general_80day_rate"
    expect(world, code, "month", JAN, A, 1, 2)          # P1 60 ≤ 80, P2 95 > 80       -> 50
    expect(world, code, "month", FEB, B, 1, 1)          # P3 = 80 counts; P4 核准 not   -> 100
    expect(world, code, "month", FEB, A, 0, 0)          # P6 has no figure, P5 not completed -> NULL
    expect(world, code, "month", JAN, DISTRICT, 1, 2)
    expect(world, code, "quarter", Q1, DISTRICT, 2, 3)  # (1 + 1) / (2 + 1)
    expect(world, code, "year", Q1, B, 1, 1)


def test_stage_average_days(world):
    code = "inv_stage_avg_days"
    expect(world, code, "month", JAN, A, 14, 3, 1)      # X1 0 + X2 2 + X3 12 over 3 (X7 open)
    expect(world, code, "month", FEB, B, 7, 3, 1)       # X4 1 + X5 1 + X8 5 over 3 (X6 withdrawn)
    expect(world, code, "quarter", Q1, DISTRICT, 21, 6, 1)   # 21 / 6 = 3.5, weighted by items


def test_industrial_hourly_rate(world):
    code = "inv_industrial_hourly_rate"
    expect(world, code, "month", JAN, A, 1, 2)          # X1 1 h yes, X2 96 h no (X3: P2 not industrial)
    expect(world, code, "month", FEB, B, 1, 2)          # X4 23 h yes, X5 25 h no, X6 withdrawn, X8 no project
    expect(world, code, "quarter", Q1, DISTRICT, 2, 4)
    expect(world, code, "year", Q1, A, 1, 2)


def test_full_process_median_days(world, settings):
    """The median of the 一般企业投资项目 completed in the period: P1 60 and P2 95 (Jan A), P3 80
    (Feb B); P4 (核准) and P6 (no figure) are not counted. A quarter's is the median of all its
    projects (80), not the median of the months' medians (77.5 and 80)."""
    code = "inv_full_process_median_days"
    assert world[(code, "month", JAN, A)] == (None, 2, 77.5)
    assert world[(code, "month", FEB, B)] == (None, 1, 80)
    assert world[(code, "month", FEB, A)] == (None, 0, None)
    assert world[(code, "month", JAN, DISTRICT)] == (None, 2, 77.5)
    assert world[(code, "quarter", Q1, DISTRICT)] == (None, 3, 80)
    assert world[(code, "year", Q1, A)] == (None, 2, 77.5)
    url = with_database(settings.warehouse_url, own_database(settings, "inv_indicators"))
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT town_code, month_start, numerator, denominator, value, meets_target
                       FROM mart.indicator_values_ytd WHERE indicator_code = %s AND town_code IN (%s, %s)
                         AND month_start IN (%s, %s)""", (code, DISTRICT, B, JAN, FEB))
        ytd = {(r[0], r[1]): tuple(r[2:])
               for r in cur.fetchall()}
    assert ytd[(DISTRICT, FEB)] == (None, 3, 80, True)           # January to February: 60, 80, 95
    assert ytd[(B, JAN)] == (None, 0, None, None)
    assert ytd[(B, FEB)] == (None, 1, 80, True)
