"""The indicators of the 执法监督 and 社区矫正 entities added for #16 (网上执法效能评价, 执法监督预警,
违规与奖惩) against a small hand-built dataset, every value worked out below by hand, in a
warehouse of its own. Records go in through the real loader (staging -> store.merge), as
batches, like tests/test_indicators.py. Towns: A = 五常街道, B = 仁和街道; months January and
February 2022.
"""

from __future__ import annotations

from datetime import date

import pytest

from yhlaw import indicators as ind
from yhlaw.warehouse import transaction

from test_indicators import approx, d, delivered_world, t, v, values

A, B, DISTRICT = "330110005000", "330110009000", "330110000000"
JAN, FEB, Q1, Y22 = date(2022, 1, 1), date(2022, 2, 1), date(2022, 1, 1), date(2022, 1, 1)
KEY = {p: f"{n:064x}" for n, p in enumerate(("P1", "P2", "P3", "P4"), start=1)}   # party keys (HMACs)


def evaluations():
    # 效能评价 by evaluated month: Jan A = EV1 良好, EV2 一般, EV3 优秀; Jan B = EV4 较差; Feb B = EV5 良好
    # (after 复核); EV6 has no 等次 (not evaluated): in neither count.
    def ev(no, town, period, unit, grade, score):
        return dict(evaluation_no=no, period_type="月度", period_start=period, unit_type="镇街综合行政执法队",
                    dept_code=unit, town_code=town, total_score=score, grade=grade, evaluated_on=period)
    return [ev("EV1", A, JAN, "YH-ZFD", "良好", 84.0), ev("EV2", A, JAN, "YH-ZHZF", "一般", 76.5),
            ev("EV3", A, JAN, "YH-SCJG", "优秀", 93.0), ev("EV4", B, JAN, "YH-ZFD", "较差", 55.0),
            dict(ev("EV5", B, FEB, "YH-ZFD", "良好", 81.0), rechecked_on=d("2022-03-01")),
            ev("EV6", A, FEB, "YH-ZFD", None, None)]


def warnings():
    # 预警 by deadline (warned date + time limit): W1 due 01-10 handled in time, W3 due 01-28 handled late
    # (Jan A); W2 due 02-04 still open: late (Feb A); W4 warned 01-31 23:30 local, due 02-03, in time;
    # W5 due 02-17, 误报核销 in time (Feb B).
    def w(no, town, warned, limit, handled=None, in_time=None):
        return dict(warning_no=no, warning_type="超期未结案", warning_level="橙色", dept_code="YH-ZFD", town_code=town,
                    warned_at=t(warned), time_limit_days=limit, status="已处置" if handled else "待处置",
                    handled_at=handled and t(handled), in_time=in_time, transferred=False)
    return [w("W1", A, "2022-01-03 10:00", 7, "2022-01-08 15:00", True),
            w("W2", A, "2022-01-20 02:00", 15),
            w("W3", A, "2022-01-25 09:00", 3, "2022-02-02 10:00", False),
            w("W4", B, "2022-01-31 23:30", 3, "2022-02-01 10:00", True),
            w("W5", B, "2022-02-10 09:00", 7, "2022-02-12 10:00", True)]


def people():
    # 在矫: P1 A since 2021-12-10; P2 A 01-05 to 02-10; P3 A since 01-20; P4 B 2021-11-01, revoked 02-20.
    # Month-end stocks: Jan A 3, B 1; Feb A 2 (P1, P3), B 0.
    base = dict(correction_type="缓刑", electronic_tag=False, app="之矫汇", reoffended=False)
    return [dict(base, person_no="P1", town_code=A, entered_on=d("2021-12-10"), party_key=KEY["P1"]),
            dict(base, person_no="P2", town_code=A, entered_on=d("2022-01-05"), released_on=d("2022-02-10"),
                 release_type="期满解矫", party_key=KEY["P2"]),
            dict(base, person_no="P3", town_code=A, entered_on=d("2022-01-20"), party_key=KEY["P3"]),
            dict(base, person_no="P4", town_code=B, entered_on=d("2021-11-01"), released_on=d("2022-02-20"),
                 release_type="撤销缓刑", party_key=KEY["P4"])]


def violations():
    # 奖惩: P1 训诫 01-10 (too light), 警告 01-20 and 01-28 (one person); P2 表扬 (no violation);
    # P4 警告 01-12 for 脱离监管 from 01-08, 提请撤销缓刑 02-05 for 脱离监管 from 02-01; P3 提请治安管理处罚 02-15.
    def vi(no, person, town, sanction, decided, kind=None, occurred=None):
        return dict(record_no=no, person_no=person, sanction=sanction, violation_type=kind,
                    occurred_on=occurred and d(occurred), decided_on=d(decided), town_code=town,
                    party_key=KEY[person])
    return [vi("V1", "P1", A, "训诫", "2022-01-10", "不按规定报告", "2022-01-08"),
            vi("V2", "P1", A, "警告", "2022-01-20", "未经批准离开所居住市县", "2022-01-15"),
            vi("V3", "P1", A, "警告", "2022-01-28", "不按规定参加教育学习", "2022-01-26"),
            vi("V4", "P2", A, "表扬", "2022-01-25"),
            vi("V5", "P4", B, "警告", "2022-01-12", "脱离监管", "2022-01-08"),
            vi("V6", "P4", B, "提请撤销缓刑", "2022-02-05", "脱离监管", "2022-02-01"),
            vi("V7", "P3", A, "提请治安管理处罚", "2022-02-15", "违反禁止令", "2022-02-12")]


DATASET = [("supervision", "evaluation", evaluations), ("supervision", "warning", warnings),
           ("corrections", "person", people), ("corrections", "violation", violations)]
