"""Serve the app for browser tests: a threaded WSGI server on a free loopback port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def serve_app(data_dir: Path) -> Iterator[str]:
    """Create the app on ``data_dir`` (no demo data), serve it, yield its base URL."""
    from werkzeug.serving import make_server

    from app.config import Settings
    from app.factory import create_app

    app = create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="pmm-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
