-- Runs once, when the compose `postgres` service initialises an empty data volume
-- (mounted into /docker-entrypoint-initdb.d). The warehouse database `yuhang_law` is created
-- by POSTGRES_DB; its roles, schemas and data come from `python -m yhlaw` migrations run by
-- the `airflow-init` service. This adds Airflow's metadata database, owned by its own role,
-- so the Airflow components never connect to the server as the superuser.
--
-- No password: the compose network authenticates by trust (see docker-compose.yml).
-- On a changed set-up, delete the volume (`docker compose down -v`) to run this again.
CREATE ROLE airflow LOGIN;
CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8' TEMPLATE template0;
