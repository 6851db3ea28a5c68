"""The indicator engine against a small hand-built dataset whose every value is worked out
below by hand (comments show the arithmetic), in a warehouse of its own.

Records go in through the real loader (staging -> store.merge), as batches, so the engine's
incremental path sees exactly what it sees in production. Towns: A = 五常街道, B = 仁和街道;
the other ten 镇街 have no records. Months: January and February 2022 (first quarter).
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from psycopg2 import sql

from yhlaw import indicators as ind
from yhlaw import store
from yhlaw.settings import PROJECT_ROOT, with_database
from yhlaw.spec import load_spec
from yhlaw.warehouse import transaction

from conftest import own_database

A, B, C = "330110005000", "330110009000", "330110010000"
DISTRICT = "330110000000"
GONE = "330110001000"        # 临平街道: in 余杭区 until the split of 2021-04-09, in 临平区 since
TZ = ZoneInfo("Asia/Shanghai")
JAN, FEB, MAR, DEC21 = date(2022, 1, 1), date(2022, 2, 1), date(2022, 3, 1), date(2021, 12, 1)
Q1, Y22 = date(2022, 1, 1), date(2022, 1, 1)
N_TOWNS = 12


def pop(year: int, town: str | None = None) -> int:
    """Resident population from reference/population.csv (the district: the sum of its towns)."""
    rows = list(csv.DictReader((PROJECT_ROOT / "include" / "reference" / "population.csv").open(encoding="utf-8")))
    return sum(int(r["population"]) for r in rows if int(r["year"]) == year
               and (r["town_code"] == town if town else r["town_code"] != DISTRICT))


def t(s: str) -> datetime:
    """A local (Asia/Shanghai) time."""
    return datetime.fromisoformat(s).replace(tzinfo=TZ)


def d(s: str) -> date:
    return date.fromisoformat(s)


# --------------------------------------------------------------------------------------------
# The dataset


def enforcement_cases():
    full = dict(status="已结案", dept_code="YH-ZHZF", legal_review_done=False)
    return [
        # E1: A, filed Jan 5, online + mobile, every stage, reviewed before the decision, closed after 15 days.
        dict(full, case_no="E1", town_code=A, fully_online=True, mobile_handled=True, legal_review_done=True,
             filed_at=t("2022-01-05 10:00"), investigated_at=t("2022-01-06 10:00"),
             legal_reviewed_at=t("2022-01-08 10:00"), decided_at=t("2022-01-09 10:00"),
             served_at=t("2022-01-10 10:00"), executed_at=t("2022-01-12 10:00"), closed_at=t("2022-01-20 10:00")),
        # E2: A, filed Jan 10, offline, decided Jan 25 without review, never served, closed Feb 9 (30 days).
        dict(full, case_no="E2", town_code=A, fully_online=False, mobile_handled=False,
             filed_at=t("2022-01-10 10:00"), investigated_at=t("2022-01-11 10:00"), decided_at=t("2022-01-25 10:00"),
             executed_at=t("2022-02-01 10:00"), closed_at=t("2022-02-09 10:00")),
        # E3: B, filed Feb 1 00:30 local (still Jan 31 in UTC: must count in February), open.
        dict(case_no="E3", dept_code="YH-SCJG", status="办理中", town_code=B, fully_online=True, mobile_handled=False,
             filed_at=t("2022-02-01 00:30")),
        # E4: B, filed Feb 10, decided Feb 15, reviewed only after the decision (does not count).
        dict(case_no="E4", dept_code="YH-SCJG", status="办理中", town_code=B, fully_online=True, mobile_handled=True,
             legal_review_done=True, filed_at=t("2022-02-10 10:00"), decided_at=t("2022-02-15 10:00"),
             legal_reviewed_at=t("2022-02-16 10:00")),
    ]


def inspections():
    base = dict(dept_code="YH-ZHZF", result="合格", is_mobile=False, is_double_random=False)
    return [dict(base, inspection_no="I1", town_code=A, inspected_at=t("2022-01-05 09:00"), is_non_contact=True, is_joint=False,
                 is_mobile=True, is_double_random=True),
            dict(base, inspection_no="I2", town_code=A, inspected_at=t("2022-01-06 09:00"), is_non_contact=False, is_joint=True,
                 is_mobile=True),
            dict(base, inspection_no="I3", town_code=A, inspected_at=t("2022-01-07 09:00"), is_non_contact=False, is_joint=False),
            dict(base, inspection_no="I4", town_code=B, inspected_at=t("2022-02-03 09:00"), is_non_contact=True, is_joint=True,
                 is_double_random=True)]


def court_cases():
    return [dict(case_no="C1", town_code=A, filed_on=d("2022-01-04"), case_type="民事", procedure="一审",
                 filing_channel="网上立案", hearing_mode="远程视频", e_dossier=True, e_payment_order=False,
                 closed_on=d("2022-01-25"), closing_manner="调解"),
            dict(case_no="C2", town_code=A, filed_on=d("2022-01-10"), case_type="商事", procedure="一审",
                 filing_channel="窗口立案", hearing_mode="现场", e_dossier=False, e_payment_order=True,
                 closed_on=d("2022-02-15"), closing_manner="判决"),
            dict(case_no="C3", town_code=A, filed_on=d("2022-01-20"), case_type="刑事", procedure="一审",
                 filing_channel="移动微法院", hearing_mode=None, e_dossier=True, e_payment_order=False),
            dict(case_no="C4", town_code=B, filed_on=d("2022-02-08"), case_type="行政", procedure="一审",
                 filing_channel="跨域立案", hearing_mode="在线异步", e_dossier=True, e_payment_order=False,
                 closed_on=d("2022-02-20"), closing_manner="撤诉"),
            dict(case_no="C5", town_code=B, filed_on=d("2022-02-09"), case_type="民事", procedure="二审",
                 filing_channel="窗口立案", hearing_mode=None, e_dossier=False, e_payment_order=False,
                 closed_on=d("2022-02-21"), closing_manner="撤诉"),
            # Two payment orders (民督): C6 applied for online (电子督促), C7 at the window.
            dict(case_no="C6", town_code=B, filed_on=d("2022-02-14"), case_type="民事", procedure="督促",
                 filing_channel="网上立案", hearing_mode=None, e_dossier=True, e_payment_order=True),
            dict(case_no="C7", town_code=B, filed_on=d("2022-02-15"), case_type="民事", procedure="督促",
                 filing_channel="窗口立案", hearing_mode=None, e_dossier=False, e_payment_order=False)]


def mediation_cases():
    return [dict(case_no="M1", town_code=A, accepted_on=d("2022-01-03"), closed_on=d("2022-01-15"), result="成功",
                 case_source="诉前委派", via_jiefen_code=True, judicial_confirmation=True, committee_type="村居"),
            dict(case_no="M2", town_code=A, accepted_on=d("2022-01-05"), closed_on=d("2022-02-02"), result="不成功",
                 case_source="当事人申请", via_jiefen_code=False, judicial_confirmation=False, committee_type="镇街"),
            dict(case_no="M3", town_code=B, accepted_on=d("2022-02-01"), closed_on=None, result=None,
                 case_source="诉前委派", via_jiefen_code=True, committee_type="村居"),
            dict(case_no="M4", town_code=B, accepted_on=d("2022-02-10"), closed_on=d("2022-02-25"), result="不成功",
                 case_source="诉前委派", via_jiefen_code=False, judicial_confirmation=False, committee_type="行业性专业性")]


def dishonest():
    p1, p2, o1 = "1" * 64, "2" * 64, "3" * 64
    person = dict(party_type="person")
    return [dict(person, listing_no="D1", town_code=A, party_key=p1, listed_on=d("2021-12-10"), removed_on=None),
            dict(person, listing_no="D2", town_code=A, party_key=p2, listed_on=d("2022-01-15"), removed_on=d("2022-02-10")),
            dict(person, listing_no="D3", town_code=B, party_key=p1, listed_on=d("2022-02-20"), removed_on=None),
            # D4: a company: not in the per-resident rate, counted in gov_dishonest_org_count.
            dict(listing_no="D4", town_code=A, party_type="org", party_key=o1, listed_on=d("2022-01-10"),
                 removed_on=None)]


def petitions():
    # The deadline (conclude_due_on) is the acceptance's local date + 60 days.
    return [dict(petition_no="P1", town_code=A, registered_at=t("2022-01-05 09:00"), kind="初信初访",
                 accepted_at=t("2022-01-06 09:00"), accepted_in_time=True,            # due 03-07
                 concluded_at=t("2022-01-20 09:00"), concluded_in_time=True, agent_handled=True, satisfaction="满意",
                 party_key="a" * 64),
            dict(petition_no="P2", town_code=A, registered_at=t("2022-01-06 09:00"), kind="重复",
                 accepted_at=t("2022-01-07 09:00"), accepted_in_time=True,
                 concluded_at=t("2022-01-21 09:00"), concluded_in_time=True, agent_handled=False, satisfaction="不满意",
                 party_key="a" * 64),     # P1's petitioner again, before P1 was concluded: no repeat of it
            dict(petition_no="P3", town_code=A, registered_at=t("2022-01-07 09:00"), kind="初信初访",
                 accepted_at=t("2022-01-25 09:00"), accepted_in_time=False,           # due 03-26, concluded late
                 concluded_at=t("2022-03-28 09:00"), concluded_in_time=False, agent_handled=False, satisfaction="未评价",
                 party_key="b" * 64),
            dict(petition_no="P4", town_code=B, registered_at=t("2022-02-03 09:00"), kind="初信初访",
                 accepted_at=t("2022-02-04 09:00"), accepted_in_time=True,            # due 04-05, open
                 agent_handled=True, is_backlog=True),
            # P5: registered in November 2021, accepted Nov 2 (due 2022-01-01), still open: late in January.
            dict(petition_no="P5", town_code=B, registered_at=t("2021-11-01 09:00"), kind="初信初访",
                 accepted_at=t("2021-11-02 09:00"), accepted_in_time=True, agent_handled=False, is_backlog=True)]


def legal_services():
    def stages(day, n=4):
        names = ("accepted_at", "reviewed_at", "handled_at", "concluded_at")
        return {names[i]: t(f"{day} {10 + i}:00") for i in range(n)}
    return [dict(stages("2022-01-04"), service_no="L1", town_code=A, service_type="法律咨询", channel="实体平台",
                 fully_online=False, one_visit=True, same_day=True, satisfaction="满意"),
            dict(stages("2022-01-05"), service_no="L2", town_code=A, service_type="公证", channel="网络平台",
                 fully_online=True, one_visit=True, same_day=False, reviewed_at=None, satisfaction="不满意"),
            dict(stages("2022-02-07", 1), service_no="L3", town_code=B, service_type="司法鉴定", channel="实体平台",
                 fully_online=False, one_visit=False, same_day=False),
            dict(stages("2022-02-08"), service_no="L4", town_code=B, service_type="法律援助", channel="12348热线",
                 fully_online=False, one_visit=True, same_day=False, satisfaction="基本满意")]


def staffing():
    return [dict(ledger_no="2022Q1-YH-ZHZF", as_of=d("2022-03-31"), dept_code="YH-ZHZF", establishment=100,
                 enforcement_staff=90, legal_reviewers=4, staff_at_towns=50, source_file="staffing.csv"),
            dict(ledger_no="2022Q1-YH-SCJG", as_of=d("2022-03-31"), dept_code="YH-SCJG", establishment=50,
                 enforcement_staff=40, legal_reviewers=3, staff_at_towns=5, source_file="staffing.csv")]


def publicity():
    return [dict(ledger_no="2022Q1-A", as_of=d("2022-03-31"), town_code=A, units_total=10, units_with_site=10,
                 source_file="publicity_sites.csv"),
            dict(ledger_no="2022Q1-B", as_of=d("2022-03-31"), town_code=B, units_total=20, units_with_site=15,
                 source_file="publicity_sites.csv")]


def case_reviews():
    # 案卷评查: R1, R2 reviewed in January (A), R3, R4 in February (B); YH-ZFD = a 镇街's 综合行政执法队.
    dept, team = dict(dept_code="YH-SCJG", unit_type="区级执法部门"), dict(dept_code="YH-ZFD", unit_type="镇街综合行政执法队")
    return [dict(dept, review_no="R1", town_code=A, reviewed_on=d("2022-01-10"), score=Decimal("93.0"), grade="优秀"),
            dict(team, review_no="R2", town_code=A, reviewed_on=d("2022-01-20"), score=Decimal("55.5"), grade="不合格"),
            dict(dept, review_no="R3", town_code=B, reviewed_on=d("2022-02-08"), score=Decimal("84.0"), grade="良好"),
            dict(team, review_no="R4", town_code=B, reviewed_on=d("2022-02-15"), score=Decimal("71.0"), grade="合格")]


def enforcement_complaints():
    # 投诉举报: the deadline (due_on) is the receipt's local date + its time limit.
    return [dict(complaint_no="K1", town_code=A, dept_code="YH-ZHZF", channel="12345热线", time_limit_days=30,
                 received_at=t("2022-01-05 10:00"), concluded_at=t("2022-01-20 10:00"), in_time=True),   # due 02-04
            dict(complaint_no="K2", town_code=A, dept_code="YH-ZFD", channel="浙里办", time_limit_days=30,
                 received_at=t("2022-01-10 10:00"), concluded_at=t("2022-02-20 10:00"), in_time=False),  # due 02-09, late
            # K3: received 23:30 local on Jan 31 (still Jan 31 in UTC too), due 03-02, still open: late in March.
            dict(complaint_no="K3", town_code=B, dept_code="YH-ZFD", channel="来信来访", time_limit_days=30,
                 received_at=t("2022-01-31 23:30")),
            dict(complaint_no="K4", town_code=B, dept_code="YH-SCJG", channel="12345热线", time_limit_days=45,
                 received_at=t("2021-12-20 10:00"), concluded_at=t("2022-01-25 10:00"), in_time=True)]  # extended: due 02-03


def admin_reviews():
    # 行政复议: V2 is against 五常 (A)'s government by an applicant living in 仁和 (B): 镇街 counts go by the body.
    dept = dict(respondent_kind="区级部门", term_days=60, extension_days=0)
    town = dict(respondent_kind="镇街政府", term_days=60, extension_days=0)
    return [dict(dept, review_no="V1", town_code=A, respondent_dept_code="YH-SCJG", channel="网上申请", category="行政处罚",
                 received_on=d("2022-01-03"), accepted_on=d("2022-01-05"), closed_on=d("2022-01-25"), result="撤销"),
            dict(town, review_no="V2", town_code=B, respondent_town_code=A, channel="当面递交", category="征收补偿",
                 received_on=d("2022-01-04"), accepted_on=d("2022-01-06"), closed_on=d("2022-01-28"), result="维持"),
            # V3: accepted 2021-12-03, due 2022-02-01, closed 02-10: late.
            dict(town, review_no="V3", town_code=A, respondent_town_code=B, channel="邮寄", category="行政强制",
                 received_on=d("2021-12-01"), accepted_on=d("2021-12-03"), closed_on=d("2022-02-10"), result="撤回"),
            # V4: extended by 30 days (due 05-09), closed 02-25, its result not entered yet.
            dict(dept, review_no="V4", town_code=A, respondent_dept_code="YH-ZHZF", channel="网上申请", category="行政处罚",
                 extension_days=30, received_on=d("2022-02-07"), accepted_on=d("2022-02-08"), closed_on=d("2022-02-25")),
            dict(town, review_no="V5", town_code=B, respondent_town_code=A, channel="网上申请", category="政府信息公开",
                 received_on=d("2022-02-14")),
            # V6: before the split, against 临平街道's government (now 临平区): counted nowhere.
            dict(town, review_no="V6", town_code=A, respondent_town_code=GONE, channel="网上申请", category="行政处罚",
                 received_on=d("2021-01-04"), accepted_on=d("2021-01-05"), closed_on=d("2021-01-20"), result="撤销")]


def admin_litigations():
    # 行政应诉: L2 (against A's government, plaintiff in B) is heard in Feb; L3 withdrawn unheard; L4's
    # head appearance not reported yet.
    dept, town = dict(defendant_kind="区级部门", court="杭州铁路运输法院"), dict(defendant_kind="镇街政府", court="杭州铁路运输法院")
    return [dict(dept, case_no="L1", town_code=A, defendant_dept_code="YH-SCJG", cause="行政处罚", filed_on=d("2022-01-04"),
                 first_hearing_on=d("2022-01-20"), head_appeared=True, closed_on=d("2022-01-28"), judgment="撤销", lost=True),
            dict(town, case_no="L2", town_code=B, defendant_town_code=A, cause="征收补偿", filed_on=d("2022-01-10"),
                 first_hearing_on=d("2022-02-10"), head_appeared=False, closed_on=d("2022-02-20"), judgment="驳回诉讼请求",
                 lost=False),
            dict(town, case_no="L3", town_code=B, defendant_town_code=B, cause="行政强制", filed_on=d("2022-01-15"),
                 closed_on=d("2022-02-05"), judgment="准予撤诉", lost=False),
            dict(town, case_no="L4", town_code=A, defendant_town_code=A, cause="征收补偿", filed_on=d("2022-02-03"),
                 first_hearing_on=d("2022-02-25"), closed_on=d("2022-02-28"), judgment="确认违法", lost=True),
            dict(town, case_no="L5", town_code=A, defendant_town_code=GONE, cause="行政处罚", filed_on=d("2021-01-04"),
                 first_hearing_on=d("2021-01-20"), head_appeared=False, closed_on=d("2021-01-28"), judgment="撤销",
                 lost=True)]


def supervision_orders():
    # 督办件: due_on = the local date + 15 or 30 days.
    return [dict(order_no="O1", town_code=A, dept_code="YH-JTYS", order_source="案卷评查", time_limit_days=15,
                 issued_at=t("2022-01-03 10:00"), status="已办结", finished_at=t("2022-01-10 10:00"), in_time=True),  # due 01-18
            dict(order_no="O2", town_code=A, dept_code="YH-ZFD", order_source="投诉举报", time_limit_days=15,
                 issued_at=t("2022-01-05 10:00"), status="办理中"),                                               # due 01-20, open
            dict(order_no="O3", town_code=B, dept_code="YH-ZFD", order_source="投诉举报", time_limit_days=30,
                 issued_at=t("2022-01-20 10:00"), status="已办结", finished_at=t("2022-02-25 10:00"), in_time=False)]  # due 02-19


def correction_people():
    # 在矫人员: A = S1 (之矫汇), S2 (电子定位, 期满 02-10, 衔接 5 days later), S3 (no app);
    # B = S4 (智汇矫, 再犯罪 01-25, 撤销缓刑 02-20), S5 (期满 01-10, 衔接 41 days later: late),
    # S6 (期满 01-31, not handed over). A release day is not counted at that month's end.
    base = dict(correction_type="缓刑", electronic_tag=False, app="无", reoffended=False)
    return [dict(base, person_no="S1", town_code=A, entered_on=d("2021-12-10"), app="之矫汇"),
            dict(base, person_no="S2", town_code=A, entered_on=d("2022-01-05"), electronic_tag=True,
                 released_on=d("2022-02-10"), release_type="期满解矫", resettlement_linked=True,
                 linked_on=d("2022-02-15")),
            dict(base, person_no="S3", town_code=A, entered_on=d("2022-01-20"), correction_type="假释"),
            dict(base, person_no="S4", town_code=B, entered_on=d("2021-11-01"), app="智汇矫", released_on=d("2022-02-20"),
                 release_type="撤销缓刑", reoffended=True, reoffended_on=d("2022-01-25")),
            dict(base, person_no="S5", town_code=B, entered_on=d("2021-12-01"), correction_type="管制",
                 released_on=d("2022-01-10"), release_type="期满解矫", resettlement_linked=True,
                 linked_on=d("2022-02-20")),
            dict(base, person_no="S6", town_code=B, entered_on=d("2021-10-01"), correction_type="暂予监外执行",
                 released_on=d("2022-01-31"), release_type="期满解矫")]


DATASET = [("enforcement", "case", enforcement_cases), ("enforcement", "inspection", inspections),
           ("courts", "case", court_cases), ("mediation", "case", mediation_cases),
           ("courts", "dishonest", dishonest), ("petitions", "petition", petitions),
           ("legal_services", "service", legal_services), ("ledgers", "staffing", staffing),
           ("ledgers", "publicity", publicity), ("corrections", "person", correction_people),
           ("supervision", "review", case_reviews), ("supervision", "complaint", enforcement_complaints),
           ("supervision", "order", supervision_orders),
           ("admin_review", "reconsideration", admin_reviews), ("admin_review", "litigation", admin_litigations)]


# --------------------------------------------------------------------------------------------
# Loading through the real loader


class Deliveries:
    def __init__(self, url: str):
        self.url = url
        self.n = 0

    def deliver(self, source: str, entity_name: str, rows: list[dict], interval_start: datetime,
                updated_at: datetime | None = None, interval_end: datetime | None = None) -> str:
        """One batch: raw + audit rows, validated rows into staging, then store.merge."""
        entity = load_spec(source).entities[entity_name]
        self.n += 1
        batch_id = f"test.{source}.{entity_name}.{self.n}"
        updated_at = updated_at or interval_start + timedelta(hours=1)
        interval_end = interval_end or interval_start + timedelta(days=1)
        cols = ["batch_id", *entity.columns, "record_hash"]
        with transaction(self.url) as conn, conn.cursor() as cur:
            cur.execute("""INSERT INTO raw.batch (batch_id, source, entity, interval_start, interval_end, query_since,
                                                  record_count, content_sha256)
                           VALUES (%s, %s, %s, %s, %s, %s, %s, 'test')""",
                        (batch_id, source, entity_name, interval_start, interval_end, interval_start, len(rows)))
            cur.execute("""INSERT INTO audit.batch (batch_id, source, entity, interval_start, interval_end, status, received)
                           VALUES (%s, %s, %s, %s, %s, 'validated', %s)""",
                        (batch_id, source, entity_name, interval_start, interval_end, len(rows)))
            for r in rows:
                values = {"batch_id": batch_id, "record_hash": f"h{self.n}", "source_updated_at": updated_at,
                          "source_file": "test.csv", "delivered_at": updated_at, **r}
                cur.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    store.staging_table(entity), sql.SQL(", ").join(map(sql.Identifier, cols)),
                    sql.SQL(", ").join(sql.Placeholder() * len(cols))), [values.get(c) for c in cols])
            store.merge(conn, entity, batch_id)
        return batch_id


def delivered_world(settings, purpose: str, dataset) -> tuple[str, Deliveries, dict]:
    """A warehouse of its own (the shared test warehouse holds the simulators' data), each
    (source, entity, rows) of ``dataset`` delivered through the real loader as one batch, and the
    indicators refreshed once: (its URL, the deliveries, the refresh's summary)."""
    from yhlaw.bootstrap import prepare_warehouse

    mp = pytest.MonkeyPatch()
    mp.delenv("WAREHOUSE_ADMIN_URL", raising=False)
    own = replace(settings, warehouse_url=with_database(settings.warehouse_url, own_database(settings, purpose)))
    prepare_warehouse(own, recreate=True)
    mp.undo()
    deliveries = Deliveries(own.warehouse_url)
    for source, entity, rows in dataset:
        deliveries.deliver(source, entity, rows(), t("2022-03-02 00:00"))
    with transaction(own.warehouse_url) as conn:
        first = ind.refresh(conn, trigger="test")
    return own.warehouse_url, deliveries, first


@pytest.fixture(scope="module")
def world(settings):
    return delivered_world(settings, "indicators", DATASET)


def values(url: str) -> dict[tuple, tuple]:
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT indicator_code, grain, period_start, town_code, numerator, denominator, value,
                              target, meets_target
                       FROM mart.indicator_values""")
        return {r[:4]: r[4:] for r in cur.fetchall()}


def v(vals, code, grain, period, town):
    """(numerator, denominator, value) as floats (None stays None)."""
    n, dd, val, *_ = vals[(code, grain, period, town)]
    return tuple(None if x is None else float(x) for x in (n, dd, val))


def approx(n, dd, val):
    return (n, dd, pytest.approx(val, abs=1e-4) if val is not None else None)


# --------------------------------------------------------------------------------------------


def fed_codes() -> set[str]:
    """The indicators that read a table this module's DATASET delivers to (the others have their
    hand-computed values, and their records, in a module of their own)."""
    tables = {f"core.{load_spec(s).entities[e].table}" for s, e, _ in DATASET}
    return {c.code for c in ind.catalog() if any(m.table in tables for m in c.measures if not m.population)}


def hand_computed_elsewhere(codes: set[str]) -> set[str]:
    """Indicators whose hand-computed values live in a module of their source's own
    (tests/test_indicators_<source>.py, with its own small world): the codes they name."""
    import re
    named = set()
    for path in Path(__file__).parent.glob("test_indicators_*.py"):
        named |= set(re.findall(r'"([a-z][a-z0-9_]+)"', path.read_text(encoding="utf-8")))
    return named & codes


def test_every_indicator_matches_the_hand_computed_values(world):
    url, _, first = world
    vals = values(url)
    codes = {c.code for c in ind.catalog()}
    # Expected, by hand. Key: (code, grain, period, town) -> (numerator, denominator, value).
    E = {}

    def rate(code, grain, period, town, n, dd, scale=100):
        E[(code, grain, period, town)] = approx(n, dd, None if dd == 0 else n / dd * scale)

    # 严格执法 -- enforcement cases by filing month: Jan A = E1, E2; Feb B = E3 (00:30 local), E4.
    rate("enf_online_handling_rate", "month", JAN, A, 1, 2)          # E1 online          -> 50
    rate("enf_online_handling_rate", "month", FEB, B, 2, 2)          # E3, E4 online      -> 100
    rate("enf_online_handling_rate", "month", JAN, B, 0, 0)          # no cases           -> NULL
    rate("enf_online_handling_rate", "month", JAN, C, 0, 0)          # a town with no records at all
    rate("enf_online_handling_rate", "month", JAN, DISTRICT, 1, 2)
    rate("enf_online_handling_rate", "quarter", Q1, DISTRICT, 3, 4)  # (1 + 2) / (2 + 2) = 75, not avg(50, 100)
    rate("enf_online_handling_rate", "quarter", Q1, A, 1, 2)
    rate("enf_online_handling_rate", "year", Y22, B, 2, 2)
    rate("enf_mobile_handling_rate", "month", JAN, A, 1, 2)          # E1
    rate("enf_mobile_handling_rate", "month", FEB, B, 1, 2)          # E4
    rate("enf_mobile_handling_rate", "quarter", Q1, DISTRICT, 2, 4)
    # Trace by closing month: E1 (Jan, complete); E2 (Feb, never served).
    rate("enf_complete_trace_rate", "month", JAN, A, 1, 1)
    rate("enf_complete_trace_rate", "month", FEB, A, 0, 1)            # a real 0%, not NULL
    rate("enf_complete_trace_rate", "quarter", Q1, DISTRICT, 1, 2)
    # Review before decision, by decision month: E1 yes, E2 no (Jan A); E4 after (Feb B).
    rate("enf_legal_review_rate", "month", JAN, A, 1, 2)
    rate("enf_legal_review_rate", "month", FEB, B, 0, 1)
    rate("enf_legal_review_rate", "quarter", Q1, DISTRICT, 1, 3)      # 33.3333
    # Days to close, by closing month: E1 15 days (Jan A), E2 30 days (Feb A); quarter 45 / 2.
    rate("enf_avg_days_to_close", "month", JAN, A, 15, 1, scale=1)
    rate("enf_avg_days_to_close", "month", FEB, A, 30, 1, scale=1)
    rate("enf_avg_days_to_close", "quarter", Q1, A, 45, 2, scale=1)   # 22.5
    rate("enf_avg_days_to_close", "quarter", Q1, B, 0, 0, scale=1)    # nothing closed -> NULL
    # Inspections: Jan A = I1 (non-contact), I2 (joint), I3; Feb B = I4 (both).
    rate("enf_non_contact_supervision_share", "month", JAN, A, 1, 3)
    rate("enf_non_contact_supervision_share", "quarter", Q1, DISTRICT, 2, 4)
    rate("enf_joint_inspection_share", "month", JAN, A, 1, 3)
    rate("enf_joint_inspection_share", "month", FEB, B, 1, 1)
    rate("enf_joint_inspection_share", "year", Y22, DISTRICT, 2, 4)
    # 掌上执法 on inspections (I1, I2 mobile), 双随机 (I1, I4).
    rate("enf_mobile_inspection_rate", "month", JAN, A, 2, 3)
    rate("enf_mobile_inspection_rate", "month", FEB, B, 0, 1)
    rate("enf_mobile_inspection_rate", "quarter", Q1, DISTRICT, 2, 4)
    rate("enf_double_random_share", "month", JAN, A, 1, 3)
    rate("enf_double_random_share", "quarter", Q1, DISTRICT, 2, 4)
    # 公正司法 -- Jan A = C1 (民一审, 网上, 远程), C2 (商一审, 窗口, 现场), C3 (刑, 微法院);
    # Feb B = C4 (行政一审, 跨域, 在线异步), C5 (民二审, 窗口), C6 (民督, 网上, 电子督促), C7 (民督, 窗口).
    rate("court_online_filing_rate", "month", JAN, A, 2, 3)
    rate("court_online_filing_rate", "month", FEB, B, 2, 4)
    rate("court_online_filing_rate", "quarter", Q1, DISTRICT, 4, 7)
    rate("court_remote_hearing_rate", "month", JAN, A, 1, 2)          # C3 not heard: not in the denominator
    rate("court_remote_hearing_rate", "quarter", Q1, DISTRICT, 2, 3)
    rate("court_e_dossier_rate", "month", JAN, A, 2, 3)
    rate("court_e_dossier_rate", "quarter", Q1, DISTRICT, 4, 7)
    rate("court_e_payment_order_rate", "month", FEB, B, 1, 2)         # of the 民督 C6, C7
    rate("court_e_payment_order_rate", "month", JAN, A, 0, 0)         # no 督促 case -> NULL
    rate("court_e_payment_order_rate", "quarter", Q1, DISTRICT, 1, 2)
    rate("court_mobile_micro_court_share", "month", JAN, A, 1, 3)
    rate("court_mobile_micro_court_share", "month", FEB, B, 0, 4)
    rate("court_mobile_micro_court_share", "quarter", Q1, DISTRICT, 1, 7)
    # 调撤率 by closing month, 民商事一审 only: C1 调解 (Jan A), C2 判决 (Feb A); C4 行政 and C5 二审
    # 撤诉 do not count.
    rate("court_mediation_withdrawal_rate", "month", JAN, A, 1, 1)
    rate("court_mediation_withdrawal_rate", "month", FEB, A, 0, 1)
    rate("court_mediation_withdrawal_rate", "month", FEB, B, 0, 0)
    rate("court_mediation_withdrawal_rate", "quarter", Q1, DISTRICT, 1, 2)
    # 全民守法 -- Jan A = L1 (咨询, 实体, 完整), L2 (公证, 网络, 网上, 缺审查); Feb B = L3 (鉴定, 实体,
    # 未办结), L4 (援助, 热线, 完整).
    rate("ls_channel_share_physical", "month", JAN, A, 1, 2)
    rate("ls_channel_share_physical", "quarter", Q1, DISTRICT, 2, 4)
    rate("ls_channel_share_hotline", "month", JAN, A, 0, 2)
    rate("ls_channel_share_hotline", "quarter", Q1, DISTRICT, 1, 4)
    rate("ls_channel_share_online", "month", FEB, B, 0, 2)
    rate("ls_channel_share_online", "quarter", Q1, DISTRICT, 1, 4)
    rate("ls_complete_case_data_rate", "month", JAN, A, 1, 2)         # of the concluded L1, L2
    rate("ls_complete_case_data_rate", "month", FEB, B, 1, 1)         # L3 not concluded
    rate("ls_complete_case_data_rate", "quarter", Q1, DISTRICT, 2, 3)
    rate("ls_notary_appraisal_online_rate", "month", JAN, A, 1, 1)
    rate("ls_notary_appraisal_online_rate", "month", FEB, B, 0, 1)
    rate("ls_notary_appraisal_online_rate", "quarter", Q1, DISTRICT, 1, 2)
    rate("ls_one_visit_rate", "month", JAN, A, 2, 2)
    rate("ls_one_visit_rate", "quarter", Q1, DISTRICT, 3, 4)
    rate("ls_same_day_rate", "month", FEB, B, 0, 2)
    rate("ls_same_day_rate", "quarter", Q1, DISTRICT, 1, 4)
    # Satisfaction of the concluded and evaluated: L1 满意, L2 不满意 (Jan A), L4 基本满意 (Feb B); L3 open.
    rate("ls_satisfaction_rate", "month", JAN, A, 1, 2)
    rate("ls_satisfaction_rate", "month", FEB, B, 1, 1)
    rate("ls_satisfaction_rate", "quarter", Q1, DISTRICT, 2, 3)
    # 法律援助 per 10,000 residents: L4 (Feb B).
    rate("ls_legal_aid_per_10k", "month", FEB, B, 1, pop(2022, B), 10000)
    rate("ls_legal_aid_per_10k", "month", JAN, A, 0, pop(2022, A), 10000)
    rate("ls_legal_aid_per_10k", "quarter", Q1, DISTRICT, 1, pop(2022), 10000)
    # 基层治理 -- petitions: Jan A = P1 (初, 按期), P2 (重复), P3 (初, 超期); Feb B = P4 (初, 未结);
    # Nov 2021 B = P5 (初, 未结, 积案).
    E[("gov_petition_volume", "month", JAN, A)] = (3, None, 3)
    E[("gov_petition_volume", "month", JAN, C)] = (0, None, 0)        # a count: no petitions is 0
    E[("gov_petition_volume", "month", FEB, DISTRICT)] = (1, None, 1)
    E[("gov_petition_volume", "quarter", Q1, DISTRICT)] = (4, None, 4)
    # 初信初访按期办结率 by the month the deadline falls in: P5 due 01-01 still open (late, Jan B);
    # P1 due 03-07 in time, P3 due 03-26 late (Mar A); P4 due 04-05 open (Apr B). Open and late is late.
    rate("gov_first_petition_in_time_rate", "month", JAN, B, 0, 1)
    rate("gov_first_petition_in_time_rate", "month", MAR, A, 1, 2)
    rate("gov_first_petition_in_time_rate", "month", date(2022, 4, 1), B, 0, 1)
    rate("gov_first_petition_in_time_rate", "quarter", Q1, DISTRICT, 1, 3)
    # 信访代办 (P1, P4) and 及时受理 (all but P3) by registration; satisfaction by conclusion among the
    # evaluated (P1 满意, P2 不满意; P3 未评价 is not counted).
    rate("gov_petition_agent_rate", "month", JAN, A, 1, 3)
    rate("gov_petition_agent_rate", "month", FEB, B, 1, 1)
    rate("gov_petition_agent_rate", "quarter", Q1, DISTRICT, 2, 4)
    rate("gov_petition_accept_in_time_rate", "month", JAN, A, 2, 3)
    rate("gov_petition_accept_in_time_rate", "month", date(2021, 11, 1), B, 1, 1)
    rate("gov_petition_accept_in_time_rate", "quarter", Q1, DISTRICT, 3, 4)
    rate("gov_petition_satisfaction_rate", "month", JAN, A, 1, 2)
    rate("gov_petition_satisfaction_rate", "month", MAR, A, 0, 0)
    rate("gov_petition_satisfaction_rate", "quarter", Q1, DISTRICT, 1, 2)
    # 一次性化解: concluded 初信初访 (P1 Jan A, P3 Mar A) with no repeat by the same person within 90 days.
    rate("gov_first_petition_one_time_resolution_rate", "month", JAN, A, 1, 1)
    rate("gov_first_petition_one_time_resolution_rate", "month", MAR, A, 1, 1)
    rate("gov_first_petition_one_time_resolution_rate", "quarter", Q1, DISTRICT, 2, 2)
    # 积案 open at month end: P5 (B, from Nov 2021), P4 (B, from Feb); A has none.
    E[("gov_petition_backlog", "month", date(2021, 11, 1), B)] = (1, None, 1)
    E[("gov_petition_backlog", "month", JAN, B)] = (1, None, 1)
    E[("gov_petition_backlog", "month", FEB, B)] = (2, None, 2)
    E[("gov_petition_backlog", "month", FEB, A)] = (0, None, 0)
    E[("gov_petition_backlog", "quarter", Q1, DISTRICT)] = (2, None, 2)       # end of quarter on file: Feb
    # 万人成讼率: 民/商 一审 = C1, C2 (Jan A); C4 is 行政 (a parameter away), C5 二审; population of 2022.
    rate("gov_litigation_per_10k", "month", JAN, A, 2, pop(2022, A), 10000)
    rate("gov_litigation_per_10k", "month", JAN, C, 0, pop(2022, C), 10000)   # 0 cases: 0, not NULL
    rate("gov_litigation_per_10k", "month", JAN, DISTRICT, 2, pop(2022), 10000)
    rate("gov_litigation_per_10k", "quarter", Q1, B, 0, pop(2022, B), 10000)  # population once, not x3
    rate("gov_litigation_per_10k", "quarter", Q1, DISTRICT, 2, pop(2022), 10000)
    rate("gov_litigation_per_10k", "year", Y22, DISTRICT, 2, pop(2022), 10000)
    # 万人失信率 (active at month end): D1 A from 2021-12-10; D2 A 2022-01-15..02-10; D3 B from
    # 2022-02-20 (the same person as D1: counted once per town).
    rate("gov_dishonest_per_10k", "month", DEC21, A, 1, pop(2021, A), 10000)
    rate("gov_dishonest_per_10k", "month", JAN, A, 2, pop(2022, A), 10000)
    rate("gov_dishonest_per_10k", "month", FEB, A, 1, pop(2022, A), 10000)
    rate("gov_dishonest_per_10k", "month", FEB, B, 1, pop(2022, B), 10000)
    rate("gov_dishonest_per_10k", "month", FEB, C, 0, pop(2022, C), 10000)
    rate("gov_dishonest_per_10k", "quarter", Q1, DISTRICT, 2, pop(2022), 10000)  # end of quarter (Feb, last month on file)
    rate("gov_dishonest_per_10k", "year", date(2021, 1, 1), A, 1, pop(2021, A), 10000)
    # Companies (D4, A, from Jan 10) are counted apart, in 家.
    E[("gov_dishonest_org_count", "month", DEC21, A)] = (0, None, 0)
    E[("gov_dishonest_org_count", "month", JAN, A)] = (1, None, 1)
    E[("gov_dishonest_org_count", "month", FEB, B)] = (0, None, 0)
    E[("gov_dishonest_org_count", "quarter", Q1, DISTRICT)] = (1, None, 1)
    # Mediation: M1 success closed Jan A; M2 failed closed Feb A; M4 (诉前委派) failed closed Feb B; M3 open.
    rate("gov_mediation_success_rate", "month", JAN, A, 1, 1)
    rate("gov_mediation_success_rate", "month", FEB, A, 0, 1)
    rate("gov_mediation_success_rate", "quarter", Q1, DISTRICT, 1, 3)
    # 诉前委派调解成功率 of the referred cases closed: M1 (Jan A) succeeded, M4 (Feb B) failed.
    rate("gov_prelitigation_mediation_success_rate", "month", JAN, A, 1, 1)
    rate("gov_prelitigation_mediation_success_rate", "month", FEB, B, 0, 1)
    rate("gov_prelitigation_mediation_success_rate", "month", FEB, A, 0, 0)   # M2 is not a referral
    rate("gov_prelitigation_mediation_success_rate", "quarter", Q1, DISTRICT, 1, 2)
    # 解纷码 by acceptance (M1 Jan A; M3 Feb B); 司法确认 of the successful (M1).
    rate("gov_dispute_code_usage_rate", "month", JAN, A, 1, 2)
    rate("gov_dispute_code_usage_rate", "month", FEB, B, 1, 2)
    rate("gov_dispute_code_usage_rate", "quarter", Q1, DISTRICT, 2, 4)
    rate("gov_judicial_confirmation_rate", "month", JAN, A, 1, 1)
    rate("gov_judicial_confirmation_rate", "month", FEB, B, 0, 0)
    rate("gov_judicial_confirmation_rate", "quarter", Q1, DISTRICT, 1, 1)
    # 执法力量 (district only, March ledgers): ZHZF 100/90/4/50, SCJG 50/40/3/5.
    rate("staff_legal_reviewer_ratio", "month", MAR, DISTRICT, 7, 130)       # 5.3846 >= 5
    rate("staff_legal_reviewer_ratio", "quarter", Q1, DISTRICT, 7, 130)
    rate("staff_fill_rate", "year", Y22, DISTRICT, 130, 150)                 # 86.6667 >= 85
    rate("staff_town_deployment_rate", "quarter", Q1, DISTRICT, 50, 90)      # 综合执法 only: 55.5556
    # The 5% floor per department: ZHZF 4/90 = 4.4% fails, SCJG 3/40 = 7.5% passes -> 1 of 2, although
    # the district's 5.38% passes.
    rate("staff_legal_reviewer_dept_attainment", "month", MAR, DISTRICT, 1, 2)
    rate("staff_legal_reviewer_dept_attainment", "quarter", Q1, DISTRICT, 1, 2)
    # 法治宣传阵地: A 10/10, B 15/20; other towns have no ledger row -> NULL.
    rate("pub_site_coverage_rate", "month", MAR, A, 10, 10)
    rate("pub_site_coverage_rate", "month", MAR, B, 15, 20)
    rate("pub_site_coverage_rate", "quarter", Q1, DISTRICT, 25, 30)
    E[("pub_site_coverage_rate", "month", MAR, C)] = (None, None, None)

    # 执法监督 -- 案卷评查 by review month: Jan A = R1 优秀, R2 不合格; Feb B = R3 良好, R4 合格.
    rate("sup_case_review_good_rate", "month", JAN, A, 1, 2)
    rate("sup_case_review_good_rate", "month", FEB, B, 1, 2)
    rate("sup_case_review_good_rate", "month", JAN, B, 0, 0)
    rate("sup_case_review_good_rate", "quarter", Q1, DISTRICT, 2, 4)
    rate("sup_case_review_pass_rate", "month", JAN, A, 1, 2)
    rate("sup_case_review_pass_rate", "month", FEB, B, 2, 2)
    rate("sup_case_review_pass_rate", "quarter", Q1, DISTRICT, 3, 4)
    # 投诉举报按期办结率 by the month the deadline falls in: K1 due 02-04 in time, K2 due 02-09 late
    # (Feb A); K4 extended to 45 days, due 02-03, in time (Feb B); K3 due 03-02 still open (Mar B): late.
    rate("sup_complaint_in_time_rate", "month", FEB, A, 1, 2)
    rate("sup_complaint_in_time_rate", "month", FEB, B, 1, 1)
    rate("sup_complaint_in_time_rate", "month", MAR, B, 0, 1)
    rate("sup_complaint_in_time_rate", "quarter", Q1, DISTRICT, 2, 4)
    # 督办件按期办结率 by deadline month: O1 due 01-18 in time, O2 due 01-20 open (late) (Jan A);
    # O3 due 02-19, finished late (Feb B).
    rate("sup_order_in_time_rate", "month", JAN, A, 1, 2)
    rate("sup_order_in_time_rate", "month", FEB, B, 0, 1)
    rate("sup_order_in_time_rate", "quarter", Q1, DISTRICT, 1, 3)

    # 行政复议 (district-level; by 审结 month): Jan = V1 撤销, V2 维持; Feb = V3 撤回, V4 (result pending:
    # out of the result-based denominators, in the on-time one).
    rate("rev_correction_rate", "month", JAN, DISTRICT, 1, 2)
    rate("rev_correction_rate", "month", FEB, DISTRICT, 0, 1)
    rate("rev_correction_rate", "quarter", Q1, DISTRICT, 1, 3)
    rate("rev_mediation_withdrawal_rate", "month", FEB, DISTRICT, 1, 1)
    rate("rev_mediation_withdrawal_rate", "quarter", Q1, DISTRICT, 1, 3)
    rate("rev_on_time_rate", "month", JAN, DISTRICT, 2, 2)
    rate("rev_on_time_rate", "month", FEB, DISTRICT, 1, 2)                 # V3 late, V4 extended: in time
    rate("rev_on_time_rate", "quarter", Q1, DISTRICT, 3, 4)
    rate("rev_online_application_rate", "month", DEC21, DISTRICT, 0, 1)    # by 收案: V3 by post
    rate("rev_online_application_rate", "month", JAN, DISTRICT, 1, 2)
    rate("rev_online_application_rate", "quarter", Q1, DISTRICT, 3, 4)
    # 行政应诉: lost L1 (Jan), L4 (Feb) of L1 | L2, L3, L4 closed; heard L1 (Jan), L2, L4 (Feb, L4 unreported).
    rate("rev_litigation_loss_rate", "month", JAN, DISTRICT, 1, 1)
    rate("rev_litigation_loss_rate", "month", FEB, DISTRICT, 1, 3)
    rate("rev_litigation_loss_rate", "quarter", Q1, DISTRICT, 2, 4)
    rate("rev_head_appearance_rate", "month", JAN, DISTRICT, 1, 1)
    rate("rev_head_appearance_rate", "month", FEB, DISTRICT, 0, 2)
    rate("rev_head_appearance_rate", "quarter", Q1, DISTRICT, 1, 3)
    # V6 and L5, closed in January 2021 against 临平街道's government, count in no district value
    # (current boundaries, like every 镇街 value): the month is empty, not 1 of 1.
    for code in ("rev_correction_rate", "rev_on_time_rate", "rev_online_application_rate",
                 "rev_litigation_loss_rate", "rev_head_appearance_rate"):
        key = (code, "month", date(2021, 1, 1), DISTRICT)
        assert key not in vals or v(vals, *key)[:2] == (0.0, 0.0), (key, vals.get(key))
    # 镇街 by the body, not the party's address: V2, V5 and L2, L4 are A's; V3 and L3 are B's.
    E[("rev_town_review_volume", "month", JAN, A)] = (1, None, 1)
    E[("rev_town_review_volume", "month", JAN, B)] = (0, None, 0)
    E[("rev_town_review_volume", "month", DEC21, B)] = (1, None, 1)
    E[("rev_town_review_volume", "quarter", Q1, DISTRICT)] = (2, None, 2)
    E[("rev_town_litigation_volume", "month", JAN, A)] = (1, None, 1)
    E[("rev_town_litigation_volume", "month", JAN, B)] = (1, None, 1)
    E[("rev_town_litigation_volume", "month", FEB, A)] = (1, None, 1)
    E[("rev_town_litigation_volume", "quarter", Q1, DISTRICT)] = (3, None, 3)
    rate("rev_town_litigation_loss_rate", "month", FEB, A, 1, 2)
    rate("rev_town_litigation_loss_rate", "month", FEB, B, 0, 1)
    rate("rev_town_litigation_loss_rate", "month", JAN, A, 0, 0)
    rate("rev_town_litigation_loss_rate", "quarter", Q1, DISTRICT, 1, 3)

    # 社区矫正 -- in correction at month end: Oct B = S6; Nov B = S4, S6; Dec A = S1, B = S4, S5, S6;
    # Jan A = S1, S2, S3, B = S4; Feb A = S1, S3, B none (the stock's horizon: Feb, the last event).
    E[("corr_under_correction_count", "month", DEC21, B)] = (3, None, 3)
    E[("corr_under_correction_count", "month", JAN, A)] = (3, None, 3)
    E[("corr_under_correction_count", "month", JAN, DISTRICT)] = (4, None, 4)
    E[("corr_under_correction_count", "month", FEB, B)] = (0, None, 0)          # none left: a real 0
    E[("corr_under_correction_count", "quarter", Q1, DISTRICT)] = (2, None, 2)  # end of quarter on file: Feb
    # 智慧矫正: S1 (之矫汇), S2 (电子定位), S4 (智汇矫) covered.
    rate("corr_smart_coverage_rate", "month", DEC21, B, 1, 3)
    rate("corr_smart_coverage_rate", "month", JAN, A, 2, 3)
    rate("corr_smart_coverage_rate", "month", FEB, A, 1, 2)
    rate("corr_smart_coverage_rate", "month", FEB, B, 0, 0)
    rate("corr_smart_coverage_rate", "quarter", Q1, DISTRICT, 1, 2)
    # 再犯罪率, annualised (x 12): S4's new crime (Jan B) over the month-end stocks; the quarter sums
    # both: 1 / (Jan 4 + Feb 2) x 1200 = 200.
    rate("corr_reoffence_rate", "month", JAN, B, 1, 1, scale=1200)
    rate("corr_reoffence_rate", "month", JAN, A, 0, 3, scale=1200)
    rate("corr_reoffence_rate", "quarter", Q1, DISTRICT, 1, 6, scale=1200)
    rate("corr_reoffence_rate", "year", date(2021, 1, 1), DISTRICT, 0, 7, scale=1200)   # Oct 1 + Nov 2 + Dec 4
    # 解矫衔接率 by release month, 期满解矫 only: Jan B = S5 (late), S6 (none); Feb A = S2 (in time);
    # S4 (撤销缓刑) needs none.
    rate("corr_release_linkage_rate", "month", JAN, B, 0, 2)
    rate("corr_release_linkage_rate", "month", FEB, A, 1, 1)
    rate("corr_release_linkage_rate", "month", FEB, B, 0, 0)
    rate("corr_release_linkage_rate", "quarter", Q1, DISTRICT, 1, 3)

    elsewhere = hand_computed_elsewhere(codes)
    assert {k[0] for k in E} | elsewhere == codes, \
        f"indicators without a hand-computed value: {codes - {k[0] for k in E} - elsewhere}"
    for key, expected in E.items():
        assert key in vals, f"missing row {key}"
        assert v(vals, *key) == expected, f"{key}: engine {v(vals, *key)} != hand {expected}"

    # Targets: only where the policy states a number.
    assert vals[("staff_legal_reviewer_ratio", "month", MAR, DISTRICT)][3:] == (Decimal(5), True)
    assert vals[("staff_fill_rate", "month", MAR, DISTRICT)][3:] == (Decimal(85), True)
    assert vals[("pub_site_coverage_rate", "month", MAR, B)][3:] == (Decimal(100), False)
    assert vals[("pub_site_coverage_rate", "month", MAR, C)][3:] == (Decimal(100), None)   # no value: unknown
    assert vals[("enf_online_handling_rate", "month", JAN, A)][3:] == (None, None)
    assert vals[("staff_legal_reviewer_dept_attainment", "month", MAR, DISTRICT)][3:] == (Decimal(100), False)
    assert vals[("gov_petition_backlog", "month", FEB, A)][3:] == (Decimal(0), True)      # 无信访积案
    assert vals[("gov_petition_backlog", "month", FEB, B)][3:] == (Decimal(0), False)
    # No deadline falls in February: no month of the indicator, not a 0 or a NULL rate.
    assert ("gov_first_petition_in_time_rate", "month", FEB, B) not in vals
    # A trend target (稳步下降) is not comparable here: no final period a year earlier.
    assert vals[("gov_petition_volume", "month", JAN, A)][3:] == (None, None)

    # Grid: every town-level indicator has all 12 镇街 plus the district for every period it has.
    by_period: dict[tuple, set] = {}
    for (code, grain, period, town) in vals:
        by_period.setdefault((code, grain, period), set()).add(town)
    district_only = {c.code for c in ind.catalog() if "town" not in c.levels}
    for (code, grain, period), towns in by_period.items():
        expected = 1 if code in district_only else N_TOWNS + 1
        assert len(towns) == expected, f"{code} {grain} {period}: {len(towns)} towns"
    assert first["indicators"] == len(fed_codes())


def breakdowns(url: str) -> dict[tuple, tuple]:
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT indicator_code, dimension, member, grain, period_start, town_code,
                              numerator, denominator, value, meets_target
                       FROM mart.indicator_values_by_dimension""")
        return {r[:6]: tuple(None if x is None else float(x) if isinstance(x, Decimal) else x for x in r[6:])
                for r in cur.fetchall()}


