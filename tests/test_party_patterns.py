"""mart.party_pattern_by_town (#17, deliverable 5): patterns about people as counts per 镇街 and
year, worked out by hand on a few court cases delivered through the real loader; and no person in
it, so the dashboard may read it."""

from __future__ import annotations

import json

import pytest

from test_indicators import A, B, d, delivered_world
from yhlaw.warehouse import transaction

LENDER, SMALL_LENDER, APPELLANT, DEFENDANT = "a" * 64, "b" * 64, "c" * 64, "d" * 64


def party(role: str, key: str) -> dict:
    return {"role": role, "party_type": "person", "party_key": key}


def cases():
    n = iter(range(1, 100))

    def suit(key, filed, town=A, case_type="民事", cause="民间借贷纠纷", procedure="一审", role="plaintiff"):
        other = party("defendant" if role == "plaintiff" else "plaintiff", f"{next(n):064d}")
        parties = [party(role, key), other] if role == "plaintiff" else [other, party(role, key)]
        return dict(case_no=f"P{next(n)}", town_code=town, filed_on=d(filed), case_type=case_type, cause=cause,
                    procedure=procedure, parties=json.dumps(parties))
    return [
        # LENDER: 2 suits in 2021 (one in B), 3 in 2022 (the last in A): 5 in 2021-2022, 2 in 2020-2021.
        suit(LENDER, "2021-03-01", B), suit(LENDER, "2021-09-01"), suit(LENDER, "2022-01-10"),
        suit(LENDER, "2022-02-10"), suit(LENDER, "2022-06-01"),
        # An appeal (二审) does not count, nor a suit of another cause.
        suit(LENDER, "2022-06-02", procedure="二审"), suit(LENDER, "2022-06-03", cause="买卖合同纠纷"),
        # SMALL_LENDER: 4 suits, under the threshold.
        *[suit(SMALL_LENDER, f"2022-0{m}-01") for m in (1, 2, 3, 4)],
        # Sued 6 times for 民间借贷 (a defendant): no pattern.
        *[suit(DEFENDANT, f"2022-0{m}-05", role="defendant") for m in range(1, 7)],
        # 行政: 3 first-instance suits by the same plaintiff in 2022, in B.
        *[suit(APPELLANT, f"2022-0{m}-15", B, case_type="行政", cause="行政处罚") for m in (3, 4, 5)],
    ]


@pytest.fixture(scope="module")
def world(settings):
    return delivered_world(settings, "party_patterns", [("courts", "case", cases)])[0]


def test_counts_per_town_and_year_by_hand(world):
    with transaction(world) as conn, conn.cursor() as cur:
        cur.execute("SELECT year, town_code, pattern, parties, suits FROM mart.party_pattern_by_town ORDER BY 1, 2, 3")
        rows = cur.fetchall()
    assert rows == [(2022, A, "民间借贷高频原告 (两年内5件以上, 疑似职业放贷)", 1, 5),
                    (2022, B, "行政诉讼高频原告 (两年内3件以上)", 1, 3)]


def test_no_person_in_it_and_the_dashboard_reads_it(world):
    with transaction(world) as conn, conn.cursor() as cur:
        cur.execute("""SELECT column_name FROM information_schema.columns
                       WHERE table_schema = 'mart' AND table_name = 'party_pattern_by_town'""")
        assert {r[0] for r in cur.fetchall()} == {"year", "town_code", "pattern", "parties", "suits"}
        cur.execute("SELECT has_table_privilege('dashboard', 'mart.party_pattern_by_town', 'SELECT')")
        assert cur.fetchone()[0]
