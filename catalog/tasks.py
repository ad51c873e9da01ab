"""Celery tasks: thin wrappers that take ids and call a service.

The ingest task is acknowledged late (a worker that dies mid-run leaves the message on the
queue) and retried with exponential backoff on throttling and connection errors only:
``S3TransientError`` is what ``catalog.s3`` raises for SlowDown, Throttling, RequestTimeout,
503s and lost connections. Validation problems never raise (they are stored on the
volumes), and any other error fails the run at once with its message on the run.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from catalog.s3 import S3TransientError
from catalog.services import ingest as ingest_service

INGEST_SOFT_TIME_LIMIT = 60 * 60
INGEST_MAX_RETRIES = 5


class IngestTask(Task):
    """Mirrors the task's retries and failures onto the IngestRun so staff can see them."""

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        ingest_service.mark_run_retrying(run_id=args[0], error=ingest_service.describe_failure(exc))

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        ingest_service.mark_run_failed(run_id=args[0], error=ingest_service.describe_failure(exc))


@shared_task(
    bind=True,
    base=IngestTask,
    name="catalog.ingest_run",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(S3TransientError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=INGEST_MAX_RETRIES,
    soft_time_limit=INGEST_SOFT_TIME_LIMIT,
    time_limit=INGEST_SOFT_TIME_LIMIT + 120,
)
def ingest_run_task(self: Task, run_id: int) -> dict[str, Any]:
    """Run one IngestRun; returns its counts."""
    run = ingest_service.execute_ingest_run(run_id=run_id)
    return {
        "run": run.pk,
        "status": run.status,
        "found": run.found,
        "created": run.created,
        "updated": run.updated,
        "missing": run.missing,
        "invalid": run.invalid,
    }