def test_breakdowns_by_the_declared_dimensions(world):
    url, _, _ = world
    vals = breakdowns(url)

    def check(key, n, dd, value, meets=None):
        assert key in vals, f"missing {key}"
        got = vals[key]
        assert got[:2] == (n, dd) and got[3] == meets, f"{key}: {got}"
        assert (got[2] is None) if value is None else got[2] == pytest.approx(value, abs=1e-4), f"{key}: {got}"

    # Same-table denominators split by the member: a rate within each department / case type.
    check(("enf_online_handling_rate", "dept_code", "YH-ZHZF", "month", JAN, A), 1, 2, 50)     # E1, E2
    check(("enf_online_handling_rate", "dept_code", "YH-SCJG", "quarter", Q1, DISTRICT), 2, 2, 100)  # E3, E4
    check(("court_online_filing_rate", "case_type", "民事", "quarter", Q1, DISTRICT), 2, 4, 50)  # C1, C6 net; C5, C7 window
    check(("court_online_filing_rate", "case_type", "商事", "quarter", Q1, DISTRICT), 0, 1, 0)   # C2
    check(("court_online_filing_rate", "case_type", "刑事", "month", JAN, A), 1, 1, 100)          # C3 微法院
    # A population denominator is not split: cases of one type per 10,000 residents.
    check(("gov_litigation_per_10k", "case_type", "民事", "month", JAN, A), 1, pop(2022, A),
          1 / pop(2022, A) * 10000)
    check(("gov_litigation_per_10k", "case_type", "民事", "month", FEB, B), 0, pop(2022, B), 0)    # C5 is 二审
    # ... and for the district, per 10,000 of all its residents (not of the 镇街 that had such a case).
    check(("gov_litigation_per_10k", "case_type", "民事", "month", JAN, DISTRICT), 1, pop(2022),
          1 / pop(2022) * 10000)
    # Counts: no denominator; a missing value is its own member.
    check(("gov_petition_volume", "kind", "初信初访", "month", JAN, A), 2, None, 2)
    check(("gov_petition_volume", "kind", "重复", "quarter", Q1, DISTRICT), 1, None, 1)
    check(("gov_petition_volume", "category", "(未填)", "month", JAN, A), 3, None, 3)
    # The policy's 5% is per department: ZHZF 4/90 misses it, SCJG 3/40 meets it.
    check(("staff_legal_reviewer_ratio", "dept_code", "YH-ZHZF", "month", MAR, DISTRICT), 4, 90, 4 / 90 * 100, False)
    check(("staff_legal_reviewer_ratio", "dept_code", "YH-SCJG", "quarter", Q1, DISTRICT), 3, 40, 7.5, True)
    # ... and which departments fail: attained 100, not attained 0.
    check(("staff_legal_reviewer_dept_attainment", "dept_code", "YH-ZHZF", "month", MAR, DISTRICT), 0, 1, 0, False)
    check(("staff_legal_reviewer_dept_attainment", "dept_code", "YH-SCJG", "month", MAR, DISTRICT), 1, 1, 100, True)
    # 案卷评查 per reviewed unit: the 执法队 (YH-ZFD) has the 不合格 file (R2), SCJG none.
    check(("sup_case_review_pass_rate", "dept_code", "YH-ZFD", "quarter", Q1, DISTRICT), 1, 2, 50)
    check(("sup_case_review_pass_rate", "dept_code", "YH-SCJG", "quarter", Q1, DISTRICT), 2, 2, 100)
    check(("sup_case_review_good_rate", "unit_type", "镇街综合行政执法队", "month", JAN, A), 0, 1, 0)
    check(("sup_complaint_in_time_rate", "channel", "12345热线", "quarter", Q1, DISTRICT), 2, 2, 100)   # K1, K4
    # Only combinations with records: no row for a department in a town it has no cases in.
    assert ("enf_online_handling_rate", "dept_code", "YH-SCJG", "month", JAN, A) not in vals
    # Every declared dimension has rows, and nothing else does.
    declared = {(c.code, d) for c in ind.catalog() if c.code in fed_codes() for d in ind.breakdown_dimensions(c)}
    assert {k[:2] for k in vals} == declared


