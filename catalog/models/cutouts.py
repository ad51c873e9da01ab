"""Cut-out bookkeeping: one request for a region of a dataset (EM and a crop's labels) as a
zipped, self-contained OME-Zarr in the results bucket.

A request is normalized (dataset, EM volume and level, voxel box, label arrays) and hashed into
``request_key``; the artifact's object key is made from it, so the same request always names the
same artifact and a second request reuses the first one's run or object.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from catalog.models.jobs import JobStatus, QueuedJob


class CutoutRun(QueuedJob):
    """One cut-out job: what it cuts (``request``, normalized), how far it got, and where the
    artifact is once it succeeded. The job columns come from ``QueuedJob``; the sweeper watches them."""

    TASK_NAME = "catalog.cutout_run"
    OUTCOME_FIELDS = (
        "status",
        "progress_done",
        "progress_total",
        "artifact_url",
        "artifact_bytes",
        "attempts",
        "error",
    )
    """Everything the job's work writes on it (read-only wherever a run is shown)."""

    request_key = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the normalized request.")
    request = models.JSONField(help_text="The normalized request: arrays, levels and voxel boxes to cut.")
    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="cutout_runs")
    crop = models.ForeignKey(
        "catalog.Crop", null=True, blank=True, on_delete=models.SET_NULL, related_name="cutout_runs"
    )
    bytes_estimate = models.PositiveBigIntegerField(default=0, help_text="Uncompressed bytes of every array cut.")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    artifact_url = models.CharField(max_length=1000, help_text="s3:// URL of the zipped OME-Zarr.")
    artifact_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="cutout_runs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="cutoutrun_status_valid"),
            models.CheckConstraint(condition=Q(progress_done__lte=F("progress_total")), name="cutoutrun_progress_le"),
            models.CheckConstraint(condition=Q(artifact_url__startswith="s3://"), name="cutoutrun_artifact_s3"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="cutoutrun_status_idx")]

    def __str__(self) -> str:
        return f"cut-out {self.request_key[:12]} of {self.dataset_id} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == JobStatus.SUCCEEDED else 0
        return round(100 * self.progress_done / self.progress_total)
