"""Container health check: ``python -m app.healthcheck`` exits 0 when the server answers.

It asks ``/api/v1/status`` where gunicorn listens, as :mod:`app.gunicorn_conf` decides it
(``BIND``, else ``PORT``, else ``127.0.0.1:8050``), under ``URL_PREFIX``; a wildcard host
(``0.0.0.0``, ``::``) is asked on loopback. ``HEALTHCHECK_URL`` overrides all of that.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

__all__ = ["status_url", "main"]


def _prefix(raw: str | None) -> str:
    p = (raw or "/").strip() or "/"
    if not p.startswith("/"):
        p = "/" + p
    return p if p.endswith("/") else p + "/"


def status_url(env: Mapping[str, str]) -> str:
    """The status URL the server answers on, from the same variables gunicorn reads."""
    if env.get("HEALTHCHECK_URL"):
        return env["HEALTHCHECK_URL"]
    bind = env.get("BIND") or (f"0.0.0.0:{env['PORT']}" if env.get("PORT") else "127.0.0.1:8050")
    bind = bind.split(",")[0].strip()
    if bind.startswith("unix:"):
        raise ValueError("BIND is a unix socket: set HEALTHCHECK_URL")
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"http://{netloc}{_prefix(env.get('URL_PREFIX'))}api/v1/status"


def main(env: Mapping[str, str] | None = None) -> int:
    """Ask the status endpoint once; 0 when it answers 200, 1 otherwise."""
    try:
        url = status_url(os.environ if env is None else env)
        with urllib.request.urlopen(url, timeout=4) as r:
            return 0 if r.status == 200 else 1
    except (OSError, ValueError, urllib.error.URLError) as e:
        print(f"unhealthy: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
