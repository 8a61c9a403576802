# syntax=docker/dockerfile:1
# PyMapManager: gunicorn serving app.wsgi:server, maps in the /data volume (see docker-compose.yml).
#   docker build -t pymapmanager .
#   docker run -p 8050:8050 -v pmm-data:/data pymapmanager
# Where no registry is reachable, build on a local Debian base (deploy/make-base-image.sh):
#   docker build --build-arg BASE_IMAGE=pmm-base:bookworm -t pymapmanager .
ARG BASE_IMAGE=python:3.11-slim

# ---- build: a virtual environment with the locked dependencies, then the project ----------
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
# dependencies first, from the lock file: a source edit does not reinstall them
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --no-compile -r /tmp/requirements.lock
COPY pyproject.toml README.md /src/
COPY pymapmanager /src/pymapmanager
COPY app /src/app
COPY pages /src/pages
COPY callbacks /src/callbacks
RUN /opt/venv/bin/pip install --no-compile --no-deps /src \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
    && rm -rf /root/.cache /tmp/requirements.lock

# ---- runtime: the base image plus the virtual environment, run as a non-root user ---------
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/data \
    PORT=8050 \
    WEB_CONCURRENCY=3
RUN useradd --create-home --uid 1000 pmm \
    && mkdir -p /data \
    && chown pmm:pmm /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /home/pmm
VOLUME ["/data"]
EXPOSE 8050
USER pmm

# gunicorn binds 0.0.0.0:$PORT (or BIND, when set); the check follows BIND / PORT and
# URL_PREFIX (app/healthcheck.py)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "app.healthcheck"]

# the first start creates the demo maps in /data/public (CREATE_DEMO=0 to skip; see app/setup_data.py)
CMD ["gunicorn", "--config", "python:app.gunicorn_conf", "app.wsgi:server"]
