"""Fixtures of the pooling page tests: a fresh app per test on a small demo pool, and a
caller for its callbacks (``POST /_dash-update-component``), background ones included."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app
from pymapmanager.synthetic.pools import DemoPool, make_pool
from tests.support.tinymap import write_tiny_map

NO_UPDATE = object()


@pytest.fixture(scope="session")
def pool_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoPool]:
    """DATA_DIR with a demo pool (2 + 2 maps x 4 sessions) and the tiny map under ``public/``."""
    root = tmp_path_factory.mktemp("pool-data")
    pool = make_pool(root / "public", maps_per_cohort=2, sessions=4, seed=3)
    write_tiny_map(root / "public")
    return root, pool


@pytest.fixture
def data_dir(pool_data: tuple[Path, DemoPool], tmp_path: Path) -> Path:
    """A copy per test (each app gets its own cache and background job folder)."""
    import shutil

    dest = tmp_path / "data"
    shutil.copytree(pool_data[0], dest)
    return dest


@pytest.fixture
def app(data_dir: Path) -> Iterator[dash.Dash]:
    """A fresh Dash app per test."""
    yield create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False, testing=True))


def _key(spec: tuple[Any, str]) -> str:
    cid = spec[0]
    text = json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid
    return f"{text}.{spec[1]}"


def _prop(spec: tuple[Any, ...]) -> dict[str, Any]:
    d: dict[str, Any] = {"id": spec[0], "property": spec[1]}
    if len(spec) == 3:
        d["value"] = spec[2]
    return d


class PoolCaller:
    """Calls the app's callbacks like the renderer: by output, with inputs and state.

    Outputs bound with ``allow_duplicate`` are found by their prefix in the callback map.
    Background callbacks are polled until they answer (``timeout`` seconds).
    """

    def __init__(self, app: dash.Dash, client: FlaskClient) -> None:
        self.app = app
        self.client = client
        html = client.get("/pool").get_data(as_text=True)
        m = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.S)
        assert m, "no _dash-config in the page"
        self.end_id = json.loads(m.group(1)).get("end_id")

    def output_key(self, outputs: list[tuple[Any, str]]) -> str:
        keys = [_key(o) for o in outputs]
        for k in self.app.callback_map:
            parts = [p.split("@")[0] for p in (k.strip(".").split("...") if k.startswith("..") else [k])]
            if parts == keys:
                return k
        raise KeyError(f"no callback with outputs {keys}")

    def raw(self, outputs: list[tuple[Any, str]], inputs: list[tuple[Any, ...]],
            state: list[tuple[Any, ...]] | None = None, changed: list[str] | None = None,
            query: str = "") -> Any:  # fmt: skip
        key = self.output_key(outputs)
        outs = []
        for part, o in zip(key.strip(".").split("...") if key.startswith("..") else [key], outputs, strict=True):
            d = _prop(o)
            if "@" in part:
                d["property"] = f"{o[1]}@{part.split('@', 1)[1]}"
            outs.append(d)
        body = {
            "output": key,
            "outputs": outs if len(outputs) > 1 else outs[0],
            "inputs": [_prop(i) for i in inputs],
            "state": [_prop(s) for s in state or []],
            "changedPropIds": changed if changed is not None else [_key(inputs[0][:2])],  # type: ignore[index]
        }
        return self.client.post(f"/_dash-update-component{query}", json=body)

    def __call__(self, outputs: list[tuple[Any, str]], inputs: list[tuple[Any, ...]],
                 state: list[tuple[Any, ...]] | None = None, changed: list[str] | None = None,
                 timeout: float = 60.0) -> list[Any]:  # fmt: skip
        """The new values of ``outputs`` (:data:`NO_UPDATE` where left alone)."""
        from urllib.parse import quote

        q = f"?endId={quote(self.end_id)}" if self.end_id else ""
        r = self.raw(outputs, inputs, state, changed, q)
        assert r.status_code in (200, 204), r.get_data(as_text=True)[:3000]
        deadline = time.monotonic() + timeout
        self.progress: list[Any] = []
        while r.status_code == 200 and "response" not in (r.get_json() or {}):
            handles = r.get_json()
            if "progress" in handles:
                self.progress.append(handles["progress"])
            if "cacheKey" in handles:
                self.handles = handles
            assert time.monotonic() < deadline, "background callback did not finish"
            time.sleep(0.1)
            hq = f"{q}&cacheKey={quote(self.handles['cacheKey'])}&job={quote(self.handles['job'])}"
            r = self.raw(outputs, inputs, state, changed, hq)
            assert r.status_code in (200, 204), r.get_data(as_text=True)[:3000]
        if r.status_code == 204:
            return [NO_UPDATE] * len(outputs)
        resp = r.get_json()["response"]
        out = []
        for o in outputs:
            cid = json.dumps(o[0], sort_keys=True, separators=(",", ":")) if isinstance(o[0], dict) else o[0]
            out.append(resp.get(cid, {}).get(o[1], NO_UPDATE))
        return out


@pytest.fixture
def call(app: dash.Dash) -> PoolCaller:
    """Call a callback of the pooling page: ``call(outputs, inputs, state)`` -> values."""
    return PoolCaller(app, app.server.test_client())
