"""gunicorn settings for ``./dev run`` (several workers sharing the cache)."""

import os

bind = os.environ.get("BIND", "127.0.0.1:" + os.environ.get("PORT", "8050"))
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 120
accesslog = "-"
