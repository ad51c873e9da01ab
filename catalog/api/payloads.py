"""The dataset list rows, dataset records and crop rows as plain functions, for the hottest reads.

DRF's serializers build their fields anew for every record (deep copies of every declared
field, nested serializers per relation), which cost more than the SQL on the dataset list and
detail (issue 12: 20 of 25 ms per uncached detail were Python). These functions write the same
JSON as ``DatasetListSerializer`` and ``DatasetDetailSerializer`` (which stay the schema, and
serialise the writes' answers) from the same prefetched records: the model's own columns go
through the very DRF field objects, built once per process, and the rest is a few dicts.
``tests/test_api_payloads.py`` holds the two to the same output.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple
from urllib.parse import urlencode

from django.urls import reverse
from rest_framework import serializers as drf

from catalog import selectors
from catalog.api.serializers import CropSerializer, DatasetDetailSerializer, DatasetListSerializer, doi_url
from catalog.models import Crop, CropContent, Dataset
from catalog.models.base import axis_vector
from catalog.models.crops import ClassContent, class_contents
from catalog.neuroglancer.links import absolute_url, record_links, reverse_for


@cache
def _column_fields(serializer_class: type[drf.ModelSerializer], handled: frozenset[str]) -> tuple:
    """(name, DRF field) of the serializer's plain model columns, and every output name in order."""
    fields = serializer_class(context={}).fields
    columns = tuple((name, field) for name, field in fields.items() if name not in handled)
    return columns, tuple(fields)


def _columns(record: Any, columns: tuple) -> dict[str, Any]:
    values = {}
    for name, field in columns:
        value = getattr(record, field.source)
        values[name] = None if value is None else field.to_representation(value)
    return values


LIST_HANDLED = frozenset(
    {
        "api_url",
        "organism",
        "tissues",
        "voxel_size",
        "volume_count",
        "crop_count",
        "search_rank",
        "neuroglancer_url",
        "neuroglancer_state_url",
        "neuroglancer_inline_url",
        "viewer_problem",
    }
)


def dataset_rows(request: Any, datasets: list[selectors.DatasetListRow]) -> list[dict[str, Any]]:
    """``DatasetListSerializer(datasets, many=True).data``, from ``selectors.dataset_list_rows``."""
    columns, order = _column_fields(DatasetListSerializer, LIST_HANDLED)
    rows = []
    for dataset in datasets:
        organism = dataset.organism
        row = {
            "api_url": absolute_url(request, reverse_for("dataset-detail", "dataset", dataset.slug)),
            "organism": None if organism is None else {"slug": organism.slug, "name": organism.name},
            "tissues": [{"slug": tissue.slug, "name": tissue.name} for tissue in dataset.tissues],
            "voxel_size": axis_vector(dataset, "voxel_size"),
            "volume_count": dataset.volume_count,
            "crop_count": dataset.crop_count,
            "search_rank": dataset.search_rank,
            **record_links(request, "dataset", dataset),
            **_columns(dataset, columns),
        }
        rows.append({name: row[name] for name in order})
    return rows


DETAIL_HANDLED = frozenset(
    {
        "api_url",
        "organism",
        "tissues",
        "cell_types",
        "treatments",
        "institutions",
        "voxel_size",
        "extent",
        "dois",
        "publications",
        "collections",
        "views",
        "volume_count",
        "crop_count",
        "view_count",
        "organelles",
        "links",
        "neuroglancer_url",
        "neuroglancer_state_url",
        "neuroglancer_inline_url",
        "viewer_problem",
    }
)


def _list_url(request: Any, name: str, slug: str) -> str:
    return absolute_url(request, f"{reverse(name)}?{urlencode({'dataset': slug})}")


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


class _View(NamedTuple):
    """What ``record_links`` reads of a view."""

    pk: int
    viewer_problem: str
    viewer_problem_field: str
    inline_state_length: int | None


