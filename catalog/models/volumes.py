"""Volumes (one layer of data each), their meshes, channels and segment labels."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from catalog.models.base import (
    AXES,
    HEX_COLOUR_PATTERN,
    ContentType,
    MeshFormat,
    VolumeFormat,
    VolumeKind,
    VolumeStatus,
    axis_fields,
    choices_constraint,
    finite_constraint,
    hex_colour_validator,
    positive_axes_constraint,
)


def _nonzero_scale_constraint() -> models.CheckConstraint:
    condition = Q()
    for axis in AXES:
        condition &= Q(**{f"scale_{axis}__isnull": True}) | ~Q(**{f"scale_{axis}": 0})
    return models.CheckConstraint(condition=condition, name="volume_scale_nonzero")


class Volume(models.Model):
    """One array of data in a dataset: an EM or LM image, a segmentation, a prediction.

    ``scale_*`` is the voxel size in nm per axis; a negative value is a flipped axis (the
    OpenOrganelle transforms use them) and zero is never valid. ``url`` is where the data
    lives (``s3://bucket/key``, or a local path for data still to be converted); it is
    blank only when the source names a volume without publishing its location.
    """

    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="volumes")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    url = models.CharField(max_length=1000, blank=True)
    source_url = models.CharField(
        max_length=1000,
        blank=True,
        help_text="The original file a conversion started from, kept as the download source; "
        "blank when ``url`` is the original.",
    )
    format = models.CharField(max_length=20, choices=VolumeFormat.choices, blank=True, help_text="Blank when unknown.")
    kind = models.CharField(max_length=20, choices=VolumeKind.choices)
    content_type = models.CharField(max_length=20, choices=ContentType.choices)
    label_class = models.ForeignKey(
        "catalog.LabelClass", null=True, blank=True, on_delete=models.PROTECT, related_name="volumes"
    )
    dtype = models.CharField(max_length=20, blank=True)
    axes = models.CharField(max_length=10, blank=True, help_text="Axis order of the array, e.g. zyx or czyx.")
    shape_x = models.PositiveBigIntegerField(null=True, blank=True)
    shape_y = models.PositiveBigIntegerField(null=True, blank=True)
    shape_z = models.PositiveBigIntegerField(null=True, blank=True)
    scale_x = models.FloatField(null=True, blank=True, help_text="nm; negative flips the axis")
    scale_y = models.FloatField(null=True, blank=True, help_text="nm; negative flips the axis")
    scale_z = models.FloatField(null=True, blank=True, help_text="nm; negative flips the axis")
    translation_x = models.FloatField(null=True, blank=True, help_text="nm")
    translation_y = models.FloatField(null=True, blank=True, help_text="nm")
    translation_z = models.FloatField(null=True, blank=True, help_text="nm")
    scale_levels = models.PositiveSmallIntegerField(null=True, blank=True)
    levels = models.JSONField(
        default=list,
        blank=True,
        help_text="The stored chunk grid, one entry per scale level (from ingest): path, shape and chunks "
        "(one value per array axis, in the array's order), voxel size and translation (nm, x/y/z) when known.",
    )

    contrast_min = models.FloatField(null=True, blank=True, help_text="Lowest value the contrast slider offers.")
    contrast_max = models.FloatField(null=True, blank=True, help_text="Highest value the contrast slider offers.")
    contrast_start = models.FloatField(null=True, blank=True, help_text="Value shown black.")
    contrast_end = models.FloatField(null=True, blank=True, help_text="Value shown white.")
    display_colour = models.CharField(max_length=7, blank=True, validators=[hex_colour_validator])
    invert_lut = models.BooleanField(default=False)
    display_set_by_curator = models.BooleanField(
        default=False, help_text="Display settings chosen by a curator; ingest statistics do not overwrite them."
    )

    provenance = models.TextField(blank=True, help_text='How the data was made, e.g. "Cellpose nuclei model".')
    status = models.CharField(max_length=10, choices=VolumeStatus.choices, default=VolumeStatus.OK)
    validation_errors = models.JSONField(default=list, blank=True, help_text="[{field, message}]")
    viewer_problem = models.TextField(
        blank=True, editable=False, help_text="Why Neuroglancer cannot open the volume; blank when it can (derived)."
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
        ordering = ["dataset", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="volume_unique_name"),
            models.UniqueConstraint(fields=["url"], condition=~Q(url=""), name="volume_unique_url"),
            models.CheckConstraint(condition=~Q(name=""), name="volume_name_not_blank"),
            choices_constraint("format", VolumeFormat, "volume_format_valid"),
            models.CheckConstraint(condition=Q(kind__in=VolumeKind.values), name="volume_kind_valid"),
            models.CheckConstraint(condition=Q(content_type__in=ContentType.values), name="volume_content_type_valid"),
            models.CheckConstraint(condition=Q(status__in=VolumeStatus.values), name="volume_status_valid"),
            positive_axes_constraint("shape", "volume_shape_positive"),
            _nonzero_scale_constraint(),
            models.CheckConstraint(
                condition=Q(scale_levels__isnull=True) | Q(scale_levels__gte=1), name="volume_scale_levels_positive"
            ),
            models.CheckConstraint(
                condition=Q(contrast_min__isnull=True)
                | Q(contrast_max__isnull=True)
                | Q(contrast_min__lte=models.F("contrast_max")),
                name="volume_contrast_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(display_colour="") | Q(display_colour__regex=HEX_COLOUR_PATTERN),
                name="volume_display_colour_hex",
            ),
            finite_constraint(
                [
                    *axis_fields("scale", "translation"),
                    "contrast_min",
                    "contrast_max",
                    "contrast_start",
                    "contrast_end",
                ],
                "volume_numbers_finite",
            ),
        ]
        indexes = [models.Index(fields=["dataset", "content_type"], name="volume_dataset_content_idx")]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.name}"


class VolumeChannel(models.Model):
    """One channel of a multichannel volume (the red, green and blue of a Brainbow image)."""

    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="channels")
    index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100, blank=True)
    colour = models.CharField(max_length=7, blank=True, validators=[hex_colour_validator])

    class Meta:
        ordering = ["volume", "index"]
        constraints = [
            models.UniqueConstraint(fields=["volume", "index"], name="volumechannel_unique_index"),
            models.CheckConstraint(
                condition=Q(colour="") | Q(colour__regex=HEX_COLOUR_PATTERN), name="volumechannel_colour_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volume} channel {self.index}"


class SegmentLabel(models.Model):
    """What one value of a semantic segmentation means: its class name and display colour."""

    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="segment_labels")
    value = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    colour = models.CharField(max_length=7, blank=True, validators=[hex_colour_validator])
    label_class = models.ForeignKey(
        "catalog.LabelClass", null=True, blank=True, on_delete=models.PROTECT, related_name="segment_labels"
    )

    class Meta:
        ordering = ["volume", "value"]
        constraints = [
            models.UniqueConstraint(fields=["volume", "value"], name="segmentlabel_unique_value"),
            models.CheckConstraint(
                condition=Q(colour="") | Q(colour__regex=HEX_COLOUR_PATTERN), name="segmentlabel_colour_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volume} {self.value}: {self.name}"


class Mesh(models.Model):
    """Precomputed meshes of a segmentation, shown as a second source of its layer."""

    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="meshes")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    url = models.CharField(max_length=1000)
    format = models.CharField(max_length=40, choices=MeshFormat.choices)
    scale_x = models.FloatField(default=1.0, help_text="nm per mesh unit")
    scale_y = models.FloatField(default=1.0, help_text="nm per mesh unit")
    scale_z = models.FloatField(default=1.0, help_text="nm per mesh unit")
    translation_x = models.FloatField(default=0.0)
    translation_y = models.FloatField(default=0.0)
    translation_z = models.FloatField(default=0.0)
    segment_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["volume", "name"]
        verbose_name_plural = "meshes"
        constraints = [
            models.UniqueConstraint(fields=["volume", "url"], name="mesh_unique_url"),
            models.CheckConstraint(condition=Q(format__in=MeshFormat.values), name="mesh_format_valid"),
            models.CheckConstraint(condition=~Q(scale_x=0) & ~Q(scale_y=0) & ~Q(scale_z=0), name="mesh_scale_nonzero"),
            finite_constraint(axis_fields("scale", "translation"), "mesh_numbers_finite"),
        ]

    def __str__(self) -> str:
        return self.name
