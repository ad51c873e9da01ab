"""Annotated ground-truth regions (crops) of the CellMap Segmentation Challenge."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

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