def dataset_record(request: Any, dataset: Dataset) -> dict[str, Any]:
    """``DatasetDetailSerializer(dataset).data``, from ``selectors.dataset_for_record``: every
    relation the record lists comes from one query (``selectors.dataset_relations``)."""
    columns, order = _column_fields(DatasetDetailSerializer, DETAIL_HANDLED)
    organism = dataset.organism
    slug = dataset.slug
    related = selectors.dataset_relations(dataset.pk)
    views = []
    for pk, name, problem, problem_field, inline_length in related["views"]:
        view = _View(int(pk), problem or "", problem_field or "", _int(inline_length))
        views.append(
            {
                "id": view.pk,
                "name": name,
                "api_url": absolute_url(request, reverse("view-detail", args=[view.pk])),
                **record_links(request, "view", view),
            }
        )
    record = {
        "api_url": absolute_url(request, reverse("dataset-detail", args=[slug])),
        "organism": None
        if organism is None
        else {
            "slug": organism.slug,
            "name": organism.name,
            "common_name": organism.common_name,
            "ncbi_taxonomy_id": organism.ncbi_taxonomy_id,
        },
        "tissues": [
            {"slug": tissue, "name": name, "uberon_id": uberon_id} for tissue, name, uberon_id in related["tissues"]
        ],
        "cell_types": [name for (name,) in related["cell_types"]],
        "treatments": [name for (name,) in related["treatments"]],
        "institutions": [name for (name,) in related["institutions"]],
        "voxel_size": axis_vector(dataset, "voxel_size"),
        "extent": axis_vector(dataset, "extent"),
        "dois": [{"doi": value, "url": doi_url(value), "group": group} for value, group in related["dois"]],
        "publications": [
            {
                "id": int(pk),
                "title": title,
                "authors": authors,
                "year": _int(year),
                "doi": doi,
                "doi_url": doi_url(doi),
                "url": url,
            }
            for pk, title, authors, year, doi, url in related["publications"]
        ],
        "collections": [
            {
                "slug": collection,
                "title": title,
                "api_url": absolute_url(request, reverse("collection-detail", args=[collection])),
            }
            for collection, title in related["collections"]
        ],
        "views": views,
        "volume_count": dataset.volume_count,
        "crop_count": dataset.crop_count,
        "view_count": dataset.view_count,
        "organelles": [name for (name,) in related["organelles"]],
        "links": {
            "volumes": _list_url(request, "volume-list", slug),
            "crops": _list_url(request, "crop-list", slug),
            "views": _list_url(request, "view-list", slug),
            "benchmark_results": _list_url(request, "benchmarkresult-list", slug),
            "citation": absolute_url(request, reverse("dataset-citation", args=[slug])),
            "jsonld": absolute_url(request, reverse("dataset-jsonld", args=[slug])),
            "datacite": absolute_url(request, reverse("dataset-datacite", args=[slug])),
        },
        **record_links(request, "dataset", dataset),
        **_columns(dataset, columns),
    }
    return {name: record[name] for name in order}


CROP_HANDLED = frozenset(
    {
        "api_url",
        "dataset",
        "voxel_size",
        "translation",
        "shape",
        "label_classes",
        "contents",
        "url",
        "neuroglancer_url",
        "neuroglancer_state_url",
        "neuroglancer_inline_url",
        "viewer_problem",
    }
)


def _content(entry: ClassContent) -> dict[str, Any]:
    row = entry.row
    return {
        "label_class": entry.label_class.name,
        "state": entry.state,
        "share": None if row is None else row.present_share,
        "present_voxels": None if row is None else row.present_voxels,
        "absent_voxels": None if row is None else row.absent_voxels,
        "unknown_voxels": None if row is None else row.unknown_voxels,
        "total_voxels": None if row is None else row.total_voxels,
        "object_count": None if row is None else row.object_count,
        "source": None if row is None else row.source,
        "note": entry.note,
    }


class _ClassName(NamedTuple):
    pk: int
    name: str


class _Content(NamedTuple):
    """A ``CropContent`` row's values, without a model instance per row."""

    label_class_id: int
    source: str
    total_voxels: int | None
    present_voxels: int | None
    absent_voxels: int | None
    unknown_voxels: int | None
    present_share: float | None
    object_count: int | None
    note: str

    @property
    def is_known(self) -> bool:
        return self.source != CropContent.Source.UNKNOWN


def crop_rows(request: Any, crops: list[Crop]) -> list[dict[str, Any]]:
    """``CropSerializer(crops, many=True).data``, from ``selectors.crop_row_queryset()``. A crop
    carries a row per annotated class: two value queries read them for the whole page, instead
    of a model instance and a nested serializer per class of every crop."""
    columns, order = _column_fields(CropSerializer, CROP_HANDLED)
    ids = [crop.pk for crop in crops]
    classes: dict[int, list[_ClassName]] = {pk: [] for pk in ids}
    links = Crop.label_classes.through.objects.filter(crop_id__in=ids)
    links = links.order_by("labelclass__label_id", "labelclass__name")  # LabelClass's own order
    for crop_id, class_id, name in links.values_list("crop_id", "labelclass_id", "labelclass__name"):
        classes[crop_id].append(_ClassName(class_id, name))
    contents: dict[int, dict[int, _Content]] = {pk: {} for pk in ids}
    for crop_id, *values in (
        CropContent.objects.filter(crop_id__in=ids).order_by().values_list("crop_id", *_Content._fields)
    ):
        row = _Content(*values)
        contents[crop_id][row.label_class_id] = row
    rows = []
    for crop in crops:
        row = {
            "api_url": absolute_url(request, reverse_for("crop-detail", "crop", crop.number)),
            "dataset": crop.dataset.slug,
            "voxel_size": axis_vector(crop, "voxel_size"),
            "translation": axis_vector(crop, "translation"),
            "shape": axis_vector(crop, "shape"),
            "label_classes": [label_class.name for label_class in classes[crop.pk]],
            "contents": [_content(entry) for entry in class_contents(classes[crop.pk], contents[crop.pk])],
            "url": crop.labels_url,
            **record_links(request, "crop", crop),
            **_columns(crop, columns),
        }
        rows.append({name: row[name] for name in order})
    return rows
