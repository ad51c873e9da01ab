"""Background jobs: send a job's task once its row is committed, and sweep up the ones that got lost.

Every model derived from ``catalog.models.jobs.QueuedJob`` is a job (ingest and conversion runs
now; cut-outs register by deriving from it). Its task is sent after the transaction that created
the row commits, without Celery's publish retries and with a short broker timeout: when the
broker cannot be reached the job is failed at once with the reason (``enqueue_error``) and the
request that started it answers 503, so nothing is lost silently. The sweeper (``sweep``: the
``sweep_runs`` command and the beat task ``catalog.sweep_jobs``) sends again a job still queued
``JOB_QUEUED_SECONDS`` after it was sent (the broker lost it, or it was never sent: the process
died after the commit), at most ``JOB_MAX_REQUEUES`` times, then fails it; and it fails a
job in progress (``QueuedJob.IN_PROGRESS``: running or retrying, and a conversion's finishing)
whose worker gave no sign of life for ``QueuedJob.stale_after()``.
A task that receives a job that succeeded already does nothing, so a job sent twice runs once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import Task, current_app
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from catalog.errors import ServiceUnavailableError
from catalog.models.jobs import FINISHED, JobStatus, QueuedJob

logger = logging.getLogger(__name__)


def task_named(name: str) -> Task:
    """The Celery task registered as ``name`` (``QueuedJob.TASK_NAME`` and the like). Services
    look tasks up by name instead of importing ``catalog.tasks``, which imports the services:
    the app's ``ready()`` imports that module, which is what registers them."""
    return current_app.tasks[name]


BROKER_ERRORS = (OperationalError, OSError)
"""What publishing raises when the broker is down (kombu wraps connection errors in OperationalError)."""


def job_models() -> list[type[QueuedJob]]:
    """Every concrete job model of the project."""
    return [model for model in apps.get_models() if issubclass(model, QueuedJob)]


def _label(model: type[QueuedJob], pk: int) -> str:
    return f"{model._meta.verbose_name} {pk}"


def enqueue_job(job: QueuedJob) -> None:
    """Send the job's task once the surrounding transaction commits (at once outside one).

    Without a broker (eager Celery) the task runs here, once, without retries and without
    raising: the job records the outcome. With one, a broker that cannot be reached fails the
    job with the reason; ``raise_if_not_enqueued`` turns that into a 503 for a request.
    """
    model, pk = type(job), job.pk
    transaction.on_commit(lambda: send(model, pk), robust=settings.CELERY_TASK_ALWAYS_EAGER)


def send(model: type[QueuedJob], pk: int, *, fail_when_unreachable: bool = True) -> bool:
    """Hand the job's task to the broker now; False when the broker could not be reached, which
    fails the job (or, for the sweeper, only records why, to try again at its next pass)."""
    task = task_named(model.TASK_NAME)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        model.objects.filter(pk=pk).update(enqueued_at=timezone.now(), enqueue_error="")
        task.apply(args=[pk], retries=task.max_retries or 0, throw=False)
        return True
    try:
        task.apply_async(args=[pk], retry=False)
    except BROKER_ERRORS as error:
        reason = f"The task broker could not be reached: {error}"
        logger.error("%s was not sent: %s", _label(model, pk), reason)
        values: dict = {"enqueue_error": reason}
        if fail_when_unreachable:
            values.update(
                status=JobStatus.FAILED,
                error=f"{reason}. Nothing was done; start it again once the broker is back.",
                finished_at=timezone.now(),
            )
        model.objects.filter(pk=pk).exclude(status__in=FINISHED).update(**values)
        return False
    model.objects.filter(pk=pk).update(enqueued_at=timezone.now(), enqueue_error="")
    return True


def raise_if_not_enqueued(job: QueuedJob) -> None:
    """A 503 naming the reason when the job's task could not be sent (the job is failed)."""
    job.refresh_from_db(fields=["status", "enqueue_error"])
    if job.enqueue_error and job.status == JobStatus.FAILED:
        message = f"{_label(type(job), job.pk)} was recorded as failed: {job.enqueue_error}. Try again later."
        raise ServiceUnavailableError(message)


def has_succeeded(model: type[QueuedJob], pk: int) -> bool:
    """True when the job succeeded already: a task the sweeper sent twice then runs once. (A
    failed job may run again: a late delivery of a job the sweeper failed still does the work.)"""
    return model.objects.filter(pk=pk, status=JobStatus.SUCCEEDED).exists()


@dataclass
class SweepReport:
    """What one sweep did, one ``"<job> <id>"`` per entry."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"requeued": self.requeued, "failed": self.failed}


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes"


def sweep(*, now: datetime | None = None) -> SweepReport:
    """Send again or fail every job stuck in queued or in progress past its deadline."""
    now = now or timezone.now()
    report = SweepReport()
    for model in job_models():
        _sweep_queued(model, now, report)
        _sweep_stale(model, now, report)
    return report


def _sweep_queued(model: type[QueuedJob], now: datetime, report: SweepReport) -> None:
    waited = settings.JOB_QUEUED_SECONDS
    before = now - timedelta(seconds=waited)
    lost = model.objects.filter(status=JobStatus.QUEUED).filter(
        Q(enqueued_at__lt=before) | Q(enqueued_at__isnull=True, created_at__lt=before)
    )
    for pk, requeues in lost.values_list("pk", "requeues"):
        label = _label(model, pk)
        if requeues >= settings.JOB_MAX_REQUEUES:
            message = (
                f"Not started within {_minutes(waited)} after being sent {requeues + 1} times: "
                "no worker took it (is a worker running?). Start it again."
            )
            if model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
                status=JobStatus.FAILED, error=message, finished_at=now
            ):
                report.failed.append(label)
            continue
        # Claim the job first, so that two sweepers never both send it.
        claimed = model.objects.filter(pk=pk, status=JobStatus.QUEUED, requeues=requeues).update(
            requeues=F("requeues") + 1, enqueued_at=now
        )
        if claimed:
            send(model, pk, fail_when_unreachable=False)
            report.requeued.append(label)


def _sweep_stale(model: type[QueuedJob], now: datetime, report: SweepReport) -> None:
    deadline = model.stale_after()
    before = now - deadline
    stale = model.objects.filter(status__in=model.IN_PROGRESS).filter(
        Q(heartbeat_at__lt=before)
        | Q(heartbeat_at__isnull=True, started_at__lt=before)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=before)
    )
    pks = list(stale.values_list("pk", flat=True))
    if not pks:
        return
    message = (
        f"No sign of life from its worker for {_minutes(deadline.total_seconds())}: the worker stopped "
        "without finishing it. Start it again."
    )
    stale.filter(pk__in=pks).update(status=JobStatus.FAILED, error=message, finished_at=now)
    report.failed.extend(_label(model, pk) for pk in pks)
    logger.warning("Failed %d stale %s job(s): %s", len(pks), model._meta.verbose_name, pks)
