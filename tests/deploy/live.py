"""Talk to a live server (gunicorn, nginx, a container) the way the dashboard's browser does.

:class:`LiveClient` gives an ``httpx.Client`` the Flask test client's surface that
:class:`tests.support.dash_caller.DashCaller` uses, so the same callback calls run against a
real server (its cookies kept, this site's ``Origin`` sent on every request).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.dash_caller import DashCaller

__all__ = ["LiveClient", "LiveResponse", "csrf_of_login_page", "render_page"]


class LiveResponse:
    """An ``httpx.Response`` seen as a Flask test response."""

    def __init__(self, r: httpx.Response) -> None:
        self.r = r
        self.status_code = r.status_code
        self.headers = r.headers

    def get_json(self) -> Any:
        return self.r.json() if self.r.content else None

    def get_data(self, as_text: bool = False) -> Any:
        return self.r.text if as_text else self.r.content


class LiveClient:
    """``get``/``post`` of paths under ``base`` (a server's URL with its prefix, no trailing slash)."""

    def __init__(self, base: str, cookies: httpx.Cookies | None = None, timeout: float = 60) -> None:
        parts = urlsplit(base)
        self.base = base.rstrip("/")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.http = httpx.Client(base_url=self.base, timeout=timeout, cookies=cookies, headers={"Origin": self.origin})

    def get(self, path: str, **kw: Any) -> LiveResponse:
        return LiveResponse(self.http.get(path, **kw))

    def post(self, path: str, **kw: Any) -> LiveResponse:
        return LiveResponse(self.http.post(path, **kw))

    def close(self) -> None:
        self.http.close()


def render_page(client: httpx.Client, pathname: str) -> Any:
    """A page's layout as the browser's renderer gets it (Dash's pages callback), over HTTP."""
    live = LiveClient.__new__(LiveClient)
    live.http, live.base = client, str(client.base_url).rstrip("/")
    caller = DashCaller(None, live, page="/")  # type: ignore[arg-type]
    out = caller([("_pages_content", "children"), ("_pages_store", "data")],
                 [("_pages_location", "pathname", pathname), ("_pages_location", "search", "")])  # fmt: skip
    return out[0]


def _find_prop(tree: Any, name: str) -> Any:
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("name") == name:
            return props.get("value")
        children: list[Any] = list(tree.values())
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    for v in children:
        found = _find_prop(v, name)
        if found is not None:
            return found
    return None


def csrf_of_login_page(client: httpx.Client, prefix: str) -> str:
    """The CSRF token of the login page's form (its session cookie kept in ``client``)."""
    token = _find_prop(render_page(client, prefix + "login"), "csrf_token")
    if not token:
        raise AssertionError("the login page has no CSRF token: " + json.dumps(render_page(client, prefix + "login"))[:500])
    return str(token)


def dash_config(html: str) -> dict[str, Any]:
    """The ``_dash-config`` of a page."""
    m = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.S)
    assert m, html[:500]
    return dict(json.loads(m.group(1)))
