"""The 政务服务 indicators (include/indicators/gsv_*.yaml) against a small hand-built set of 办件 and
好差评, delivered through the real loader into a warehouse of its own; every value is worked out
below by hand. Towns: A = 五常街道, B = 仁和街道. Months: January and February 2022."""

from __future__ import annotations

from datetime import date

import pytest

from test_indicators import approx, d, delivered_world, t, v, values
from yhlaw.warehouse import transaction

A, B, DISTRICT = "330110005000", "330110009000", "330110000000"
JAN, FEB, Q1, Y22 = date(2022, 1, 1), date(2022, 2, 1), date(2022, 1, 1), date(2022, 1, 1)


def cases():
    # 分钟制: 个人办事 30, 企业开办 60, 不动产登记 60 minutes, 即办件 (promised_days 0) only.
    base = dict(status="已办结", promised_days=0, paperless=False, channel="窗口")
    return [dict(base, case_no="G1", town_code=A, category="个人办事", channel="掌上", accepted_at=t("2022-01-05 09:00"),
                 finished_at=t("2022-01-05 09:20"), used_minutes=20, paperless=True),          # Jan A: in time
            dict(base, case_no="G2", town_code=A, category="个人办事", accepted_at=t("2022-01-10 09:00"),
                 finished_at=t("2022-01-10 09:45"), used_minutes=45),                         # Jan A: late
            dict(base, case_no="G3", town_code=A, category="企业开办", channel="网上", accepted_at=t("2022-01-20 10:00"),
                 finished_at=t("2022-01-20 11:00"), used_minutes=60, paperless=True),          # Jan A: 60 <= 60
            dict(base, case_no="G4", town_code=B, category="不动产登记", accepted_at=t("2022-02-03 09:00"),
                 finished_at=t("2022-02-03 10:30"), used_minutes=90, paperless=True),          # Feb B: late
            dict(base, case_no="G5", town_code=B, category="不动产登记", promised_days=3,       # 承诺件: no 分钟制
                 accepted_at=t("2022-02-07 09:00"), finished_at=t("2022-02-10 10:00"), used_minutes=1500),
            dict(base, case_no="G6", town_code=B, category="其他", accepted_at=t("2022-02-14 09:00"),
                 finished_at=t("2022-02-15 09:00"), used_minutes=480, paperless=True),
            dict(base, case_no="G7", town_code=A, category="个人办事", status="退件",           # not finished: none
                 accepted_at=t("2022-01-12 09:00")),
            dict(base, case_no="G8", town_code=B, category="个人办事", channel="网上", accepted_at=t("2022-02-28 23:40"),
                 finished_at=t("2022-02-28 23:50"), used_minutes=10, paperless=True),          # Feb B: in time
            dict(base, case_no="G9", town_code=A, category="个人办事", accepted_at=t("2022-01-31 23:45"),
                 finished_at=t("2022-02-01 00:10"), used_minutes=25)]                         # Feb (local) A


def evaluations():
    return [dict(eval_no="E1", town_code=A, channel="浙里办", grade="非常满意", evaluated_at=t("2022-01-05 10:00")),
            dict(eval_no="E2", town_code=A, channel="评价器", grade="不满意", evaluated_at=t("2022-01-11 10:00"),
                 rectify_status="已整改", rectified_at=t("2022-01-20 10:00")),
            dict(eval_no="E3", town_code=A, channel="政务服务网", grade="基本满意", evaluated_at=t("2022-01-21 10:00")),
            dict(eval_no="E4", town_code=B, channel="评价器", grade="非常不满意", evaluated_at=t("2022-02-04 10:00"),
                 rectify_status="待整改"),
            dict(eval_no="E5", town_code=B, channel="二维码", grade="满意", evaluated_at=t("2022-02-16 10:00")),
            dict(eval_no="E6", town_code=B, channel="短信", grade="不满意", evaluated_at=t("2022-02-28 10:00"),
                 rectify_status="不属实", rectified_at=t("2022-03-01 10:00"))]


def items():
    # 网上可办率 at each month end over the 事项 in use, the 特殊规定 ones left out.
    base = dict(legal_exception=False, category="个人办事", impl_level="区级", status="在用")
    return [dict(base, item_code="I1", published_on=d("2021-12-01"), online=True),
            dict(base, item_code="I2", published_on=d("2022-01-10"), online=False),
            dict(base, item_code="I3", published_on=d("2022-01-15"), online=False, legal_exception=True),
            dict(base, item_code="I4", published_on=d("2021-11-01"), online=True, status="停用",
                 stopped_on=d("2022-02-10")),
            dict(base, item_code="I5", published_on=d("2022-02-20"), online=False, impl_level="镇街级")]


