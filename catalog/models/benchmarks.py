"""Published scores of segmentation methods on datasets."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from catalog.models.base import Metric, finite_constraint


class BenchmarkResult(models.Model):
    """A method's score on a dataset, for one label class or overall."""

    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="benchmark_results")
    method = models.CharField(max_length=200)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    label_class = models.ForeignKey(
        "catalog.LabelClass", null=True, blank=True, on_delete=models.PROTECT, related_name="benchmark_results"
    )
    value = models.FloatField()
    source = models.CharField(max_length=500, blank=True, help_text="DOI or URL of the source of the score.")

    class Meta:
        ordering = ["dataset", "method", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "method", "metric", "label_class"], name="benchmark_unique_score"
            ),
            models.UniqueConstraint(
                fields=["dataset", "method", "metric"],
                condition=Q(label_class__isnull=True),
                name="benchmark_unique_overall_score",
            ),
            models.CheckConstraint(condition=Q(metric__in=Metric.values), name="benchmark_metric_valid"),
            models.CheckConstraint(condition=Q(value__gte=0), name="benchmark_value_non_negative"),
            models.CheckConstraint(
                condition=Q(metric=Metric.HAUSDORFF) | Q(value__lte=1), name="benchmark_ratio_at_most_one"
            ),
            finite_constraint(["value"], "benchmark_value_finite"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id} {self.method} {self.metric}={self.value}"
