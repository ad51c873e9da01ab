"""What a record's state endpoint answers is stored with the record and shown everywhere.

Every dataset, volume, crop and curated view keeps the reason Neuroglancer cannot open it (the
very detail its state URL answers with a 409) and the length of its inline link, both written
when the catalog changes. API lists carry the same links and reasons as detail records; an
inline link is only offered when it fits Django's redirect limit, and ``?inline=1`` on a state
that does not fit answers the API's JSON error naming the limit, never Django's HTML 400.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.http import MAX_URL_REDIRECT_LENGTH

from catalog.models import Crop, CuratedView, Dataset, Volume
from catalog.models.base import ContentType, CropSplit, VolumeFormat, VolumeKind
from catalog.neuroglancer import recipe as ng
from tests.factories import (
    CropFactory,
    DatasetFactory,
    LabelClassFactory,
    ViewFactory,
    VolumeFactory,
    commit_catalog,
)

pytestmark = pytest.mark.django_db

VIEWER = "https://viewer.example/"
RECORDS = (
    ("dataset", Dataset, "state-dataset", "slug", "dataset-list", "slug"),
    ("volume", Volume, "state-volume", "pk", "volume-list", "id"),
    ("crop", Crop, "state-crop", "number", "crop-list", "number"),
    ("view", CuratedView, "state-view", "pk", "view-list", "id"),
)


@pytest.fixture
def catalog(settings) -> dict:
    """A viewable dataset (EM, segmentation, a crop with many classes, a view) and one whose only
    volume is a TIFF (with a view of it and a withheld test crop): nothing of it can be viewed."""
    settings.NEUROGLANCER_VIEWER_URL = VIEWER
    good = DatasetFactory(slug="jrc_good", extent_x=4000.0, extent_y=4000.0, extent_z=4000.0)
    em = VolumeFactory(dataset=good, name="em")
    VolumeFactory(dataset=good, name="mito_seg", kind=VolumeKind.SEGMENTATION, content_type=ContentType.SEGMENTATION)
    small = CropFactory(dataset=good, number=1)
    small.label_classes.add(LabelClassFactory(name="mito", label_id=3, colour="#00ff00"))
    big = CropFactory(dataset=good, number=2)
    big.label_classes.set([LabelClassFactory(name=f"class_with_a_long_name_{n}", label_id=100 + n) for n in range(60)])
    good_view = ViewFactory(dataset=good, name="EM close-up")
    good_view.layers.create(position=0, name="em", volume=em)

    bad = DatasetFactory(slug="platelet-like", voxel_size_x=10.0, voxel_size_y=10.0, voxel_size_z=40.0)
    tiff = VolumeFactory(dataset=bad, name="50-images", url="50-images.tif", format=VolumeFormat.TIFF)
    withheld = CropFactory(dataset=bad, number=3, split=CropSplit.TEST, labels_url="")
    bad_view = ViewFactory(dataset=bad, name="TIFF only")
    bad_view.layers.create(position=0, name="50-images", volume=tiff)
    commit_catalog()
    return {
        "good": good,
        "em": em,
        "small": small,
        "big": big,
        "good_view": good_view,
        "bad": bad,
        "tiff": tiff,
        "withheld": withheld,
        "bad_view": bad_view,
    }


def test_each_record_stores_what_its_state_endpoint_answers(client: Client, catalog: dict) -> None:
    for _kind, model, url_name, key, _list, _field in RECORDS:
        for record in model.objects.all():
            response = client.get(reverse(url_name, args=[getattr(record, key)]))
            body = json.loads(response.content)
            if response.status_code == 200:
                assert record.viewer_problem == "", record
                assert record.viewer_problem_field == "", record
                assert record.inline_state_length == len(ng.inline_fragment(body)), record
            else:
                assert response.status_code == 409, (record, response.content)
                assert record.viewer_problem == body["detail"], record
                assert record.viewer_problem_field, record
                assert record.inline_state_length is None, record

    assert "TIFF volumes cannot be streamed" in Dataset.objects.get(slug="platelet-like").viewer_problem
    assert Crop.objects.get(number=3).viewer_problem_field == "labels_url"
    assert "withheld" in Crop.objects.get(number=3).viewer_problem
    assert CuratedView.objects.get(name="TIFF only").viewer_problem.startswith("None of the volumes of this view")
    assert Volume.objects.get(name="50-images").viewer_problem_field == "format"


def test_every_api_list_item_carries_the_links_of_its_detail_record(client: Client, catalog: dict) -> None:
    for kind, model, _state, _key, list_name, field in RECORDS:
        items = client.get(reverse(list_name), {"page_size": 100}).json()["results"]
        assert len(items) == model.objects.count(), kind
        for item in items:
            detail = client.get(item["api_url"]).json()
            links = {name: item[name] for name in ("neuroglancer_url", "neuroglancer_state_url", "viewer_problem")}
            assert links == {name: detail[name] for name in links}, (kind, item[field])
            assert item["neuroglancer_inline_url"] == detail["neuroglancer_inline_url"]
            if item["viewer_problem"] is None:
                assert item["neuroglancer_url"] == f"{VIEWER}#!{item['neuroglancer_state_url']}"
                assert client.get(item["neuroglancer_state_url"]).status_code == 200
            else:
                assert item["neuroglancer_url"] is None
                assert item["neuroglancer_state_url"] is None
                assert item["neuroglancer_inline_url"] is None
                assert set(item["viewer_problem"]) == {"field", "message"}

    datasets = {item["slug"]: item for item in client.get(reverse("dataset-list")).json()["results"]}
    assert datasets["jrc_good"]["viewer_problem"] is None
    assert datasets["platelet-like"]["viewer_problem"]["field"] == "volumes"
    assert "TIFF" in datasets["platelet-like"]["viewer_problem"]["message"]


def test_an_inline_link_that_would_be_too_long_is_never_handed_out(client: Client, catalog: dict) -> None:
    small = client.get(reverse("crop-detail", args=[1])).json()
    big = client.get(reverse("crop-detail", args=[2])).json()

    assert small["neuroglancer_inline_url"] == small["neuroglancer_state_url"] + "?inline=1"
    response = client.get(small["neuroglancer_inline_url"])
    assert response.status_code == 302
    assert len(response["Location"]) <= MAX_URL_REDIRECT_LENGTH

    # The big crop's state does not fit a redirect: the API offers the state-URL link instead.
    assert Crop.objects.get(number=2).inline_state_length > MAX_URL_REDIRECT_LENGTH
    assert big["neuroglancer_inline_url"] == big["neuroglancer_url"]
    response = client.get(big["neuroglancer_state_url"] + "?inline=1")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == 409
    assert body["error"] == "conflict"
    assert f"the limit is {MAX_URL_REDIRECT_LENGTH}" in body["detail"]
    assert body["errors"][0]["field"] == "inline"
    assert big["neuroglancer_url"] in body["detail"], "it names the link to use instead"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_the_length_of_an_inline_fragment_is_counted_without_building_it() -> None:
    states = [
        {},
        {"layers": [{"name": "crop1/all ~_.-", "source": "zarr://s3://b/k", "segmentColors": {"3": "#00ff00"}}]},
        {"position": [1.5, -2e-09, 1e21], "text": 'é unicode \u2603 and "quotes" and \\ back'},
    ]
    for state in states:
        assert ng.inline_fragment_length(state) == len(ng.inline_fragment(state))


def test_the_schema_documents_null_links_and_the_reason(client: Client) -> None:
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()["components"]["schemas"]
    for component in ("DatasetList", "DatasetDetail", "Volume", "Crop", "View"):
        properties = schema[component]["properties"]
        for name in ("neuroglancer_url", "neuroglancer_state_url", "neuroglancer_inline_url"):
            assert properties[name]["nullable"] is True, (component, name)
            assert "viewer_problem" in properties[name]["description"] or name == "neuroglancer_inline_url"
        assert str(MAX_URL_REDIRECT_LENGTH) in properties["neuroglancer_inline_url"]["description"]
        problem = properties["viewer_problem"]
        assert problem["nullable"] is True
        assert set(problem["properties"]) == {"field", "message"}
        assert "409" in problem["description"]
