"""Facet counts of the dataset list, for the API and the browse page alike.

Counts follow the same ``DatasetFilterSet`` the list uses, each facet with every OTHER filter
applied, and are cached until the catalog changes. They are counted on a ``FacetIndex``: per
catalog version, every facet value's datasets as a bitmask, built in one pass over the records
and the ``DatasetClass`` closure table (the organelle facet). A request then costs its search
query (when it has ``q``) and a few hundred AND and bit counts, whatever the catalog's size.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Greatest, Least

from catalog import freshness
from catalog.filters import DatasetFilterSet
from catalog.models import Collection, Crop, Dataset, DatasetClass, LabelClass, Organism, Tissue
from catalog.models.base import Fixation, Modality

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
    identity = json.dumps(_normalised_params(filterset), sort_keys=True)
    return freshness.cached("facets", identity, lambda: _compute_facets(filterset))


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
        "organelle": _values(
            counted(index.organelle, scopes["organelle"], index.organelle_labels),
            selected.get("organelle", []),
            index.organelle_labels,
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


def _filter_masks(filterset: DatasetFilterSet, index: FacetIndex) -> dict[str, int]:
    """The datasets each filter of the (valid) FilterSet lets through, by parameter name; a
    filter without a value is left out (it lets everything through)."""
    masks: dict[str, int] = {}
    for name, value in filterset.form.cleaned_data.items():
        if name == "ordering" or value in (None, "", [], ()):
            continue
        if name == "q":
            if not value.strip():
                continue
            matching = filterset.filters["q"].filter(Dataset.objects.all(), value).order_by().values_list("pk")
            sql, params = matching.query.sql_with_params()
            with connection.cursor() as cursor:  # ids only: no ORM row handling for thousands of matches
                cursor.execute(sql, params)
                masks[name] = index.mask_of(pk for (pk,) in cursor.fetchall())
        elif name in ("organism", "tissue", "collection"):
            if not value:
                continue
            by_value = getattr(index, name)
            masks[name] = _union(by_value.get(record.slug, 0) for record in value)
        elif name == "organelle":
            if not value:
                continue
            masks[name] = _union(index.organelle.get(record.name, 0) for record in value)
        elif name in ("modality", "fixation"):
            masks[name] = _union(getattr(index, name).get(item, 0) for item in value)
        elif name == "has_crops":
            masks[name] = index.with_crops if value == "true" else index.everything & ~index.with_crops
        elif name == "voxel_size_max":
            masks[name] = index.at_most(float(value))
        elif name == "voxel_size_min":
            masks[name] = index.at_least(float(value))
        else:
            raise ValueError(f"the facet index does not know the dataset filter {name!r}")
    return masks


def _union(masks: Iterable[int]) -> int:
    found = 0
    for mask in masks:
        found |= mask
    return found


def _bits(positions: Iterable[int], size: int) -> int:
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
    buckets: dict[float, int] = field(default_factory=dict)

    def mask_of(self, dataset_ids: Iterable[int]) -> int:
        """The bitmask of the given datasets (ids not in the index are ignored)."""
        position = dict(zip(self.ids, range(len(self.ids)), strict=True))
        return _bits((position[pk] for pk in dataset_ids if pk in position), len(self.ids))

    def at_most(self, nm: float) -> int:
        """Datasets whose coarsest axis is at most ``nm`` (unknown voxel sizes never are)."""
        if nm in self.buckets:
            return self.buckets[nm]
        return _bits((n for n, value in enumerate(self.coarsest) if value <= nm), len(self.ids))

    def at_least(self, nm: float) -> int:
        """Datasets whose finest axis is at least ``nm``."""
        return _bits((n for n, value in enumerate(self.finest) if value >= nm), len(self.ids))


def facet_index() -> FacetIndex:
    """The facet index of the current catalog version (built on a miss, then cached)."""
    return freshness.cached("facet-index", "", _build_index)


def _build_index() -> FacetIndex:
    has_crops = Exists(Crop.objects.filter(dataset=OuterRef("pk")))
    rows = list(
        Dataset.objects.order_by("pk")
        .annotate(
            with_crops=has_crops,
            coarsest=Greatest(F("voxel_size_x"), F("voxel_size_y"), F("voxel_size_z")),
            finest=Least(F("voxel_size_x"), F("voxel_size_y"), F("voxel_size_z")),
        )
        .values_list("pk", "organism_id", "modality", "fixation", "with_crops", "coarsest", "finest")
    )
    size = len(rows)
    position = {row[0]: n for n, row in enumerate(rows)}
    nan = float("nan")

    def grouped(pairs: Iterable[tuple[Any, int]]) -> dict[Any, int]:
        """``{key: bitmask}`` from (key, dataset id) pairs."""
        found: dict[Any, list[int]] = {}
        for key, pk in pairs:
            if key is not None and pk in position:
                found.setdefault(key, []).append(position[pk])
        return {key: _bits(positions, size) for key, positions in found.items()}

    organisms = {pk: (slug, name) for pk, slug, name in Organism.objects.values_list("pk", "slug", "name")}
    tissues = {pk: (slug, name) for pk, slug, name in Tissue.objects.values_list("pk", "slug", "name")}
    collections = {pk: (slug, title) for pk, slug, title in Collection.objects.values_list("pk", "slug", "title")}
    class_rows = LabelClass.objects.values_list("pk", "name", "long_name")
    classes = {pk: (name, long_name or name) for pk, name, long_name in class_rows}

    def slug(records: dict[int, tuple[str, str]], pk: int | None) -> str | None:
        return records[pk][0] if pk in records else None

    tissue_links = Dataset.tissues.through.objects.values_list("tissue_id", "dataset_id")
    collection_links = Collection.datasets.through.objects.values_list("collection_id", "dataset_id")
    class_links = DatasetClass.objects.values_list("label_class_id", "dataset_id")
    index = FacetIndex(
        ids=array("q", (row[0] for row in rows)),
        everything=(1 << size) - 1,
        with_crops=_bits((n for n, row in enumerate(rows) if row[4]), size),
        coarsest=array("d", (nan if row[5] is None else float(row[5]) for row in rows)),
        finest=array("d", (nan if row[6] is None else float(row[6]) for row in rows)),
        organism=grouped((slug(organisms, row[1]), row[0]) for row in rows),
        tissue=grouped((slug(tissues, tissue), pk) for tissue, pk in tissue_links),
        collection=grouped((slug(collections, collection), pk) for collection, pk in collection_links),
        organelle=grouped((slug(classes, label_class), pk) for label_class, pk in class_links),
        modality=grouped((row[2] or None, row[0]) for row in rows),
        fixation=grouped((row[3] or None, row[0]) for row in rows),
        organism_labels=dict(organisms.values()),
        tissue_labels=dict(tissues.values()),
        collection_labels=dict(collections.values()),
        organelle_labels=dict(classes.values()),
    )
    index.buckets = {float(edge): index.at_most(edge) for edge in VOXEL_SIZE_BUCKETS_NM}
    return index


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(value)
