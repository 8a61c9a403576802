"""Talk to a live server (gunicorn, nginx, a container) the way the dashboard's browser does.

:class:`LiveClient` gives an ``httpx.Client`` the Flask test client's surface that
:class:`tests.support.dash_caller.DashCaller` uses, so the same callback calls run against a
real server (its cookies kept, this site's ``Origin`` sent on every request).
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tests.support.dash_caller import DashCaller

__all__ = ["LiveClient", "LiveResponse", "PoolJob", "csrf_of_login_page", "render_page", "start_pool_job", "wait_pool_job"]


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


# --------------------------------------------------------------------------- pooling jobs


@functools.cache
def callback_app() -> Any:
    """The app built here only for its callback map (the outputs' duplicate suffixes)."""
    from app.config import Settings
    from app.factory import create_app

    folder = Path(tempfile.mkdtemp(prefix="pmm-callback-map-"))
    return create_app(Settings(data_dir=folder, secret_key="x", create_demo=False, testing=True))


def pool_inputs(maps: list[str]) -> list[tuple[Any, ...]]:
    """The pooling page's inputs for ``maps``: ubssSum_int2, sessions 'c' against 'e*'."""
    from app import ids

    return [(ids.POOL_MAPS, "value", maps), (ids.POOL_STAT, "value", "ubssSum_int2"),
            (ids.POOL_GROUPS, "data", [["baseline", "c"], ["treatment", "e*"]]),
            (ids.POOL_ROI, "value", "spineROI"), (ids.POOL_SEGMENT, "value", -1), (ids.POOL_BAD, "value", False)]  # fmt: skip


@dataclass
class PoolJob:
    """A pooling job started as the page starts it: its page load and signed handles."""

    end_id: str
    job: dict[str, Any]
    cache_key: str
    job_handle: str


def start_pool_job(client: LiveClient, maps: list[str]) -> PoolJob:
    """Prepare the pool and start its background job through ``client`` (not yet finished)."""
    from app import ids

    caller = DashCaller(callback_app(), client, page="/pool")  # type: ignore[arg-type]
    prepare = [(ids.POOL_READY, "data"), (ids.POOL_JOB, "data"), (ids.POOL_MESSAGES, "children")]
    ready, job, msgs = caller(prepare, pool_inputs(maps))
    assert msgs == [] and isinstance(job, dict) and job["maps"] == maps, (ready, job, msgs)
    end_id = str(caller.end_id)
    r = caller.raw([(ids.POOL_READY, "data")], [(ids.POOL_JOB, "data", job)], query=f"?endId={quote(end_id)}")
    got = r.get_json()
    assert r.status_code == 200 and "cacheKey" in got and "job" in got, got
    return PoolJob(end_id, job, got["cacheKey"], got["job"])


def wait_pool_job(client: LiveClient, job: PoolJob, timeout: float = 120) -> Any:
    """Poll the job (through any host: the handles are signed with the shared secret) until it
    answers; its ``ready`` store. Raises :class:`TimeoutError` when it never does."""
    from app import ids

    caller = DashCaller.__new__(DashCaller)
    caller.app, caller.client, caller.end_id, caller.progress = callback_app(), client, job.end_id, []
    q = f"?endId={quote(job.end_id)}&cacheKey={quote(job.cache_key)}&job={quote(job.job_handle)}"
    deadline = time.monotonic() + timeout
    while True:
        r = caller.raw([(ids.POOL_READY, "data")], [(ids.POOL_JOB, "data", job.job)], query=q)
        if r.status_code == 204:
            return None  # the job ended without an answer (cancelled or lost)
        assert r.status_code == 200, r.get_data(as_text=True)[:2000]
        body = r.get_json()
        if "response" in body:
            return body["response"][ids.POOL_READY]["data"]
        if time.monotonic() > deadline:
            raise TimeoutError(f"the pooling job did not finish in {timeout:.0f} s: {body}")
        time.sleep(0.2)
