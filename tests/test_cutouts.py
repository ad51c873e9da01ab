"""Cut-outs through moto's S3 server: the zipped OME-Zarr holds exactly the source region (EM and
labels) where the crop is, the same request reuses the artifact, the anonymous cap and rate
limit hold, and a crash mid-job leaves no artifact behind."""

from __future__ import annotations

import io
import threading
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient
from zarr.storage import ZipStore

from catalog.conversion import writer
from catalog.models import CutoutRun
from catalog.services import cutouts, jobs
from tests.fixtures.redis import free_port
from tests.fixtures.s3 import S3Server
from tests.test_crop_contents import SHAPE, classes, crop_bucket, instance_labels, s3_env  # noqa: F401  (fixtures)
from tests.test_crop_downloads import EM, ingested  # noqa: F401  (fixtures)
from tests.test_database_restart import postgresql  # noqa: F401  (fixture)
from tests.test_ingest_data import gradient_volume
from tests.test_sweeper import broker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.s3, pytest.mark.django_db]


@pytest.fixture
def results(ingested: str, s3_env: S3Server, settings: Any, tmp_path: Path) -> str:  # noqa: F811  (fixtures)
    """A results bucket, the crop bucket allow-listed for jobs, and a work folder of the test's own."""
    settings.INGEST_ALLOWED_BUCKETS = [ingested]
    settings.CONVERSION_WORK_DIR = tmp_path / "work"
    settings.CUTOUT_RESULTS_BUCKET = s3_env.create_public_bucket()
    return settings.CUTOUT_RESULTS_BUCKET


@pytest.fixture
def staff() -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("curator", password="pw", is_staff=True))
    return client


def post(client: APIClient, capture: Any, body: dict[str, Any]) -> Any:
    with capture(execute=True):
        return client.post("/api/cutouts/", body, format="json")


def artifacts(server: S3Server, bucket: str) -> list[str]:
    return [item["Key"] for item in server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def open_artifact(url: str, tmp_path: Path) -> zarr.Group:
    with urllib.request.urlopen(url) as response:  # the presigned link, as a browser would fetch it
        data = response.read()
    path = tmp_path / "cutout.zip"
    path.write_bytes(data)
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    return zarr.open_group(store=ZipStore(path, mode="r"), mode="r")


def transforms(group: zarr.Group) -> tuple[list[float], list[float]]:
    dataset = group.attrs["ome"]["multiscales"][0]["datasets"][0]
    scale, translation = dataset["coordinateTransformations"]
    return scale["scale"], translation["translation"]


def test_a_crop_cutout_holds_exactly_the_region_where_the_crop_is(
    results: str,
    django_capture_on_commit_callbacks: Any,
    tmp_path: Path,
    s3_env: S3Server,  # noqa: F811
) -> None:
    response = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "padding_nm": 40})

    assert response.status_code == 202, response.content
    body = APIClient().get(response["Location"]).json()
    assert body["status"] == "succeeded", body["error"]
    assert body["progress"] == {"done": 7, "total": 7, "percent": 100}
    group = open_artifact(body["download_url"], tmp_path)
    # padded by 40 nm the crop needs EM voxels 15:40, 40:69, 65:94 (see test_crop_downloads)
    np.testing.assert_array_equal(group["s0"][...], gradient_volume((64, 96, 128))[15:40, 40:69, 65:94])
    assert transforms(group) == ([4.0, 4.0, 4.0], [60.0, 160.0, 260.0])
    labels = group["labels"]
    assert labels.attrs["ome"]["labels"] == ["all", "er", "mito", "nuc", "ves"]
    np.testing.assert_array_equal(labels["mito"]["s0"][...], instance_labels())
    nuc = np.zeros(SHAPE, dtype="uint8")
    nuc[:4] = 1
    np.testing.assert_array_equal(labels["nuc"]["s0"][...], nuc)
    assert transforms(labels["mito"]) == ([2.0, 2.0, 2.0], [100.0, 200.0, 300.0])
    assert labels["mito"].attrs["ome"]["image-label"] is not None
    assert artifacts(s3_env, results) == [body["artifact_url"].removeprefix(f"s3://{results}/")]


