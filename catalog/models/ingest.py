"""Ingest bookkeeping: runs that walk an S3 prefix, and the statistics they read per volume."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.signals import post_delete
from django.dispatch import receiver

from catalog.models.base import finite_constraint
from catalog.models.jobs import QueuedJob


class IngestRun(QueuedJob):
    """One request to bring the catalog in step with an S3 prefix, and how it went.

    Counts and progress are written while the run works so that staff can follow it in the
    admin and the API; ``error`` keeps the last failure (also while a retry is pending). The
    job columns (status, enqueue, heartbeat) come from ``QueuedJob``; the sweeper watches them.
    """

    TASK_NAME = "catalog.ingest_run"

    COUNT_FIELDS = ("found", "created", "updated", "missing", "invalid")
    """What a finished run counted; the admin, the API and the ingest summary all use these."""
    OUTCOME_FIELDS = ("status", "progress_done", "progress_total", *COUNT_FIELDS, "attempts", "error", "report")
    """Everything the run's work writes on it (read-only wherever a run is shown)."""

    prefix = models.CharField(max_length=1000, help_text="s3://bucket/prefix to walk.")
    dataset = models.ForeignKey(
        "catalog.Dataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ingest_runs",
        help_text="Attach every volume to this dataset; empty: take the dataset from the layout.",
    )
    dry_run = models.BooleanField(default=False, help_text="Report what would change without writing.")
    found = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True, help_text="Datasets created, warnings, per-volume problems.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="ingest_runs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(prefix__startswith="s3://"), name="ingestrun_prefix_s3"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "retrying", "succeeded", "failed"]),
                name="ingestrun_status_valid",
            ),
            models.CheckConstraint(condition=Q(progress_done__lte=F("progress_total")), name="ingestrun_progress_le"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="ingestrun_status_idx")]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == self.Status.SUCCEEDED else 0
        return round(100 * self.progress_done / self.progress_total)


class VolumeStatistics(models.Model):
    """Intensity statistics and a thumbnail of an image volume, from its coarsest scale level.

    ``fingerprint`` digests the keys, sizes and ETags of that level so that an unchanged
    level is never read twice; the contrast limits become the volume's display settings
    unless a curator has chosen them.
    """

    volume = models.OneToOneField("catalog.Volume", on_delete=models.CASCADE, related_name="statistics")
    level_path = models.CharField(max_length=200, blank=True, help_text="Scale level the numbers come from.")
    fingerprint = models.CharField(max_length=64)
    data_min = models.FloatField()
    data_max = models.FloatField()
    contrast_min = models.FloatField()
    contrast_max = models.FloatField()
    contrast_start = models.FloatField(help_text="0.5th percentile.")
    contrast_end = models.FloatField(help_text="99.5th percentile.")
    thumbnail = models.ImageField(upload_to="thumbnails/volumes/", blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "volume statistics"
        constraints = [
            models.CheckConstraint(condition=Q(data_min__lte=F("data_max")), name="volumestatistics_data_ordered"),
            models.CheckConstraint(
                condition=Q(contrast_start__lte=F("contrast_end")), name="volumestatistics_window_ordered"
            ),
            finite_constraint(
                ["data_min", "data_max", "contrast_min", "contrast_max", "contrast_start", "contrast_end"],
                "volumestatistics_numbers_finite",
            ),
        ]

    def __str__(self) -> str:
        return f"statistics of {self.volume}"


@receiver(post_delete, sender=VolumeStatistics, dispatch_uid="volumestatistics_delete_thumbnail")
def _delete_thumbnail(sender: type[VolumeStatistics], instance: VolumeStatistics, **kwargs: Any) -> None:
    """A thumbnail file lives exactly as long as its statistics row (also when its volume goes)."""
    if instance.thumbnail:
        name, storage = instance.thumbnail.name, instance.thumbnail.storage
        transaction.on_commit(lambda: storage.delete(name))
