"""Setting the platform up: the warehouse (database, roles, migrations, reference data) and
Airflow's metadata DB. Idempotent; ``python -m yhlaw setup``, the demo and the tests all go
through here, so the tests exercise the set-up path a user runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

from yhlaw.key_check import check_key
from yhlaw.mart_views import apply_mart_views
from yhlaw.reasons import load_reason_codes
from yhlaw.reference import load_reference
from yhlaw.settings import Settings
from yhlaw.spec_docs import apply_column_comments
from yhlaw.warehouse import ensure_database, migrate, transaction


def prepare_warehouse(settings: Settings, *, recreate: bool = False) -> list[str]:
    """Database, roles, schema (migrations), reference data, the reason-code registry and the
    column comments from the specs; idempotent. Raises KeyMismatch when the PII key is not the
    one the warehouse's party keys were made with."""
    ensure_database(settings.admin_url, recreate=recreate)
    applied = migrate(settings.admin_url)
    with transaction(settings.admin_url) as conn:
        load_reference(conn)
        load_reason_codes(conn)
        apply_column_comments(conn)     # the specs' field descriptions, where they differ
        apply_mart_views(conn)          # list views and quarantine by 镇街, from the specs
        with conn.cursor() as cur:      # a key other than the party keys' is refused here already
            check_key(cur, settings.hmac_key, record=False)
    return applied


def airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


# The local metadata DB's layout: 2 = Assets named by postgres:// URIs (an older local DB holds the
# same Asset names under warehouse:// URIs, which Airflow would keep as the active ones); 3 = the
# demo's and the tests' runs carry the interval start as logical date (an older DB holds their
# runs under the interval end, and a run id that a new run of the day before would take).
METADATA_LAYOUT = 3


def _reset_outdated_local_metadata(settings: Settings) -> None:
    """A local (SQLite) metadata DB made for an older layout is reset, saying so: it only holds
    the history of local runs. A server metadata DB is never touched."""
    db = settings.airflow_home / "airflow.db"
    if not db.exists() or not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "").startswith("sqlite:"):
        return
    print(f"airflow metadata DB {db}: made for an older layout; resetting it (local run history only)")
    result = subprocess.run([sys.executable, "-m", "airflow", "db", "reset", "--yes", "--skip-init"],
                            env=os.environ.copy(), capture_output=True, text=True)
    if result.returncode != 0:
        db.unlink()


def prepare_airflow(settings: Settings, environment: dict[str, str] | None = None) -> None:
    """Export Airflow's environment (by default ``settings.airflow_environment()``) into this
    process and migrate its metadata DB once."""
    os.environ.update(environment or settings.airflow_environment())
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    stamp = settings.airflow_home / f".migrated-{airflow_version()}-layout{METADATA_LAYOUT}"
    if stamp.exists():
        return
    _reset_outdated_local_metadata(settings)
    result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=os.environ.copy(),
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`airflow db migrate` failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    stamp.touch()
