"""The staff-only ingest API (/api/ingest/) and the IngestRun admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.freshness import PendingChanges
from catalog.models import IngestRun, Volume
from tests.factories import DatasetFactory
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_ingest_data import gradient_volume

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

EM = "ds_api/ds_api.zarr/recon-1/em/fibsem-uint8"


@pytest.fixture
def allowed_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    settings.MEDIA_ROOT = tmp_path / "media"
    bucket = s3_server.create_public_bucket()
    settings.INGEST_ALLOWED_BUCKETS = [bucket]
    write_ome_zarr(s3_server.endpoint_url, bucket, EM, gradient_volume(), (4.0, 4.0, 4.0))
    return bucket


@pytest.fixture
def staff() -> APIClient:
    user = get_user_model().objects.create_user("curator", password="pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_anonymous_users_cannot_start_or_read(allowed_bucket: str) -> None:
    client = APIClient()

    response = client.post(reverse("ingest-run-list"), {"prefix": f"s3://{allowed_bucket}/"}, format="json")

    assert response.status_code in (401, 403)
    assert client.get(reverse("ingest-run-list")).status_code in (401, 403)
    assert not IngestRun.objects.exists()


def test_non_staff_users_cannot_start(allowed_bucket: str) -> None:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("reader", password="pw"))

    response = client.post(reverse("ingest-run-list"), {"prefix": f"s3://{allowed_bucket}/"}, format="json")

    assert response.status_code == 403
    assert not IngestRun.objects.exists()


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("s3://not-allowed-bucket/ds", "bucket 'not-allowed-bucket' is not allowed for ingest"),
        ("http://169.254.169.254/latest/meta-data", "is not an s3:// URL"),
        ("https://evil.example/bucket/x", "is not an s3:// URL"),
        ("s3://../etc", "not a valid S3 bucket name"),
    ],
)
def test_only_allow_listed_s3_buckets(allowed_bucket: str, staff: APIClient, prefix: str, message: str) -> None:
    response = staff.post(reverse("ingest-run-list"), {"prefix": prefix}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "prefix"
    assert message in response.json()["errors"][0]["message"]
    assert not IngestRun.objects.exists()


def test_unknown_dataset_is_a_409(allowed_bucket: str, staff: APIClient) -> None:
    """A well-formed slug that names no dataset: the catalog's state refuses it (see the schema)."""
    response = staff.post(
        reverse("ingest-run-list"), {"prefix": f"s3://{allowed_bucket}/", "dataset": "nope"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["errors"] == [{"field": "dataset", "message": "no dataset with slug 'nope'"}]


def test_staff_start_an_ingest_and_follow_it(
    allowed_bucket: str, staff: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff.post(reverse("ingest-run-list"), {"prefix": f"s3://{allowed_bucket}/ds_api"}, format="json")

    assert response.status_code == 202
    queued = [callback for callback in callbacks if not isinstance(callback, PendingChanges)]
    assert len(queued) == 1
    body = response.json()
    run = IngestRun.objects.get(pk=body["id"])
    assert body["status_url"].endswith(reverse("ingest-run-detail", args=[run.pk]))
    assert response["Location"] == body["status_url"]
    assert run.requested_by.username == "curator"

    status = staff.get(body["status_url"]).json()
    assert status["status"] == "succeeded"
    assert (status["found"], status["created"], status["invalid"]) == (1, 1, 0)
    assert status["progress"] == {"done": 1, "total": 1, "percent": 100}
    assert status["report"]["datasets_created"] == ["ds_api"]
    assert Volume.objects.get().url == f"s3://{allowed_bucket}/{EM}"
    listing = staff.get(reverse("ingest-run-list")).json()
    assert [item["id"] for item in listing["results"]] == [run.pk]


def test_start_into_an_existing_dataset_as_a_dry_run(
    allowed_bucket: str, staff: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    DatasetFactory(slug="target")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("ingest-run-list"),
            {"prefix": f"s3://{allowed_bucket}/ds_api", "dataset": "target", "dry_run": True},
            format="json",
        )

    assert response.status_code == 202
    run = IngestRun.objects.get()
    assert (run.status, run.dry_run, run.dataset.slug, run.created) == ("succeeded", True, "target", 1)
    assert not Volume.objects.exists()


def test_admin_starts_a_run_and_shows_progress(
    allowed_bucket: str, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    admin = get_user_model().objects.create_superuser("admin", password="pw")
    client.force_login(admin)

    refused = client.post(reverse("admin:catalog_ingestrun_add"), {"prefix": "s3://elsewhere/x"})
    assert refused.status_code == 200
    assert "is not allowed for ingest" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:catalog_ingestrun_add"), {"prefix": f"s3://{allowed_bucket}/ds_api"})

    assert response.status_code == 302
    run = IngestRun.objects.get()
    assert (run.status, run.requested_by, run.created) == ("succeeded", admin, 1)
    page = client.get(reverse("admin:catalog_ingestrun_changelist")).content.decode()
    assert '<progress value="1" max="1"></progress>' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:catalog_ingestrun_changelist"),
            {"action": "run_again", "_selected_action": [run.pk]},
        )
    assert IngestRun.objects.count() == 2
    assert IngestRun.objects.order_by("-id").first().updated == 0


def test_listing_runs_costs_a_fixed_number_of_queries(staff: APIClient, django_assert_max_num_queries: Any) -> None:
    user = get_user_model().objects.get(username="curator")
    for index in range(5):
        IngestRun.objects.create(prefix=f"s3://bucket/p{index}", dataset=DatasetFactory(), requested_by=user)

    with django_assert_max_num_queries(2):
        response = staff.get(reverse("ingest-run-list"))

    assert response.status_code == 200
    assert response.json()["count"] == 5
    assert {item["requested_by"] for item in response.json()["results"]} == {"curator"}
