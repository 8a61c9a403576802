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

__all__ = ["background_manager", "make_celery"]

#: a job's bookkeeping lives this long (seconds)
JOB_EXPIRE = 3600


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


def background_manager(settings: Settings) -> Any:
    """The Dash background callback manager: Celery when configured, else Diskcache."""
    if settings.celery_broker_url:
        from dash import CeleryManager

        return CeleryManager(make_celery(settings), expire=JOB_EXPIRE)
    import diskcache
    from dash import DiskcacheManager

    folder = settings.data_dir / ".cache" / "background"
    folder.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(folder)), expire=JOB_EXPIRE)
