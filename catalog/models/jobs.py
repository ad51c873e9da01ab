"""What every background job records (ingest runs now; conversions and cut-outs as they land).

A job is a row that a Celery task, named by ``TASK_NAME`` and given the row's id, works on. The
columns say where it stands, like DANDI's status columns: whether its task reached the broker
(``enqueued_at``, or ``enqueue_error`` when it could not), the last sign of life from its worker
(``heartbeat_at``) and how often the sweeper sent it again (``requeues``). Every concrete subclass
is swept by ``catalog.services.jobs.sweep``: no other registration is needed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Waiting to retry"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)
JOB_FIELDS = ("enqueued_at", "enqueue_error", "heartbeat_at", "requeues")
"""Where the job's task stands; shown wherever a job is shown, written only by the job machinery."""


class QueuedJob(models.Model):
    """The columns a job shares with every other job, and what the sweeper needs to know."""

    TASK_NAME: ClassVar[str]
    """The Celery task that runs the job; it takes the job's id."""

    Status = JobStatus

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When its task last reached the broker.")
    enqueue_error = models.TextField(blank=True, help_text="Why its task could not be sent to the broker.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from its worker.")
    requeues = models.PositiveSmallIntegerField(default=0, help_text="Times the sweeper sent its task again.")

    class Meta:
        abstract = True

    @classmethod
    def stale_after(cls) -> timedelta:
        """How long a running (or retrying) job may go without a sign of life before the sweeper
        fails it: its task's hard time limit has passed by then, so no worker still holds it."""
        return timedelta(seconds=settings.JOB_STALE_SECONDS)
