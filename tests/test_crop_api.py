"""The crop list by what crops hold: present/absent filters, share and voxel minimums, share
ordering, the crop facets and the dataset facets' "crops with this class present", and the
crop manifests under the same filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from catalog import models
from catalog.models.crops import UNKNOWN_UNTIL_INGESTED, ContentSource
from tests import factories
from tests.test_crop_manifest import csv_rows

pytestmark = pytest.mark.django_db

TOTAL = 1000


@dataclass
class Crops:
    classes: dict[str, models.LabelClass]


def content(crop: models.Crop, label_class: models.LabelClass, present: int | None, **extra: Any) -> None:
    if present is None:
        models.CropContent.objects.create(
            crop=crop, label_class=label_class, source=ContentSource.UNKNOWN, note="too large to count"
        )
        return
    models.CropContent.objects.create(
        crop=crop,
        label_class=label_class,
        source=ContentSource.ATTRIBUTES,
        total_voxels=TOTAL,
        present_voxels=present,
        absent_voxels=TOTAL - present,
        unknown_voxels=0,
        **extra,
    )


@pytest.fixture
def crops() -> Crops:
    return build_crops()


def build_crops() -> Crops:
    """ds-a: crop 1 (nuc 50%, mito 10%, er absent), crop 2 (nuc absent, mito 30%);
    ds-b: crop 3 (nuc 20%, mito unknown), crop 4 (nuc, never counted); both in collection
    ``challenge``."""
    classes = {
        name: factories.LabelClassFactory(name=name, long_name=name.upper(), label_id=label_id)
        for name, label_id in (("nuc", 28), ("mito", 4), ("er", 16))
    }
    a = factories.DatasetFactory(slug="ds-a", title="Dataset A")
    b = factories.DatasetFactory(slug="ds-b", title="Dataset B")
    one = factories.CropFactory(dataset=a, number=1)
    one.label_classes.set(classes.values())
    content(one, classes["nuc"], 500)
    content(one, classes["mito"], 100, object_count=7)
    content(one, classes["er"], 0)
    two = factories.CropFactory(dataset=a, number=2)
    two.label_classes.set([classes["nuc"], classes["mito"]])
    content(two, classes["nuc"], 0)
    content(two, classes["mito"], 300)
    three = factories.CropFactory(dataset=b, number=3)
    three.label_classes.set([classes["nuc"], classes["mito"]])
    content(three, classes["nuc"], 200)
    content(three, classes["mito"], None)
    four = factories.CropFactory(dataset=b, number=4)
    four.label_classes.set([classes["nuc"]])
    factories.CollectionFactory(slug="challenge", title="The challenge").datasets.set([a, b])
    factories.commit_catalog()
    cache.clear()
    return Crops(classes)


@pytest.fixture
def api() -> APIClient:
    cache.clear()
    return APIClient()


def numbers(api: APIClient, query: str) -> list[int]:
    response = api.get(f"/api/crops/?{query}")
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


@pytest.mark.usefixtures("crops")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("organelle=nuc", [1, 2, 3, 4]),
        ("organelle=nuc&present=true", [1, 3]),
        ("organelle=nuc&present=false", [2]),
        ("organelle=mito&present=true", [1, 2]),
        ("organelle=er&present=false", [1]),
        ("organelle=nuc&organelle=er&present=true", [1, 3]),
        ("organelle=nuc&min_share=0.3", [1]),
        ("organelle=nuc&min_share=0.2", [1, 3]),
        ("organelle=mito&min_voxels=150", [2]),
        ("organelle=nuc&present=true&dataset=ds-b", [3]),
        ("organelle=mito&ordering=-share", [2, 1, 3]),
        ("organelle=mito&ordering=share", [1, 2, 3]),
        ("organelle=nuc&ordering=-share", [1, 3, 2, 4]),
    ],
)
def test_crops_filtered_and_ordered_by_what_they_hold(api: APIClient, query: str, expected: list[int]) -> None:
    assert numbers(api, query) == expected


@pytest.mark.usefixtures("crops")
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("present=true", "present"),
        ("min_share=0.1", "min_share"),
        ("min_voxels=10", "min_voxels"),
        ("ordering=-share", "ordering"),
        ("organelle=nuc&present=maybe", "present"),
        ("organelle=nuc&min_share=2", "min_share"),
        ("organelle=nuc&min_voxels=0", "min_voxels"),
    ],
)
def test_content_filters_without_a_class_or_out_of_range_are_a_400(api: APIClient, query: str, parameter: str) -> None:
    response = api.get(f"/api/crops/?{query}")

    assert response.status_code == 400
    assert parameter in {error["field"] for error in response.json()["errors"]}


@pytest.mark.usefixtures("crops")
def test_a_crop_lists_present_classes_first_then_absent_then_unknown(api: APIClient) -> None:
    body = api.get("/api/crops/1/").json()

    assert [(c["label_class"], c["state"], c["share"]) for c in body["contents"]] == [
        ("nuc", "present", 0.5),
        ("mito", "present", 0.1),
        ("er", "absent", 0.0),
    ]
    mito = body["contents"][1]
    assert (mito["present_voxels"], mito["absent_voxels"], mito["object_count"], mito["source"]) == (
        100,
        900,
        7,
        "attributes",
    )


@pytest.mark.usefixtures("crops")
def test_unknown_counts_are_null_and_say_why(api: APIClient) -> None:
    three = {c["label_class"]: c for c in api.get("/api/crops/3/").json()["contents"]}
    four = api.get("/api/crops/4/").json()["contents"]

    assert three["mito"] | {"label_class": None} == {
        "label_class": None,
        "state": "unknown",
        "share": None,
        "present_voxels": None,
        "absent_voxels": None,
        "unknown_voxels": None,
        "total_voxels": None,
        "object_count": None,
        "source": "unknown",
        "note": "too large to count",
    }
    assert [(c["label_class"], c["state"], c["source"], c["note"]) for c in four] == [
        ("nuc", "unknown", None, UNKNOWN_UNTIL_INGESTED)
    ]


@pytest.mark.usefixtures("crops")
def test_crop_facets_count_crops_with_the_class_present(api: APIClient) -> None:
    body = api.get("/api/crops/facets/?organelle=nuc").json()

    assert body["total"] == 4
    datasets = {item["value"]: (item["count"], item["crops_present"]) for item in body["dataset"]}
    assert datasets == {"ds-a": (2, 1), "ds-b": (2, 1)}
    organelles = {item["value"]: (item["count"], item["crops_present"]) for item in body["organelle"]}
    assert organelles == {"nuc": (4, 2), "mito": (3, 2), "er": (1, 0)}
    assert [(item["value"], item["count"]) for item in body["present"]] == [("true", 2), ("false", 1), (None, 1)]


@pytest.mark.usefixtures("crops")
def test_crop_facets_apply_the_other_filters(api: APIClient) -> None:
    body = api.get("/api/crops/facets/?organelle=nuc&present=true&dataset=ds-a").json()

    assert body["total"] == 1
    assert {item["value"]: item["count"] for item in body["dataset"]} == {"ds-a": 1, "ds-b": 1}
    assert [(item["value"], item["count"], item["selected"]) for item in body["present"]] == [
        ("true", 1, True),
        ("false", 1, False),
        (None, 0, False),
    ]
    assert {item["value"]: item["crops_present"] for item in api.get("/api/crops/facets/").json()["dataset"]} == {
        "ds-a": None,
        "ds-b": None,
    }


@pytest.mark.usefixtures("crops")
def test_dataset_facets_count_crops_with_the_class_present(api: APIClient) -> None:
    organelles = api.get("/api/datasets/facets/").json()["organelle"]

    assert {item["value"]: (item["count"], item["crops_present"]) for item in organelles} == {
        "nuc": (2, 2),
        "mito": (2, 2),
        "er": (1, 0),
    }


@pytest.mark.parametrize(
    ("path", "maximum"),
    [
        # version, the class, the class graph (2, cached per version), count, page, classes, contents
        ("/api/crops/?organelle=nuc&present=true&min_share=0.1&ordering=-share", 8),
        # version, the crop, its classes, its contents
        ("/api/crops/1/", 4),
        # version, the class, the class graph (2), total, dataset, split, organelle (2: annotated,
        # present), present
        ("/api/crops/facets/?organelle=nuc&present=true", 10),
    ],
)
def test_query_counts(
    crops: Crops, api: APIClient, django_assert_max_num_queries: Any, path: str, maximum: int
) -> None:
    with django_assert_max_num_queries(maximum):
        response = api.get(path)
    assert response.status_code == 200


@pytest.mark.usefixtures("crops")
def test_the_manifest_takes_the_crop_lists_filters(api: APIClient) -> None:
    rows = csv_rows(api, "?organelle=nuc&present=true&ordering=-share")

    assert [(row["crop_name"], row["class_label"], row["present_voxels"]) for row in rows] == [
        ("1", "nuc", "500"),
        ("3", "nuc", "200"),
    ]
    assert rows[0]["present_share"] == "0.5"
    everything = csv_rows(api)
    assert [(row["crop_name"], row["class_label"]) for row in everything][:3] == [
        ("1", "mito"),
        ("1", "er"),
        ("1", "nuc"),
    ]
    assert len(everything) == 3 + 2 + 2 + 1
    unknown = next(row for row in everything if row["crop_name"] == "3" and row["class_label"] == "mito")
    assert (unknown["present_voxels"], unknown["present_share"]) == ("", "")


@pytest.mark.usefixtures("crops")
@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/crops/manifest.csv?present=true", "present"),
        ("/api/crops/manifest.json?organelle=nope", "organelle"),
        ("/api/crops/manifest.csv?page=2", "page"),
        ("/api/crops/croissant.json?min_share=3&organelle=nuc", "min_share"),
    ],
)
def test_bad_parameters_are_a_400_in_json(api: APIClient, path: str, parameter: str) -> None:
    response = api.get(path, HTTP_ACCEPT="text/csv")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert parameter in {error["field"] for error in response.json()["errors"]}
