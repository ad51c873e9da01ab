"""'Compare with my prediction': a crop's state with the user's OME-Zarr over its EM and ground
truth, the URL checked as text (scheme allow-list, length cap) and never fetched by the server."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from catalog import s3
from catalog.neuroglancer import recipe
from tests.test_crop_api import crops  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("crops")]

PREDICTION = "s3://my-bucket/predictions.zarr/crop1/nuc"


@pytest.fixture(autouse=True)
def no_fetching(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read from S3 or HTTP by the server fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the server fetched something")

    monkeypatch.setattr(s3.S3Reader, "get", refuse)
    monkeypatch.setattr(s3.S3Reader, "list_directory", refuse)
    monkeypatch.setattr("urllib.request.urlopen", refuse)


def state(client: Client, **query: str) -> Any:
    return client.get(reverse("state-crop", args=[1]), query)


def layers(body: dict) -> dict[str, dict]:
    return {layer["name"]: layer for layer in body["layers"]}


def test_the_prediction_is_a_layer_over_the_crops_ground_truth(client: Client) -> None:
    plain = state(client).json()
    response = state(client, prediction=PREDICTION)

    assert response.status_code == 200
    body = response.json()
    found = layers(body)
    assert found["prediction"]["type"] == "segmentation"
    # placed by its own OME metadata: no transform of ours
    assert found["prediction"]["source"] == [{"url": f"zarr://{PREDICTION}"}]
    assert body["selectedLayer"]["layer"] == "prediction"
    assert set(layers(plain)) | {"prediction"} == set(found)
    assert body["position"] == plain["position"]


def test_an_image_prediction_and_a_forced_zarr_version(client: Client) -> None:
    body = state(client, prediction=f"zarr3://{PREDICTION}", prediction_type="image").json()

    assert layers(body)["prediction"]["type"] == "image"
    assert f"zarr3://{PREDICTION}" in str(layers(body)["prediction"]["source"])


def test_each_prediction_gets_its_own_state(client: Client) -> None:
    one = state(client, prediction=PREDICTION).json()
    two = state(client, prediction="https://example.org/other.zarr").json()

    assert layers(one)["prediction"] != layers(two)["prediction"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"prediction": "javascript:alert(1)"}, "prediction"),
        ({"prediction": "file:///etc/passwd"}, "prediction"),
        ({"prediction": "ftp://example.org/pred.zarr"}, "prediction"),
        ({"prediction": "s3:///no-bucket"}, "prediction"),
        ({"prediction": "https://example.org/a b.zarr"}, "prediction"),
        ({"prediction": "https://example.org/" + "a" * recipe.PREDICTION_URL_MAX}, "prediction"),
        ({"prediction": ""}, "prediction"),
        ({"prediction": PREDICTION, "prediction_type": "mesh"}, "prediction_type"),
        ({"prediction_type": "image"}, "prediction"),
    ],
)
def test_bad_predictions_are_a_400_naming_the_parameter(client: Client, query: dict[str, str], field: str) -> None:
    response = state(client, **query)

    assert response.status_code == 400
    body = response.json()
    assert field in {error["field"] for error in body["errors"]}
    assert response["Access-Control-Allow-Origin"] == "*"


def test_a_missing_crop_is_still_a_404(client: Client) -> None:
    assert client.get(reverse("state-crop", args=[999]), {"prediction": PREDICTION}).status_code == 404


def test_the_crop_pages_compare_form_lands_in_the_viewer(client: Client) -> None:
    page = client.get(reverse("catalog:crop-detail", args=[1])).content.decode()
    assert f'action="{reverse("state-crop", args=[1])}"' in page
    assert '<input type="hidden" name="inline" value="1">' in page

    response = state(client, prediction=PREDICTION, inline="1")

    assert response.status_code == 302
    assert "prediction" in response["Location"]
    assert "zarr%3A%2F%2Fs3%3A%2F%2Fmy-bucket" in response["Location"]