def test_chosen_classes_only(results: str, django_capture_on_commit_callbacks: Any, tmp_path: Path) -> None:
    response = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "classes": ["mito"]})

    body = APIClient().get(response["Location"]).json()
    group = open_artifact(body["download_url"], tmp_path)
    assert group["labels"].attrs["ome"]["labels"] == ["mito"]
    assert group["s0"].shape == (5, 9, 9)  # the crop itself: EM voxels 25:30, 50:59, 75:84


def test_the_same_request_reuses_the_artifact(
    results: str,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    s3_env: S3Server,  # noqa: F811
) -> None:
    calls: list[str] = []
    original = writer.write_multiscale

    def counting(store: Any, layout: writer.Layout, *args: Any, **kwargs: Any) -> None:
        calls.append(layout.name)
        original(store, layout, *args, **kwargs)

    monkeypatch.setattr(writer, "write_multiscale", counting)
    first = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "classes": ["nuc", "mito"]})
    again = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "classes": ["mito", "nuc"]})

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert calls == ["em", "mito", "nuc"]
    # a new run of the same request (the first one's row gone) finds the artifact and writes nothing
    url = first.json()["artifact_url"]
    CutoutRun.objects.all().delete()
    third = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "classes": ["nuc", "mito"]})
    assert third.status_code == 202
    assert APIClient().get(third["Location"]).json()["status"] == "succeeded"
    assert third.json()["artifact_url"] == url
    assert calls == ["em", "mito", "nuc"]
    assert len(artifacts(s3_env, results)) == 1


def test_a_request_over_the_anonymous_cap_is_a_400_naming_the_cap(
    results: str, django_capture_on_commit_callbacks: Any, settings: Any, staff: APIClient
) -> None:
    settings.CUTOUT_ANONYMOUS_MAX_BYTES = 1000

    response = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "classes": ["mito"]})

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "size"
    assert "capped at 1000 bytes (CUTOUT_ANONYMOUS_MAX_BYTES)" in error["message"]
    assert "2453 bytes" in error["message"]  # 405 EM voxels + 2048 label voxels, one byte each
    assert not CutoutRun.objects.exists()
    assert post(staff, django_capture_on_commit_callbacks, {"crop": 7, "classes": ["mito"]}).status_code == 202


def test_anonymous_cutouts_are_rate_limited_staff_are_not(
    results: str, django_capture_on_commit_callbacks: Any, settings: Any, staff: APIClient
) -> None:
    settings.CUTOUT_ANONYMOUS_RATE = "1/minute"

    assert post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "classes": ["er"]}).status_code == 202
    limited = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "classes": ["nuc"]})
    assert limited.status_code == 429
    for name in ("nuc", "ves"):
        assert post(staff, django_capture_on_commit_callbacks, {"crop": 7, "classes": [name]}).status_code == 202


def test_a_crash_mid_job_leaves_no_artifact(
    results: str,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    s3_env: S3Server,  # noqa: F811
) -> None:
    original = writer.write_pyramid_part
    calls = []

    def crash_halfway(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 3:  # the EM and one class are written, the next class is not
            raise OSError("disk full (simulated)")
        return original(*args, **kwargs)

    monkeypatch.setattr(writer, "write_pyramid_part", crash_halfway)
    response = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "padding_nm": 8})
    assert list(settings.CONVERSION_WORK_DIR.iterdir()) == []  # nor a half-written folder

    assert response.status_code == 202
    body = APIClient().get(response["Location"]).json()
    assert body["status"] == "failed"
    assert body["error"] == "OSError: disk full (simulated)"
    assert body["download_url"] is None
    assert body["progress"]["done"] == 2
    assert artifacts(s3_env, results) == []
    # the failed run is not reused: asking again makes the artifact
    monkeypatch.setattr(writer, "write_pyramid_part", original)
    retry = post(APIClient(), django_capture_on_commit_callbacks, {"crop": 7, "padding_nm": 8})
    assert retry.status_code == 202
    assert APIClient().get(retry["Location"]).json()["status"] == "succeeded"
    assert len(artifacts(s3_env, results)) == 1


