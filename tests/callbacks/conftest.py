"""Fixtures of the callback tests: a fresh app per test on small generated maps, and a
helper that calls a callback the way the browser does (POST ``/_dash-update-component``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app
from pymapmanager.synthetic.maps import generate_map

#: public maps of the callback tests: name -> generate_map keyword arguments
MAPS: dict[str, dict[str, object]] = {
    "demo": {"sessions": 4, "channels": 2, "shape": (6, 64, 80), "seed": 1, "map_condition": "mc1"},
    "noimg": {"sessions": 3, "channels": 1, "shape": (6, 64, 80), "seed": 2, "images": False},
    # planes longer than 1024 pixels are served as tiles
    "big": {"sessions": 2, "channels": 1, "shape": (2, 1100, 1100), "seed": 3, "segments": 1, "spines_per_segment": 8},
    # the shape of real maps: 9 sessions, ~650 objects a session
    "nine": {"sessions": 9, "channels": 2, "shape": (40, 96, 96), "seed": 5, "segments": 4, "spines_per_segment": 165, "images": False},
    # no dendrite tracing (its line/ folder is removed)
    "notrace": {"sessions": 3, "channels": 1, "shape": (6, 64, 80), "seed": 4, "images": False},
}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR with the maps of :data:`MAPS` under ``public/`` (read only by the tests)."""
    root = tmp_path_factory.mktemp("callbacks-data")
    for name, kw in MAPS.items():
        generate_map(root / "public", name=name, **kw)  # type: ignore[arg-type]
    shutil.rmtree(root / "public" / "notrace" / "line")
    return root


@pytest.fixture
def app(data_dir: Path) -> Iterator[dash.Dash]:
    """A fresh Dash app per test."""
    yield create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False, testing=True))


@pytest.fixture
def client(app: dash.Dash) -> FlaskClient:
    """The Flask test client of :func:`app`."""
    return app.server.test_client()


def _prop(spec: tuple[Any, str] | tuple[Any, str, Any]) -> dict[str, Any]:
    d: dict[str, Any] = {"id": spec[0], "property": spec[1]}
    if len(spec) == 3:
        d["value"] = spec[2]
    return d


def _key(spec: tuple[Any, str]) -> str:
    cid = spec[0]
    text = json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid
    return f"{text}.{spec[1]}"


class DashCaller:
    """Calls server callbacks through ``/_dash-update-component`` like the renderer does."""

    def __init__(self, client: FlaskClient, app: dash.Dash | None = None) -> None:
        self.client = client
        self.app = app

    def outputs_of(self, first: tuple[Any, str]) -> list[tuple[Any, str]]:
        """Every output (``(id, property)``, with Dash's ``@hash`` of shared outputs) of the
        callback whose first output is ``first``."""
        assert self.app is not None
        head = _key(first)
        for k in self.app.callback_map:
            parts = k.strip(".").split("...") if k.startswith("..") else [k]
            if parts[0].split("@")[0] == head:
                out = []
                for part in parts:
                    cid, _, prop = part.rpartition(".")
                    out.append((json.loads(cid) if cid.startswith("{") else cid, prop))
                return out
        raise AssertionError(f"no callback has the first output {head}")

    def raw(
        self,
        outputs: list[tuple[Any, str]],
        inputs: list[tuple[Any, str, Any]],
        state: list[tuple[Any, str, Any]] | None = None,
        changed: list[str] | None = None,
    ) -> Any:
        """The HTTP response of one callback call."""
        if len(outputs) == 1:
            output = _key(outputs[0])
        else:
            output = ".." + "...".join(_key(o) for o in outputs) + ".."
        body = {
            "output": output,
            "outputs": [_prop(o) for o in outputs] if len(outputs) > 1 else _prop(outputs[0]),
            "inputs": [_prop(i) for i in inputs],
            "state": [_prop(s) for s in state or []],
            "changedPropIds": changed if changed is not None else [_key(inputs[0][:2])],  # type: ignore[index]
        }
        return self.client.post("/_dash-update-component", json=body)

    def __call__(
        self,
        outputs: list[tuple[Any, str]],
        inputs: list[tuple[Any, str, Any]],
        state: list[tuple[Any, str, Any]] | None = None,
        changed: list[str] | None = None,
    ) -> list[Any]:
        """The new values of ``outputs`` (``NO_UPDATE`` where the callback left one alone)."""
        r = self.raw(outputs, inputs, state, changed)
        if r.status_code == 204:
            return [NO_UPDATE] * len(outputs)
        assert r.status_code == 200, r.get_data(as_text=True)[:2000]
        resp = r.get_json()["response"]
        out = []
        for o in outputs:
            cid = json.dumps(o[0], sort_keys=True, separators=(",", ":")) if isinstance(o[0], dict) else o[0]
            got = resp.get(cid, {})
            prop = o[1] if o[1] in got else o[1].split("@")[0]
            out.append(got.get(prop, NO_UPDATE))
        return out


NO_UPDATE = object()


@pytest.fixture
def call(client: FlaskClient, app: dash.Dash) -> DashCaller:
    """Call a server callback: ``call(outputs, inputs, state)`` -> output values."""
    client.get("/")  # lets Dash finish setting up its routes, as a first page load does
    return DashCaller(client, app)
