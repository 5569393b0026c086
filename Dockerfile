# The one app image: `csr worker` (the default) or `csr serve` (docker-compose.yml picks).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# A plain (not editable) install: only site-packages remains, the sources are removed.
COPY pyproject.toml worker.py /src/
COPY csrunner /src/csrunner
COPY workflows /src/workflows
COPY activities /src/activities
RUN pip install /src && rm -rf /src

# Ops-edited data, read-only for the app. The settings' defaults point into a source checkout,
# which a plain install does not have: these variables say where the data is instead.
WORKDIR /app
COPY playbooks /app/playbooks
COPY email_templates /app/email_templates
COPY team.yaml /app/team.yaml
ENV PLAYBOOKS_DIR=/app/playbooks \
    TEMPLATES_DIR=/app/email_templates \
    TEAM_FILE=/app/team.yaml \
    DATA_DIR=/data

# The app writes only DATA_DIR and the publish registry (PLAYBOOKS_DIR/.published, `csr publish`).
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app csr \
    && mkdir -p /data /app/playbooks/.published \
    && chown csr:csr /data /app/playbooks/.published
USER csr
VOLUME ["/data"]
EXPOSE 8000 9464

# SIGTERM: the worker stops polling and finishes running activities; the service drains requests.
STOPSIGNAL SIGTERM
# No HEALTHCHECK here: the check differs by command (worker: :9464/metrics, service: /healthz),
# so docker-compose.yml declares one per service.
CMD ["csr", "worker"]
