"""Two environments on one PostgreSQL server never meet: everything a simulated system or an
Airflow deployment keeps (databases, drop folders, metadata DB, Celery queue, Airflow home) is
derived from the warehouse database the environment belongs to."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import TEST_SIM_BASE_PORT, own_database

CST = ZoneInfo("Asia/Shanghai")


def environment(monkeypatch, database: str):
    from yhlaw_dev.world import DevSettings

    monkeypatch.setenv("WAREHOUSE_URL", f"postgresql://etl@127.0.0.1:5432/{database}")
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    return DevSettings.from_env()


def kept(settings) -> dict[str, object]:
    from yhlaw_dev.services import AirflowServices

    services = AirflowServices(settings)
    return {"mediation database": settings.sim_database("mediation"), "drop folder": settings.sim_drop_dir("courts"),
            "airflow home": settings.airflow_home, "metadata database": services.metadata_database,
            "queue": services.queue, "services home": services.home}


def test_everything_an_environment_keeps_is_its_own(monkeypatch):
    a, b = (kept(environment(monkeypatch, db)) for db in ("yuhang_law", "yuhang_law_staging"))
    assert not {k for k in a if a[k] == b[k]}, (a, b)
    assert a["mediation database"] == "yhlaw_sim_mediation"      # the default environment keeps its names


@pytest.mark.stack
def test_two_environments_run_their_systems_side_by_side(monkeypatch, settings):
    """Both mediation systems at once, each writing its own database; the second's start does
    not disconnect or drop the first's."""
    import psycopg2

    from yhlaw_dev.stack import simulator

    first = environment(monkeypatch, own_database(settings, "iso_a"))
    second = environment(monkeypatch, own_database(settings, "iso_b"))
    now = datetime(2022, 3, 2, 1, 0, tzinfo=CST)

    def rows(settings) -> int:
        conn = psycopg2.connect(host="127.0.0.1", dbname=settings.sim_database("mediation"),
                                user=settings.sim_db_reader("mediation"))
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM tj_ajxx")
                return cur.fetchone()[0]
        finally:
            conn.close()

    with simulator(first, "mediation", port=TEST_SIM_BASE_PORT + 400, now=now) as sim_a:
        before = rows(first)
        with simulator(second, "mediation", port=TEST_SIM_BASE_PORT + 401, now=now + timedelta(days=5)) as sim_b:
            assert rows(second) > before > 0
            sim_a.set_clock(now + timedelta(days=1))         # the first still answers and writes
            assert rows(first) > before
            assert sim_b.admin("GET", "/_sim/clock")["now"].startswith("2022-03-07")
