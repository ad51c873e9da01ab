"""The crop index (catalog.crop_index) answers the crop lists it takes exactly as SQL does,
and leaves the rest to SQL."""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from django.http import QueryDict

from catalog import models, selectors
from catalog.crop_index import indexed_crop_list
from catalog.filters import CropFilterSet
from catalog.models.base import CropSplit
from tests import factories
from tests.test_api_fixtures import api  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def crops() -> None:
    """Crops 1-12 over two datasets and both splits, with a group class (``mito`` holds
    ``mito_mem``), and crop 12 without any class."""
    mito = factories.LabelClassFactory(name="mito", label_id=3)
    mito_mem = factories.LabelClassFactory(name="mito_mem", label_id=4)
    mito.members.set([mito_mem])
    nuc = factories.LabelClassFactory(name="nuc", label_id=28)
    a = factories.DatasetFactory(slug="ds-a")
    b = factories.DatasetFactory(slug="ds-b")
    for number in range(12, 0, -1):  # created out of number order
        crop = factories.CropFactory(
            dataset=a if number % 3 else b,
            number=number,
            split=CropSplit.TRAIN if number % 2 else CropSplit.TEST,
        )
        if number == 12:
            continue
        crop.label_classes.set([mito_mem] if number % 4 == 0 else [nuc, mito] if number % 4 == 1 else [nuc])
    factories.commit_catalog()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "ordering=-number",
        "organelle=mito",
        "organelle=mito_mem&ordering=-number",
        "organelle=nuc&organelle=mito_mem",
        "split=train&dataset=ds-a",
        "split=train&split=test&dataset=ds-b&dataset=ds-a",
        "number=7",
        "number=99",
        "organelle=nuc&number=4",
    ],
)
def test_the_indexed_crop_list_is_the_sql_list(api, crops: None, query: str) -> None:
    queryset = selectors.crop_queryset()
    filterset = CropFilterSet(QueryDict(query), queryset=queryset)
    assert filterset.is_valid(), filterset.errors
    indexed = indexed_crop_list(filterset, queryset)
    assert indexed is not None
    expected = [crop.number for crop in filterset.qs]
    assert indexed.count() == len(expected)
    assert [crop.number for crop in indexed[0 : len(expected)]] == expected
    assert [crop.number for crop in indexed[1:3]] == expected[1:3]
    body = api.get(f"/api/crops/?{query}&page_size=2&page=2").json() if len(expected) > 2 else None
    if body is not None:
        assert body["count"] == len(expected)
        assert [row["number"] for row in body["results"]] == expected[2:4]


def test_sql_answers_what_the_index_does_not_hold(crops: None) -> None:
    models.CropContent.objects.create(
        crop=models.Crop.objects.get(number=1),
        label_class=models.LabelClass.objects.get(name="nuc"),
        source="attributes",
        total_voxels=10,
        present_voxels=5,
        absent_voxels=5,
        unknown_voxels=0,
    )
    for query in ("organelle=nuc&present=true", "organelle=nuc&min_voxels=2", "ordering=dataset"):
        filterset = CropFilterSet(QueryDict(query), queryset=models.Crop.objects.all())
        assert filterset.is_valid(), filterset.errors
        assert indexed_crop_list(filterset, models.Crop.objects.all()) is None, query


def test_the_index_follows_writes(api, crops: None) -> None:
    assert api.get("/api/crops/?organelle=nuc").json()["count"] == 9  # 1, 2, 3, 5, 6, 7, 9, 10, 11
    models.Crop.objects.get(number=12).label_classes.set([models.LabelClass.objects.get(name="nuc")])
    assert api.get("/api/crops/?organelle=nuc").json()["count"] == 10
    models.Crop.objects.filter(number__in=[1, 2]).delete()
    assert api.get("/api/crops/?organelle=nuc").json()["count"] == 8
