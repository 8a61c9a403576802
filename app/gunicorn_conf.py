"""gunicorn settings (``./dev run``, Procfile, Docker): several workers sharing the cache.

Environment: ``BIND`` (``host:port``); else ``PORT``, which binds every interface as
platforms that set it (Heroku-style, for the Procfile) expect; else ``127.0.0.1:8050``.
``WEB_CONCURRENCY`` (worker processes, default 3), ``GUNICORN_THREADS`` (threads per
worker, default 4), ``LOG_LEVEL`` (default ``info``), ``ACCESS_LOG`` (``0`` to silence the
access log).
"""

import os

if os.environ.get("BIND"):
    bind = os.environ["BIND"]
elif os.environ.get("PORT"):
    bind = "0.0.0.0:" + os.environ["PORT"]
else:
    bind = "127.0.0.1:8050"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 120
graceful_timeout = 20
keepalive = 5
# gunicorn >= 25's control socket lives at one per-user path: several servers on one machine
# (tests, benchmarks, a second checkout) would fight over it, and nothing here uses it
control_socket_disable = True

_level = os.environ.get("LOG_LEVEL", "info").upper()
_access = os.environ.get("ACCESS_LOG", "1").strip().lower() not in ("0", "false", "no", "off")
loglevel = _level.lower()
accesslog = "-" if _access else None
# the app logs through the standard logging module: send it to stderr with gunicorn's format
logconfig_dict = {
    "root": {"level": _level, "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": ["error_console"], "propagate": False, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO" if _access else "WARNING", "handlers": ["console"], "propagate": False, "qualname": "gunicorn.access"},
    },
}
