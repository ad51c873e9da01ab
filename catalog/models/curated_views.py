"""Curated views: a camera on a dataset with a chosen set of layers."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from catalog.models.base import axis_fields, finite_constraint


class CuratedView(models.Model):
    """A curated camera position, scale and orientation over some of a dataset's volumes."""

    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="views")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position_x = models.FloatField(null=True, blank=True, help_text="nm")
    position_y = models.FloatField(null=True, blank=True, help_text="nm")
    position_z = models.FloatField(null=True, blank=True, help_text="nm")
    scale = models.FloatField(null=True, blank=True, help_text="Cross-section scale, nm per screen pixel.")
    orientation = models.JSONField(
        null=True, blank=True, help_text="Cross-section orientation quaternion [x, y, z, w]."
    )
    organelles = models.ManyToManyField("catalog.LabelClass", blank=True, related_name="views")
    validation_errors = models.JSONField(default=list, blank=True, help_text="[{field, message}]")
    viewer_problem = models.TextField(
        blank=True, editable=False, help_text="Why Neuroglancer cannot open the view; blank when it can (derived)."
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
        ordering = ["dataset", "id"]
        verbose_name = "curated view"
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="view_unique_name"),
            models.CheckConstraint(condition=Q(scale__isnull=True) | Q(scale__gt=0), name="view_scale_positive"),
            finite_constraint([*axis_fields("position"), "scale"], "view_numbers_finite"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.name}"


class CuratedViewLayer(models.Model):
    """One layer of a view, in order. ``volume`` is empty when the name matches no volume of
    the dataset: the view keeps the name and records the dangling reference as an error."""

    view = models.ForeignKey(CuratedView, on_delete=models.CASCADE, related_name="layers")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    volume = models.ForeignKey(
        "catalog.Volume", null=True, blank=True, on_delete=models.SET_NULL, related_name="view_layers"
    )

    class Meta:
        ordering = ["view", "position"]
        verbose_name = "curated view layer"
        constraints = [models.UniqueConstraint(fields=["view", "position"], name="viewlayer_unique_position")]

    def __str__(self) -> str:
        return self.name