CODES = ("sup_evaluation_good_rate", "sup_warning_in_time_rate", "corr_violation_rate", "corr_absconding_count")


@pytest.fixture(scope="module")
def world(settings):
    url, deliveries, _ = delivered_world(settings, "ind_entities", DATASET)
    return url, deliveries


def expected() -> dict[tuple, tuple]:
    E = {}

    def rate(code, grain, period, town, n, dd, scale=100):
        E[(code, grain, period, town)] = approx(n, dd, None if dd == 0 else n / dd * scale)

    # 效能评价优良率: Jan A 2 of 3 (EV1, EV3), Jan B 0 of 1; Feb B 1 of 1; EV6 (no 等次) nowhere.
    rate("sup_evaluation_good_rate", "month", JAN, A, 2, 3)
    rate("sup_evaluation_good_rate", "month", JAN, B, 0, 1)                 # a real 0
    rate("sup_evaluation_good_rate", "month", JAN, DISTRICT, 2, 4)
    rate("sup_evaluation_good_rate", "month", FEB, A, 0, 0)                 # EV6 only -> NULL
    rate("sup_evaluation_good_rate", "month", FEB, B, 1, 1)
    rate("sup_evaluation_good_rate", "quarter", Q1, DISTRICT, 3, 5)         # unit-months, not avg of months
    rate("sup_evaluation_good_rate", "year", Y22, B, 1, 2)
    # 预警按期处置率 by deadline month: Jan A W1 in, W3 late; Feb A W2 open = late; Feb B W4, W5 in.
    rate("sup_warning_in_time_rate", "month", JAN, A, 1, 2)
    rate("sup_warning_in_time_rate", "month", FEB, A, 0, 1)
    rate("sup_warning_in_time_rate", "month", FEB, B, 2, 2)                 # W4 due 02-03 (local day 01-31)
    rate("sup_warning_in_time_rate", "month", JAN, B, 0, 0)
    rate("sup_warning_in_time_rate", "month", FEB, DISTRICT, 2, 3)
    rate("sup_warning_in_time_rate", "quarter", Q1, DISTRICT, 3, 5)
    rate("sup_warning_in_time_rate", "quarter", Q1, A, 1, 3)
    # 违规率: people with 警告 or worse by decision month over month-end stocks. Jan A P1 (twice: one
    # person) / 3; Jan B P4 / 1; Feb A P3 / 2; Feb B P4 (revoked 02-20, gone at month end) / 0 -> NULL.
    rate("corr_violation_rate", "month", JAN, A, 1, 3)
    rate("corr_violation_rate", "month", JAN, B, 1, 1)
    rate("corr_violation_rate", "month", JAN, DISTRICT, 2, 4)
    rate("corr_violation_rate", "month", FEB, A, 1, 2)
    rate("corr_violation_rate", "month", FEB, B, 1, 0)
    rate("corr_violation_rate", "month", FEB, DISTRICT, 2, 2)
    rate("corr_violation_rate", "quarter", Q1, DISTRICT, 4, 6)              # (2 + 2) / (4 + 2)
    rate("corr_violation_rate", "quarter", Q1, A, 2, 5)
    # 脱管 by the day supervision was lost: P4 on 01-08 and again on 02-01 (B).
    E[("corr_absconding_count", "month", JAN, B)] = (1.0, None, 1.0)
    E[("corr_absconding_count", "month", FEB, B)] = (1.0, None, 1.0)
    E[("corr_absconding_count", "month", JAN, DISTRICT)] = (1.0, None, 1.0)
    E[("corr_absconding_count", "quarter", Q1, DISTRICT)] = (2.0, None, 2.0)
    E[("corr_absconding_count", "year", Y22, B)] = (2.0, None, 2.0)
    return E


def test_the_new_indicators_match_the_hand_computed_values(world):
    url, _ = world
    vals = values(url)
    E = expected()
    assert {k[0] for k in E} == set(CODES)
    assert set(CODES) <= {c.code for c in ind.catalog()}
    for key, want in E.items():
        assert key in vals, f"no value for {key}"
        assert v(vals, *key) == want, key


def test_absconding_target_is_zero_and_a_month_without_one_meets_it(world):
    url, _ = world
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT town_code, value, target, meets_target FROM mart.indicator_values
                       WHERE indicator_code = 'corr_absconding_count' AND grain = 'month' AND period_start = %s
                         AND town_code IN (%s, %s)""", (JAN, A, B))
        rows = {r[0]: tuple(None if x is None else (x if isinstance(x, bool) else float(x)) for x in r[1:])
                for r in cur.fetchall()}
    assert rows[B] == (1.0, 0.0, False)
    assert rows.get(A, (0.0, 0.0, True)) == (0.0, 0.0, True)


def test_a_rescored_evaluation_revises_its_month(world):
    """复核: EV2 re-scored from 一般 to 良好 (a later version) counts in January, its evaluated month."""
    url, deliveries = world
    revised = [dict(r, grade="良好", total_score=82.0, rechecked_on=d("2022-03-10"))
               for r in evaluations() if r["evaluation_no"] == "EV2"]
    deliveries.deliver("supervision", "evaluation", revised, t("2022-03-10 00:00"), updated_at=t("2022-03-10 11:00"))
    with transaction(url) as conn:
        ind.refresh(conn, trigger="test rescore")
    vals = values(url)
    assert v(vals, "sup_evaluation_good_rate", "month", JAN, A) == approx(3, 3, 100)
    assert v(vals, "sup_evaluation_good_rate", "quarter", Q1, DISTRICT) == approx(4, 5, 80)
