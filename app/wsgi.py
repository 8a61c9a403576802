"""The WSGI entry point: ``gunicorn app.wsgi:server`` (Procfile, Docker)."""

from __future__ import annotations

from .extensions import settings_of
from .factory import create_app
from .services.uploads import import_all_incoming
from .setup_data import ensure_demo_data

app = create_app()
ensure_demo_data(app.server)
# maps copied into DATA_DIR/<owner>/incoming/ while the server was down (one worker at a time)
import_all_incoming(settings_of(app.server).data_dir, settings_of(app.server))
server = app.server
