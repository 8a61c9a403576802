"""Call a Dash app's server callbacks the way the browser's renderer does.

One caller for every callback test (the map viewer's, the catalog's, the pooling page's):
``POST /_dash-update-component`` with the outputs, inputs and state, through the Flask test
client. Outputs bound with ``allow_duplicate`` are found by their prefix in the app's
callback map; background callbacks are polled until they answer.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import quote

import dash
from flask.testing import FlaskClient

__all__ = ["NO_UPDATE", "DashCaller", "find_component"]

#: what the caller returns for an output the callback left alone
NO_UPDATE = object()


def _key(spec: tuple[Any, ...]) -> str:
    cid = spec[0]
    text = json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid
    return f"{text}.{spec[1]}"


def _prop(spec: tuple[Any, ...]) -> dict[str, Any]:
    d: dict[str, Any] = {"id": spec[0], "property": spec[1]}
    if len(spec) == 3:
        d["value"] = spec[2]
    return d


def _parts(key: str) -> list[str]:
    return key.strip(".").split("...") if key.startswith("..") else [key]


class DashCaller:
    """``caller(outputs, inputs, state)`` -> the new values of ``outputs``.

    Parameters
    ----------
    app : dash.Dash
    client : FlaskClient
        The app's test client.
    page : str
        A page to load first: Dash finishes setting up its routes on the first page load,
        and background callbacks need the page's ``end_id``.
    """

    def __init__(self, app: dash.Dash | FlaskClient, client: FlaskClient | None = None, page: str = "/") -> None:
        if client is None:  # DashCaller(client): no app, so no "@" suffixes of shared outputs
            assert isinstance(app, FlaskClient)
            app, client = None, app  # type: ignore[assignment]
        self.app: dash.Dash | None = app  # type: ignore[assignment]
        self.client = client
        html = client.get(page).get_data(as_text=True)
        m = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.S)
        self.end_id = json.loads(m.group(1)).get("end_id") if m else None
        self.progress: list[Any] = []

    def output_key(self, outputs: list[tuple[Any, str]]) -> str:
        """The callback map's key of these outputs (with any ``@`` duplicate suffixes)."""
        keys = [_key(o) for o in outputs]
        if self.app is None:
            return keys[0] if len(keys) == 1 else ".." + "...".join(keys) + ".."
        for k in self.app.callback_map:
            if [p.split("@")[0] for p in _parts(k)] == keys:
                return k
        raise KeyError(f"no callback with outputs {keys}")

    def outputs_of(self, first: tuple[Any, str]) -> list[tuple[Any, str]]:
        """Every output ``(id, property)`` of the callback whose first output is ``first``."""
        head = _key(first)
        assert self.app is not None, "outputs_of needs the app"
        for k in self.app.callback_map:
            parts = [p.split("@")[0] for p in _parts(k)]
            if parts[0] == head:
                out = []
                for part in parts:
                    cid, _, prop = part.rpartition(".")
                    out.append((json.loads(cid) if cid.startswith("{") else cid, prop))
                return out
        raise KeyError(f"no callback has the first output {head}")

    def raw(self, outputs: list[tuple[Any, str]], inputs: list[tuple[Any, ...]],
            state: list[tuple[Any, ...]] | None = None, changed: list[str] | None = None,
            query: str = "") -> Any:  # fmt: skip
        """The HTTP response of one callback call."""
        key = self.output_key(outputs)
        outs = []
        for part, o in zip(_parts(key), outputs, strict=True):
            d = _prop(o)
            if "@" in part:
                d["property"] = f"{o[1]}@{part.split('@', 1)[1]}"
            outs.append(d)
        body = {
            "output": key,
            "outputs": outs if len(outputs) > 1 else outs[0],
            "inputs": [_prop(i) for i in inputs],
            "state": [_prop(s) for s in state or []],
            "changedPropIds": changed if changed is not None else [_key(inputs[0][:2])],
        }
        return self.client.post(f"/_dash-update-component{query}", json=body)

    def __call__(self, outputs: list[tuple[Any, str]], inputs: list[tuple[Any, ...]],
                 state: list[tuple[Any, ...]] | None = None, changed: list[str] | None = None,
                 timeout: float = 60.0) -> list[Any]:  # fmt: skip
        """The new values of ``outputs`` (:data:`NO_UPDATE` where left alone)."""
        q = f"?endId={quote(self.end_id)}" if self.end_id else ""
        r = self.raw(outputs, inputs, state, changed, q)
        assert r.status_code in (200, 204), r.get_data(as_text=True)[:3000]
        deadline = time.monotonic() + timeout
        self.progress = []
        handles: dict[str, Any] = {}
        while r.status_code == 200 and "response" not in (r.get_json() or {}):
            got = r.get_json()
            if "progress" in got:
                self.progress.append(got["progress"])
            if "cacheKey" in got:
                handles = got
            assert time.monotonic() < deadline, "background callback did not finish"
            time.sleep(0.1)
            hq = f"{q}&cacheKey={quote(handles['cacheKey'])}&job={quote(handles['job'])}"
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


def find_component(tree: Any, component_id: Any) -> dict[str, Any] | None:
    """The first component of a serialised layout tree whose ``id`` is ``component_id``."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("id") == component_id:
            return tree
        tree = list(tree.values())
    if isinstance(tree, list):
        for v in tree:
            hit = find_component(v, component_id)
            if hit is not None:
                return hit
    return None
