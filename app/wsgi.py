"""The WSGI entry point: ``gunicorn app.wsgi:server`` (Procfile, Docker)."""

from __future__ import annotations

from .factory import create_app
from .setup_data import ensure_demo_data

app = create_app()
ensure_demo_data(app.server)
server = app.server