def test_a_box_of_a_dataset_cuts_the_em(results: str, django_capture_on_commit_callbacks: Any, tmp_path: Path) -> None:
    box = {"dataset": "ds_one", "lower_nm": {"z": 0, "y": 0, "x": 0}, "upper_nm": {"z": 30, "y": 60, "x": 90}}
    response = post(APIClient(), django_capture_on_commit_callbacks, {**box, "em_level": "1"})

    assert response.status_code == 202, response.content
    body = APIClient().get(response["Location"]).json()
    group = open_artifact(body["download_url"], tmp_path)
    assert "labels" not in group
    assert transforms(group)[0] == [8.0, 8.0, 8.0]
    assert group["s0"].shape == (4, 8, 12)  # 8 nm voxels centred on 2, 10, ... cover 0..30, 0..60, 0..90


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        # What the catalog does not hold is a conflict with its state (409), as on every write.
        ({"crop": 7, "classes": ["golgi"]}, 409, "classes", "it has: all, er, mito, nuc, ves"),
        ({"crop": 999}, 409, "crop", "no crop 999"),
        ({"crop": 7, "em_level": "9"}, 409, "em_level", "its levels are: 0, 1, 2"),
        # A request that cannot mean anything is a 400.
        ({}, 400, "crop", "Give a crop"),
        ({"dataset": "ds_one", "lower_nm": {"z": 0, "y": 0, "x": 0}}, 400, "upper_nm", "z, y and x"),
    ],
)
def test_bad_requests_name_the_field(
    results: str,
    django_capture_on_commit_callbacks: Any,
    body: dict[str, Any],
    status: int,
    field: str,
    words: str,
) -> None:
    response = post(APIClient(), django_capture_on_commit_callbacks, body)

    assert response.status_code == status
    error = response.json()["errors"][0]
    assert (error["field"], words in error["message"]) == (field, True), error
    assert not CutoutRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_cutout_with_the_broker_down_answers_503_and_fails_the_run(
    results: str,
    broker: Any,  # noqa: F811
) -> None:
    broker(f"redis://127.0.0.1:{free_port()}/0")

    response = APIClient().post("/api/cutouts/", {"crop": 7, "classes": ["mito"]}, format="json")

    assert response.status_code == 503, response.content
    run = CutoutRun.objects.get()
    assert f"cutout run {run.pk} was recorded as failed" in response.json()["detail"]
    assert (run.status, run.enqueued_at) == ("failed", None)
    assert "task broker could not be reached" in run.enqueue_error
    assert CutoutRun in jobs.job_models()  # the sweeper watches cut-outs too


def test_the_api_root_and_schema_list_cutouts() -> None:
    assert APIClient().get("/api/").json()["cutouts"] == "http://testserver/api/cutouts/"
    paths = APIClient().get("/api/schema/?format=json").json()["paths"]
    assert set(paths["/api/cutouts/"]) == {"post"}
    assert set(paths["/api/cutouts/{id}/"]) == {"get"}
    assert {"200", "202", "400", "429", "503"} <= set(paths["/api/cutouts/"]["post"]["responses"])


@pytest.mark.django_db(transaction=True)
def test_identical_requests_at_once_get_one_run(
    results: str,
    postgresql: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "enqueue_job", lambda job: None)  # only the bookkeeping races here
    barrier = threading.Barrier(2)
    answers: list[tuple[int, bool]] = []

    def ask() -> None:
        try:
            barrier.wait(timeout=10)
            run, created = cutouts.start_cutout(requested_by=None, crop_number=7, classes=["mito"])
            answers.append((run.pk, created))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert CutoutRun.objects.count() == 1
    assert sorted(created for _, created in answers) == [False, True]
    assert len({pk for pk, _ in answers}) == 1
