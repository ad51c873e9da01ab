"""Reads of the catalog that are not a dataset queryset (those are chainable methods of
``Dataset.objects``): the querysets each API resource and page lists, the label class
hierarchy, and what a dataset is annotated with. Reads only: nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet

from catalog import freshness
from catalog.models import (
    BenchmarkResult,
    Collection,
    Crop,
    CropContent,
    CuratedView,
    CuratedViewLayer,
    Dataset,
    DatasetClass,
    LabelClass,
    Organism,
    Publication,
    SegmentLabel,
    Tissue,
    Volume,
)
from catalog.models.base import count_of
from catalog.models.vocabulary import ClassGraph


def label_class_graph() -> ClassGraph:
    """The class hierarchy, cached until the catalog changes (two queries when not cached)."""
    return freshness.cached("class-graph", "", lambda: LabelClass.objects.graph())


def class_closure_ids(classes: Iterable[LabelClass | int]) -> set[int]:
    """Ids of ``classes`` and of all their members, recursively (``mito`` -> mito_mem, ...)."""
    ids = [item if isinstance(item, int) else item.pk for item in classes]
    return label_class_graph().descendants(ids)


def annotated_classes(dataset: Dataset) -> QuerySet[LabelClass]:
    """The classes a dataset's volumes, crops and segment labels name (not the groups they
    belong to), by label id: the ``direct`` rows of ``DatasetClass``."""
    direct = DatasetClass.objects.filter(dataset=dataset, direct=True).values("label_class_id")
    return LabelClass.objects.filter(pk__in=direct).only("id", "name", "long_name", "colour", "label_id")


VOCABULARY_RELATIONS = ("tissues", "cell_types", "treatments", "institutions")


def dataset_vocabulary(dataset_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """A dataset's tissues ``(slug, name, uberon_id)`` and cell type, treatment and institution
    names, each by name: one UNION ALL query instead of a prefetch per relation."""
    quote = connection.ops.quote_name
    parts = []
    for kind, name in enumerate(VOCABULARY_RELATIONS):
        relation = Dataset._meta.get_field(name)
        target = relation.related_model._meta
        columns = "t.slug, t.name, t.uberon_id" if name == "tissues" else "NULL, t.name, NULL"
        parts.append(
            f"SELECT {kind}, {columns} FROM {quote(target.db_table)} t JOIN {quote(relation.m2m_db_table())} l"
            f" ON l.{quote(relation.m2m_reverse_name())} = t.id WHERE l.{quote(relation.m2m_column_name())} = %s"
        )
    found: dict[str, list[tuple[Any, ...]]] = {name: [] for name in VOCABULARY_RELATIONS}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts) + " ORDER BY 1, 3", [dataset_id] * len(parts))
        for kind, slug, name, uberon_id in cursor.fetchall():
            relation = VOCABULARY_RELATIONS[kind]
            found[relation].append((slug, name, uberon_id) if relation == "tissues" else (name,))
    return found


def volume_queryset(*, detail: bool = False) -> QuerySet[Volume]:
    queryset = Volume.objects.select_related("dataset", "label_class", "statistics").defer(
        "dataset__description",
        "dataset__sample_protocol",
        "dataset__contributions",
        "dataset__acknowledgements",
        "dataset__provenance",
    )
    if detail:
        queryset = queryset.prefetch_related(
            "channels",
            "meshes",
            Prefetch("segment_labels", queryset=SegmentLabel.objects.select_related("label_class")),
        )
    return queryset


def crop_row_queryset() -> QuerySet[Crop]:
    """Crops with their dataset's slug: what ``catalog.api.payloads.crop_rows`` reads the
    classes and contents of, for a whole page at once."""
    return Crop.objects.select_related("dataset").only(
        *[field.name for field in Crop._meta.concrete_fields if field.name != "dataset"], "dataset__slug"
    )


def crop_queryset() -> QuerySet[Crop]:
    """Crops with their classes and contents prefetched, for the serializer and the pages."""
    return crop_row_queryset().prefetch_related(
        Prefetch("label_classes", queryset=LabelClass.objects.only("id", "name")),
        Prefetch("contents", queryset=CropContent.objects.order_by()),
    )


def label_class_queryset() -> QuerySet[LabelClass]:
    names = LabelClass.objects.only("id", "name")
    return LabelClass.objects.prefetch_related(
        Prefetch("members", queryset=names), Prefetch("member_of", queryset=names)
    ).annotate(crop_count=count_of(Crop.label_classes.through, "labelclass"))


def organism_queryset() -> QuerySet[Organism]:
    return Organism.objects.annotate(dataset_count=count_of(Dataset, "organism"))


def tissue_queryset() -> QuerySet[Tissue]:
    return Tissue.objects.annotate(dataset_count=count_of(Dataset.tissues.through, "tissue"))


def collection_queryset(*, detail: bool = False) -> QuerySet[Collection]:
    queryset = Collection.objects.select_related("doi").annotate(
        dataset_count=count_of(Collection.datasets.through, "collection")
    )
    if detail:
        queryset = queryset.prefetch_related(
            "downloads",
            Prefetch("datasets", queryset=Dataset.objects.only("id", "slug", "title", "release_date")),
        )
    return queryset


def publication_queryset() -> QuerySet[Publication]:
    return Publication.objects.select_related("doi").prefetch_related(
        Prefetch("datasets", queryset=Dataset.objects.only("id", "slug"))
    )


def curated_view_queryset() -> QuerySet[CuratedView]:
    return (
        CuratedView.objects.select_related("dataset")
        .only(*[field.name for field in CuratedView._meta.concrete_fields if field.name != "dataset"], "dataset__slug")
        .prefetch_related(
            Prefetch("organelles", queryset=LabelClass.objects.only("id", "name")),
            Prefetch(
                "layers", queryset=CuratedViewLayer.objects.only("id", "view_id", "position", "name", "volume_id")
            ),
        )
    )


def benchmark_queryset() -> QuerySet[BenchmarkResult]:
    return BenchmarkResult.objects.select_related("dataset", "label_class").only(
        "id", "method", "metric", "value", "source", "dataset__slug", "label_class__name"
    )
