"""Tables derived from the catalog's records and kept current by ``catalog.freshness``.

Nobody edits these rows: every committed change to a record refreshes what depends on it
(``catalog.indexing``), so readers can use them as plain indexed tables.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class CatalogVersion(models.Model):
    """The one row that names the catalog's current state; every cached read is keyed by it.

    Kept in the database so that every process (web workers, Celery workers, a shell) reads
    the same value, whichever cache each of them has. ``value`` is a fresh unique number per
    change, never a counter, so a rolled-back or restored value can never come back.
    ``derived_revision`` is the revision of the derived-data recipe last applied to the whole
    catalog: a new revision in the code rebuilds every derived row after ``migrate``.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    value = models.BigIntegerField()
    derived_revision = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="catalogversion_singleton")]

    def __str__(self) -> str:
        return f"catalog version {self.value}"


class DatasetClass(models.Model):
    """A label class a dataset is annotated with: THE definition of "annotated with class X".

    One row per dataset and class of its closure: the classes of its volumes, crops and
    segment labels (``direct``), and every group class containing one of them, recursively
    (``mito`` for a dataset annotated with ``mito_mem``). Filters, facets, search texts and
    pages all read this table.
    """

    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="class_rows")
    label_class = models.ForeignKey("catalog.LabelClass", on_delete=models.CASCADE, related_name="dataset_rows")
    direct = models.BooleanField(help_text="Annotated with this class itself, not only with a member of it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "label_class"], name="datasetclass_unique")]
        indexes = [models.Index(fields=["label_class", "dataset"], name="datasetclass_class_idx")]

    def __str__(self) -> str:
        return f"{self.dataset_id} ~ {self.label_class_id}"


DERIVED_MODELS = (CatalogVersion, DatasetClass)
"""Not records: nobody edits them (no admin), and writing them changes no cached read."""
