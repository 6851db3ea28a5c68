"""The 诉源治理 funnel indicators that read a second system's records (#17, deliverable 4):
回流率 (a failed 诉前调 followed by a 民初) and 自动履行率 (a judgment without an 执行), worked
out by hand; and a record of the other system arriving months later changes the earlier month in
an incremental refresh exactly as a full rebuild does (``depends_on`` with ``lookback_months``)."""

from __future__ import annotations

import pytest

from test_indicators import A, B, DISTRICT, FEB, JAN, Q1, approx, d, delivered_world, t, v, values
from yhlaw import indicators as ind
from yhlaw.warehouse import transaction

RETURN, PERFORMED = "gov_prelitigation_return_rate", "court_voluntary_performance_rate"


def referral(n: int) -> str:
    return f"(2022)浙0110民诉前调{n}号"


def mediations():
    base = dict(case_source="诉前委派", result="不成功", committee_type="行业性专业性", accepted_on=d("2022-01-03"))
    return [dict(base, case_no="M1", town_code=A, closed_on=d("2022-01-10"), court_referral_no=referral(1)),
            dict(base, case_no="M2", town_code=A, closed_on=d("2022-01-20"), court_referral_no=referral(2)),
            dict(base, case_no="M3", town_code=B, closed_on=d("2022-02-05"), court_referral_no=referral(3)),
            dict(base, case_no="M4", town_code=A, closed_on=d("2022-01-12"), court_referral_no=referral(4),
                 result="成功"),
            dict(base, case_no="M5", town_code=A, closed_on=d("2022-01-13"), case_source="当事人申请")]


def civil(no: int, town: str, **kw) -> dict:
    return dict(case_no=f"(2022)浙0110民初{no}号", town_code=town, case_type="民事", procedure="一审", **kw)


def enforcement(no: int, basis: str, filed: str) -> dict:
    return dict(case_no=f"(2022)浙0110执{no}号", town_code=A, case_type="执行", procedure="执行",
                filed_on=d(filed), enforcement_basis_no=basis)


def court_cases():
    return [
        # 回流: K1 after M1 (its number typed with full-width brackets); K3 after M3 but 7 months on.
        civil(1, A, filed_on=d("2022-01-15"), mediation_referral_no="（2022）浙0110民诉前调1号"),
        civil(3, B, filed_on=d("2022-09-01"), mediation_referral_no=referral(3)),
        # 自动履行: J10 judged, enforced on 03-01 (the basis with a stray space); J11 settled, not
        # enforced; J12 judged in Feb, enforced only after 6 months; J13 withdrawn (not counted).
        civil(10, A, filed_on=d("2021-11-01"), closed_on=d("2022-01-20"), closing_manner="判决"),
        civil(11, A, filed_on=d("2021-11-02"), closed_on=d("2022-01-25"), closing_manner="调解"),
        dict(civil(12, B, filed_on=d("2021-12-01"), closed_on=d("2022-02-10"), closing_manner="判决"), case_type="商事"),
        civil(13, B, filed_on=d("2021-12-02"), closed_on=d("2022-02-11"), closing_manner="撤诉"),
        enforcement(1, "(2022)浙0110民初10号 ", "2022-03-01"),
        enforcement(2, "(2022)浙0110民初12号", "2022-10-01"),
    ]


@pytest.fixture(scope="module")
def world(settings):
    return delivered_world(settings, "funnel", [("mediation", "case", mediations), ("courts", "case", court_cases)])


def test_return_and_voluntary_performance_by_hand(world):
    vals = values(world[0])
    assert v(vals, RETURN, "month", JAN, A) == approx(1, 2, 50)          # M1 returned; M2 not (yet)
    assert v(vals, RETURN, "month", FEB, B) == approx(0, 1, 0)           # M3: K3 came 7 months later
    assert v(vals, RETURN, "quarter", Q1, DISTRICT) == approx(1, 3, 100 / 3)
    assert v(vals, PERFORMED, "month", JAN, A) == approx(1, 2, 50)       # J11 yes, J10 enforced
    assert v(vals, PERFORMED, "month", FEB, B) == approx(1, 1, 100)      # J12 enforced after 6 months
    assert v(vals, PERFORMED, "quarter", Q1, DISTRICT) == approx(2, 3, 200 / 3)


def test_a_later_case_of_the_other_system_changes_the_earlier_month_as_a_rebuild_does(world):
    url, deliveries, _ = world
    # In March: K2 is filed after M2's failure, and J11's settlement is enforced after all.
    deliveries.deliver("courts", "case", [civil(2, A, filed_on=d("2022-03-01"), mediation_referral_no=referral(2)),
                                          enforcement(3, "(2022)浙0110民初11号", "2022-03-02")],
                       t("2022-03-03 00:00"))
    with transaction(url) as conn:
        result = ind.refresh(conn, trigger="test funnel")
    incremental = values(url)
    assert v(incremental, RETURN, "month", JAN, A) == approx(2, 2, 100)
    assert v(incremental, PERFORMED, "month", JAN, A) == approx(0, 2, 0)
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT touched FROM audit.indicator_refresh WHERE refresh_id = %s", (result["refresh_id"],))
        touched = cur.fetchone()[0]
    assert "2022-01" in touched[RETURN] and "2022-01" in touched[PERFORMED]
    with transaction(url) as conn:
        ind.refresh(conn, full=True, trigger="test funnel rebuild")
    rebuilt = values(url)
    assert {k: x for k, x in rebuilt.items() if k[0] in (RETURN, PERFORMED)} == \
        {k: x for k, x in incremental.items() if k[0] in (RETURN, PERFORMED)}
