# Three stages of one build (`docker compose build`):
#   platform    every Airflow component (api-server, scheduler, dag-processor, triggerer, Celery
#               worker): the lock's dependencies and the platform package only, plus Debian's
#               Chromium and CJK fonts (the monthly_report DAG prints its PDF with them)
#   cockpit     the platform stage plus Apache ECharts from the npm lock (include/cockpit), for
#               the 法治驾驶舱 (`python -m yhlaw cockpit`, role dashboard)
#   simulators  the platform stage plus the development harness (yhlaw_dev), for the simulated
#               source systems that stand in for the district's real ones
#
# The tag must equal the apache-airflow version pinned in requirements.lock and the project's
# Python (3.11); tests/test_compose.py checks both.
FROM apache/airflow:3.3.2-python3.11 AS platform

# Where the project lives in the image. yhlaw.paths.PROJECT_ROOT honours YHLAW_HOME, so the
# package finds dags/, plugins/, sql/, expectations/ and include/ (specs, indicator catalog,
# reference data, schemas) here.
ENV YHLAW_HOME=/opt/yhlaw \
    GX_ANALYTICS_ENABLED=False

USER root
RUN mkdir -p /opt/yhlaw && chown airflow:0 /opt/yhlaw \
 && apt-get update && apt-get install -y --no-install-recommends chromium fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
USER airflow
WORKDIR /opt/yhlaw

# Dependencies first (their layer is cached until the lock changes). The lock is the single
# source of versions; it pins apache-airflow==3.3.2, the version of the base image.
COPY --chown=airflow:0 requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

# The platform. The base image's Celery provider, celery and redis are not in the lock (the
# local path runs without Celery): fail the build here, not at run time, if the lock's pins
# removed them or changed Airflow. (Checked through package metadata only: importing airflow
# at build time would write an airflow.cfg with generated keys into the image.)
COPY --chown=airflow:0 pyproject.toml ./
COPY --chown=airflow:0 include/ include/
COPY --chown=airflow:0 sql/ sql/
COPY --chown=airflow:0 expectations/ expectations/
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 plugins/ plugins/
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && python -c "import importlib.metadata as m, celery, redis; \
assert m.version('apache-airflow') == '3.3.2', m.version('apache-airflow'); \
m.version('apache-airflow-providers-celery'); \
import importlib.util as u; assert u.find_spec('yhlaw_dev') is None, 'the harness is not part of the platform'; \
import yhlaw.spec, yhlaw.paths as p; \
assert p.MIGRATIONS_DIR.is_dir() and p.DAGS_DIR.is_dir() and p.SPEC_DIR.is_dir(), p.PROJECT_ROOT"

WORKDIR /opt/airflow

FROM platform AS cockpit
# ECharts is fetched once, at build time, with the lock's integrity hashes; the cockpit serves it
# itself (no CDN). Node.js is needed for that step only and is removed again.
USER root
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
USER airflow
WORKDIR /opt/yhlaw
RUN python -c "from yhlaw.cockpit.vendor import install_assets, echarts_path; print(install_assets()); assert echarts_path().exists()"
USER root
RUN apt-get purge -y nodejs npm && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
USER airflow
EXPOSE 8050

FROM platform AS simulators
WORKDIR /opt/yhlaw
COPY --chown=airflow:0 devtools/ devtools/
RUN pip install --no-cache-dir --no-deps --no-build-isolation ./devtools \
 && python -c "import yhlaw_dev.sim.server"
WORKDIR /opt/airflow
