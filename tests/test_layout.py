"""The project's shape: the design card's layout, what the platform wheel ships, rooms small
enough to live in, and the Airflow plugins."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from yhlaw.paths import PROJECT_ROOT

CARD = ("dags", "plugins", "sql", "expectations", "include", "tests", "docker-compose.yml", "README.md")
PLATFORM = PROJECT_ROOT / "include" / "yhlaw"
MAX_COMPLEXITY = 15


def test_the_design_cards_top_level():
    for name in CARD:
        assert (PROJECT_ROOT / name).exists(), f"the design card names {name}/, which is missing"
    assert not (PROJECT_ROOT / "src").exists(), "the package lives in include/, not src/"
    # include/ holds what the platform reads at run time.
    for runtime in ("yhlaw", "specs", "indicators", "reference"):
        assert (PROJECT_ROOT / "include" / runtime).is_dir(), runtime
    plugins = [p for p in (PROJECT_ROOT / "plugins").glob("*.py")]
    assert plugins, "plugins/ holds no plugin"


def _wheel(tmp_path: Path, project: Path, *packages: str) -> zipfile.ZipFile:
    """Build the wheel from a copy of the project's pyproject and package folders (a build in
    place would leave setuptools' build/ and egg-info in the working tree)."""
    import shutil

    src, out = tmp_path / "src", tmp_path / "wheel"
    src.mkdir()
    shutil.copy(project / "pyproject.toml", src)
    for package in packages:
        shutil.copytree(project / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(out), str(src)], check=True, capture_output=True)
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def test_the_platform_wheel_holds_the_platform_and_nothing_of_the_harness(tmp_path):
    whl = _wheel(tmp_path, PROJECT_ROOT, "include/yhlaw")
    names = whl.namelist()
    packages = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith((".dist-info", ".data"))}
    assert packages == {"yhlaw"}, packages
    modules = {n for n in names if n.endswith(".py")}
    expected = {f"yhlaw/{p.relative_to(PLATFORM).as_posix()}" for p in PLATFORM.rglob("*.py")
                if "__pycache__" not in p.parts}
    assert modules == expected, modules ^ expected
    assert not any("sim" in Path(n).parts or n.endswith(("bench.py", "reliability.py", "demo.py")) for n in names)
    metadata = next(whl.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    requires = {line.split(":", 1)[1].split()[0].split(">")[0].split("<")[0].split("=")[0].lower()
                for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line}
    for needed in ("apache-airflow", "great-expectations", "pandas", "sqlalchemy", "psycopg2-binary", "requests"):
        assert needed in requires, f"pyproject.toml does not declare {needed}: {sorted(requires)}"


def test_the_harness_wheel_holds_only_the_harness(tmp_path):
    whl = _wheel(tmp_path, PROJECT_ROOT / "devtools", "yhlaw_dev")
    packages = {n.split("/", 1)[0] for n in whl.namelist() if not n.split("/", 1)[0].endswith(".dist-info")}
    assert packages == {"yhlaw_dev"}, packages
    assert any(n.startswith("yhlaw_dev/sim/") for n in whl.namelist())


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("folder", ["include/yhlaw", "dags", "plugins"])
def test_nothing_shipped_imports_the_harness(folder):
    for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
        bad = {m for m in _imports(path) if m.split(".")[0] == "yhlaw_dev"}
        assert not bad, f"{path.relative_to(PROJECT_ROOT)} imports the development harness: {bad}"


def test_no_function_of_the_platform_is_above_complexity_15():
    from radon.complexity import cc_visit

    too_complex = set()
    for path in sorted(PLATFORM.rglob("*.py")):
        for block in cc_visit(path.read_text(encoding="utf-8")):
            for item in [block, *getattr(block, "methods", [])]:
                if item.complexity > MAX_COMPLEXITY:
                    too_complex.add(f"{path.relative_to(PROJECT_ROOT)}:{item.lineno} {item.name} ({item.complexity})")
    assert not too_complex, "cyclomatic complexity above 15:\n" + "\n".join(sorted(too_complex))


def test_alert_messages_carry_no_identifying_digits():
    from yhlaw.alerts import MAX_MESSAGE, alert_from_error, scrub

    text = "record 33010619850312123X (phone 13812345678) failed\nsecond line with 110101199003077777"
    assert scrub(text) == "record ****** (phone ******) failed"
    batch = "batch enforcement.case.20220228T1600+0000.778672b26144be43 rejected at line 12345"
    assert scrub(batch) == batch, "what names a place (batch, line) stays readable"
    assert scrub("x" * 1000) == "x" * MAX_MESSAGE
    assert scrub("") is None and scrub(None) is None
    alert = alert_from_error("task_failed", "ingest_courts", ValueError("party 330106198503121234 bad"),
                             task_id="load_case")
    assert (alert.error_type, alert.message, alert.task_id) == ("ValueError", "party ****** bad", "load_case")


def test_alert_mail_goes_through_the_smtp_connection_and_names_no_person():
    from types import SimpleNamespace

    from yhlaw.alerts import alert_from_error, send_mail
    from yhlaw_dev.smtp_sink import SmtpSink

    alert = alert_from_error("task_failed", "ingest_courts", ValueError("party 330106198503121234 bad"),
                             task_id="load_case", run_id="backfill__2022-03-01", try_number=2)
    with SmtpSink() as sink:
        conn = SimpleNamespace(host="127.0.0.1", port=sink.port, login=None, password=None,
                               extra=json.dumps({"to": "a@example.org, b@example.org"}))
        assert send_mail(conn, alert)
        assert not send_mail(SimpleNamespace(host=None, port=None, login=None, password=None, extra="{}"), alert)
    (mail,) = sink.messages
    assert mail["To"] == "a@example.org, b@example.org"
    assert "任务失败" in mail["Subject"] and "ingest_courts.load_case" in mail["Subject"]
    body = mail.get_content()
    assert "backfill__2022-03-01" in body and "party ****** bad" in body and "330106" not in body
    dead = SimpleNamespace(host="127.0.0.1", port=9, login=None, password=None, extra={"to": ["x@example.org"]})
    assert send_mail(dead, alert) is False          # a relay that is down never raises into a task


def test_airflow_loads_the_alert_listener_plugin(airflow):
    code = ("from airflow import plugins_manager as pm; pm.ensure_plugins_loaded() if hasattr(pm, 'ensure_plugins_loaded')"
            " else None; from airflow.sdk.listener import get_listener_manager as g; m = g();"
            " print(sorted(type(p).__name__ for p in m.pm.get_plugins()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "_AlertListener" in out.stdout, out.stdout + out.stderr


def test_the_zone_is_named_once():
    """Only yhlaw.zone spells the district's time zone; everything else uses DISTRICT_TZ."""
    from yhlaw.zone import DISTRICT_TZ

    spelled = []
    for path in sorted([*PLATFORM.rglob("*.py"), *(PROJECT_ROOT / "dags").glob("*.py")]):
        if path.name == "zone.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == DISTRICT_TZ:
                spelled.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert not spelled, spelled
