"""Reads of the catalog: querysets that fetch what each view shows in a fixed number of queries,
the label class hierarchy, the catalog version that keys cached reads, and dataset facets.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest

from catalog.models import (
    BenchmarkResult,
    Collection,
    Crop,
    Dataset,
    DatasetDOI,
    LabelClass,
    Organism,
    Publication,
    SegmentLabel,
    Tissue,
    View,
    ViewLayer,
    Volume,
)
from catalog.models.base import ContentType, Fixation, Modality, VolumeKind
from catalog.models.ingest import VolumeStatistics

if TYPE_CHECKING:
    from catalog.filters import DatasetFilterSet

CATALOG_VERSION_KEY = "catalog:version"
# Upper bounds (nm) of the voxel size facet: "every axis at most this coarse" (voxel_size_max).
VOXEL_SIZE_BUCKETS_NM = (2, 4, 8, 16, 32, 64)


# Catalog version ---------------------------------------------------------------------------------


def get_catalog_version() -> str:
    """The current catalog version; cached reads include it in their keys."""
    version = cache.get(CATALOG_VERSION_KEY)
    if version is None:
        version = str(time.time_ns())
        if not cache.add(CATALOG_VERSION_KEY, version, timeout=None):
            version = cache.get(CATALOG_VERSION_KEY, version)
    return version


def bump_catalog_version() -> str:
    """Invalidate every cached read of the catalog; call after any write.

    A fresh unique value rather than a counter, so an evicted key can never bring an old
    version (and its stale cache entries) back.
    """
    version = str(time.time_ns())
    cache.set(CATALOG_VERSION_KEY, version, timeout=None)
    return version


# Label class hierarchy ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassGraph:
    """Every label class's name and long name, and group -> member edges."""

    names: dict[int, tuple[str, str]]
    members: dict[int, frozenset[int]]
    parents: dict[int, frozenset[int]]

    def descendants(self, class_ids: Iterable[int]) -> set[int]:
        """The classes themselves and every member of them, recursively."""
        return self._walk(class_ids, self.members)

    def ancestors(self, class_ids: Iterable[int]) -> set[int]:
        """The classes themselves and every group containing them, recursively."""
        return self._walk(class_ids, self.parents)

    @staticmethod
    def _walk(start: Iterable[int], edges: dict[int, frozenset[int]]) -> set[int]:
        seen = set(start)
        pending = list(seen)
        while pending:
            for neighbour in edges.get(pending.pop(), frozenset()) - seen:
                seen.add(neighbour)
                pending.append(neighbour)
        return seen


def label_class_graph() -> ClassGraph:
    """The class hierarchy, cached per catalog version (two queries when not cached)."""
    key = f"catalog:class-graph:{get_catalog_version()}"
    graph = cache.get(key)
    if graph is None:
        members: dict[int, set[int]] = defaultdict(set)
        parents: dict[int, set[int]] = defaultdict(set)
        for group_id, member_id in LabelClass.members.through.objects.values_list(
            "from_labelclass_id", "to_labelclass_id"
        ):
            members[group_id].add(member_id)
            parents[member_id].add(group_id)
        graph = ClassGraph(
            names={
                pk: (name, long_name)
                for pk, name, long_name in LabelClass.objects.values_list("pk", "name", "long_name")
            },
            members={pk: frozenset(ids) for pk, ids in members.items()},
            parents={pk: frozenset(ids) for pk, ids in parents.items()},
        )
        cache.set(key, graph, timeout=settings.FACETS_CACHE_SECONDS)
    return graph


def class_closure_ids(classes: Iterable[LabelClass | int]) -> set[int]:
    """Ids of ``classes`` and of all their members, recursively (``mito`` -> mito_mem, ...)."""
    ids = [item if isinstance(item, int) else item.pk for item in classes]
    return label_class_graph().descendants(ids)


# Querysets ---------------------------------------------------------------------------------------


def _count_of(model: type, link: str) -> Coalesce:
    """A correlated COUNT subquery: one number per row without multiplying joined rows."""
    counted = model.objects.filter(**{link: OuterRef("pk")}).order_by().values(link).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def dataset_sort_annotations() -> dict[str, Any]:
    """Computed dataset columns that lists show and sort by."""
    return {
        "volume_count": _count_of(Volume, "dataset"),
        "crop_count": _count_of(Crop, "dataset"),
        "coarsest_voxel_nm": Greatest(F("voxel_size_x"), F("voxel_size_y"), F("voxel_size_z")),
    }


