"""Serve the app for browser tests: a threaded WSGI server on a free loopback port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_APP_ITER = "pmm.test.app_iter"


def _keep_iter(app: Any) -> Any:
    """The WSGI app, its answer's iterable kept in the environ (see :func:`_handler`)."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        it = app(environ, start_response)
        environ[_APP_ITER] = it
        return it

    return wsgi


def _handler() -> Any:
    """werkzeug's request handler, closing the answer when the browser drops the connection.

    When Chromium cancels a request (a page left while its scripts load), werkzeug's
    development server raises before it closes the answer, so a static file stayed open
    until the garbage collector found it, and its ResourceWarning failed whichever test ran.
    """
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
            it = (environ or {}).get(_APP_ITER)
            close = getattr(it, "close", None)
            if close is not None:
                close()

    return Handler


@contextmanager
def serve_app(data_dir: Path) -> Iterator[str]:
    """Create the app on ``data_dir`` (no demo data), serve it, yield its base URL."""
    from werkzeug.serving import make_server

    from app.config import Settings
    from app.factory import create_app

    # the suite logs in more than 10 times a minute on a fast machine (the edit viewer's tests
    # alone log in 12 times): the login limit is tested on its own (tests/auth/test_login.py)
    app = create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False, login_limit="1000 per minute"))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, _keep_iter(app.server), threaded=True, request_handler=_handler())
    thread = threading.Thread(target=server.serve_forever, name="pmm-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
