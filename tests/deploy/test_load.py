"""A short run of ``bench/bench_load.py``: load through nginx (4 gunicorn workers, Redis, a
Celery worker) while the cache Redis is killed and restarted, a gunicorn worker is killed and
the Celery process running a pooling job is killed. Every request must be answered (no
error, no hang), except those the killed gunicorn worker had begun to answer: their body is
cut off (nginx cannot send an answer again once its headers are out), at most one per client
thread. The pool must end with an answer (run again, or reported failed; a job that ends
without one is an error of the phase); timings are only reported, never asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_load import KINDS, report, run
from tests.deploy.conftest import FIGURES, _fail_or_skip
from tests.deploy.stack import StackError

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

THREADS = 6


def test_load_through_nginx_with_faults(tmp_path: Path) -> None:
    try:
        phases = run(seconds=4, threads=THREADS, workers=4, workdir=tmp_path)
    except StackError as e:
        _fail_or_skip(str(e))
        raise
    text = report(phases)
    FIGURES[f"load (short run, {THREADS} client threads)"] = "\n" + text
    assert [p.name for p in phases] == ["normal", "redis", "gunicorn", "celery"]
    for p in phases:
        assert p.errors == [], text
        # only the killed worker's own answers, one per client thread at the most
        assert len(p.cut) <= (THREADS if p.name == "gunicorn" else 0), text
        assert all(p.latencies[k] for k in KINDS), text  # every kind answered in every phase
    gunicorn = phases[2]
    assert any("4 of 4 workers after" in n for n in gunicorn.notes), text
    celery = phases[3]
    assert any(n.startswith("Celery process") for n in celery.notes), text
    # the killed job ended: run again to its bundle, or reported failed -- never left hanging,
    # never ended without an answer (that is one of the phase's errors, checked above)
    assert any(n.startswith(("pool finished", "pool reported failed")) for n in celery.notes), text
    assert any(n == "pool result: bundle" or n.startswith("pool reported failed") for n in celery.notes), text