def image_thumbnail_annotation() -> Subquery:
    """The storage path of a thumbnail that ingest rendered from one of the dataset's images,
    for datasets whose record has no thumbnail URL of its own."""
    thumbnails = (
        VolumeStatistics.objects.filter(
            volume__dataset=OuterRef("pk"),
            volume__kind=VolumeKind.IMAGE,
            volume__content_type__in=[ContentType.EM, ContentType.LM],
        )
        .exclude(thumbnail="")
        .order_by("volume__name")
        .values("thumbnail")[:1]
    )
    return Subquery(thumbnails)


DATASET_LIST_FIELDS = (
    "id",
    "slug",
    "title",
    "organism__slug",
    "organism__name",
    "modality",
    "fixation",
    "voxel_size_x",
    "voxel_size_y",
    "voxel_size_z",
    "release_date",
    "thumbnail_url",
)


def dataset_list_queryset() -> QuerySet[Dataset]:
    """Datasets as lists show them: one query for the rows, one for their tissues."""
    return (
        Dataset.objects.select_related("organism")
        .only(*DATASET_LIST_FIELDS)
        .prefetch_related(Prefetch("tissues", queryset=Tissue.objects.only("id", "slug", "name")))
        .annotate(**dataset_sort_annotations(), image_thumbnail=image_thumbnail_annotation())
    )


def dataset_detail_queryset() -> QuerySet[Dataset]:
    """Datasets with everything a detail view shows, in a fixed number of queries."""
    return (
        Dataset.objects.select_related("organism")
        .defer("search_vector", "search_text")
        .prefetch_related(
            "tissues",
            "cell_types",
            "treatments",
            "institutions",
            Prefetch("dataset_dois", queryset=DatasetDOI.objects.select_related("doi")),
            Prefetch("publications", queryset=Publication.objects.select_related("doi")),
            Prefetch("collections", queryset=Collection.objects.only("id", "slug", "title")),
            Prefetch("views", queryset=View.objects.only("id", "dataset_id", "name")),
        )
        .annotate(
            **dataset_sort_annotations(),
            view_count=_count_of(View, "dataset"),
            image_thumbnail=image_thumbnail_annotation(),
        )
    )


def dataset_citation_queryset() -> QuerySet[Dataset]:
    """Datasets with what their citations and linked data read."""
    return Dataset.objects.select_related("organism").prefetch_related(
        "tissues",
        "institutions",
        Prefetch("dataset_dois", queryset=DatasetDOI.objects.select_related("doi")),
        Prefetch("publications", queryset=Publication.objects.select_related("doi")),
        Prefetch("collections", queryset=Collection.objects.select_related("doi")),
    )


def dataset_organelles(dataset: Dataset) -> list[LabelClass]:
    """Label classes annotated in a dataset (volumes, crops, segment labels), by label id."""
    return list(
        LabelClass.objects.filter(
            Q(Exists(Volume.objects.filter(dataset=dataset, label_class=OuterRef("pk"))))
            | Q(Exists(Crop.label_classes.through.objects.filter(crop__dataset=dataset, labelclass=OuterRef("pk"))))
            | Q(Exists(SegmentLabel.objects.filter(volume__dataset=dataset, label_class=OuterRef("pk"))))
        ).only("id", "name", "long_name", "label_id")
    )


