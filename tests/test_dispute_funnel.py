"""mart.dispute_funnel (#17, deliverable 4): a few disputes through 诉前调, 调解, 民初 and 执,
delivered through the real loader, linked by core.refresh_dispute_links(), counted by hand; and
no person or record key in the view, so the dashboard may read it."""

from __future__ import annotations

import json
from datetime import date

import pytest

from test_indicators import A, d, delivered_world
from yhlaw.linkage import refresh_links
from yhlaw.warehouse import transaction

JAN, MAR = date(2022, 1, 1), date(2022, 3, 1)


def parties(*pairs: tuple[str, str]) -> str:
    return json.dumps([{"role": role, "party_type": "person", "party_key": key * 64} for role, key in pairs])


def mediations():
    base = dict(town_code=A, committee_type="行业性专业性", dispute_type="民间借贷纠纷")
    return [
        # M1: a court referral that failed, then filed as C1 (same referral number, same parties).
        dict(base, case_no="M1", case_source="诉前委派", result="不成功", accepted_on=d("2022-01-03"),
             closed_on=d("2022-01-10"), court_referral_no="(2022)浙0110民诉前调1号",
             parties=parties(("applicant", "1"), ("respondent", "2"))),
        # M2: a court referral settled: resolved there.
        dict(base, case_no="M2", case_source="诉前委派", result="成功", accepted_on=d("2022-01-05"),
             closed_on=d("2022-01-12"), court_referral_no="(2022)浙0110民诉前调2号",
             parties=parties(("applicant", "3"), ("respondent", "4"))),
        # M3 settled at a committee; M4 still open.
        dict(base, case_no="M3", case_source="当事人申请", result="成功", accepted_on=d("2022-01-06"),
             closed_on=d("2022-01-20"), parties=parties(("applicant", "5"), ("respondent", "6"))),
        dict(base, case_no="M4", case_source="当事人申请", accepted_on=d("2022-01-07"),
             parties=parties(("applicant", "7"), ("respondent", "8"))),
    ]


def court_cases():
    return [dict(case_no="(2022)浙0110民初1号", town_code=A, case_type="民事", procedure="一审", cause="民间借贷纠纷",
                 filed_on=d("2022-01-15"), closed_on=d("2022-02-20"), closing_manner="判决",
                 mediation_referral_no="(2022)浙0110民诉前调1号",
                 parties=parties(("plaintiff", "1"), ("defendant", "2"))),
            dict(case_no="(2022)浙0110执1号", town_code=A, case_type="执行", procedure="执行", cause="民间借贷纠纷",
                 filed_on=d("2022-03-01"), enforcement_basis_no="(2022)浙0110民初1号",
                 parties=parties(("enforcement_applicant", "1"), ("enforcement_respondent", "2")))]


@pytest.fixture(scope="module")
def world(settings):
    url = delivered_world(settings, "funnel_mart", [("mediation", "case", mediations),
                                                    ("courts", "case", court_cases)])[0]
    with transaction(url) as conn:
        refresh_links(conn)
    return url


def test_entered_resolved_and_passed_on_per_layer_by_hand(world):
    with transaction(world) as conn, conn.cursor() as cur:
        cur.execute("""SELECT month_start, layer, entered, passed_on, resolved_here, open
                       FROM mart.dispute_funnel WHERE town_code = %s ORDER BY 1, 2""", (A,))
        rows = {(m, layer): rest for m, layer, *rest in cur.fetchall()}
    assert rows == {(JAN, "诉前调"): [2, 1, 1, 0],     # M1 on to court, M2 settled
                    (JAN, "调解"): [2, 0, 1, 1],        # M3 settled, M4 open
                    (JAN, "民初"): [1, 1, 0, 0],        # C1 judged, then enforced
                    (MAR, "执"): [1, 0, 0, 1]}          # still running


def test_no_person_or_record_in_it_and_the_dashboard_reads_it(world):
    with transaction(world) as conn, conn.cursor() as cur:
        cur.execute("""SELECT column_name FROM information_schema.columns
                       WHERE table_schema = 'mart' AND table_name = 'dispute_funnel'""")
        assert {r[0] for r in cur.fetchall()} == {"month_start", "town_code", "layer", "entered", "passed_on",
                                                  "resolved_here", "repeated", "open"}
        cur.execute("SELECT has_table_privilege('dashboard', 'mart.dispute_funnel', 'SELECT')")
        assert cur.fetchone()[0]
