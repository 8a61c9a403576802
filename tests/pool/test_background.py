"""The background jobs' managers (app/background.py): no answer is lost between Dash's reads,
and a job that ends without one says so on the page.

Dash polls a background job by reading its answer, then asking whether the job still runs;
a job that answers and ends between those two reads used to be taken for a cancelled one
(the page stopped waiting, with no result). These tests put the job's end exactly there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from billiard.exceptions import WorkerLostError
from celery import Celery
from dash import CeleryManager, DiskcacheManager

from app.background import LOST_JOB_MESSAGE, _celery_manager, _diskcache_manager, background_manager
from app.config import Settings
from callbacks.pooling import pool_job_failed
from tests.pool.conftest import PoolCaller
from tests.pool.test_page import POOL_IDS, catalog, compute, prepare, render

ANSWER = {"bundle": "b1", "spec": {}}


def ended_pid() -> int:
    """The pid of a process that has ended (and been reaped): a job that no longer runs."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


class AnswersAfterFirstRead:
    """A store whose first read of ``key`` finds nothing, and the job's answer (and its end,
    ``finish()``) comes right after that read: the race."""

    def __init__(self, get: Any, key: str, finish: Any) -> None:
        self.get, self.key, self.finish, self.reads = get, key, finish, 0

    def __call__(self, key: str, *args: Any, **kw: Any) -> Any:
        value = self.get(key, *args, **kw)
        if key == self.key:
            self.reads += 1
            if self.reads == 1:
                self.finish()
        return value


# --------------------------------------------------------------------------- Diskcache


def raced_diskcache(manager: Any) -> tuple[Any, int]:
    cache = manager.handle
    key = "result-key"
    cache.get = AnswersAfterFirstRead(cache.get, key, lambda: cache.set(key, ANSWER))  # type: ignore[method-assign]
    return key, ended_pid()


def test_diskcache_answer_that_comes_between_the_reads_is_kept(tmp_path: Path) -> None:
    import diskcache

    plain = DiskcacheManager(diskcache.Cache(str(tmp_path / "plain")))
    key, job = raced_diskcache(plain)
    assert plain.get_result(key, job) is plain.UNDEFINED  # Dash's own manager loses it
    assert plain.handle.get(key) == ANSWER  # although it is there

    ours = _diskcache_manager(diskcache.Cache(str(tmp_path / "ours")))
    key, job = raced_diskcache(ours)
    assert ours.get_result(key, job) == ANSWER
    assert ours.handle.get(key) is None  # read once, then cleared as Dash does


def test_diskcache_running_job_without_answer_is_still_waited_for(tmp_path: Path) -> None:
    m = background_manager(Settings(data_dir=tmp_path, secret_key="x", create_demo=False, testing=True))
    assert isinstance(m, DiskcacheManager)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert m.get_result("no-answer-yet", sleeper.pid) is m.UNDEFINED
        assert m.job_running(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    # ended without an answer (cancelled): nothing to send
    assert m.get_result("no-answer-yet", ended_pid()) is m.UNDEFINED


# --------------------------------------------------------------------------- Celery


@pytest.fixture
def celery_app() -> Celery:
    """A Celery application with an in-memory result store (no broker is contacted)."""
    return Celery("pmm-test", broker="memory://", backend="cache+memory://")


def raced_celery(manager: Any, job: str) -> str:
    backend = manager.handle.backend
    key = f"result-{job}"

    def finish() -> None:  # the task stores its answer, returns, and is recorded a success
        backend.set(key, json.dumps(ANSWER))
        backend.mark_as_done(job, None)

    backend.get = AnswersAfterFirstRead(backend.get, key, finish)
    return key


def test_celery_answer_that_comes_between_the_reads_is_kept(celery_app: Celery) -> None:
    plain = CeleryManager(celery_app)
    key = raced_celery(plain, "job-plain")
    assert plain.get_result(key, "job-plain") is plain.UNDEFINED  # Dash's own manager loses it
    assert not plain.job_running("job-plain")

    ours = _celery_manager(celery_app)
    key = raced_celery(ours, "job-ours")
    assert ours.get_result(key, "job-ours") == ANSWER


def test_celery_jobs_pending_cancelled_and_lost(celery_app: Celery) -> None:
    m = _celery_manager(celery_app)
    backend = m.handle.backend
    # queued or running (PENDING): wait
    assert m.get_result("result-pending", "job-pending") is m.UNDEFINED
    assert m.job_running("job-pending")
    # cancelled by the user (REVOKED): nothing to send
    backend.mark_as_revoked("job-cancelled", "revoked")
    assert m.get_result("result-cancelled", "job-cancelled") is m.UNDEFINED
    # its worker lost for good (FAILURE recorded, no answer): an error the page shows
    backend.mark_as_failure("job-lost", WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)."))
    got = m.get_result("result-lost", "job-lost")
    assert got["background_callback_error"]["msg"] == LOST_JOB_MESSAGE
    assert "SIGKILL" in got["background_callback_error"]["tb"]


# --------------------------------------------------------------------------- the page


def test_lost_and_failed_jobs_are_said_on_the_page(call: PoolCaller, monkeypatch: pytest.MonkeyPatch) -> None:
    # what the error handler makes of Dash's error for a lost job, and for any other error
    from dash.exceptions import BackgroundCallbackError

    lost = pool_job_failed(BackgroundCallbackError(f"An error occurred inside a background callback: {LOST_JOB_MESSAGE}\n"))
    assert lost == {"error": LOST_JOB_MESSAGE}
    other = pool_job_failed(BackgroundCallbackError("An error occurred inside a background callback: boom\nTraceback"))
    assert "unexpected error" in other["error"] and "Traceback" not in other["error"]

    # through the page: a job that raises an unexpected error answers with the message
    # (before, the background request failed with a server error and the page said nothing)
    from app.services import pooling as svc

    def broken(plan: Any, progress: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(svc, "compute_bundle", broken)  # the job's process is forked: it runs this
    cat = catalog(call)
    ready, job, msgs = prepare(call, cat, POOL_IDS[:2])
    assert msgs == [] and isinstance(job, dict)
    ready = compute(call, job)
    assert isinstance(ready, dict) and "unexpected error" in ready["error"]
    _fig, _dyn, _summary, messages, _notes = render(call, ready)
    assert "Pooling failed: an unexpected error" in str(messages)

