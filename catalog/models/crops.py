"""Annotated ground-truth regions (crops) of the CellMap Segmentation Challenge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Case, F, Q, When
from django.db.models.functions import Cast

from catalog.models.base import CropSplit, axis_fields, finite_constraint, positive_axes_constraint


class Crop(models.Model):
    """A box of a dataset annotated with label classes, at its own label resolution.

    Geometry is in nm per axis and kept as floats: label voxel sizes differ from the EM's
    and from crop to crop (about 1.6 to 64 nm, anisotropic, with half-voxel offsets). The
    crop spans ``translation .. translation + shape * voxel_size`` on each axis.
    """

    number = models.PositiveIntegerField(unique=True)
    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="crops")
    split = models.CharField(max_length=10, choices=CropSplit.choices)
    voxel_size_x = models.FloatField(help_text="nm")
    voxel_size_y = models.FloatField(help_text="nm")
    voxel_size_z = models.FloatField(help_text="nm")
    translation_x = models.FloatField(help_text="nm")
    translation_y = models.FloatField(help_text="nm")
    translation_z = models.FloatField(help_text="nm")
    shape_x = models.PositiveIntegerField(help_text="voxels")
    shape_y = models.PositiveIntegerField(help_text="voxels")
    shape_z = models.PositiveIntegerField(help_text="voxels")
    label_classes = models.ManyToManyField("catalog.LabelClass", blank=True, related_name="crops")
    labels_url = models.CharField(
        max_length=1000, blank=True, help_text="Group with one label array per class and 'all'; blank while withheld."
    )
    published_state_url = models.CharField(max_length=500, blank=True)
    viewer_problem = models.TextField(
        blank=True, editable=False, help_text="Why Neuroglancer cannot open the crop; blank when it can (derived)."
    )
    viewer_problem_field = models.CharField(max_length=40, blank=True, editable=False)
    inline_state_length = models.PositiveIntegerField(
        null=True,
        editable=False,
        help_text="Characters of the state's inline link fragment; null without a state (derived).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(number__gt=0), name="crop_number_positive"),
            models.CheckConstraint(condition=Q(split__in=CropSplit.values), name="crop_split_valid"),
            positive_axes_constraint("voxel_size", "crop_voxel_size_positive"),
            positive_axes_constraint("shape", "crop_shape_positive"),
            models.CheckConstraint(
                condition=Q(split=CropSplit.TEST) | ~Q(labels_url=""), name="crop_training_labels_published"
            ),
            finite_constraint(axis_fields("voxel_size", "translation"), "crop_numbers_finite"),
        ]

    def __str__(self) -> str:
        return f"crop{self.number}"

    def label_url(self, class_name: str) -> str:
        """Where one class's label array of this crop lives (``all`` holds every class)."""
        return f"{self.labels_url.rstrip('/')}/{class_name}"


class ContentSource(models.TextChoices):
    """Where a crop's counts of a class come from."""

    ATTRIBUTES = "attributes", "cellmap.annotation.complement_counts"
    COUNTED = "counted", "counted from the full-resolution voxels"
    UNKNOWN = "unknown", "unknown"


class CropContent(models.Model):
    """How much of one label class a crop holds: voxels present, absent and unknown.

    "Annotated with" (``Crop.label_classes``) says a class was labelled in the crop, even
    when none of its voxels is there; this row says whether it is. Counts are known
    (``source`` says where from) or all null with ``source = unknown`` and the reason in
    ``note``: never estimated. ``total_voxels`` is the class array's full-resolution voxel
    count, so ``present = total - absent - unknown`` and ``present_share = present / total``.
    ``object_count`` is only set for instance classes, when ingest counted the ids itself.
    """

    Source = ContentSource

    crop = models.ForeignKey(Crop, on_delete=models.CASCADE, related_name="contents")
    label_class = models.ForeignKey("catalog.LabelClass", on_delete=models.PROTECT, related_name="crop_contents")
    source = models.CharField(max_length=12, choices=ContentSource.choices)
    total_voxels = models.PositiveBigIntegerField(null=True, blank=True)
    present_voxels = models.PositiveBigIntegerField(null=True, blank=True)
    absent_voxels = models.PositiveBigIntegerField(null=True, blank=True)
    unknown_voxels = models.PositiveBigIntegerField(null=True, blank=True)
    object_count = models.PositiveBigIntegerField(null=True, blank=True, help_text="Instance classes only.")
    present_share = models.GeneratedField(
        expression=Case(
            When(total_voxels__gt=0, then=Cast("present_voxels", models.FloatField()) / F("total_voxels")),
            default=None,
            output_field=models.FloatField(),
        ),
        output_field=models.FloatField(),
        db_persist=True,
    )
    note = models.CharField(max_length=500, blank=True, help_text="Why the counts are unknown.")

    class Meta:
        ordering = ["crop", "label_class"]
        constraints = [
            models.UniqueConstraint(fields=["crop", "label_class"], name="cropcontent_unique"),
            models.CheckConstraint(condition=Q(source__in=ContentSource.values), name="cropcontent_source_valid"),
            models.CheckConstraint(
                condition=(
                    Q(source="unknown")
                    & Q(total_voxels__isnull=True)
                    & Q(present_voxels__isnull=True)
                    & Q(absent_voxels__isnull=True)
                    & Q(unknown_voxels__isnull=True)
                    & Q(object_count__isnull=True)
                )
                | (
                    ~Q(source="unknown")
                    & Q(total_voxels__gt=0)
                    & Q(
                        total_voxels=F("present_voxels") + F("absent_voxels") + F("unknown_voxels"),
                    )
                ),
                name="cropcontent_counts_add_up",
            ),
        ]
        indexes = [models.Index(fields=["label_class", "present_share"], name="cropcontent_class_share_idx")]

    def __str__(self) -> str:
        return f"{self.crop} ~ {self.label_class_id}: {self.present_voxels if self.source != 'unknown' else '?'}"

    @property
    def is_known(self) -> bool:
        return self.source != self.Source.UNKNOWN


UNKNOWN_UNTIL_INGESTED = "Counts unknown until the crop's labels are ingested."


@dataclass(frozen=True)
class ClassContent:
    """One annotated class of a crop as the pages and the API show it: present, absent or unknown."""

    label_class: Any
    row: CropContent | None

    @property
    def state(self) -> str:
        if self.row is None or not self.row.is_known:
            return "unknown"
        return "present" if self.row.present_voxels else "absent"

    @property
    def note(self) -> str:
        if self.row is None:
            return UNKNOWN_UNTIL_INGESTED
        return self.row.note


def crop_class_contents(crop: Crop) -> list[ClassContent]:
    """Every class annotated in the crop with what it holds (uses prefetched rows)."""
    rows = {row.label_class_id: row for row in crop.contents.all()}
    return class_contents(crop.label_classes.all(), rows)


def class_contents(label_classes: Any, rows: dict[int, Any]) -> list[ClassContent]:
    """The classes (anything with ``pk`` and ``name``) with their content rows by class id
    (``CropContent`` or any record with its fields and ``is_known``): present classes first by
    share, then absent ones, then unknown ones, each group by name."""
    entries = [ClassContent(label_class, rows.get(label_class.pk)) for label_class in label_classes]
    order = {"present": 0, "absent": 1, "unknown": 2}

    def key(entry: ClassContent) -> tuple[int, float, str]:
        share = entry.row.present_share if entry.row is not None and entry.row.present_share is not None else 0.0
        return (order[entry.state], -share, entry.label_class.name)

    return sorted(entries, key=key)
