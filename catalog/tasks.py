"""Celery tasks: thin wrappers that take ids and call a service.

The ingest task is acknowledged late (a worker that dies mid-run leaves the message on the
queue) and retried with exponential backoff and jitter on throttling and connection errors
only: ``S3TransientError`` is what ``catalog.s3`` raises for SlowDown, Throttling,
RequestTimeout, 503s and lost connections. Validation problems never raise (they are stored
on the volumes); any other error fails the run at once. The service records the run's status
and error, so they are right on a worker and in eager mode alike. The conversion tasks (a run,
its parts, a volume's finish) follow the same rules; each part is its own task so that parts
fan out over the workers; a cut-out is one task. Services never import this module: they
send tasks by name (``catalog.services.jobs.task_named``; the app's ``ready()`` imports this
module, which registers them), and the tasks import their service, so imports point one way.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from catalog.s3 import S3TransientError

logger = logging.getLogger(__name__)

INGEST_MAX_RETRIES = 5
RETRY_BASE_SECONDS = 10
RETRY_MAX_SECONDS = 15 * 60


def retry_delay(retries: int) -> float:
    """Exponential backoff with full jitter: up to 10 s, 20 s, 40 s ... capped at 15 minutes."""
    return random.uniform(RETRY_BASE_SECONDS / 2, min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**retries))


@shared_task(
    bind=True,
    name="catalog.ingest_run",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=INGEST_MAX_RETRIES,
    soft_time_limit=settings.INGEST_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.INGEST_TASK_SOFT_TIME_LIMIT + 120,
)
def ingest_run_task(self: Task, run_id: int) -> dict[str, Any]:
    """Run one IngestRun; returns its counts. A run that succeeded already (sent twice by the
    sweeper) is left as it is."""
    from catalog.models import IngestRun
    from catalog.services.ingest import execute_ingest_run
    from catalog.services.jobs import has_succeeded

    if has_succeeded(IngestRun, run_id):
        return {"run": run_id, "status": "skipped: succeeded already"}
    final_attempt = self.request.retries >= self.max_retries
    try:
        summary = execute_ingest_run(run_id=run_id, final_attempt=final_attempt)
    except S3TransientError as error:
        if final_attempt:
            raise
        raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error
    return {"run": run_id, "status": "succeeded", **summary.counts()}


@shared_task(name="catalog.sweep_jobs")
def sweep_jobs_task() -> dict[str, list[str]]:
    """The periodic sweep of lost and stale jobs (``CELERY_BEAT_SCHEDULE``, run by the worker's beat)."""
    from catalog.services.jobs import sweep

    return sweep().as_dict()


def _conversion_task(self: Task, execute: Any, **arguments: int) -> None:
    """Run one conversion step; transient S3 errors are retried with backoff, as ingest's are."""
    final_attempt = self.request.retries >= self.max_retries
    try:
        execute(final_attempt=final_attempt, **arguments)
    except S3TransientError as error:
        if final_attempt:
            raise
        raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error


CONVERSION_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": INGEST_MAX_RETRIES,
    "soft_time_limit": settings.CONVERSION_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.CONVERSION_TASK_SOFT_TIME_LIMIT + 120,
}


@shared_task(name="catalog.conversion_run", **CONVERSION_TASK_OPTIONS)
def conversion_run_task(self: Task, run_id: int) -> None:
    """Stage, plan and fan out the parts of one ConversionRun, taken up where it stands. A run
    that ended is left as it is: one that succeeded was sent twice (the sweeper and a slow
    queue), one that failed runs again only through ``resume_conversion``, which queues it
    first (a late copy would rewrite the parts of volumes that failed, and never finish them)."""
    from catalog.models import ConversionRun
    from catalog.models.jobs import FINISHED
    from catalog.services.conversion import execute_conversion_run

    if ConversionRun.objects.filter(pk=run_id, status__in=FINISHED).exists():
        return
    _conversion_task(self, execute_conversion_run, run_id=run_id)


@shared_task(name="catalog.conversion_part", **CONVERSION_TASK_OPTIONS)
def conversion_part_task(self: Task, part_id: int) -> None:
    """Write one part (a slab and the pyramid levels it owns) unless S3 shows it written."""
    from catalog.services.conversion import execute_conversion_part

    _conversion_task(self, execute_conversion_part, part_id=part_id)


@shared_task(name="catalog.conversion_finish", **CONVERSION_TASK_OPTIONS)
def conversion_finish_task(self: Task, target_id: int) -> None:
    """Finish, validate and publish one converted volume."""
    from catalog.services.conversion import execute_conversion_finish

    _conversion_task(self, execute_conversion_finish, target_id=target_id)


@shared_task(
    name="catalog.cutout_run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=INGEST_MAX_RETRIES,
    soft_time_limit=settings.CUTOUT_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CUTOUT_TASK_SOFT_TIME_LIMIT + 120,
)
def cutout_run_task(self: Task, run_id: int) -> None:
    """Cut one CutoutRun's region into its zipped OME-Zarr; a run that succeeded already (sent
    twice by the sweeper) is left as it is."""
    from catalog.models import CutoutRun
    from catalog.services.cutouts import execute_cutout_run
    from catalog.services.jobs import has_succeeded

    if has_succeeded(CutoutRun, run_id):
        return
    _conversion_task(self, execute_cutout_run, run_id=run_id)


@shared_task(name="catalog.warm_indexes", ignore_result=True)
def warm_indexes_task() -> None:
    """Build the facet, crop and (PostgreSQL) search indexes of the current catalog version into
    the shared cache, so that the first list, search or facet request after a write does not."""
    from catalog.crop_index import crop_index
    from catalog.facets import facet_index
    from catalog.search import is_postgresql
    from catalog.search_index import search_index

    facet_index()
    crop_index()
    if is_postgresql():
        search_index()


def warm_indexes_after_change(**kwargs: Any) -> None:
    """``catalog_changed`` receiver: queue the warm-up (eager mode: build now). The write has
    committed and warming only saves the next reader the build, so a failure (a broker that
    cannot be reached, an error while building eagerly) is logged, never raised to the writer."""
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            warm_indexes_task.apply(throw=True)  # not delay(): it would set up a broker connection
        else:
            warm_indexes_task.apply_async(retry=False)  # a broker that is down must not hold up the writer
    except Exception:
        logger.exception("The index warm-up of catalog version %s failed", kwargs.get("version"))