def volume_queryset(*, detail: bool = False) -> QuerySet[Volume]:
    queryset = Volume.objects.select_related("dataset", "label_class", "statistics").defer(
        "dataset__description",
        "dataset__search_vector",
        "dataset__search_text",
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


def crop_queryset() -> QuerySet[Crop]:
    return (
        Crop.objects.select_related("dataset")
        .only(*[field.name for field in Crop._meta.concrete_fields if field.name != "dataset"], "dataset__slug")
        .prefetch_related(Prefetch("label_classes", queryset=LabelClass.objects.only("id", "name")))
    )


def label_class_queryset() -> QuerySet[LabelClass]:
    names = LabelClass.objects.only("id", "name")
    return LabelClass.objects.prefetch_related(
        Prefetch("members", queryset=names), Prefetch("member_of", queryset=names)
    ).annotate(crop_count=_count_of(Crop.label_classes.through, "labelclass"))


def organism_queryset() -> QuerySet[Organism]:
    return Organism.objects.annotate(dataset_count=_count_of(Dataset, "organism"))


def tissue_queryset() -> QuerySet[Tissue]:
    return Tissue.objects.annotate(dataset_count=_count_of(Dataset.tissues.through, "tissue"))


def collection_queryset(*, detail: bool = False) -> QuerySet[Collection]:
    queryset = Collection.objects.select_related("doi").annotate(
        dataset_count=_count_of(Collection.datasets.through, "collection")
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


def view_queryset() -> QuerySet[View]:
    return (
        View.objects.select_related("dataset")
        .only(*[field.name for field in View._meta.concrete_fields if field.name != "dataset"], "dataset__slug")
        .prefetch_related(
            Prefetch("organelles", queryset=LabelClass.objects.only("id", "name")),
            Prefetch("layers", queryset=ViewLayer.objects.only("id", "view_id", "position", "name", "volume_id")),
        )
    )


def benchmark_queryset() -> QuerySet[BenchmarkResult]:
    return BenchmarkResult.objects.select_related("dataset", "label_class").only(
        "id", "method", "metric", "value", "source", "dataset__slug", "label_class__name"
    )


# Facets ------------------------------------------------------------------------------------------

FACET_PARAMETERS = {
    "organism": ("organism",),
    "tissue": ("tissue",),
    "modality": ("modality",),
    "organelle": ("organelle",),
    "collection": ("collection",),
    "has_crops": ("has_crops",),
    "fixation": ("fixation",),
    "voxel_size": ("voxel_size_max",),
}


def dataset_facets(source: DatasetFilterSet | QuerySet[Dataset]) -> dict[str, Any]:
    """Facet values with labels and dataset counts, computed in the database and cached.

    Given a bound, valid ``DatasetFilterSet`` the counts are disjunctive: each facet's counts
    apply every OTHER filter, so a value's count is how many datasets the list would show if
    that value were chosen (added to the facet's other choices, which combine with OR).
    Given a queryset, every count is taken within it. Each value is
    ``{"value", "label", "count", "selected"}``; ``total`` counts the datasets matching all filters.
    """
    from catalog.filters import DatasetFilterSet

    if isinstance(source, DatasetFilterSet):
        if not source.is_valid():
            raise ValueError(f"dataset_facets needs a valid filterset: {dict(source.errors)}")
        key_source = json.dumps(_normalised_params(source), sort_keys=True)
    else:
        key_source = str(source.order_by().values("pk").query)
    key = f"catalog:facets:{get_catalog_version()}:{hashlib.sha256(key_source.encode()).hexdigest()}"
    facets = cache.get(key)
    if facets is None:
        facets = _compute_facets(source)
        cache.set(key, facets, timeout=settings.FACETS_CACHE_SECONDS)
    return facets


def _normalised_params(filterset: DatasetFilterSet) -> dict[str, list[str]]:
    data = filterset.data
    getlist = data.getlist if hasattr(data, "getlist") else lambda name: _as_list(data.get(name))
    return {
        name: sorted(str(value) for value in getlist(name) if value not in ("", None))
        for name in filterset.filters
        if name != "ordering" and getlist(name)
    }


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _ids_without(source: DatasetFilterSet | QuerySet[Dataset], parameters: Iterable[str]) -> QuerySet:
    """Primary keys of the datasets matching every filter except ``parameters``."""
    from catalog.filters import DatasetFilterSet

    if not isinstance(source, DatasetFilterSet):
        return source.order_by().values("pk")
    skipped = {*parameters, "ordering"}
    queryset = source.queryset.all()
    for name, value in source.form.cleaned_data.items():
        if name not in skipped:
            queryset = source.filters[name].filter(queryset, value)
    return queryset.order_by().values("pk")


def _selected(source: DatasetFilterSet | QuerySet[Dataset]) -> Mapping[str, list[str]]:
    from catalog.filters import DatasetFilterSet

    return _normalised_params(source) if isinstance(source, DatasetFilterSet) else {}


def _values(
    rows: Iterable[tuple[str, str, int]], selected: list[str], labels: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    values = [
        {"value": value, "label": label, "count": count, "selected": value in selected}
        for value, label, count in rows
        if value
    ]
    present = {item["value"] for item in values}
    values.extend(
        {"value": value, "label": (labels or {}).get(value, value), "count": 0, "selected": True}
        for value in selected
        if value not in present
    )
    return sorted(values, key=lambda item: (-item["count"], item["label"].lower()))


def _compute_facets(source: DatasetFilterSet | QuerySet[Dataset]) -> dict[str, Any]:
    selected = _selected(source)
    ids = {facet: _ids_without(source, parameters) for facet, parameters in FACET_PARAMETERS.items()}

    organism_rows = (
        Dataset.objects.filter(pk__in=ids["organism"], organism__isnull=False)
        .values_list("organism__slug", "organism__name")
        .annotate(count=Count("pk"))
        .order_by()
    )
    tissue_rows = (
        Dataset.tissues.through.objects.filter(dataset_id__in=ids["tissue"])
        .values_list("tissue__slug", "tissue__name")
        .annotate(count=Count("dataset_id", distinct=True))
        .order_by()
    )
    collection_rows = (
        Collection.datasets.through.objects.filter(dataset_id__in=ids["collection"])
        .values_list("collection__slug", "collection__title")
        .annotate(count=Count("dataset_id", distinct=True))
        .order_by()
    )
    modality_labels = dict(Modality.choices)
    modality_rows = (
        Dataset.objects.filter(pk__in=ids["modality"]).values_list("modality").annotate(count=Count("pk")).order_by()
    )
    fixation_labels = dict(Fixation.choices)
    fixation_rows = (
        Dataset.objects.filter(pk__in=ids["fixation"]).values_list("fixation").annotate(count=Count("pk")).order_by()
    )
    has_crops = Q(Exists(Crop.objects.filter(dataset=OuterRef("pk"))))
    crop_counts = Dataset.objects.filter(pk__in=ids["has_crops"]).aggregate(
        true=Count("pk", filter=has_crops), false=Count("pk", filter=~has_crops)
    )
    voxel_counts = (
        Dataset.objects.filter(pk__in=ids["voxel_size"])
        .alias(coarsest=Greatest(F("voxel_size_x"), F("voxel_size_y"), F("voxel_size_z")))
        .aggregate(**{str(edge): Count("pk", filter=Q(coarsest__lte=edge)) for edge in VOXEL_SIZE_BUCKETS_NM})
    )
    organism_labels = dict(Organism.objects.filter(slug__in=selected.get("organism", [])).values_list("slug", "name"))
    tissue_labels = dict(Tissue.objects.filter(slug__in=selected.get("tissue", [])).values_list("slug", "name"))
    collection_labels = dict(
        Collection.objects.filter(slug__in=selected.get("collection", [])).values_list("slug", "title")
    )
    total = Dataset.objects.filter(pk__in=_ids_without(source, ())).count()
    return {
        "total": total,
        "organism": _values(organism_rows, selected.get("organism", []), organism_labels),
        "tissue": _values(tissue_rows, selected.get("tissue", []), tissue_labels),
        "modality": _values(
            ((value, modality_labels.get(value, value), count) for value, count in modality_rows),
            selected.get("modality", []),
            modality_labels,
        ),
        "organelle": _organelle_facet(ids["organelle"], selected.get("organelle", [])),
        "collection": _values(collection_rows, selected.get("collection", []), collection_labels),
        "has_crops": [
            {
                "value": value,
                "label": label,
                "count": crop_counts[value],
                "selected": value in selected.get("has_crops", []),
            }
            for value, label in (("true", "With crops"), ("false", "Without crops"))
        ],
        "fixation": _values(
            ((value, fixation_labels.get(value, value), count) for value, count in fixation_rows),
            selected.get("fixation", []),
            fixation_labels,
        ),
        "voxel_size": [
            {
                "value": str(edge),
                "label": f"≤ {edge} nm",
                "count": voxel_counts[str(edge)],
                "selected": str(edge) in {_number(value) for value in selected.get("voxel_size_max", [])},
            }
            for edge in VOXEL_SIZE_BUCKETS_NM
        ],
    }


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(value)


def _organelle_facet(ids: QuerySet, selected: list[str]) -> list[dict[str, Any]]:
    """Datasets per class, a group counting a dataset annotated with any of its members.

    One query: the distinct (dataset, class) annotations (a UNION over volumes, crops and
    segment labels) joined to the (group, member) closure of the cached class hierarchy,
    grouped by class with COUNT(DISTINCT dataset).
    """
    pairs = (
        Volume.objects.filter(dataset_id__in=ids, label_class__isnull=False)
        .values_list("dataset_id", "label_class_id")
        .order_by()
        .union(
            Crop.label_classes.through.objects.filter(crop__dataset_id__in=ids)
            .values_list("crop__dataset_id", "labelclass_id")
            .order_by(),
            SegmentLabel.objects.filter(volume__dataset_id__in=ids, label_class__isnull=False)
            .values_list("volume__dataset_id", "label_class_id")
            .order_by(),
        )
    )
    graph = label_class_graph()
    closure = [(ancestor, pk) for pk in graph.names for ancestor in graph.ancestors([pk])]
    if not closure:
        return _values([], selected)
    pairs_sql, pairs_params = pairs.query.sql_with_params()
    closure_sql = " UNION ALL ".join(["SELECT %s AS ancestor, %s AS member"] * len(closure))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.ancestor, COUNT(DISTINCT p.dataset_id) FROM ({pairs_sql}) p "
            f"JOIN ({closure_sql}) c ON p.label_class_id = c.member GROUP BY c.ancestor",
            [*pairs_params, *(value for pair in closure for value in pair)],
        )
        counts = cursor.fetchall()
    rows = [(graph.names[pk][0], graph.names[pk][1] or graph.names[pk][0], count) for pk, count in counts]
    labels = {name: long_name or name for name, long_name in graph.names.values()}
    return _values(rows, selected, labels)
