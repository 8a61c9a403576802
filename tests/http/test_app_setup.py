"""Settings, the factory's URL prefix, first-run demo data, gunicorn settings, the WSGI target."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from app import setup_data
from app.config import Settings, default_data_dir
from app.factory import create_app

REPO = Path(__file__).resolve().parents[2]


def test_settings_from_env(tmp_path: Path) -> None:
    s = Settings.from_env({"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://h:1/0", "URL_PREFIX": "pmm",
                           "CREATE_DEMO": "no"})  # fmt: skip
    assert s.data_dir == tmp_path and s.redis_url == "redis://h:1/0"
    assert s.url_prefix == "/pmm/" and s.create_demo is False
    d = Settings.from_env({})
    assert d.data_dir == default_data_dir() and d.redis_url is None and d.url_prefix == "/"
    assert not str(d.data_dir).startswith(str(REPO))  # outside the source tree


def test_url_prefix_moves_the_api(template_dir: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(template_dir, tmp_path / "d")
    app = create_app(Settings(data_dir=tmp_path / "d", url_prefix="/pmm/", secret_key="t",
                              create_demo=False, testing=True))  # fmt: skip
    c = app.server.test_client()
    assert c.get("/pmm/api/v1/status").status_code == 200
    r = c.get("/pmm/api/v1/nothing")
    assert r.status_code == 404 and r.is_json
    maps = c.get("/pmm/api/v1/maps").get_json()["maps"]
    small = next(m for m in maps if m["name"] == "small")
    assert small["thumbnail_url"].startswith("/pmm/api/v1/maps/public/small/thumbnail?v=")
    assert c.get(small["thumbnail_url"]).status_code == 200


def test_demo_data_is_made_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(setup_data, "DEMO_MAPS", {
        "tiny": {"sessions": 2, "channels": 1, "shape": (2, 64, 64), "seed": 1},
        "tiny_noimages": {"sessions": 2, "channels": 1, "shape": (2, 64, 64), "images": False},
    })  # fmt: skip
    monkeypatch.setattr(setup_data, "DEMO_POOL", {"maps_per_cohort": 1, "sessions": 3, "segments": 1, "spines_per_segment": 5})
    s = Settings(data_dir=tmp_path / "data", secret_key="t")
    made = setup_data.ensure_demo_data(settings=s)
    assert sorted(p.name for p in made) == ["pool_control_01", "pool_treatment_01", "tiny", "tiny_noimages"]
    assert (tmp_path / "data" / "public" / "tiny" / "raw").is_dir()
    assert setup_data.ensure_demo_data(settings=s) == []  # already there
    assert setup_data.ensure_demo_data(settings=s.with_overrides(create_demo=False)) == []
    app = create_app(s.with_overrides(testing=True))
    ids = [m["id"] for m in app.server.test_client().get("/api/v1/maps").get_json()["maps"]]
    assert ids == ["public/pool_control_01", "public/pool_treatment_01", "public/tiny", "public/tiny_noimages"]


def test_demo_maps_are_valid_arguments() -> None:
    import inspect

    from pymapmanager.synthetic.maps import generate_map
    from pymapmanager.synthetic.pools import make_pool

    params = inspect.signature(generate_map).parameters
    for kw in setup_data.DEMO_MAPS.values():
        assert set(kw) <= set(params)
    assert set(setup_data.DEMO_POOL) <= set(inspect.signature(make_pool).parameters)


def test_gunicorn_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9999")
    monkeypatch.delenv("BIND", raising=False)
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    conf = runpy.run_path(str(REPO / "app" / "gunicorn_conf.py"))
    assert conf["bind"] == "0.0.0.0:9999" and conf["workers"] == 2  # PORT: platform convention
    assert conf["worker_class"] == "gthread"
    monkeypatch.setenv("BIND", "0.0.0.0:8050")
    monkeypatch.setenv("ACCESS_LOG", "0")
    conf = runpy.run_path(str(REPO / "app" / "gunicorn_conf.py"))
    assert conf["bind"] == "0.0.0.0:8050" and conf["accesslog"] is None


def test_defaults_bind_the_readme_address(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("PORT", "BIND"):
        monkeypatch.delenv(k, raising=False)
    assert runpy.run_path(str(REPO / "app" / "gunicorn_conf.py"))["bind"] == "127.0.0.1:8050"


def test_wsgi_server_is_the_flask_app(template_dir: Path, tmp_path: Path) -> None:
    env = dict(os.environ, DATA_DIR=str(tmp_path / "w"), CREATE_DEMO="0")
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", "from app.wsgi import server, app; print(type(server).__name__, "
         "server is app.server)"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["Flask", "True"]


def test_procfile_and_dockerfile_run_the_wsgi_target() -> None:
    procfile = (REPO / "Procfile").read_text()
    assert procfile.strip() == "web: gunicorn --config app/gunicorn_conf.py app.wsgi:server"
    lines = [ln.strip() for ln in (REPO / "Dockerfile").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    # the base image is a build argument, python:3.11-slim by default; both stages use it
    assert "ARG BASE_IMAGE=python:3.11-slim" in lines
    assert [ln for ln in lines if ln.startswith("FROM ")] == ["FROM ${BASE_IMAGE} AS build", "FROM ${BASE_IMAGE}"]
    # dependencies from the lock file, installed before the source is copied
    lock = next(i for i, ln in enumerate(lines) if "-r /tmp/requirements.lock" in ln)
    assert lock < next(i for i, ln in enumerate(lines) if ln.startswith("COPY pymapmanager"))
    cmd = json.loads([ln for ln in lines if ln.startswith("CMD ")][-1][4:])  # the last: the container's command
    assert cmd[0] == "gunicorn" and cmd[-1] == "app.wsgi:server" and "python:app.gunicorn_conf" in cmd
    assert "USER pmm" in lines and "EXPOSE 8050" in lines
    assert any("PORT=8050" in ln for ln in lines) and any("DATA_DIR=/data" in ln for ln in lines)
    assert any("app.healthcheck" in ln for ln in lines)
