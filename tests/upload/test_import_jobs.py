"""Imports as jobs: 202 and a status URL, the job's verdict, who may see it; on a Celery worker too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app
from app.services import tus
from pymapmanager.client import ApiError, Client
from tests.conftest import IN_CI

from .conftest import make_tokens
from .support import make_map, zip_folder
from .test_api_upload import _create, _send, import_job

Auth = Any


def _uploaded(client: FlaskClient, h: dict[str, str], data: bytes, name: str = "m1.zip") -> str:
    url = _create(client, h, len(data), filename=name).headers["Location"]
    _send(client, h, url, data, 65536)
    return str(url.rsplit("/", 1)[1])


def test_the_job_says_what_happened(client: FlaskClient, auth: Auth, src_map: Path, data_dir: Path) -> None:
    h = auth("alice")
    uid = _uploaded(client, h, zip_folder(src_map))
    r = client.post("/api/v1/uploads/alice/import", json={"uploads": [uid]}, headers=h)
    assert r.status_code == 202
    job = r.get_json()
    assert job["id"].startswith("job-") and job["uploads"] == [uid] and job["owner"] == "alice"
    assert job["status_url"] == f"/api/v1/uploads/alice/jobs/{job['id']}" and job["result"] is None
    # the first job's verdict (it runs in a thread: on a loaded machine a second job started
    # now could finish first, and then the first one would be the one refused)
    deadline = time.monotonic() + 60
    while (done := client.get(job["status_url"], headers=h).get_json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, done
        time.sleep(0.05)
    status, _ = import_job(client, h, "alice", [_uploaded(client, h, zip_folder(src_map))])
    assert status == 409  # the first job made alice/m1: the second one's name is taken
    # the first job's verdict stays readable
    done = client.get(job["status_url"], headers=h).get_json()
    assert done["state"] == "done" and done["result"]["id"] == "alice/m1" and done["error"] is None
    # overwrite: a new version, the old one kept
    status, body = import_job(client, h, "alice", [_uploaded(client, h, zip_folder(src_map))], overwrite=True)
    assert status == 201 and body["replaced_version"]


def test_a_map_that_is_not_valid_fails_the_job_file_by_file(client: FlaskClient, auth: Auth, src_map: Path,
                                                            data_dir: Path) -> None:  # fmt: skip
    (src_map / "m1_objMap.txt").unlink()
    h = auth("alice")
    status, err = import_job(client, h, "alice", [_uploaded(client, h, zip_folder(src_map))])
    assert status == 400 and err["error"] == "InvalidMapError"
    assert any(p["file"] == "m1_objMap.txt" for p in err["problems"]), err
    assert str(data_dir) not in json.dumps(err)  # no server paths
    assert not (data_dir / "alice" / "m1").exists()


def test_only_the_owner_and_admins_see_a_job(client: FlaskClient, auth: Auth, src_map: Path) -> None:
    h = auth("alice")
    uid = _uploaded(client, h, zip_folder(src_map))
    r = client.post("/api/v1/uploads/alice/import", json={"uploads": [uid]}, headers=h)
    url = r.get_json()["status_url"]
    assert client.get(url, headers=auth("bob")).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url, headers=auth("root")).status_code == 200
    assert client.get(url.replace("/alice/", "/bob/"), headers=auth("bob")).status_code == 404
    assert client.get("/api/v1/uploads/alice/jobs/job-nothing-like-this-00", headers=h).status_code == 404
    assert client.get("/api/v1/uploads/alice/jobs/..%2F..%2Fx", headers=h).status_code == 404
    # a job's file is never listed as an upload
    assert all(not u["id"].startswith("job-") for u in client.get("/api/v1/uploads/alice", headers=h).get_json()["uploads"])


def test_a_job_whose_process_died_is_failed(settings: Settings, data_dir: Path, src_map: Path, auth: Auth,
                                            client: FlaskClient) -> None:  # fmt: skip
    h = auth("alice")
    uid = _uploaded(client, h, zip_folder(src_map))
    job = tus.start_import(data_dir, "alice", [uid])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = data_dir / "alice" / ".uploads" / f"{job.id}.json"
    raw = json.loads(path.read_text()) | {"state": "running", "host": os.uname().nodename, "pid": dead.pid}
    path.write_text(json.dumps(raw))
    got = client.get(f"/api/v1/uploads/alice/jobs/{job.id}", headers=h).get_json()
    assert got["state"] == "failed" and "interrupted" in got["error"]["message"]
    # the uploads were not consumed: importing them again works
    status, body = import_job(client, h, "alice", [uid])
    assert status == 201 and body["id"] == "alice/m1"


def test_client_reports_the_job(live: Any, tmp_path: Path) -> None:
    src = make_map(tmp_path, "jobmap")
    states: list[str] = []
    with Client(live.url, live.tokens["alice"], state_file=tmp_path / "s.json") as c:
        res = c.upload(src, importing=states.append)
        assert res["id"] == "alice/jobmap" and states[-1] == "done"
        with pytest.raises(ApiError) as e:
            c.upload(src)
        assert e.value.status == 409 and "already exists" in str(e.value)


# --------------------------------------------------------------------------- on a Celery worker


def test_imports_run_on_the_celery_worker(tmp_path: Path, src_map: Path) -> None:
    from tests.deploy.stack import Stack, StackError

    data = tmp_path / "data"
    data.mkdir()
    tokens = make_tokens(create_app(Settings(data_dir=data, secret_key="celery-test", create_demo=False)).server)
    stack = Stack(tmp_path)
    try:
        try:
            broker = stack.redis("broker", "--maxmemory-policy", "noeviction")
            env = {"DATA_DIR": str(data), "CELERY_BROKER_URL": broker, "CREATE_DEMO": "0",
                   "SECRET_KEY": "celery-test", "INCOMING_QUIET_SECONDS": "0"}  # fmt: skip
            worker = stack.celery_worker("worker", env, concurrency=1)
            app = stack.gunicorn("app", env, workers=1)
        except StackError as e:
            if IN_CI:
                pytest.fail(str(e))
            pytest.skip(str(e))
        with Client(app.url, tokens["alice"], state_file=tmp_path / "s.json") as c:
            res = c.upload(src_map)
            assert res["id"] == "alice/m1"
            (src_map / "m1_objMap.txt").unlink()
            with pytest.raises(ApiError) as e:
                c.upload(src_map, overwrite=True)
            assert e.value.status == 400 and any(p["file"] == "m1_objMap.txt" for p in e.value.problems)
        jobs = [json.loads(p.read_text()) for p in (data / "alice" / ".uploads").glob("job-*.json")]
        assert sorted(j["state"] for j in jobs) == ["done", "failed"]
        # the worker ran them (a process of the Celery worker, not of gunicorn)
        import psutil

        celery_pids = {worker.proc.pid} | {p.pid for p in psutil.Process(worker.proc.pid).children(recursive=True)}
        assert {j["pid"] for j in jobs} <= celery_pids, (jobs, celery_pids)
        assert "pmm.import_uploads" in worker.log.read_text(errors="replace")
    finally:
        stack.close()
