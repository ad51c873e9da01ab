"""Conversion bookkeeping: a run turns one source (file, folder or zip) into OME-Zarr copies of
one or more catalog volumes, each cut into parts that workers write independently."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ConversionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Waiting to retry"
    FINISHING = "finishing", "Finishing (coarse levels, validation, publication)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ConversionRun(models.Model):
    """One request to convert a source into the catalog's volumes, and how it went.

    Progress (parts done of the total, bytes written) is updated by every part as it finishes,
    so staff can follow the run in the admin and the API; ``error`` names what stopped it.
    """

    Status = ConversionStatus
    OUTCOME_FIELDS = ("status", "parts_done", "parts_total", "bytes_written", "attempts", "error", "report")

    source = models.CharField(max_length=1000, help_text="Local path, s3:// URL or https:// URL.")
    member = models.CharField(
        max_length=500, blank=True, help_text="Zip member or HDF5 dataset; empty: match the volumes by file name."
    )
    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="conversion_runs")
    volume_name = models.CharField(max_length=200, blank=True, help_text="Convert only this volume.")
    kind = models.CharField(max_length=20, blank=True, help_text="image or segmentation; empty: the volume's kind.")
    ngff_version = models.CharField(max_length=5, default="0.5", help_text="OME-NGFF version to write (0.5 or 0.4).")
    axes = models.CharField(max_length=10, blank=True, help_text="Axis order of an HDF5 dataset, e.g. zyxc.")
    voxel_size = models.JSONField(null=True, blank=True, help_text="{z, y, x} in nm; overrides the catalog's.")
    status = models.CharField(max_length=10, choices=ConversionStatus.choices, default=ConversionStatus.QUEUED)
    parts_done = models.PositiveIntegerField(default=0)
    parts_total = models.PositiveIntegerField(default=0)
    bytes_written = models.PositiveBigIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    report = models.JSONField(default=dict, blank=True, help_text="Volumes converted, their outputs.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversion_runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ConversionStatus.values), name="conversionrun_status_valid"),
            models.CheckConstraint(condition=Q(ngff_version__in=["0.4", "0.5"]), name="conversionrun_version_valid"),
            models.CheckConstraint(condition=Q(parts_done__lte=F("parts_total")), name="conversionrun_progress_le"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="conversionrun_status_idx")]

    def __str__(self) -> str:
        return f"{self.source} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        if not self.parts_total:
            return 100 if self.status == ConversionStatus.SUCCEEDED else 0
        return round(100 * self.parts_done / self.parts_total)


class ConversionTarget(models.Model):
    """One volume of a run: where its copy goes, its plan, and whether it is published."""

    run = models.ForeignKey(ConversionRun, on_delete=models.CASCADE, related_name="targets")
    volume = models.ForeignKey("catalog.Volume", on_delete=models.CASCADE, related_name="conversion_targets")
    member = models.CharField(max_length=500, blank=True)
    output_url = models.CharField(max_length=1000)
    plan = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=ConversionStatus.choices, default=ConversionStatus.QUEUED)
    parts_done = models.PositiveIntegerField(default=0)
    parts_total = models.PositiveIntegerField(default=0)
    bytes_written = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "volume"], name="conversiontarget_unique_volume"),
            models.CheckConstraint(condition=Q(parts_done__lte=F("parts_total")), name="conversiontarget_progress_le"),
        ]

    def __str__(self) -> str:
        return f"{self.volume} -> {self.output_url}"


class ConversionPart(models.Model):
    """A slab of z of one target, written by one task; ``written_at`` is when its data went out
    (a rerun that finds the part's marker in S3 leaves it as it was)."""

    target = models.ForeignKey(ConversionTarget, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveIntegerField()
    z0 = models.PositiveIntegerField()
    z1 = models.PositiveIntegerField()
    done = models.BooleanField(default=False)
    bytes_written = models.PositiveBigIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    written_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["target", "index"]
        constraints = [
            models.UniqueConstraint(fields=["target", "index"], name="conversionpart_unique_index"),
            models.CheckConstraint(condition=Q(z0__lt=F("z1")), name="conversionpart_slab_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.target} part {self.index} (z {self.z0}-{self.z1})"
