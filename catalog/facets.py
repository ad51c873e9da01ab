"""Facet counts of the dataset list, for the API and the browse page alike.

Counts follow the same ``DatasetFilterSet`` the list uses, each facet with every OTHER filter
applied, and are cached until the catalog changes. They are counted on a ``FacetIndex``: per
catalog version, every facet value's datasets as a bitmask, built in one pass over the records
and the ``DatasetClass`` closure table (the organelle facet). A request then costs its search
query (when it has ``q``) and a few hundred AND and bit counts, whatever the catalog's size.
The dataset list uses the same index (``indexed_list``): filters are bit tests, the stored
orders give a page without sorting, and a search ranks its matches in one pass over the narrow
search table instead of a count and a page query that each read every match.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import Greatest, Least, RowNumber

from catalog import freshness, search
from catalog.filters import CropFilterSet, DatasetFilterSet
from catalog.models import Collection, Crop, CropContent, Dataset, DatasetClass, LabelClass, Organism, Tissue
from catalog.models.base import CropSplit, Fixation, Modality

# Upper bounds (nm) of the voxel size facet: "every axis at most this coarse" (voxel_size_max).
VOXEL_SIZE_BUCKETS_NM = (2, 4, 8, 16, 32, 64)
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


def dataset_facets(filterset: DatasetFilterSet) -> dict[str, Any]:
    """Facet values with labels and dataset counts, computed in the database and cached.

    The counts are disjunctive: each facet's counts apply every OTHER filter, so a value's
    count is how many datasets the list would show if that value were chosen (added to the
    facet's other choices, which combine with OR). Each value is
    ``{"value", "label", "count", "selected"}``; ``total`` counts the datasets matching all filters.
    """
    if not filterset.is_valid():
        raise ValueError(f"dataset_facets needs a valid filterset: {dict(filterset.errors)}")
    params = _normalised_params(filterset)
    identity = json.dumps(params, sort_keys=True)
    return freshness.cached("facets", identity, lambda: _compute_facets(filterset), query=bool(params))


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


def _compute_facets(filterset: DatasetFilterSet) -> dict[str, Any]:
    selected = _normalised_params(filterset)
    index = facet_index()
    masks = _filter_masks(filterset, index)

    def without(*parameters: str) -> int:
        found = index.everything
        for name, mask in masks.items():
            if name not in parameters:
                found &= mask
        return found

    def counted(values: Mapping[str, int], scope: int, labels: Mapping[str, str]) -> list[tuple[str, str, int]]:
        rows = ((value, labels.get(value, value), (mask & scope).bit_count()) for value, mask in values.items())
        return [row for row in rows if row[2]]

    scopes = {facet: without(*parameters) for facet, parameters in FACET_PARAMETERS.items()}
    modality_labels = dict(Modality.choices)
    fixation_labels = dict(Fixation.choices)
    crops = scopes["has_crops"]
    return {
        "total": without().bit_count(),
        "organism": _values(
            counted(index.organism, scopes["organism"], index.organism_labels),
            selected.get("organism", []),
            index.organism_labels,
        ),
        "tissue": _values(
            counted(index.tissue, scopes["tissue"], index.tissue_labels),
            selected.get("tissue", []),
            index.tissue_labels,
        ),
        "modality": _values(
            counted(index.modality, scopes["modality"], modality_labels),
            selected.get("modality", []),
            modality_labels,
        ),
        "organelle": _with_crops_present(
            _values(
                counted(index.organelle, scopes["organelle"], index.organelle_labels),
                selected.get("organelle", []),
                index.organelle_labels,
            ),
            index,
            scopes["organelle"],
        ),
        "collection": _values(
            counted(index.collection, scopes["collection"], index.collection_labels),
            selected.get("collection", []),
            index.collection_labels,
        ),
        "has_crops": [
            {
                "value": value,
                "label": label,
                "count": (mask & crops).bit_count(),
                "selected": value in selected.get("has_crops", []),
            }
            for value, label, mask in (
                ("true", "With crops", index.with_crops),
                ("false", "Without crops", index.everything & ~index.with_crops),
            )
        ],
        "fixation": _values(
            counted(index.fixation, scopes["fixation"], fixation_labels),
            selected.get("fixation", []),
            fixation_labels,
        ),
        "voxel_size": [
            {
                "value": str(edge),
                "label": f"≤ {edge} nm",
                "count": (index.at_most(edge) & scopes["voxel_size"]).bit_count(),
                "selected": str(edge) in {_number(value) for value in selected.get("voxel_size_max", [])},
            }
            for edge in VOXEL_SIZE_BUCKETS_NM
        ],
    }


def _with_crops_present(values: list[dict[str, Any]], index: FacetIndex, scope: int) -> list[dict[str, Any]]:
    """Each class value also says how many crops of the datasets in scope have it present
    (known counts of the class's own label array; 0 where nothing is counted)."""
    size = len(index.ids)
    in_scope = np.unpackbits(
        np.frombuffer(scope.to_bytes((size + 7) // 8, "little"), dtype=np.uint8), bitorder="little"
    )[:size].astype(bool)
    for item in values:
        counts = index.crops_present.get(item["value"])
        item["crops_present"] = int(counts[in_scope].sum()) if counts is not None else 0
    return values


def _filter_masks(filterset: DatasetFilterSet, index: FacetIndex, *, skip_search: bool = False) -> dict[str, int]:
    """The datasets each filter of the (valid) FilterSet lets through, by parameter name; a
    filter without a value is left out (it lets everything through), and so is ``q`` with
    ``skip_search``."""
    masks: dict[str, int] = {}
    for name, value in filterset.form.cleaned_data.items():
        if name == "ordering" or value in (None, "", [], ()) or (skip_search and name == "q"):
            continue
        if name == "q":
            if not value.strip():
                continue
            masks[name] = index.mask_of(_searched(filterset, value, search.matching_ids).ids)
        elif name in ("organism", "tissue", "collection"):
            if not value:
                continue
            by_value = getattr(index, name)
            masks[name] = union(by_value.get(record.slug, 0) for record in value)
        elif name == "organelle":
            if not value:
                continue
            masks[name] = union(index.organelle.get(record.name, 0) for record in value)
        elif name in ("modality", "fixation"):
            masks[name] = union(getattr(index, name).get(item, 0) for item in value)
        elif name == "has_crops":
            masks[name] = index.with_crops if value == "true" else index.everything & ~index.with_crops
        elif name == "voxel_size_max":
            masks[name] = index.at_most(float(value))
        elif name == "voxel_size_min":
            masks[name] = index.at_least(float(value))
        else:
            raise ValueError(f"the facet index does not know the dataset filter {name!r}")
    return masks


def _searched(filterset: DatasetFilterSet, text: str, read: Callable[[str], search.SearchHits]) -> search.SearchHits:
    """``read`` of the words as written, or, when nothing matches them, of their spelling
    correction: matches found as written need no spelling check (one query fewer)."""
    found = read(text)
    if not found and filterset.query_text(text) != text:
        found = read(filterset.query_text(text))
    return found


def union(masks: Iterable[int]) -> int:
    found = 0
    for mask in masks:
        found |= mask
    return found


def locate(sorted_ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each wanted id's position among ``sorted_ids``, and whether it is there at all."""
    found = np.searchsorted(sorted_ids, wanted)
    known = found < len(sorted_ids)
    known[known] = sorted_ids[found[known]] == wanted[known]
    return found, known


def mask_of_ids(sorted_ids: np.ndarray, wanted: np.ndarray) -> int:
    """The bitmask over ``sorted_ids`` of the wanted ids (ids not among them are ignored)."""
    found, known = locate(sorted_ids, wanted)
    chosen = np.zeros(len(sorted_ids), dtype=bool)
    chosen[found[known]] = True
    return int.from_bytes(np.packbits(chosen, bitorder="little").tobytes(), "little")


def bitmask(positions: Iterable[int], size: int) -> int:
    """The bitmask with the given bit positions set."""
    buffer = bytearray((size + 7) // 8)
    for position in positions:
        buffer[position >> 3] |= 1 << (position & 7)
    return int.from_bytes(buffer, "little")


@dataclass
class FacetIndex:
    """Every facet value's datasets as a bitmask (bit i: the i-th dataset by id), and each
    dataset's coarsest and finest voxel axis (NaN when unknown), for one catalog version.

    Built from the records and the ``DatasetClass`` closure in a few set-based queries, then
    every facet request is a handful of AND and bit counts instead of a pass over the catalog
    per facet: what the disjunctive counts cost no longer grows with the catalog's size."""

    ids: array
    everything: int
    with_crops: int
    coarsest: array
    finest: array
    organism: dict[str, int] = field(default_factory=dict)
    tissue: dict[str, int] = field(default_factory=dict)
    collection: dict[str, int] = field(default_factory=dict)
    organelle: dict[str, int] = field(default_factory=dict)
    modality: dict[str, int] = field(default_factory=dict)
    fixation: dict[str, int] = field(default_factory=dict)
    organism_labels: dict[str, str] = field(default_factory=dict)
    tissue_labels: dict[str, str] = field(default_factory=dict)
    collection_labels: dict[str, str] = field(default_factory=dict)
    organelle_labels: dict[str, str] = field(default_factory=dict)
    crops_present: dict[str, Any] = field(default_factory=dict)
    """Per class: how many of each dataset's crops have it present (an int32 array by position)."""
    buckets: dict[float, int] = field(default_factory=dict)
    orders: dict[str, array] = field(default_factory=dict)
    slug_ranks: array = field(default_factory=lambda: array("I"))

    def locate(self, dataset_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each given dataset's bit position, and whether the index holds it at all."""
        return locate(np.frombuffer(self.ids, dtype=np.int64), dataset_ids)

    def mask_of(self, dataset_ids: np.ndarray) -> int:
        """The bitmask of the given datasets (ids not in the index are ignored)."""
        return mask_of_ids(np.frombuffer(self.ids, dtype=np.int64), dataset_ids)

    def at_most(self, nm: float) -> int:
        """Datasets whose coarsest axis is at most ``nm`` (unknown voxel sizes never are)."""
        if nm in self.buckets:
            return self.buckets[nm]
        return bitmask((n for n, value in enumerate(self.coarsest) if value <= nm), len(self.ids))

    def at_least(self, nm: float) -> int:
        """Datasets whose finest axis is at least ``nm``."""
        return bitmask((n for n, value in enumerate(self.finest) if value >= nm), len(self.ids))


def facet_index() -> FacetIndex:
    """The facet index of the current catalog version."""
    return freshness.versioned_index("facet-index", _build_index)


INDEXED_ORDERINGS = ("slug", "-slug", "title", "-title", "release_date", "-release_date")
"""List orders the index keeps (ties by slug); others, and searches, are ordered in SQL."""


class IndexedList:
    """The datasets a (valid) FilterSet lets through, in one of ``INDEXED_ORDERINGS``, counted
    and paged from the facet index: the count is a bit count, a page is the stored order's
    positions the mask holds (one vectorised pass), then fetched by primary key (``rows``: the
    list's queryset, or a function of the ids). What Django's paginator needs: ``count()`` and
    slicing. The crop list uses it over its own index (``catalog.crop_index``)."""

    ordered = True

    def __init__(self, index: Any, mask: int, order: array, rows: Any) -> None:
        self.index, self.mask, self.order, self.fetch = index, mask, order, fetcher(rows)

    def count(self) -> int:
        return self.mask.bit_count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[Any]:
        in_order = np.frombuffer(self.order, dtype=np.uint32)
        chosen = in_order[members(self.mask, len(self.index.ids))[in_order]][window]
        ids = [self.index.ids[position] for position in chosen.tolist()]
        found = {record.pk: record for record in self.fetch(ids)}
        return [found[pk] for pk in ids if pk in found]


def fetcher(rows: Any) -> Callable[[list[int]], Iterable[Any]]:
    """How a list reads a page's records by primary key: ``rows`` itself when it is a function,
    else a queryset filtered to them."""
    if callable(rows):
        return rows
    return lambda ids: rows.filter(pk__in=ids).order_by()


def members(mask: int, size: int) -> np.ndarray:
    """A bitmask over ``size`` positions as one boolean per position."""
    packed = np.frombuffer(mask.to_bytes((size + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(packed, bitorder="little", count=size).astype(bool)


class RankedList:
    """A search's datasets that the FilterSet's other filters let through, best first (ties by
    slug), as the SQL path orders them: every match's rank is read once from the narrow index
    table, the filters are one vectorised bit test, and only a page's rows are fetched."""

    ordered = True

    def __init__(self, index: FacetIndex, positions: np.ndarray, ranks: np.ndarray, rows: Any) -> None:
        self.index, self.positions, self.ranks, self.fetch = index, positions, ranks, fetcher(rows)

    def count(self) -> int:
        return len(self.positions)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[Dataset]:
        start, stop = window.start or 0, window.stop if window.stop is not None else len(self.positions)
        slug_ranks = np.frombuffer(self.index.slug_ranks, dtype=np.uint32)[self.positions]
        order = np.lexsort((slug_ranks, -self.ranks))[start:stop]  # best rank first, then by slug
        ids = [self.index.ids[position] for position in self.positions[order].tolist()]
        found = {record.pk: record for record in self.fetch(ids)}
        page = []
        for pk, rank in zip(ids, self.ranks[order], strict=True):
            dataset = found.get(pk)
            if dataset is not None:
                dataset.search_rank = float(str(rank))  # a float4 reads as SQL gives it: its shortest digits
                page.append(dataset)
        return page


def indexed_list(filterset: DatasetFilterSet, rows: Any) -> IndexedList | RankedList | None:
    """The list of a valid FilterSet from the facet index (a search: ranked by relevance from
    the narrow search table), or None when SQL must answer: an order the index does not keep."""
    data = filterset.form.cleaned_data
    text = str(data.get("q") or "")
    if text.strip():
        if data.get("ordering"):
            return None
        index = facet_index()
        mask = index.everything
        for value in _filter_masks(filterset, index, skip_search=True).values():
            mask &= value
        hits = _searched(filterset, text, search.ranked_matches)
        found, known = index.locate(hits.ids)
        positions, ranks = found[known], hits.ranks[known]
        allowed = members(mask, len(index.ids))[positions]
        return RankedList(index, positions[allowed], ranks[allowed], rows)
    ordering = data.get("ordering") or ["slug"]
    if len(ordering) != 1 or ordering[0] not in INDEXED_ORDERINGS:
        return None
    index = facet_index()
    mask = index.everything
    for value in _filter_masks(filterset, index).values():
        mask &= value
    return IndexedList(index, mask, index.orders[ordering[0]], rows)


def _build_index() -> FacetIndex:
    """Four queries: the datasets (with their rank in each stored order), the vocabulary, the
    dataset links to tissues, collections and classes (the ``DatasetClass`` closure), and the
    crops per dataset and class with the class present."""
    rank_keys = {"slug": ("slug",), "title": ("title", "slug"), "release_date": ("release_date", "slug")}
    rank_columns = [f"rank_{name}" for name in rank_keys]
    rows = list(
        Dataset.objects.order_by("pk")
        .annotate(
            with_crops=Exists(Crop.objects.filter(dataset=OuterRef("pk"))),
            coarsest=Greatest(F("voxel_size_x"), F("voxel_size_y"), F("voxel_size_z")),
            finest=Least(F("voxel_size_x"), F("voxel_size_y"), F("voxel_size_z")),
            **{
                f"rank_{name}": Window(RowNumber(), order_by=[F(key).asc() for key in keys])
                for name, keys in rank_keys.items()
            },
        )
        .values_list("pk", "organism_id", "modality", "fixation", "with_crops", "coarsest", "finest", *rank_columns)
    )
    size = len(rows)
    nan = float("nan")
    vocabulary: dict[str, dict[int, tuple[str, str]]] = {"o": {}, "t": {}, "c": {}, "l": {}}
    linked: dict[str, dict[int, Any]] = {"t": {}, "c": {}, "l": {}}
    with connection.cursor() as cursor:
        cursor.execute(_VOCABULARY_SQL())
        for kind, pk, key, label in cursor.fetchall():
            vocabulary[kind][pk] = (key, label or key)
        cursor.execute(_LINKS_SQL())
        for kind, pk, datasets in cursor.fetchall():
            linked[kind][pk] = datasets
    dataset_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=size)

    def mask(ids: Any) -> int:
        """The bitmask of the datasets with these ids (a list, or SQLite's comma-joined text)."""
        if isinstance(ids, str):
            ids = ids.split(",")
        return mask_of_ids(dataset_ids, np.asarray(ids, dtype=np.int64))

    def by_record(kind: str, groups: dict[int, Any]) -> dict[str, int]:
        records = vocabulary[kind]
        return {records[pk][0]: mask(ids) for pk, ids in groups.items() if pk in records}

    def by_column(column: int) -> dict[Any, list[int]]:
        groups: dict[Any, list[int]] = {}
        for row in rows:
            if row[column] not in (None, ""):
                groups.setdefault(row[column], []).append(row[0])
        return groups

    index = FacetIndex(
        ids=array("q", (row[0] for row in rows)),
        everything=(1 << size) - 1,
        with_crops=bitmask((n for n, row in enumerate(rows) if row[4]), size),
        coarsest=array("d", (nan if row[5] is None else float(row[5]) for row in rows)),
        finest=array("d", (nan if row[6] is None else float(row[6]) for row in rows)),
        organism=by_record("o", by_column(1)),
        tissue=by_record("t", linked["t"]),
        collection=by_record("c", linked["c"]),
        organelle=by_record("l", linked["l"]),
        modality={value: mask(ids) for value, ids in by_column(2).items()},
        fixation={value: mask(ids) for value, ids in by_column(3).items()},
        organism_labels=dict(vocabulary["o"].values()),
        tissue_labels=dict(vocabulary["t"].values()),
        collection_labels=dict(vocabulary["c"].values()),
        organelle_labels=dict(vocabulary["l"].values()),
    )
    present = (
        CropContent.objects.filter(present_voxels__gt=0)
        .values_list("label_class__name", "crop__dataset_id")
        .annotate(crops=Count("crop_id", distinct=True))
        .order_by()
    )
    for name, dataset_id, crops in present:
        position = int(np.searchsorted(dataset_ids, dataset_id))
        if position < size and dataset_ids[position] == dataset_id:
            counts = index.crops_present.setdefault(name, np.zeros(size, dtype=np.int32))
            counts[position] = crops
    index.buckets = {float(edge): index.at_most(edge) for edge in VOXEL_SIZE_BUCKETS_NM}
    for column, name in enumerate(rank_keys, start=7):
        # Descending is the ascending order reversed: NULLs land where each database puts them.
        ascending = array("I", (n for _rank, n in sorted((row[column], n) for n, row in enumerate(rows))))
        index.orders[name] = ascending
        index.orders[f"-{name}"] = array("I", reversed(ascending))
    index.slug_ranks = array("I", [0]) * size
    for rank, position in enumerate(index.orders["slug"]):
        index.slug_ranks[position] = rank
    return index


def _VOCABULARY_SQL() -> str:  # noqa: N802 (a constant that needs the models' table names)
    """(kind, id, key, label) of every organism, tissue, collection and label class."""
    parts = []
    for kind, model, key, label in (
        ("o", Organism, "slug", "name"),
        ("t", Tissue, "slug", "name"),
        ("c", Collection, "slug", "title"),
        ("l", LabelClass, "name", "long_name"),
    ):
        quote = connection.ops.quote_name
        parts.append(f"SELECT '{kind}', {quote('id')}, {quote(key)}, {quote(label)} FROM {quote(model._meta.db_table)}")
    return " UNION ALL ".join(parts)


def _LINKS_SQL() -> str:  # noqa: N802
    """(kind, record id, its datasets' ids) for every tissue, collection and class (its closure
    rows): one row per record, the ids aggregated by the database (an array on PostgreSQL,
    comma-joined text on SQLite), instead of a row per link."""
    quote = connection.ops.quote_name
    parts = []
    for kind, through, record in (
        ("t", Dataset.tissues.through, "tissue"),
        ("c", Collection.datasets.through, "collection"),
        ("l", DatasetClass, "label_class"),
    ):
        record_column = quote(through._meta.get_field(record).column)
        dataset_column = quote(through._meta.get_field("dataset").column)
        parts.append(
            f"SELECT '{kind}' AS kind, {record_column} AS record, {dataset_column} AS dataset"
            f" FROM {quote(through._meta.db_table)}"
        )
    aggregate = "array_agg(dataset)" if connection.vendor == "postgresql" else "group_concat(dataset)"
    return f"SELECT kind, record, {aggregate} FROM ({' UNION ALL '.join(parts)}) AS links GROUP BY kind, record"


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(value)


def _crops_present_by_class(contents: QuerySet[CropContent]) -> dict[str, int]:
    rows = (
        contents.filter(present_voxels__gt=0)
        .values_list("label_class__name")
        .annotate(count=Count("crop_id", distinct=True))
        .order_by()
    )
    return dict(rows)


# Crops --------------------------------------------------------------------------------------------

CROP_FACET_PARAMETERS = {
    "dataset": ("dataset",),
    "split": ("split",),
    "organelle": ("organelle", "present", "min_share", "min_voxels"),
    "present": ("present",),
}


def crop_facets(filterset: CropFilterSet) -> dict[str, Any]:
    """Facet values of the crop list, disjunctive like the dataset facets, cached per version.

    ``organelle`` counts the crops annotated with each class (``count``) and those where it is
    present (``crops_present``); ``dataset`` counts crops per dataset and, with ``organelle``
    chosen, those where that class is present; ``present`` splits the crops annotated with the
    chosen class into present, absent and unknown.
    """
    if not filterset.is_valid():
        raise ValueError(f"crop_facets needs a valid filterset: {dict(filterset.errors)}")
    identity = json.dumps(_normalised_params(filterset), sort_keys=True)
    return freshness.cached("crop-facets", identity, lambda: _compute_crop_facets(filterset))


def _crop_ids_without(filterset: CropFilterSet, parameters: Iterable[str]) -> QuerySet:
    return filterset.queryset_without(*parameters).order_by().values("pk")


def _compute_crop_facets(filterset: CropFilterSet) -> dict[str, Any]:
    selected = _normalised_params(filterset)
    chosen = list(filterset.form.cleaned_data.get("organelle") or [])
    ids = {facet: _crop_ids_without(filterset, parameters) for facet, parameters in CROP_FACET_PARAMETERS.items()}
    present_here = Exists(CropContent.objects.filter(crop=OuterRef("pk"), label_class__in=chosen, present_voxels__gt=0))
    dataset_rows = (
        Crop.objects.filter(pk__in=ids["dataset"])
        .values_list("dataset__slug", "dataset__title")
        .annotate(count=Count("pk"), crops_present=Count("pk", filter=Q(present_here)))
        .order_by()
    )
    present_by_dataset = {slug: crops_present for slug, _, _, crops_present in dataset_rows}
    datasets = _values(
        ((slug, title or slug, count) for slug, title, count, _ in dataset_rows), selected.get("dataset", [])
    )
    for item in datasets:
        item["crops_present"] = present_by_dataset.get(item["value"], 0) if chosen else None
    split_labels = dict(CropSplit.choices)
    split_rows = Crop.objects.filter(pk__in=ids["split"]).values_list("split").annotate(count=Count("pk")).order_by()
    class_rows = (
        Crop.label_classes.through.objects.filter(crop_id__in=ids["organelle"])
        .values_list("labelclass__name", "labelclass__long_name")
        .annotate(count=Count("crop_id"))
        .order_by()
    )
    present = _crops_present_by_class(CropContent.objects.filter(crop_id__in=ids["organelle"]))
    organelles = _values(
        ((name, long_name or name, count) for name, long_name, count in class_rows), selected.get("organelle", [])
    )
    for item in organelles:
        item["crops_present"] = present.get(item["value"], 0)
    return {
        "total": Crop.objects.filter(pk__in=_crop_ids_without(filterset, ())).count(),
        "dataset": datasets,
        "split": _values(
            ((value, split_labels.get(value, value), count) for value, count in split_rows),
            selected.get("split", []),
            split_labels,
        ),
        "organelle": organelles,
        "present": _present_facet(ids["present"], chosen, selected.get("present", [])),
    }


def _present_facet(ids: QuerySet, chosen: list[LabelClass], selected: list[str]) -> list[dict[str, Any]]:
    """Crops with the chosen class present, known absent, and not counted; empty without a class."""
    if not chosen:
        return []
    contents = CropContent.objects.filter(crop=OuterRef("pk"), label_class__in=chosen)
    has_present = Q(Exists(contents.filter(present_voxels__gt=0)))
    has_absent = Q(Exists(contents.filter(present_voxels=0)))
    counts = Crop.objects.filter(pk__in=ids).aggregate(
        true=Count("pk", filter=has_present),
        false=Count("pk", filter=has_absent & ~has_present),
        unknown=Count("pk", filter=~has_absent & ~has_present),
    )
    return [
        {"value": value, "label": label, "count": counts[key], "selected": value in selected}
        for key, value, label in (
            ("true", "true", "Present"),
            ("false", "false", "Absent"),
            ("unknown", None, "Counts unknown (not selectable)"),
        )
    ]
