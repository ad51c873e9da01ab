"""The plain-function dataset payloads (catalog.api.payloads) write exactly what the DRF
serializers, which stay the schema and answer the writes, would write."""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import json

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from catalog import models, selectors
from catalog.api import payloads, serializers
from catalog.search import search_datasets
from tests.test_api_fixtures import SmallCatalog, api, small_catalog  # noqa: F401
from tests.test_api_queries import build_rows

pytestmark = pytest.mark.django_db


def rendered(data: object) -> dict | list:
    """What the API's renderer makes of the data, read back (dates, decimals as in the response)."""
    return json.loads(JSONRenderer().render(data))


def list_rows(datasets: list[models.Dataset]) -> list[selectors.DatasetListRow]:
    """The value rows of these datasets, in their order, with their search ranks."""
    found = {row.pk: row for row in selectors.dataset_list_rows([dataset.pk for dataset in datasets])}
    for dataset in datasets:
        found[dataset.pk].search_rank = getattr(dataset, "search_rank", None)
    return [found[dataset.pk] for dataset in datasets]


@pytest.mark.parametrize("with_request", [True, False])
def test_rows_and_records_equal_the_serializers(with_request: bool) -> None:
    request = APIRequestFactory().get("/api/datasets/") if with_request else None
    context = {"request": request}
    build_rows(3)  # views, DOIs, publications, institutions, tissues, a collection, crops, classes
    datasets = list(models.Dataset.objects.for_list())
    assert len(datasets) == 3
    expected = serializers.DatasetListSerializer(datasets, many=True, context=context).data
    rows = list_rows(datasets)
    assert rendered(payloads.dataset_rows(request, rows)) == rendered(expected)
    assert list(payloads.dataset_rows(request, rows)[0]) == list(expected[0])  # the same key order
    searched = list(search_datasets(models.Dataset.objects.for_list(), "dataset"))
    expected = serializers.DatasetListSerializer(searched, many=True, context=context).data
    assert rendered(payloads.dataset_rows(request, list_rows(searched))) == rendered(expected)
    assert searched
    assert all(row["search_rank"] > 0 for row in payloads.dataset_rows(request, list_rows(searched)))
    # Orders the relations query must keep: publications by year (descending; one unknown) then
    # title, DOIs by group then value, views by id; a view without a state.
    richer = models.Dataset.objects.get(slug="ds-001")
    for title, year in (("beta", 2020), ("Alpha", 2020), ("gamma", None), ("delta", 2024)):
        richer.publications.add(models.Publication.objects.create(title=title, year=year, url="https://x.org/p"))
    for value, group in (("10.1234/zz", "em"), ("10.1234/aa", "segmentations"), ("10.1234/mm", "em")):
        models.DatasetDOI.objects.create(dataset=richer, doi=models.DOI.objects.create(value=value), group=group)
    broken = models.CuratedView.objects.filter(dataset=richer).first()
    models.CuratedView.objects.filter(pk=broken.pk).update(viewer_problem="no layers", viewer_problem_field="layers")
    for dataset in models.Dataset.objects.for_detail():
        expected = serializers.DatasetDetailSerializer(dataset, context=context).data
        record = payloads.dataset_record(request, dataset)
        assert rendered(record) == rendered(expected), dataset.slug
        assert list(record) == list(expected)


@pytest.mark.parametrize("with_request", [True, False])
def test_crop_rows_equal_the_serializer(with_request: bool) -> None:
    request = APIRequestFactory().get("/api/crops/") if with_request else None
    build_rows(3)  # crops with a known content row, and crops without any (unknown until ingested)
    crops = list(selectors.crop_queryset().order_by("number"))
    assert {entry.state for crop in crops for entry in models.crops.crop_class_contents(crop)} == {"present", "unknown"}
    expected = serializers.CropSerializer(crops, many=True, context={"request": request}).data
    rows = payloads.crop_rows(request, crops)
    assert rendered(rows) == rendered(expected)
    assert [list(row) for row in rows] == [list(row) for row in expected]  # the same key order


def test_the_api_answers_with_them(api, small_catalog: SmallCatalog) -> None:
    body = api.get("/api/datasets/jrc_hela-2/").json()
    dataset = models.Dataset.objects.for_detail().get(slug="jrc_hela-2")
    request = APIRequestFactory().get("/api/datasets/jrc_hela-2/")
    assert body == rendered(serializers.DatasetDetailSerializer(dataset, context={"request": request}).data)
    crop = selectors.crop_queryset().get(number=1)
    expected = serializers.CropSerializer(crop, context={"request": APIRequestFactory().get("/")}).data
    assert api.get("/api/crops/1/").json() == rendered(expected)
    rows = api.get("/api/datasets/?q=liver").json()["results"]
    assert [row["slug"] for row in rows] == ["jrc_mus-liver", "jrc_macrophage-2"]
    assert rows[0]["api_url"] == "http://testserver/api/datasets/jrc_mus-liver/"


def test_a_cached_read_answers_the_stored_bytes(api, small_catalog: SmallCatalog, monkeypatch) -> None:
    """A hit sends the bytes the miss rendered: no serializer, no renderer."""
    first = api.get("/api/crops/?organelle=nuc")
    assert first.status_code == 200
    assert first["Content-Type"] == "application/json"
    for _ in range(2):  # the browsable API: the data is cached, then rendered as a page
        page = api.get("/api/crops/?organelle=nuc", HTTP_ACCEPT="text/html")
        assert page.status_code == 200
        assert b"crops" in page.content

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("a cache hit rendered its payload again")

    monkeypatch.setattr(JSONRenderer, "render", refuse)
    monkeypatch.setattr(payloads, "crop_rows", refuse)
    again = api.get("/api/crops/?organelle=nuc")
    assert again.content == first.content
    assert again["Content-Type"] == "application/json"
