"""Static checks of the container deployment (Dockerfile, docker-compose.yml, .env.example).

No Docker engine is needed: the files are parsed and compared with what the code expects
(setting names, the connection shape of ``Settings.airflow_environment()``, one simulator per
source spec, Airflow's option names, the pinned Airflow version).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet

import yhlaw.settings as settings_mod
import yhlaw_dev.world as world_mod
from yhlaw.settings import SECRET_NAMES as PLATFORM_SECRETS
from yhlaw.spec import load_spec, source_names
from yhlaw_dev.sim import sim_port, simulated_sources
from yhlaw_dev.world import SIM_SECRET_NAMES
from yhlaw_dev.world import DevSettings as Settings

SECRET_NAMES = (*PLATFORM_SECRETS, *SIM_SECRET_NAMES)

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

AIRFLOW_SERVICES = {
    "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
    "airflow-triggerer", "airflow-worker",
}
# Secrets: compose must refuse to start without them (`${VAR:?message}`), never default them.
REQUIRED_SECRETS = set(SECRET_NAMES) | {
    "POSTGRES_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY",
}
# Options of the Celery provider: in the image, not in the local venv's config.yml.
PROVIDER_OPTIONS = {("celery", "broker_url"), ("celery", "result_backend")}

# Compose interpolation: $$ (a literal $), ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, $VAR.
_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<invalid>))"
)


class MissingVariable(KeyError):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group("escaped"):
            return "$"
        if m.group("invalid") is not None:
            raise ValueError(f"invalid interpolation at {m.start()} in {text!r}")
        name = m.group("braced") or m.group("named")
        op, arg = m.group("op"), m.group("arg")
        value = env.get(name)
        unset_or_empty = not value if op and op.startswith(":") else value is None
        if op in (":-", "-"):
            return arg if unset_or_empty else value
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return value or ""

    return _VAR.sub(sub, text)


def variables(text: str) -> list[tuple[str, str | None]]:
    """(name, operator) of every interpolation in ``text``; escaped $$ excluded."""
    found = []
    for m in _VAR.finditer(text):
        if m.group("escaped"):
            continue
        if m.group("invalid") is not None:
            raise ValueError(f"invalid interpolation in {text!r}")
        found.append((m.group("braced") or m.group("named"), m.group("op")))
    return found


def strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def substituted(node, env: dict[str, str]):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {k: substituted(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [substituted(v, env) for v in node]
    return node


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "no services mapping"
    return data


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(raw_compose, example_env) -> dict:
    """The compose file as `docker compose --env-file .env.example config` would resolve it."""
    return substituted(raw_compose, example_env)


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text()


def simulator_ports() -> dict[str, int]:
    """source -> the port the local path gives its simulator (the spec's, at the default base)."""
    base = 8801  # the default of SIM_BASE_PORT (yhlaw.settings)
    return {name: sim_port(name, base) for name in simulated_sources()}


def test_every_service_has_an_image_and_the_stack_is_complete(raw_compose):
    services = raw_compose["services"]
    expected = {"postgres", "redis", "cockpit", *AIRFLOW_SERVICES} | {f"simulator-{s}" for s in simulated_sources()}
    assert expected <= set(services), f"missing services: {sorted(expected - set(services))}"
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"service {name} has neither image nor build"
    built = {name: (svc["build"], svc.get("image")) for name, svc in services.items() if "build" in svc}
    assert set(built) == AIRFLOW_SERVICES | {"cockpit"} | {f"simulator-{s}" for s in simulated_sources()}
    # Airflow runs the platform stage (no harness); the cockpit and the simulators their own
    # stages of the same build.
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    for name, (build, image) in built.items():
        want = "simulators" if name.startswith("simulator-") else ("cockpit" if name == "cockpit" else "platform")
        assert build == {"context": ".", "target": want}, f"{name}: build {build}"
        assert want in stages, f"the Dockerfile has no stage {want}: {stages}"
    assert len({image for name, (_, image) in built.items() if name in AIRFLOW_SERVICES}) == 1, built
    assert len({image for name, (_, image) in built.items() if name.startswith("simulator-")}) == 1, built


def test_every_variable_is_in_env_example_and_nothing_else(raw_compose, example_env):
    used = {name for text in strings(raw_compose) for name, _ in variables(text)}
    assert used, "the compose file interpolates no variable at all"
    missing = used - set(example_env)
    unused = set(example_env) - used
    assert not missing, f"used by docker-compose.yml but not in .env.example: {sorted(missing)}"
    assert not unused, f"in .env.example but unused by docker-compose.yml: {sorted(unused)}"


def test_secrets_are_required_never_defaulted(raw_compose, example_env):
    usages: dict[str, set] = {}
    for text in strings(raw_compose):
        for name, op in variables(text):
            usages.setdefault(name, set()).add(op)
    for name in REQUIRED_SECRETS:
        assert name in usages, f"secret {name} is not used by docker-compose.yml"
        assert usages[name] == {":?"}, f"{name} must always be ${{{name}:?message}}, found {usages[name]}"
        # Without it (or with it empty) the whole file fails to resolve, naming the variable.
        for value in (None, ""):
            env = {k: v for k, v in example_env.items() if k != name}
            if value is not None:
                env[name] = value
            with pytest.raises(MissingVariable, match=rf"^'{name}: set {name} in \.env"):
                substituted(raw_compose, env)


def test_connections_are_the_ones_settings_produce(compose, example_env, monkeypatch):
    services = compose["services"]
    common = environment(services["airflow-scheduler"])
    def example_secrets(names=PLATFORM_SECRETS):
        return {n: example_env[n] for n in names}

    monkeypatch.setattr(settings_mod, "local_secrets", example_secrets)
    monkeypatch.setattr(world_mod, "local_secrets", example_secrets)
    monkeypatch.setenv("SIM_CLIENT_ID", example_env["SIM_CLIENT_ID"])
    monkeypatch.setenv("SIM_DROP_ROOT", common["SIM_DROP_ROOT"])
    monkeypatch.setenv("LEDGER_DIR", "/opt/yhlaw/include/reference/ledgers")
    # MySQL-dialect systems live on the MariaDB service their simulators are pointed at.
    for url in {environment(svc).get("SIM_MARIADB_ADMIN_URL") for svc in services.values()} - {None}:
        monkeypatch.setenv("SIM_MARIADB_ADMIN_URL", url)
    settings = Settings(warehouse_url=common["WAREHOUSE_URL"], admin_user="postgres",
                        sim_host="unused", sim_base_port=8801, airflow_home=Path("/opt/airflow"))
    sim_urls = {s: f"http://simulator-{s}:{port}" for s, port in simulator_ports().items()}
    expected = {k: json.loads(v) for k, v in settings.airflow_environment(sim_urls).items()
                if k.startswith("AIRFLOW_CONN_")}
    assert set(expected) == {"AIRFLOW_CONN_WAREHOUSE", "AIRFLOW_CONN_PII_HMAC"} | {
        f"AIRFLOW_CONN_SRC_{s.upper()}" for s in source_names()}
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        conns = {k: v for k, v in env.items() if k.startswith("AIRFLOW_CONN_")}
        assert set(conns) == set(expected), f"{name}: connections {sorted(conns)}"
        for key, value in conns.items():
            parsed = json.loads(value)
            assert set(parsed) == set(expected[key]), f"{name} {key}: keys {sorted(parsed)}"
            assert parsed == expected[key], f"{name} {key}: {parsed} != {expected[key]}"
    # The warehouse connection and WAREHOUSE_URL name the same database as the etl role.
    wh = json.loads(common["AIRFLOW_CONN_WAREHOUSE"])
    assert (wh["host"], wh["login"], wh["schema"]) == ("postgres", "etl", "yuhang_law")
    assert json.loads(common["AIRFLOW_CONN_PII_HMAC"])["password"] == example_env["PII_HMAC_KEY"]
    # `python -m yhlaw` in a container reads the same secrets as the connections carry.
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        assert env.get("PII_HMAC_KEY") == json.loads(env["AIRFLOW_CONN_PII_HMAC"])["password"], name


def test_one_simulator_per_source_spec(compose, example_env):
    from yhlaw_dev.sim.__main__ import build_parser

    services = compose["services"]
    sims = {n for n in services if n.startswith("simulator-")}
    assert sims == {f"simulator-{s}" for s in simulated_sources()}
    conn_env = environment(services["airflow-worker"])
    for source, port in simulator_ports().items():
        svc = services[f"simulator-{source}"]
        cmd = command(svc)
        assert cmd[:3] == ["python", "-m", "yhlaw_dev.sim"], cmd
        args = build_parser().parse_args(cmd[3:])  # the simulator's own CLI accepts it
        assert (args.command, args.source, args.host, args.port) == ("serve", source, "0.0.0.0", port)
        assert f"127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])
        env = environment(svc)
        conn = json.loads(conn_env[f"AIRFLOW_CONN_SRC_{source.upper()}"])
        assert env["SIM_ADMIN_TOKEN"] == example_env["SIM_ADMIN_TOKEN"]
        kind = load_spec(source).transport.get("kind", "http")
        if kind == "sql" and load_spec(source).transport.get("dialect") == "mysql":
            # A MySQL-dialect system: its database on the MariaDB service, which the simulator
            # waits for; the pipeline reads it as the read-only account the simulator creates.
            assert conn["conn_type"] == "mysql" and conn["host"] == "mariadb" and conn["port"] == 3306
            assert (conn["schema"], conn["login"]) == (env["SIM_DB_NAME"], env["SIM_DB_READER"])
            assert urlsplit(env["SIM_MARIADB_ADMIN_URL"]).hostname == "mariadb"
            assert services["mariadb"]["image"] == "mariadb:10.11" and "healthcheck" in services["mariadb"]
            assert svc["depends_on"]["mariadb"]["condition"] == "service_healthy"
            assert services["airflow-worker"]["depends_on"][f"simulator-{source}"]["condition"] == "service_healthy"
            continue
        if kind == "sql":
            # The pipeline reads the database the simulator writes, as its read-only account.
            assert conn["conn_type"] == "postgres" and conn["host"] == "postgres"
            assert (conn["schema"], conn["login"]) == (env["SIM_DB_NAME"], env["SIM_DB_READER"])
            assert urlsplit(env["SIM_DB_ADMIN_URL"]).hostname == "postgres"
            continue
        if kind == "file_drop":
            # The pipeline reads the folder the simulator writes: one volume, mounted in both.
            drop = json.loads(conn["extra"])["path"]
            assert env["SIM_DROP_DIR"] == drop
            sim_mounts = {v.split(":")[0] for v in svc.get("volumes", []) if v.split(":")[1] == drop}
            worker_mounts = {v.split(":")[0] for v in services["airflow-worker"].get("volumes", [])
                             if v.split(":")[1] == drop}
            assert sim_mounts and sim_mounts == worker_mounts, (sim_mounts, worker_mounts)
            continue
        # A web API (JSON over HTTP, or SOAP over HTTP): the simulator's host and port, its client.
        assert kind in ("http", "soap"), f"compose does not know how to wire a {kind} source yet"
        assert (conn["host"], conn["port"]) == (f"simulator-{source}", port)
        assert env["SIM_CLIENT_SECRET"] == conn["password"] == example_env["SIM_CLIENT_SECRET"]
        assert env["SIM_CLIENT_ID"] == conn["login"]
        assert conn_env.get("SIM_ADMIN_TOKEN") is None, "the admin token is for the simulators only"


def test_dockerfile_base_matches_the_lock_and_python(dockerfile):
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    # One base image; later stages build on the platform stage.
    assert froms[1:] == ["platform"] * (len(froms) - 1), froms
    m = re.fullmatch(r"apache/airflow:(?P<airflow>[\w.]+)-python(?P<python>\d+\.\d+)", froms[0])
    assert m, f"unexpected base image {froms[0]}"
    lock = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.lock").read_text(), re.MULTILINE)
    assert lock, "apache-airflow is not pinned in requirements.lock"
    assert m["airflow"] == lock.group(1)
    # The build-time check of the installed version names the same one.
    assert set(re.findall(r"m\.version\('apache-airflow'\) == '([^']+)'", dockerfile)) == {lock.group(1)}
    assert m["python"] == "3.11"
    requires = re.search(r'^requires-python\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert SpecifierSet(requires.group(1)).contains(m["python"] + ".0")


def test_dockerfile_installs_the_lock_and_the_project_where_settings_look(dockerfile, compose):
    assert re.search(r"pip install .*-r requirements\.lock", dockerfile)
    assert re.search(r"pip install [^\n]*--no-deps[^\n]* \.", dockerfile)
    home = re.search(r"^ENV\s+YHLAW_HOME=(\S+)", dockerfile, re.MULTILINE)
    assert home, "the Dockerfile must set YHLAW_HOME (yhlaw.settings.PROJECT_ROOT)"
    copied = {}
    for src, dest in re.findall(r"^COPY(?:\s+--\S+)*\s+(\S+)\s+(\S+)\s*$", dockerfile, re.MULTILINE):
        copied[src.rstrip("/")] = dest
    workdirs = re.findall(r"^WORKDIR\s+(\S+)", dockerfile, re.MULTILINE)
    assert home.group(1) in workdirs, "the project is not copied into YHLAW_HOME"
    # Everything the package reads relative to PROJECT_ROOT, and what `pip install .` needs.
    for needed in ("requirements.lock", "pyproject.toml", "include", "sql", "expectations", "dags", "plugins"):
        assert needed in copied, f"the Dockerfile does not copy {needed}"
        assert (ROOT / needed).exists()
    # The platform stage never copies the development harness; only the simulators stage does.
    platform_stage = dockerfile.split("FROM platform AS simulators")[0]
    platform_copies = {c.rstrip("/") for c in re.findall(r"^COPY(?:\s+--\S+)*\s+(\S+)", platform_stage, re.MULTILINE)}
    assert "include" in platform_copies and "devtools" not in platform_copies, platform_copies
    assert "devtools" in copied
    for name in AIRFLOW_SERVICES:
        env = environment(compose["services"][name])
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == home.group(1) + "/dags"


def test_airflow_options_exist_in_the_pinned_airflow(compose):
    spec = importlib.util.find_spec("airflow")  # locates the package without importing it
    config = yaml.safe_load(Path(spec.submodule_search_locations[0], "config_templates", "config.yml").read_text())
    known = {(sec, opt) for sec, body in config.items() for opt in (body.get("options") or {})}
    seen = set()
    for name, svc in compose["services"].items():
        for key in environment(svc):
            if key.startswith("AIRFLOW__"):
                section, _, option = key[len("AIRFLOW__"):].lower().partition("__")
                seen.add((section, option))
                assert (section, option) in known | PROVIDER_OPTIONS, f"{name}: unknown Airflow option {key}"
    assert {("core", "executor"), ("database", "sql_alchemy_conn"), ("api_auth", "jwt_secret"),
            ("core", "execution_api_server_url")} <= seen


def test_airflow_components_agree(compose):
    services = compose["services"]
    envs = {name: environment(services[name]) for name in AIRFLOW_SERVICES}
    shared = ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
              "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
              "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL")
    for key in shared:
        values = {name: env.get(key) for name, env in envs.items()}
        assert len(set(values.values())) == 1 and None not in values.values(), f"{key} differs: {values}"
    env = envs["airflow-worker"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert api.path == "/execution/"
    assert command(services[api.hostname]) == ["airflow", "api-server"] and api.port == 8080
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert all("WAREHOUSE_ADMIN_URL" not in e for n, e in envs.items() if n != "airflow-init"), \
        "only airflow-init may hold the superuser URL"


def test_postgres_holds_both_databases(compose):
    services = compose["services"]
    pg = services["postgres"]
    env = environment(services["airflow-scheduler"])
    meta = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    result = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
    warehouse = urlsplit(env["WAREHOUSE_URL"])
    assert meta.hostname == result.hostname == warehouse.hostname == "postgres"
    assert meta.path == result.path
    assert environment(pg)["POSTGRES_DB"] == warehouse.path.lstrip("/")
    mounts = [v.split(":") for v in pg["volumes"]]
    init = [m for m in mounts if m[1].startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1, pg["volumes"]
    sql_text = (ROOT / init[0][0]).read_text()
    assert re.search(rf"CREATE DATABASE {meta.path.lstrip('/')}\b.*OWNER {meta.username}\b", sql_text)
    assert re.search(rf"CREATE ROLE {meta.username} LOGIN", sql_text)
    admin = urlsplit(environment(services["airflow-init"])["WAREHOUSE_ADMIN_URL"])
    assert (admin.username, admin.hostname, admin.path) == ("postgres", "postgres", warehouse.path)
    assert "pg_isready" in pg["healthcheck"]["test"]


def test_init_runs_real_entry_points(compose):
    script = command(compose["services"]["airflow-init"])[-1]
    assert re.search(r"^airflow db migrate$", script, re.MULTILINE)
    code = re.search(r"python -c '([^']+)'", script)
    assert code, script
    tree = ast.parse(code.group(1))
    imports = [(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]
    assert ("yhlaw.bootstrap", "prepare_warehouse") in imports
    for module, attr in imports:
        assert hasattr(importlib.import_module(module), attr), f"{module}.{attr} does not exist"
    for name, svc in compose["services"].items():
        test = (svc.get("healthcheck") or {}).get("test") or []
        if test[:3] == ["CMD", "python", "-c"]:
            compile(test[3], f"{name} healthcheck", "exec")


def test_dependencies_name_real_services(compose):
    services = compose["services"]
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        for dep, spec in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert spec.get("condition", "service_started") in conditions
            if spec.get("condition") == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} healthy; it has no healthcheck"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_env_file_stays_out_of_git_and_images():
    assert ".env" in {l.strip() for l in (ROOT / ".gitignore").read_text().splitlines()}
    ignored = {l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".venv", ".local", ".git"} <= ignored


def test_the_cockpit_service_holds_only_the_dashboard_role(compose, dockerfile):
    """The cockpit reads the marts as role dashboard; its container gets no other credential, and
    it serves the reports the Airflow workers write (one volume, read-only for it)."""
    from yhlaw.cockpit.server import DATABASE_ENV, strip_secrets

    svc = compose["services"]["cockpit"]
    env = environment(svc)
    assert env[DATABASE_ENV].startswith("postgresql://dashboard@postgres:5432/")
    assert strip_secrets(dict(env)) == [], "the cockpit's environment carries a credential"
    assert svc["command"][:4] == ["python", "-m", "yhlaw", "cockpit"]
    worker = compose["services"]["airflow-worker"]
    assert environment(worker)["REPORTS_DIR"] == env["REPORTS_DIR"]
    mounts = {v.split(":")[1]: v for v in svc["volumes"]}
    assert mounts[env["REPORTS_DIR"]].endswith(":ro")
    assert any(v.split(":")[1] == env["REPORTS_DIR"] for v in worker["volumes"])
    # The workers print the PDF: Chromium and CJK fonts are in the platform stage they run.
    platform_stage = dockerfile.split("FROM platform AS")[0]
    assert "chromium" in platform_stage and "fonts-noto-cjk" in platform_stage
    assert "install_assets" in dockerfile.split("FROM platform AS cockpit")[1].split("FROM platform AS")[0]
