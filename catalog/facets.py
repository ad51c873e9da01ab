"""Facet counts of the dataset list, for the API and the browse page alike.

Counts are computed in the database from the same ``DatasetFilterSet`` the list uses, each
facet with every OTHER filter applied (``DatasetFilterSet.queryset_without``), and cached until
the catalog changes. The organelle facet reads the ``DatasetClass`` closure table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Greatest

from catalog import freshness
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


def _ids_without(filterset: DatasetFilterSet, parameters: Iterable[str]) -> QuerySet:
    """Primary keys of the datasets matching every filter except ``parameters``."""
    return filterset.queryset_without(*parameters).order_by().values("pk")


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
    ids = {facet: _ids_without(filterset, parameters) for facet, parameters in FACET_PARAMETERS.items()}

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
    total = Dataset.objects.filter(pk__in=_ids_without(filterset, ())).count()
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
    """Datasets per class from the ``DatasetClass`` closure: a group counts every dataset
    annotated with any of its members (each dataset once per class by construction). Each
    value also says how many of those datasets' crops have the class present (``crops_present``:
    known counts of the class's own label array; 0 where nothing is counted)."""
    rows = (
        DatasetClass.objects.filter(dataset_id__in=ids)
        .values_list("label_class__name", "label_class__long_name")
        .annotate(count=Count("dataset_id"))
        .order_by()
    )
    present = _crops_present_by_class(CropContent.objects.filter(crop__dataset_id__in=ids))
    labels = dict(LabelClass.objects.filter(name__in=selected).values_list("name", "long_name"))
    values = _values(
        ((name, long_name or name, count) for name, long_name, count in rows),
        selected,
        {name: long_name or name for name, long_name in labels.items()},
    )
    for item in values:
        item["crops_present"] = present.get(item["value"], 0)
    return values


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
