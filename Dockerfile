# One image, three roles in docker-compose.yml, picked by the service's `command:`:
#   code       dagster code-server start ... -m eod_pipeline.defs   (the default CMD)
#   webserver  dagster-webserver -w deploy/workspace.docker.yaml
#   daemon     dagster-daemon run -w deploy/workspace.docker.yaml
# Pinned base: Python 3.11 on Debian 12. Every dependency installs from wheels
# (psycopg2-binary, psycopg[binary], polars, pyarrow, pgpq), so no compiler is needed.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/dagster/app

# The package and its dependencies (dagster, dagster-webserver, dagster-postgres, ...).
COPY pyproject.toml README.md ./
COPY eod_pipeline ./eod_pipeline
RUN pip install . \
    && python -c "import eod_pipeline, dagster_postgres, dagster_webserver"

# Workspaces (deploy/workspace.docker.yaml is the one compose uses) and the instance
# config deploy/dagster.yaml: PostgreSQL storage from DAGSTER_PG_*, run queue, `eodhd` pool
# of one slot.
COPY workspace.yaml ./
COPY deploy ./deploy
COPY deploy/dagster.yaml ${DAGSTER_HOME}/dagster.yaml

# Run as an unprivileged user. DAGSTER_HOME/storage holds compute logs and local
# artifacts; compose mounts a volume there, shared by code, webserver and daemon, so
# the UI can show the logs of runs that executed in the code container.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/dagster dagster \
    && mkdir -p ${DAGSTER_HOME}/storage \
    && chown -R dagster:dagster ${DAGSTER_HOME}
USER dagster

EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "eod_pipeline.defs"]
