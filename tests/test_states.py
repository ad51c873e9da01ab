"""The state endpoints (/api/states/...), the links to them and the /neuroglancer/ page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from catalog.indexing import refresh_derived
from catalog.models import SavedState, Volume
from catalog.models.base import ContentType, VolumeFormat, VolumeKind, VolumeStatus
from catalog.neuroglancer import recipe as ng
from catalog.neuroglancer.links import STATE_URL_NAMES, neuroglancer_links
from tests.factories import (
    CropFactory,
    DatasetFactory,
    LabelClassFactory,
    ViewFactory,
    VolumeFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def hela() -> dict:
    """A dataset with an EM image, a meshed segmentation, a prediction and a TIFF."""
    dataset = DatasetFactory(slug="jrc_hela-2", extent_x=48000.0, extent_y=6000.0, extent_z=33000.0)
    mito = LabelClassFactory(name="mito", label_id=3, colour="#00ff00")
    em = VolumeFactory(dataset=dataset, name="fibsem-uint8", scale_y=-4.0, translation_y=6400.0)
    seg = VolumeFactory(
        dataset=dataset,
        name="mito_seg",
        kind=VolumeKind.SEGMENTATION,
        content_type=ContentType.SEGMENTATION,
        label_class=mito,
        dtype="uint64",
    )
    seg.meshes.create(name="mito_seg", url="s3://test-bucket/mesh/mito_seg", format="neuroglancer_legacy_mesh")
    pred = VolumeFactory(
        dataset=dataset, name="mito_pred", content_type=ContentType.PREDICTION, display_colour="#00ff00"
    )
    tiff = VolumeFactory(dataset=dataset, name="raw-tiff", format=VolumeFormat.TIFF, url="s3://test-bucket/raw.tif")
    return {"dataset": dataset, "em": em, "seg": seg, "pred": pred, "tiff": tiff, "mito": mito}


def get_state(client: Client, url: str, **headers: str) -> tuple[int, dict | None, object]:
    response = client.get(url, headers=headers)
    body = json.loads(response.content) if response.content else None
    return response.status_code, body, response


def test_dataset_state_is_served_with_cors_etag_and_cache_headers(client: Client, hela: dict) -> None:
    status, state, response = get_state(client, reverse("state-dataset", args=["jrc_hela-2"]))

    assert status == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cache-Control"] == "public, max-age=60, must-revalidate"
    assert response["ETag"].startswith('"')
    assert not response["ETag"].startswith("W/")
    assert [layer["name"] for layer in state["layers"]] == ["fibsem-uint8", "mito_pred", "mito_seg"]
    assert ng.parse_state(state) == state


def test_conditional_get_answers_304_and_head_has_no_body(client: Client, hela: dict) -> None:
    url = reverse("state-dataset", args=["jrc_hela-2"])
    etag = client.get(url)["ETag"]

    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert not_modified["Access-Control-Allow-Origin"] == "*"

    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    head = client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head["ETag"] == etag


def test_etag_changes_when_the_state_changes(client: Client, hela: dict, django_capture_on_commit_callbacks) -> None:
    url = reverse("state-dataset", args=["jrc_hela-2"])
    before = client.get(url)["ETag"]
    volume = Volume.objects.get(pk=hela["em"].pk)
    volume.contrast_start = 10
    with django_capture_on_commit_callbacks(execute=True):
        volume.save()

    assert client.get(url)["ETag"] != before


def test_preflight_is_answered(client: Client, hela: dict) -> None:
    response = client.options(
        reverse("state-dataset", args=["jrc_hela-2"]),
        headers={"Origin": "https://neuroglancer-demo.appspot.com", "Access-Control-Request-Method": "GET"},
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response["Access-Control-Allow-Methods"]


def test_writes_to_a_state_are_refused(client: Client, hela: dict) -> None:
    response = client.post(reverse("state-dataset", args=["jrc_hela-2"]))

    assert response.status_code == 405
    assert "POST" in json.loads(response.content)["detail"]


def test_unviewable_volume_is_left_out_with_its_reason_and_nothing_written(client: Client, hela: dict) -> None:
    status, body, _ = get_state(client, reverse("state-dataset", args=["jrc_hela-2"]))
    assert status == 200
    assert "raw-tiff" not in {layer["name"] for layer in body["layers"]}

    status, body, response = get_state(client, reverse("state-volume", args=[hela["tiff"].pk]))
    assert status == 409
    assert body["status"] == 409, "the API's error envelope"
    assert body["error"] == "conflict"
    assert body["errors"][0]["field"] == "format"
    assert "TIFF" in body["detail"]
    assert response["Access-Control-Allow-Origin"] == "*"
    tiff = Volume.objects.get(pk=hela["tiff"].pk)
    assert tiff.validation_errors == [], "a GET writes nothing"
    assert tiff.status == VolumeStatus.OK


def test_the_write_path_stores_every_volumes_viewer_problem(hela: dict, django_assert_max_num_queries) -> None:
    broken = VolumeFactory(dataset=hela["dataset"], name="local", url="/nrs/cosem/local.zarr")

    refresh_derived([hela["dataset"].pk])

    stored = dict(Volume.objects.values_list("name", "viewer_problem_field"))
    assert stored == {"fibsem-uint8": "", "mito_seg": "", "mito_pred": "", "raw-tiff": "format", "local": "url"}
    assert "not a remote storage URL" in Volume.objects.get(pk=broken.pk).viewer_problem
    with django_assert_max_num_queries(20) as queries:
        refresh_derived([hela["dataset"].pk])
    assert not [q for q in queries.captured_queries if 'UPDATE "catalog_volume"' in q["sql"]], "idempotent"


def test_local_path_volume_answers_409(client: Client, hela: dict) -> None:
    volume = VolumeFactory(dataset=hela["dataset"], name="local", url="/nrs/cosem/local.zarr")

    status, body, _ = get_state(client, reverse("state-volume", args=[volume.pk]))

    assert status == 409
    assert body["errors"] == [{"field": "url", "message": body["detail"]}]


def test_volume_state_is_centred_on_the_volume(client: Client, hela: dict) -> None:
    status, state, _ = get_state(client, reverse("state-volume", args=[hela["seg"].pk]))

    assert status == 200
    # 100 voxels of 4 x 4 x 5.24 nm; OME-Zarr puts the centre of voxel 0 at the origin, so the
    # middle voxel 50 is centred on 50.0 of the grid (the dataset's voxel size).
    assert state["position"] == [50.0, 50.0, 50.0]
    assert state["layers"][0]["segmentDefaultColor"] == "#00ff00"
    assert state["layers"][0]["source"][1]["url"] == "precomputed://s3://test-bucket/mesh/mito_seg"


def test_sources_use_the_configured_s3_endpoint(client: Client, hela: dict, settings) -> None:
    settings.AWS_ENDPOINT_URL_S3 = "http://127.0.0.1:9999"

    _, state, _ = get_state(client, reverse("state-volume", args=[hela["em"].pk]))

    slug = hela["dataset"].slug
    assert state["layers"][0]["source"][0]["url"] == (
        f"zarr://http://127.0.0.1:9999/test-bucket/{slug}/{slug}.zarr/fibsem-uint8"
    )


def test_crop_state_is_centred_on_the_crop(client: Client, hela: dict) -> None:
    crop = CropFactory(dataset=hela["dataset"], number=7)
    crop.label_classes.add(hela["mito"], LabelClassFactory(name="er", label_id=16, colour="#0000ff"))

    status, state, _ = get_state(client, reverse("state-crop", args=[7]))

    assert status == 200
    # The label voxels (OME: translation is the centre of voxel 0) span (999, 1999, 2999) nm +
    # 400 * 2 nm; the middle label voxel 200 is centred on (1400, 2400, 3400) nm = (700, 1200, 1700).
    assert state["position"] == [700.0, 1200.0, 1700.0]
    assert state["dimensions"]["x"] == [2e-09, "m"]
    names = [layer["name"] for layer in state["layers"]]
    assert names == ["fibsem-uint8", "crop7/all", "crop7/mito", "crop7/er", "crop7 box"]
    box = state["layers"][-1]["annotations"][0]
    assert box["pointA"] == [499.5, 999.5, 1499.5]
    assert box["pointB"] == [899.5, 1399.5, 1899.5]
    assert state["layers"][1]["segmentColors"] == {"3": "#00ff00", "16": "#0000ff"}


def test_crop_state_prefers_the_em_stored_with_its_labels(client: Client, hela: dict) -> None:
    slug = hela["dataset"].slug
    VolumeFactory(
        dataset=hela["dataset"], name="a-fibsem-uint8-n5", format=VolumeFormat.N5, url=f"s3://other/{slug}.n5/em"
    )
    CropFactory(dataset=hela["dataset"], number=9)

    _, state, _ = get_state(client, reverse("state-crop", args=[9]))

    assert state["layers"][0]["name"] == "fibsem-uint8"


def test_crop_of_a_dataset_without_images_still_has_a_state(client: Client) -> None:
    CropFactory(number=8)

    status, state, _ = get_state(client, reverse("state-crop", args=[8]))

    assert status == 200
    assert state["layers"][0]["name"] == "crop8/all"


def test_view_state_skips_dangling_layers_and_keeps_the_order(client: Client, hela: dict) -> None:
    view = ViewFactory(dataset=hela["dataset"], position_x=400.0, position_y=800.0, position_z=524.0, scale=8.0)
    view.layers.create(position=0, name="mito_seg", volume=hela["seg"])
    view.layers.create(position=1, name="gone", volume=None)
    view.layers.create(position=2, name="fibsem-uint8", volume=hela["em"])

    status, state, _ = get_state(client, reverse("state-view", args=[view.pk]))

    assert status == 200
    assert [layer["name"] for layer in state["layers"]] == ["fibsem-uint8", "mito_seg"]
    assert state["position"] == [100.5, 200.5, 100.5]
    assert state["crossSectionScale"] == 2.0
    assert state["crossSectionOrientation"] == [0.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize("orientation", [[0, 0, 0, 0], "sideways", {"w": 1}, [1, "a", None, 2]])
def test_odd_view_data_never_gives_500(client: Client, hela: dict, orientation: object) -> None:
    view = ViewFactory(dataset=hela["dataset"], orientation=orientation, scale=None, position_x=None)
    view.layers.create(position=0, name="raw-tiff", volume=hela["tiff"])

    status, body, _ = get_state(client, reverse("state-view", args=[view.pk]))

    assert status == 409
    assert "None of the volumes" in body["detail"]
    assert body["errors"][0]["name"] == "raw-tiff"

    view.layers.create(position=1, name="fibsem-uint8", volume=hela["em"])
    status, state, _ = get_state(client, reverse("state-view", args=[view.pk]))
    assert status == 200
    assert [layer["name"] for layer in state["layers"]] == ["fibsem-uint8"]
    assert "crossSectionOrientation" not in state
    ng.parse_state(state)


def test_dataset_without_geometry_and_volumes_without_shape_or_scale(client: Client) -> None:
    dataset = DatasetFactory(slug="bare", voxel_size_x=None, voxel_size_y=None, voxel_size_z=None)
    VolumeFactory(
        dataset=dataset,
        name="em",
        shape_x=None,
        shape_y=None,
        shape_z=None,
        scale_x=None,
        scale_y=None,
        scale_z=None,
        translation_x=None,
        translation_y=None,
        translation_z=None,
        contrast_min=None,
        contrast_max=None,
        contrast_start=None,
        contrast_end=None,
        dtype="",
    )

    status, state, _ = get_state(client, reverse("state-dataset", args=["bare"]))

    assert status == 200
    assert "position" not in state
    assert state["dimensions"]["x"] == [1e-09, "m"]
    assert state["layers"][0]["source"] == [{"url": "zarr://s3://test-bucket/bare/bare.zarr/em"}]


def test_dataset_with_nothing_viewable_answers_409_with_every_reason(client: Client) -> None:
    dataset = DatasetFactory(slug="platelet-em")
    VolumeFactory(dataset=dataset, name="24-images", format=VolumeFormat.TIFF, url="24-images.tif")
    VolumeFactory(dataset=dataset, name="24-semantic", format=VolumeFormat.TIFF, url="24-semantic.tif")
    empty = DatasetFactory(slug="empty")

    status, body, response = get_state(client, reverse("state-dataset", args=["platelet-em"]))
    assert status == 409
    assert [error["name"] for error in body["errors"]] == ["24-images", "24-semantic"]
    assert response["Access-Control-Allow-Origin"] == "*"

    status, body, _ = get_state(client, reverse("state-dataset", args=[empty.slug]))
    assert status == 409
    assert body["detail"] == "This dataset has no volumes to show."


def test_challenge_dataset_without_geometry_opens_on_its_first_crop(client: Client) -> None:
    dataset = DatasetFactory(slug="jrc_cos7-1a", voxel_size_x=None, voxel_size_y=None, voxel_size_z=None)
    VolumeFactory(dataset=dataset, name="recon-1/em/fibsem-uint8", **{f"scale_{a}": None for a in "xyz"})
    CropFactory(dataset=dataset, number=236)
    CropFactory(dataset=dataset, number=234, translation_x=0.0, translation_y=0.0, translation_z=0.0)

    _, state, _ = get_state(client, reverse("state-dataset", args=["jrc_cos7-1a"]))

    # Crop 234's 2 nm label voxels span -1 .. 799 nm on each axis; the grid is 1 nm, and the
    # position is the centre of the grid voxel just past the middle, inside label voxel 200.
    assert state["position"] == [399.5, 399.5, 399.5]
    assert "transform" not in state["layers"][0]["source"][0]
    crops = state["layers"][-1]
    assert crops["name"] == "crops"
    assert [(box["id"], box["pointA"], box["pointB"]) for box in crops["annotations"]] == [
        ("crop234", [-1.0, -1.0, -1.0], [799.0, 799.0, 799.0]),
        ("crop236", [999.0, 1999.0, 2999.0], [1799.0, 2799.0, 3799.0]),
    ]


def test_unknown_records_answer_404_with_cors(client: Client) -> None:
    for url in (
        reverse("state-dataset", args=["nope"]),
        reverse("state-volume", args=[999999]),
        reverse("state-crop", args=[999999]),
        reverse("state-view", args=[999999]),
        reverse("state-saved", args=["nope"]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response["Access-Control-Allow-Origin"] == "*"
        assert json.loads(response.content)["detail"]


def test_custom_state_from_ids(client: Client, hela: dict) -> None:
    url = reverse("state-custom")
    status, state, response = get_state(client, f"{url}?volumes={hela['seg'].pk},{hela['em'].pk}")

    assert status == 200
    assert [layer["name"] for layer in state["layers"]] == ["fibsem-uint8", "mito_seg"]
    assert all(layer.get("visible", True) for layer in state["layers"])
    assert response["Access-Control-Allow-Origin"] == "*"

    posted = client.post(url, data={"volumes": [hela["em"].pk]}, content_type="application/json")
    assert posted.status_code == 200
    assert [layer["name"] for layer in json.loads(posted.content)["layers"]] == ["fibsem-uint8"]


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("", 400, "volumes"),
        ("?volumes=abc", 400, "'abc'"),
        ("?volumes=99999999999999999999", 400, "is not a volume id"),
        ("?volumes=-3", 400, "is not a volume id"),
        ("?volumes=999999", 404, "999999"),
    ],
)
def test_custom_state_rejects_bad_ids(client: Client, hela: dict, query: str, status: int, words: str) -> None:
    response = client.get(reverse("state-custom") + query)

    assert response.status_code == status
    assert words in json.loads(response.content)["detail"]


def test_custom_state_rejects_volumes_of_two_datasets(client: Client, hela: dict) -> None:
    other = VolumeFactory()

    response = client.get(f"{reverse('state-custom')}?volumes={hela['em'].pk},{other.pk}")

    assert response.status_code == 400
    assert "one dataset" in json.loads(response.content)["detail"]


def test_custom_state_rejects_a_bad_body(client: Client) -> None:
    url = reverse("state-custom")
    assert client.post(url, data="{not json", content_type="application/json").status_code == 400
    assert client.post(url, data=[1, 2], content_type="application/json").status_code == 400


def test_inline_redirects_to_the_viewer_with_the_state_in_the_fragment(client: Client, hela: dict, settings) -> None:
    settings.NEUROGLANCER_VIEWER_URL = "https://viewer.example/"
    url = reverse("state-dataset", args=["jrc_hela-2"])
    state = json.loads(client.get(url).content)

    response = client.get(url + "?inline=1")

    assert response.status_code == 302
    assert response["Location"] == ng.inline_neuroglancer_url("https://viewer.example/", state)


def test_dataset_state_query_count_is_fixed(client: Client, hela: dict, django_assert_max_num_queries) -> None:
    for i in range(10):
        seg = VolumeFactory(dataset=hela["dataset"], kind=VolumeKind.SEGMENTATION, name=f"extra-{i}")
        seg.meshes.create(name=f"m{i}", url=f"s3://test-bucket/mesh/{i}", format="neuroglancer_legacy_mesh")
        seg.channels.create(index=0, name="c0")
        seg.segment_labels.create(value=1, name="one")
    client.get(reverse("state-dataset", args=["jrc_hela-2"]))  # records the TIFF's reason once

    with django_assert_max_num_queries(9):
        assert client.get(reverse("state-dataset", args=["jrc_hela-2"])).status_code == 200


# -- saved states ------------------------------------------------------------------------------------

SIMPLE_STATE = {
    "dimensions": {"x": [4e-09, "m"], "y": [4e-09, "m"], "z": [4e-09, "m"]},
    "layers": [{"type": "image", "source": "zarr://s3://bucket/em.zarr", "name": "em"}],
    "layout": "xy",
}


def test_save_and_fetch_a_state(client: Client) -> None:
    response = client.post(reverse("state-save"), data=SIMPLE_STATE, content_type="application/json")

    assert response.status_code == 201
    body = json.loads(response.content)
    assert response["Location"] == body["neuroglancer_state_url"]
    assert body["neuroglancer_url"].endswith("#!" + body["neuroglancer_state_url"])
    assert len(body["key"]) >= 12
    assert response["Access-Control-Allow-Origin"] == "*"

    fetched = client.get(body["neuroglancer_state_url"])
    assert fetched.status_code == 200
    assert json.loads(fetched.content) == SIMPLE_STATE
    assert fetched["Access-Control-Allow-Origin"] == "*"
    assert "immutable" in fetched["Cache-Control"]
    assert client.get(body["neuroglancer_state_url"], headers={"If-None-Match": fetched["ETag"]}).status_code == 304


def test_saving_the_same_state_twice_gives_the_same_link(client: Client) -> None:
    first = json.loads(client.post(reverse("state-save"), data=SIMPLE_STATE, content_type="application/json").content)
    second = json.loads(client.post(reverse("state-save"), data=SIMPLE_STATE, content_type="application/json").content)

    assert first["key"] == second["key"]
    assert SavedState.objects.count() == 1


def test_save_can_answer_like_a_neuroglancer_state_server(client: Client) -> None:
    response = client.post(reverse("state-save") + "?response=url", data=SIMPLE_STATE, content_type="application/json")

    assert response.status_code == 201
    assert json.loads(response.content) == response["Location"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ("{}", "JSON object"),
        ('{"layers": 5}', "Neuroglancer cannot read"),
        ('{"position": "abc"}', "Neuroglancer cannot read"),
    ],
)
def test_save_rejects_bad_states_and_stores_nothing(client: Client, body: str, words: str) -> None:
    response = client.post(reverse("state-save"), data=body, content_type="application/json")

    assert response.status_code == 400
    assert words in json.loads(response.content)["detail"]
    assert SavedState.objects.count() == 0


def test_save_caps_the_size(client: Client, settings) -> None:
    settings.NEUROGLANCER_SAVED_STATE_MAX_BYTES = 1000
    big = {**SIMPLE_STATE, "title": "x" * 2000}

    response = client.post(reverse("state-save"), data=big, content_type="application/json")

    assert response.status_code == 413
    assert "1000 bytes" in json.loads(response.content)["detail"]
    assert SavedState.objects.count() == 0


def test_save_default_cap_is_one_mebibyte(settings) -> None:
    assert settings.NEUROGLANCER_SAVED_STATE_MAX_BYTES == 1024 * 1024


def test_saves_are_throttled_per_client(client: Client, settings) -> None:
    settings.NEUROGLANCER_SAVE_RATE = "2/minute"
    codes = [
        client.post(
            reverse("state-save"), data={**SIMPLE_STATE, "title": str(i)}, content_type="application/json"
        ).status_code
        for i in range(3)
    ]

    assert codes == [201, 201, 429]


def test_save_only_accepts_post(client: Client) -> None:
    assert client.get(reverse("state-save")).status_code == 405
    assert client.options(reverse("state-save")).status_code == 204


# -- links and the viewer page ---------------------------------------------------------------------------


def test_links_cost_no_query_and_point_at_the_state(rf, settings, django_assert_num_queries) -> None:
    settings.NEUROGLANCER_VIEWER_URL = "https://neuroglancer-demo.appspot.com/"
    request = rf.get("/api/datasets/")

    with django_assert_num_queries(0):
        links = neuroglancer_links(request, "dataset", "jrc_hela-2", inline_length=9000)

    assert links["neuroglancer_state_url"] == "http://testserver/api/states/datasets/jrc_hela-2/"
    assert links["neuroglancer_url"] == (
        "https://neuroglancer-demo.appspot.com/#!http://testserver/api/states/datasets/jrc_hela-2/"
    )
    assert links["neuroglancer_inline_url"] == "http://testserver/api/states/datasets/jrc_hela-2/?inline=1"
    for kind, key, path in (
        ("volume", 5, "/api/states/volumes/5/"),
        ("crop", 234, "/api/states/crops/234/"),
        ("view", 9, "/api/states/views/9/"),
    ):
        assert neuroglancer_links(request, kind, key)["neuroglancer_state_url"] == f"http://testserver{path}"


def test_viewer_defaults_to_the_self_hosted_build(rf, settings, tmp_path: Path) -> None:
    settings.NEUROGLANCER_VIEWER_URL = ""
    settings.VIEWER_DIST_DIR = tmp_path
    request = rf.get("/")
    assert neuroglancer_links(request, "volume", 1)["neuroglancer_url"].startswith(
        "https://neuroglancer-demo.appspot.com/#!"
    )

    (tmp_path / "index.html").write_text("<!doctype html><title>built viewer</title>")
    request = rf.get("/")  # the next request: one request decides its viewer once
    assert neuroglancer_links(request, "volume", 1)["neuroglancer_url"] == (
        "http://testserver/neuroglancer/#!http://testserver/api/states/volumes/1/"
    )


def test_viewer_page_serves_the_build(client: Client, settings, tmp_path: Path) -> None:
    settings.VIEWER_DIST_DIR = tmp_path
    (tmp_path / "index.html").write_text("<!doctype html><title>built viewer</title>")

    response = client.get(reverse("neuroglancer-viewer"))

    assert response.status_code == 200
    assert b"built viewer" in response.content


def test_viewer_page_without_a_build_says_so(client: Client, settings, tmp_path: Path) -> None:
    settings.VIEWER_DIST_DIR = tmp_path

    response = client.get(reverse("neuroglancer-viewer"))

    assert response.status_code == 200
    assert b"not built" in response.content
    assert b"https://neuroglancer-demo.appspot.com/" in response.content


@pytest.mark.parametrize(("kind", "key"), [("dataset", "jrc_hela-2"), ("volume", 7), ("crop", 112), ("view", 3)])
def test_state_links_are_the_reversed_state_urls(kind: str, key: str | int) -> None:
    """The state path is reversed once per process with a placeholder key (catalog.neuroglancer.links)."""
    for _ in range(2):  # the first call reverses, the second reuses
        assert neuroglancer_links(None, kind, key)["neuroglancer_state_url"] == reverse(
            STATE_URL_NAMES[kind], args=[key]
        )