@pytest.fixture(scope="module")
def world(settings):
    dataset = [("gov_service", "case", cases), ("gov_service", "evaluation", evaluations),
               ("gov_service", "item", items)]
    return delivered_world(settings, "gsv_indicators", dataset)[0]


def expected() -> dict[tuple, tuple]:
    E = {}

    def rate(code, grain, period, town, n, dd):
        E[(code, grain, period, town)] = approx(n, dd, None if dd == 0 else n / dd * 100)

    # 分钟制达成率 by 办结 month: Jan A = G1 ok, G2 late, G3 ok; Feb A = G9 ok (00:10 local on 02-01);
    # Feb B = G4 late, G8 ok; G5 (承诺件), G6 (其他) and G7 (退件) are not in it.
    rate("gsv_minute_rate", "month", JAN, A, 2, 3)
    rate("gsv_minute_rate", "month", FEB, A, 1, 1)
    rate("gsv_minute_rate", "month", FEB, B, 1, 2)
    rate("gsv_minute_rate", "month", JAN, B, 0, 0)
    rate("gsv_minute_rate", "month", JAN, DISTRICT, 2, 3)
    rate("gsv_minute_rate", "quarter", Q1, DISTRICT, 4, 6)          # (2 + 1 + 1) / (3 + 1 + 2)
    rate("gsv_minute_rate", "year", Y22, B, 1, 2)
    # 全流程无纸化办件占比 over 办结: Jan A = G1, G3 of G1-G3; Feb A = G9 (no); Feb B = G4, G6, G8 of G4, G5, G6, G8.
    rate("gsv_paperless_rate", "month", JAN, A, 2, 3)
    rate("gsv_paperless_rate", "month", FEB, A, 0, 1)
    rate("gsv_paperless_rate", "month", FEB, B, 3, 4)
    rate("gsv_paperless_rate", "month", FEB, DISTRICT, 3, 5)
    rate("gsv_paperless_rate", "quarter", Q1, DISTRICT, 5, 8)
    # 好评率 (非常满意 + 满意 + 基本满意) by 评价 month: Jan A = E1, E3 of 3; Feb B = E5 of 3.
    rate("gsv_good_review_rate", "month", JAN, A, 2, 3)
    rate("gsv_good_review_rate", "month", FEB, B, 1, 3)
    rate("gsv_good_review_rate", "quarter", Q1, DISTRICT, 3, 6)
    rate("gsv_good_review_rate", "quarter", Q1, A, 2, 3)
    # 差评整改率: Jan A = E2 已整改; Feb B = E4 待整改, E6 不属实 (done).
    rate("gsv_bad_review_rectified_rate", "month", JAN, A, 1, 1)
    rate("gsv_bad_review_rectified_rate", "month", FEB, B, 1, 2)
    rate("gsv_bad_review_rectified_rate", "quarter", Q1, DISTRICT, 2, 3)
    # 网上可办率 (district, month end): Dec = I1, I4 of I1, I4; Jan = I1, I4 of I1, I2, I4 (I3 特殊规定);
    # Feb = I1 of I1, I2, I5 (I4 停用 on 02-10); a quarter is its last month's.
    rate("gsv_online_item_rate", "month", date(2021, 12, 1), DISTRICT, 2, 2)
    rate("gsv_online_item_rate", "month", JAN, DISTRICT, 2, 3)
    rate("gsv_online_item_rate", "month", FEB, DISTRICT, 1, 3)
    rate("gsv_online_item_rate", "quarter", Q1, DISTRICT, 1, 3)
    return E


def test_gov_service_indicators_match_the_hand_computed_values(world):
    vals = values(world)
    for key, want in expected().items():
        assert key in vals, f"missing row {key}"
        assert v(vals, *key) == want, f"{key}: engine {v(vals, *key)} != hand {want}"


def test_minute_rate_by_category(world):
    """The three 分钟制 rates are the category breakdown: Q1 district 个人办事 = G1, G8, G9 of G1, G2,
    G8, G9; 企业开办 = G3 of G3; 不动产登记 = none of G4."""
    with transaction(world) as conn, conn.cursor() as cur:
        cur.execute("""SELECT member, numerator, denominator FROM mart.indicator_values_by_dimension
                       WHERE indicator_code = 'gsv_minute_rate' AND grain = 'quarter' AND period_start = %s
                         AND town_code = %s AND dimension = 'category'""", (Q1, DISTRICT))
        got = {m: (float(n), float(d)) for m, n, d in cur.fetchall()}
    assert got == {"个人办事": (3, 4), "企业开办": (1, 1), "不动产登记": (0, 1), "其他": (0, 0)}   # G6: not 分钟制
