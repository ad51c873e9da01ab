"""Tables derived from the catalog's records and kept current by ``catalog.freshness``.

Nobody edits these rows: every committed change to a record refreshes what depends on it
(``catalog.indexing``), so readers can use them as plain indexed tables.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField
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


class DatasetSearch(models.Model):
    """A dataset's full-text index row, narrow so that a search never reads the wide dataset row.

    Not a table Django manages: migration 0010 creates it per database. On PostgreSQL, ``vector``
    is a weighted ``tsvector`` (A title and slug, B description, C organism, tissue, cell type,
    treatment and class names) with a GIN index. On SQLite it is an FTS5 table whose indexed
    columns are the same three texts (``primary_text``, ``description``, ``names``, ranked with
    bm25) and whose rowid is the dataset's id; ``vector`` does not exist there.
    """

    dataset = models.OneToOneField(
        "catalog.Dataset",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="search_index",
    )
    vector = SearchVectorField(null=True)

    class Meta:
        managed = False
        db_table = "catalog_datasetsearch"

    def __str__(self) -> str:
        return f"search index of {self.dataset_id}"


class SearchWord(models.Model):
    """A word spelling correction can suggest: names of the vocabulary, dataset titles and slugs.

    Rebuilt with the search index; on PostgreSQL a trigram GIN index finds the similar words."""

    word = models.CharField(max_length=100, primary_key=True)

    def __str__(self) -> str:
        return self.word


DERIVED_MODELS = (CatalogVersion, DatasetClass, DatasetSearch, SearchWord)
"""Not records: nobody edits them (no admin), and writing them changes no cached read."""
