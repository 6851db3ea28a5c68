# 余杭数字法治数据平台 — every entry point a user needs.
#   make demo   set up everything, start the simulators, run the ingest DAGs for 30 days
#   make test   set up everything and run the whole test suite against real services
#   make test-unit  the fast tier: no services (no PostgreSQL, simulators or Airflow), under a minute
#   make airflow    Airflow as operators run it (scheduler, Celery worker, UI on :8080) on the simulators
#   make cockpit    the 法治驾驶舱 on http://127.0.0.1:8050/ (the marts, as role dashboard)
# Both are safe to run repeatedly on a fresh clone; set-up steps are idempotent.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml devtools/pyproject.toml | sha1sum | cut -c1-12)

.PHONY: demo test test-unit setup venv lint clean airflow airflow-env bench reliability cockpit

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml devtools/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found %d.%d); set PYTHON=/path/to/python3.11" % sys.version_info[:2])'
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check pip==25.3
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	# The platform (include/yhlaw) and the development harness (devtools/yhlaw_dev), both editable;
	# every dependency comes from the lock above.
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . -e devtools
	@rm -f $(VENV)/.installed-*; touch $@

# Warehouse database, roles, migrations, reference data, Airflow metadata DB.
setup: venv
	$(PY) -m yhlaw setup

demo: setup
	$(PY) -m yhlaw_dev demo

test: venv
	$(PY) -m yhlaw setup --test
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The tests that need no service, with the warehouse pointed at a port where nothing listens:
# a test that reaches for PostgreSQL fails here instead of passing by accident.
test-unit: venv
	WAREHOUSE_URL=postgresql://etl@127.0.0.1:9/unreachable $(PY) -m pytest -q -m "not stack" $(PYTEST_ARGS)

# Benchmarks (not part of `make test`; 40-60 min at the default sizes): docs/benchmarks.md.
#   make bench BENCH_ARGS="--sizes 100000 --indicator-records 1000000" for a quicker run
# §1a runs the same ingest against dlt (its own venv, .local/bench-venv, from devtools/bench-peers.lock)
# and the tutorial path at the daily size and 100k: BENCH_PEER_SIZES=700,100000,1000000 adds 1M,
# BENCH_PEER_SIZES=0 skips it; BENCH_DATABASE / BENCH_SIM_BASE_PORT move the bench's database and
# simulators. Only §1a, written in place: .venv/bin/python -m yhlaw_dev.bench peers --help
bench: setup
	$(PY) -m yhlaw_dev bench $(BENCH_ARGS)

# Every source x every fault kind, reconciled record by record, then 3 reruns of every interval,
# then the hostile sources (a fake per transport; devtools/yhlaw_dev/hostile.py)
# (~10 min; its own databases and simulators): docs/reliability.md. Quick runs of both are in `make test`.
reliability: setup
	$(PY) -m yhlaw_dev reliability --out docs/reliability.md $(RELIABILITY_ARGS)

# Airflow as operators run it, on this machine: api-server (UI on :8080), scheduler, dag-processor,
# triggerer and a Celery worker as separate processes, PostgreSQL metadata DB, Redis broker,
# the simulators (answering each window as an hour after its end). Ctrl-C stops it all.
airflow: setup
	$(PY) -m yhlaw_dev airflow

# The 法治驾驶舱 on the warehouse `make demo` filled: http://127.0.0.1:$(COCKPIT_PORT)/ (Ctrl-C stops it).
# It connects as role dashboard (COCKPIT_DATABASE_URL to override) and holds no other credential.
COCKPIT_PORT ?= 8050
cockpit: setup
	$(PY) -m yhlaw cockpit --port $(COCKPIT_PORT)

# Prints the environment (AIRFLOW_HOME, connections) for running airflow by hand:
#   eval "$$(make -s airflow-env AIRFLOW_SERVICES=1)"   # the CLI against `make airflow`
airflow-env: venv
	@$(PY) -m yhlaw_dev env $(if $(AIRFLOW_SERVICES),--services)

# Everything local except the secrets: .local/secrets.env holds the PII HMAC key the warehouse's
# party keys were made with; deleting it by accident would make every new party key differ.
# Rotating it is a procedure (docs/security.md), not a clean-up.
clean:
	@test -d .local && find .local -mindepth 1 -maxdepth 1 ! -name secrets.env -exec rm -rf {} + || true
