# One image for every Airflow component (api-server, scheduler, dag-processor, triggerer,
# Celery worker) and for the source simulators. Built by `docker compose build`.
#
# The tag must equal the apache-airflow version pinned in requirements.lock and the project's
# Python (3.11); tests/test_compose.py checks both.
FROM apache/airflow:3.3.2-python3.11

# Where the project lives in the image. yhlaw.settings.PROJECT_ROOT honours YHLAW_HOME, so the
# package finds sql/migrations, expectations/, reference/ and dags/ here.
ENV YHLAW_HOME=/opt/yhlaw \
    GX_ANALYTICS_ENABLED=False

USER root
RUN mkdir -p /opt/yhlaw && chown airflow:0 /opt/yhlaw
USER airflow
WORKDIR /opt/yhlaw

# Dependencies first (their layer is cached until the lock changes). The lock is the single
# source of versions; it pins apache-airflow==3.3.2, the version of the base image.
COPY --chown=airflow:0 requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

# The project. The base image's Celery provider, celery and redis are not in the lock (the
# local path runs without Celery): fail the build here, not at run time, if the lock's pins
# removed them or changed Airflow. (Checked through package metadata only: importing airflow
# at build time would write an airflow.cfg with generated keys into the image.)
COPY --chown=airflow:0 pyproject.toml ./
COPY --chown=airflow:0 src/ src/
COPY --chown=airflow:0 sql/ sql/
COPY --chown=airflow:0 expectations/ expectations/
COPY --chown=airflow:0 indicators/ indicators/
COPY --chown=airflow:0 reference/ reference/
COPY --chown=airflow:0 dags/ dags/
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && python -c "import importlib.metadata as m, celery, redis; \
assert m.version('apache-airflow') == '3.3.2', m.version('apache-airflow'); \
m.version('apache-airflow-providers-celery'); \
import yhlaw.spec, yhlaw.settings as s; \
assert (s.PROJECT_ROOT / 'sql' / 'migrations').is_dir() and (s.PROJECT_ROOT / 'dags').is_dir(), s.PROJECT_ROOT"

WORKDIR /opt/airflow
