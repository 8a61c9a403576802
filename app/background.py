"""Where Dash background callbacks (the pooling page's long jobs) run.

Without ``CELERY_BROKER_URL`` each job runs in its own process on the web server's machine
(Dash's ``DiskcacheManager``, bookkeeping in ``DATA_DIR/.cache/background``, shared by that
machine's gunicorn workers). With it, jobs go through the broker to Celery workers
(``celery -A app.celery_worker:celery_app worker``), which may run on any host that sees the same
``DATA_DIR``: this is how several app hosts share long jobs.
"""

from __future__ import annotations

from typing import Any

from .config import Settings

__all__ = ["LOST_JOB_MESSAGE", "background_manager", "make_celery"]

#: a job's bookkeeping lives this long (seconds)
JOB_EXPIRE = 3600

#: what a background callback's error handler is told when its job ended without an answer
LOST_JOB_MESSAGE = "the job stopped before it answered (its worker was lost); start it again"


def make_celery(settings: Settings) -> Any:
    """The Celery application of the background jobs (broker and results from settings).

    Tasks are acknowledged after they finish and re-queued when a worker dies in the middle
    (``acks_late`` + ``reject_on_worker_lost``), so a killed worker's job is run again by
    another worker instead of hanging.
    """
    from celery import Celery

    broker = settings.celery_broker_url
    if not broker:
        raise ValueError("CELERY_BROKER_URL is not set")
    celery = Celery("pymapmanager", broker=broker, backend=settings.celery_result_backend or broker)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        result_expires=JOB_EXPIRE,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": JOB_EXPIRE},
        worker_hijack_root_logger=False,
    )
    return celery


class _KeepsAnswers:
    """Dash's manager without its lost-answer race (a mixin before Dash's manager class).

    Dash reads a job's answer, then asks whether the job still runs, and when it does not and
    there was no answer it sends nothing (the page stops waiting, with no result). A job that
    stores its answer and ends *between* those two reads is lost that way, although its
    answer is there. A job stores its answer before it ends, so once it is seen ended one
    more read finds the answer if there is one; if there is none, :meth:`lost_answer`.
    """

    UNDEFINED: Any

    def get_result(self, key: str, job: Any) -> Any:
        result = super().get_result(key, job)  # type: ignore[misc]
        if result is self.UNDEFINED and job is not None and not self.job_running(job):  # type: ignore[attr-defined]
            result = super().get_result(key, job)  # type: ignore[misc]
            if result is self.UNDEFINED:
                result = self.lost_answer(job)
        return result

    def lost_answer(self, job: Any) -> Any:
        """What a job that ended without an answer sends: nothing (a cancelled job)."""
        return self.UNDEFINED


def _celery_manager(celery: Any) -> Any:
    from dash import CeleryManager

    class Manager(_KeepsAnswers, CeleryManager):  # type: ignore[misc]
        """Dash's Celery manager, with no answer lost between its reads, and a job whose task
        failed outside the callback (its worker lost for good) answered with an error."""

        def lost_answer(self, job: Any) -> Any:
            task = self.get_task(job)
            if task is not None and task.status == "FAILURE":
                return {"background_callback_error": {"msg": LOST_JOB_MESSAGE, "tb": str(task.result)}}
            return self.UNDEFINED  # (a cancelled job is REVOKED, and stays without an answer)

    return Manager(celery, expire=JOB_EXPIRE)


def _diskcache_manager(cache: Any) -> Any:
    from dash import DiskcacheManager

    class Manager(_KeepsAnswers, DiskcacheManager):  # type: ignore[misc]
        """Dash's Diskcache manager, with no answer lost between its reads."""

    return Manager(cache, expire=JOB_EXPIRE)


def background_manager(settings: Settings) -> Any:
    """The Dash background callback manager: Celery when configured, else Diskcache."""
    if settings.celery_broker_url:
        return _celery_manager(make_celery(settings))
    import diskcache

    folder = settings.data_dir / ".cache" / "background"
    folder.mkdir(parents=True, exist_ok=True)
    return _diskcache_manager(diskcache.Cache(str(folder)))
