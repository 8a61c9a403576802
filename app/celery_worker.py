"""The Celery worker's entry point: ``celery -A app.celery_worker:celery_app worker``.

Building the app registers every background callback as a Celery task, under the same
names the web workers use (Dash names a task by a hash of its callback's source), so the
worker must run the same version of the code as the web servers.
"""

from __future__ import annotations

from typing import Any

from .factory import create_app

dash_app = create_app()
_manager: Any = dash_app._background_manager  # Dash keeps the manager here
if not hasattr(_manager, "handle"):
    raise RuntimeError("CELERY_BROKER_URL is not set: background jobs run in the web server")
celery_app = _manager.handle


@celery_app.task(name="pmm.import_uploads")  # type: ignore[untyped-decorator]
def import_uploads_task(owner: str, job_id: str) -> str:
    """An import job of finished uploads (``app.services.tus.run_import_job``); its state."""
    from .extensions import settings_of
    from .services import tus

    settings = settings_of(dash_app.server)
    return tus.run_import_job(settings.data_dir, owner, job_id, settings).state