def test_trend_target_is_met_against_a_final_year_earlier(world):
    """稳步下降: met where the value is below the same period a year earlier and that period is
    final; a period before the first loaded interval is partial, and no comparison is made."""
    url, deliveries, _ = world

    def completeness(period, code="gov_petition_volume"):
        with transaction(url) as conn, conn.cursor() as cur:
            cur.execute("""SELECT completeness, final_since IS NOT NULL FROM mart.indicator_period_status
                           WHERE indicator_code = %s AND grain = 'month' AND period_start = %s""", (code, period))
            return cur.fetchone()

    # Loaded so far: one daily batch (2022-03-02): January holds only what changed that day.
    assert completeness(JAN) == ("partial", False)
    # March (deadlines in it) has not loaded to its end; April starts after all that has loaded.
    assert completeness(MAR, "gov_first_petition_in_time_rate") == ("partial", False)
    assert completeness(date(2022, 4, 1), "gov_first_petition_in_time_rate") == ("future", False)
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT count(*) FROM mart.indicator_values_published WHERE indicator_code = 'gov_petition_volume'
                       AND period_start < %s""", (MAR,))
        assert cur.fetchone()[0] == 0, "nothing is published for a period the pipeline has not fully read"
    # A backfill of 2021-01-01 .. 2022-03-02 (reaching the daily batch: no gap): P6 (Jan 2021, A),
    # P7 and P8 (Feb 2021, B).
    rows = [dict(petition_no="P6", town_code=A, registered_at=t("2021-01-10 09:00"), kind="重复"),
            dict(petition_no="P7", town_code=B, registered_at=t("2021-02-05 09:00"), kind="重复"),
            dict(petition_no="P8", town_code=B, registered_at=t("2021-02-06 09:00"), kind="重复"),
            # P9: 临平街道 before it moved to 临平区 (2021-04-09): the old district's history, in core,
            # counted nowhere (not in the district's total, no row of its own).
            dict(petition_no="P9", town_code="330110001000", registered_at=t("2021-02-07 09:00"), kind="重复")]
    deliveries.deliver("petitions", "petition", rows, t("2021-01-01 00:00"), interval_end=t("2022-03-02 00:00"))
    with transaction(url) as conn:
        ind.refresh(conn, trigger="test backfill")
    assert completeness(JAN) == ("final", True)
    assert completeness(date(2021, 1, 1)) == ("final", True)
    vals = values(url)

    def meets(grain, period, town):
        return vals[("gov_petition_volume", grain, period, town)][4]

    assert v(vals, "gov_petition_volume", "month", date(2021, 2, 1), DISTRICT) == (2, None, 2)   # P7, P8: not P9
    assert not any(k[3] == "330110001000" for k in vals)
    assert meets("month", JAN, A) is False          # 3 against 1
    assert meets("month", FEB, B) is True           # 1 against 2
    assert meets("month", FEB, DISTRICT) is True    # 1 against 2
    assert meets("month", JAN, C) is False          # 0 against 0 is no decrease
    assert meets("month", date(2021, 1, 1), A) is None   # nothing a year before 2021


def test_a_later_repeat_petition_undoes_an_earlier_one_time_resolution(world):
    """A repeat in February by P1's petitioner (P1 concluded on Jan 20) makes January's 一次性化解
    0 of 1: the refresh recomputes the months a record can change before its own."""
    url, deliveries, _ = world
    repeat = dict(petition_no="P10", town_code=A, registered_at=t("2022-02-10 09:00"), kind="重复", party_key="a" * 64)
    deliveries.deliver("petitions", "petition", [repeat], t("2022-03-03 00:00"))
    with transaction(url) as conn:
        result = ind.refresh(conn, trigger="test repeat")
    vals = values(url)
    assert v(vals, "gov_first_petition_one_time_resolution_rate", "month", JAN, A) == approx(0, 1, 0)
    assert v(vals, "gov_first_petition_one_time_resolution_rate", "month", MAR, A) == approx(1, 1, 100)
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT touched FROM audit.indicator_refresh WHERE refresh_id = %s", (result["refresh_id"],))
        assert "2022-01" in cur.fetchone()[0]["gov_first_petition_one_time_resolution_rate"]
        # January is loaded to its end but stays in its observation window (观察期内, published)
        # until three more months have loaded; a change inside that window is no revision.
        cur.execute("""SELECT completeness FROM mart.indicator_period_status WHERE grain = 'month'
                       AND indicator_code = 'gov_first_petition_one_time_resolution_rate' AND period_start = %s""",
                    (JAN,))
        assert cur.fetchone()[0] == "settling"
        cur.execute("""SELECT count(*) FROM mart.indicator_values_published WHERE grain = 'month'
                       AND indicator_code = 'gov_first_petition_one_time_resolution_rate' AND period_start = %s
                       AND town_code = %s AND completeness = 'settling'""", (JAN, A))
        assert cur.fetchone()[0] == 1
        cur.execute("""SELECT count(*) FROM mart.indicator_value_revision WHERE refresh_id = %s
                       AND indicator_code = 'gov_first_petition_one_time_resolution_rate'""",
                    (result["refresh_id"],))
        assert cur.fetchone()[0] == 0


def test_late_correction_revises_past_months_and_equals_a_full_rebuild(world):
    url, deliveries, _ = world
    before = values(url)
    # In March two corrections arrive: E2 was in fact handled online; C2 was filed on Feb 10,
    # not Jan 10 (it moves from A's January to A's February).
    e2 = next(r for r in enforcement_cases() if r["case_no"] == "E2")
    c2 = next(r for r in court_cases() if r["case_no"] == "C2")
    deliveries.deliver("enforcement", "case", [dict(e2, fully_online=True)], t("2022-03-05 00:00"))
    deliveries.deliver("courts", "case", [dict(c2, filed_on=d("2022-02-10"))], t("2022-03-05 00:00"))
    # And D1 was in fact removed from the 失信 list on Jan 20 (a stock: Jan and Feb change).
    d1 = next(r for r in dishonest() if r["listing_no"] == "D1")
    deliveries.deliver("courts", "dishonest", [dict(d1, removed_on=d("2022-01-20"))], t("2022-03-05 00:00"))
    with transaction(url) as conn:
        result = ind.refresh(conn, trigger="test correction")
    after = values(url)

    assert v(after, "enf_online_handling_rate", "month", JAN, A) == approx(2, 2, 100)
    assert v(after, "enf_online_handling_rate", "quarter", Q1, DISTRICT) == approx(4, 4, 100)
    # Both months of the moved case are recomputed: Jan A loses C2, Feb A gains it.
    assert v(after, "court_online_filing_rate", "month", JAN, A) == approx(2, 2, 100)
    assert v(after, "court_online_filing_rate", "month", FEB, A) == approx(0, 1, 0)
    assert v(after, "court_e_payment_order_rate", "month", FEB, A) == approx(0, 0, None)   # C2 is no 督促 case
    assert v(after, "gov_dishonest_per_10k", "month", DEC21, A) == v(before, "gov_dishonest_per_10k", "month", DEC21, A)
    assert v(after, "gov_dishonest_per_10k", "month", JAN, A) == approx(1, pop(2022, A), 10000 / pop(2022, A))
    assert v(after, "gov_dishonest_per_10k", "month", FEB, A) == approx(0, pop(2022, A), 0)
    # Only the touched indicators and months were recomputed.
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT touched FROM audit.indicator_refresh WHERE refresh_id = %s", (result["refresh_id"],))
        touched = cur.fetchone()[0]
        assert touched["enf_online_handling_rate"] == ["2022-01"]
        assert touched["court_online_filing_rate"] == ["2022-01", "2022-02"]
        # A stock recomputes only the months in which the record's membership changed.
        assert touched["gov_dishonest_per_10k"] == ["2022-01", "2022-02"]
        # The flows by their records' contributions (delta maintenance), not by recomputing months;
        # stocks, and indicators whose where reads another system's records (depends_on), whole.
        from yhlaw.indicators.delta import delta_eligible
        whole = {c.code for c in ind.catalog() if not delta_eligible(c)}
        whole_months = sum(len(v) for k, v in touched.items() if k in whole)
        assert result["delta_months"] == result["months"] - whole_months > 0
        assert "gov_petition_volume" not in touched and "ls_one_visit_rate" not in touched
        # The old published values are kept, with when and why.
        cur.execute("""SELECT old_value, new_value, revision_kind, reason, published_at < revised_at
                       FROM mart.indicator_value_revision
                       WHERE indicator_code = 'enf_online_handling_rate' AND grain = 'month'
                         AND period_start = %s AND town_code = %s""", (JAN, A))
        old, new, kind, reason, ordered = cur.fetchone()
        assert (float(old), float(new), kind, ordered) == (50.0, 100.0, "late_correction", True)
        assert "core.enforcement_case: 1 batch(es)" in reason
        # The unchanged rows keep their computed_at (nothing else moved).
        cur.execute("""SELECT count(*) FROM mart.indicator_value_revision r WHERE refresh_id = %s
                         AND indicator_code NOT IN ('enf_online_handling_rate', 'court_online_filing_rate',
                           'court_e_payment_order_rate', 'court_e_dossier_rate', 'court_remote_hearing_rate',
                           'court_mobile_micro_court_share', 'gov_litigation_per_10k',
                           'gov_dishonest_per_10k')""", (result["refresh_id"],))
        assert cur.fetchone()[0] == 0
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed and all(k[0].startswith(("enf_online", "court_", "gov_litigation", "gov_dishonest"))
                           for k in changed), sorted(changed)[:5]

    # Nothing new: a refresh writes nothing.
    with transaction(url) as conn:
        idle = ind.refresh(conn, trigger="test idle")
    assert (idle["new_batches"], idle["rows_written"], idle["rows_revised"]) == (0, 0, 0)

    # A full rebuild gives the same tables, row for row.
    after_breakdowns = breakdowns(url)
    with transaction(url) as conn:
        full = ind.refresh(conn, full=True, trigger="test full")
    assert values(url) == after
    assert breakdowns(url) == after_breakdowns
    assert full["rows_revised"] == 0


def test_dashboard_views_and_roles(world):
    url, _, _ = world
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT period_start, value, previous_value, change_vs_previous, last_year_value, target
                       FROM mart.indicator_latest
                       WHERE indicator_code = 'gov_dishonest_per_10k' AND grain = 'month' AND town_code = %s""", (A,))
        period, value, prev, change, last_year, target = cur.fetchone()
        # Latest month on file is February: no listing left in A once D1's removal on Jan 20 was
        # corrected in (see the correction test); January had 1 (D2); no February 2021.
        assert period == FEB
        assert float(value) == 0
        assert float(prev) == pytest.approx(1 / pop(2022, A) * 10000, abs=1e-4)
        assert float(change) == pytest.approx(float(value) - float(prev), abs=1e-9)
        assert last_year is None and target is None
        cur.execute("""SELECT value, last_year_value FROM mart.indicator_latest
                       WHERE indicator_code = 'gov_dishonest_per_10k' AND grain = 'year' AND town_code = %s""", (A,))
        value, last_year = cur.fetchone()
        assert float(last_year) == pytest.approx(1 / pop(2021, A) * 10000, abs=1e-4)    # 2021: D1 at December
        cur.execute("SELECT count(*) FROM mart.indicator_catalog")
        assert cur.fetchone()[0] == len(ind.catalog())
    # The dashboard role reads the marts and nothing else.
    from psycopg2 import connect, errors

    dash = connect(url.replace("etl@", "dashboard@"))
    try:
        with dash.cursor() as cur:
            for table in ("mart.indicator_values", "mart.indicator_latest", "mart.indicator_catalog",
                          "mart.indicator_value_revision", "mart.indicator_values_by_dimension"):
                cur.execute(f"SELECT count(*) FROM {table}")
                assert cur.fetchone()[0] > 0, table
            for table in ("core.enforcement_case", "core.dim_town", "audit.batch", "raw.record", "quarantine.record"):
                with pytest.raises(errors.InsufficientPrivilege):
                    cur.execute(f"SELECT 1 FROM {table} LIMIT 1")
                dash.rollback()
    finally:
        dash.close()


