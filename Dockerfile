# PyMapManager dashboard: gunicorn serving app.wsgi:server on port 8050, maps in the /data volume.
#   docker build -t pymapmanager .
#   docker run -p 8050:8050 -v pmm-data:/data pymapmanager
#   (several containers share parsed maps and images with -e REDIS_URL=redis://host:6379/0)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 pmm \
    && mkdir -p /data \
    && chown pmm:pmm /data

WORKDIR /srv/pymapmanager
COPY . .
# installs the dependencies (all have wheels: no compiler needed) and the packages;
# gunicorn runs from this folder, which also holds assets/ and the gunicorn config
RUN pip install .

ENV DATA_DIR=/data \
    BIND=0.0.0.0:8050 \
    WEB_CONCURRENCY=3
VOLUME ["/data"]
EXPOSE 8050
USER pmm

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8050/api/v1/status', timeout=4)"]

# the first start creates the demo maps in /data/public (see app/setup_data.py)
CMD ["gunicorn", "--config", "app/gunicorn_conf.py", "app.wsgi:server"]