def test_catalog_is_complete_and_documented():
    from yhlaw.indicators import render_docs

    cat = ind.catalog()
    assert len(cat) >= 29
    areas = {c.area for c in cat}
    assert {"严格执法", "营商环境", "公正司法", "全民守法", "基层治理", "执法力量"} <= areas
    for c in cat:
        assert c.clause and c.section and c.assumptions, c.code
    stated = {c.code: c.target for c in cat if c.target is not None}
    assert stated == {"staff_legal_reviewer_ratio": 5, "staff_fill_rate": 85, "staff_town_deployment_rate": 50,
                      "pub_site_coverage_rate": 100, "staff_legal_reviewer_dept_attainment": 100,
                      "gov_petition_backlog": 0, "corr_reoffence_rate": 0.2, "corr_absconding_count": 0,
                      "inv_general_80day_rate": 100, "inv_full_process_median_days": 80, "gsv_online_item_rate": 100}
    # The seed's “稳步下降” (信访量、万人成讼率、万人失信率) is a trend target, assessed year on year.
    assert {c.code for c in cat if c.target_trend == "down"} >= {
        "gov_petition_volume", "gov_litigation_per_10k", "gov_dishonest_per_10k"}
    for c in cat:
        assert {"numerator", "denominator", "placement", "coverage"} <= set(c.caliber), c.code
        if c.denominator is not None and c.denominator.population:
            assert "population" in c.caliber, c.code
    # docs/policy-coverage.md maps the seed's clauses to indicators: every code it links is in the
    # catalog, and every indicator answers some clause there.
    import re
    coverage = (PROJECT_ROOT / "docs" / "policy-coverage.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\[`([a-z][a-z0-9_]*)`\]\(indicators\.md#\1\)", coverage))
    assert linked and linked <= {c.code for c in cat}, linked - {c.code for c in cat}
    assert {c.code for c in cat} <= linked, {c.code for c in cat} - linked
    # docs/indicators.md is generated from the catalog and is up to date.
    assert (PROJECT_ROOT / "docs" / "indicators.md").read_text(encoding="utf-8") == render_docs(cat), \
        "docs/indicators.md is stale: run `python -m yhlaw indicators --docs`"
