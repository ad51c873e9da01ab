"""The Celery ingest task (eagerly here) and what S3 faults in the middle of a run do.

The fault tests read through a second moto server of their own, which they stop halfway
through a run from the progress hook; moto keeps its buckets per process, so that server
and the session's server serve the same data and the "outage" can be lifted by starting a
server on the same port again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import Retry
from moto.server import ThreadedMotoServer

from catalog.models import Dataset, IngestRun, Volume, VolumeStatistics
from catalog.s3 import S3TransientError
from catalog.services import ingest as ingest_service
from catalog.tasks import ingest_run_task, retry_delay
from tests.factories import VolumeFactory
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_ingest_data import gradient_volume, write_n5_multiscale

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

FIRST = ("ds_a/ds_a.zarr/recon-1/em/fibsem-uint8", "ds_a/ds_a.zarr/recon-1/em/fibsem-uint16")
SECOND = ("ds_b/ds_b.zarr/recon-1/em/fibsem-uint8", "ds_b/ds_b.n5/em/fibsem-uint8")


class FlakyS3:
    """A moto server on a fixed port that a test can stop and start again."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        self.host, self.port = self.server.get_host_and_port()
        self.running = True

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.running:
            self.server.stop()
            self.running = False

    def start(self) -> None:
        if not self.running:
            self.server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
            self.server.start()
            self.running = True


@pytest.fixture
def flaky(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> Iterator[FlakyS3]:
    server = FlakyS3()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.endpoint_url)
    settings.MEDIA_ROOT = tmp_path / "media"
    yield server
    server.stop()


@pytest.fixture
def two_datasets(s3_server: S3Server, flaky: FlakyS3, settings: Any) -> str:
    bucket = s3_server.create_public_bucket()
    settings.INGEST_ALLOWED_BUCKETS = [bucket]
    endpoint = s3_server.endpoint_url
    write_ome_zarr(endpoint, bucket, FIRST[0], gradient_volume(), (4.0, 4.0, 4.0))
    write_ome_zarr(endpoint, bucket, FIRST[1], gradient_volume(dtype="uint16"), (4.0, 4.0, 4.0), zarr_format=3)
    write_ome_zarr(endpoint, bucket, SECOND[0], gradient_volume(), (2.0, 2.0, 2.0))
    write_n5_multiscale(s3_server, bucket, SECOND[1], gradient_volume(), (2.0, 2.0, 2.0))
    return bucket


def _queued_run(bucket: str) -> IngestRun:
    return IngestRun.objects.create(prefix=f"s3://{bucket}/")


def _dump() -> dict[str, list[dict[str, Any]]]:
    return {
        "datasets": list(Dataset.objects.order_by("pk").values()),
        "volumes": list(Volume.objects.order_by("pk").values()),
        "statistics": list(VolumeStatistics.objects.order_by("pk").values()),
    }


def test_task_runs_a_queued_run(two_datasets: str, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run = ingest_service.start_ingest_run(prefix=f"s3://{two_datasets}/")

    run.refresh_from_db()
    assert (run.status, run.attempts, run.error) == ("succeeded", 1, "")
    assert (run.found, run.created, run.progress_done, run.progress_total) == (4, 4, 4, 4)
    assert run.started_at <= run.finished_at
    assert set(Dataset.objects.values_list("slug", flat=True)) == {"ds_a", "ds_b"}


def test_validation_problems_do_not_fail_or_retry_the_task(two_datasets: str, s3_server: S3Server) -> None:
    s3_server.client().put_object(Bucket=two_datasets, Key="ds_c/ds_c.zarr/em/raw/.zattrs", Body=b"{not json")
    s3_server.client().put_object(Bucket=two_datasets, Key="ds_c/ds_c.zarr/em/raw/s0/0.0.0", Body=b"\0")
    run = _queued_run(two_datasets)

    result = ingest_run_task.apply(args=[run.pk])

    run.refresh_from_db()
    assert result.state == "SUCCESS"
    assert (run.status, run.attempts, run.invalid, run.found) == ("succeeded", 1, 1, 5)
    assert Volume.objects.get(status="invalid").validation_errors[0]["field"] == ".zattrs"


def test_permanent_s3_errors_fail_without_retrying(
    flaky: FlakyS3, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.INGEST_ALLOWED_BUCKETS = ["no-such-bucket-anywhere"]
    requested: list[dict[str, Any]] = []
    monkeypatch.setattr(ingest_run_task, "retry", lambda **kwargs: requested.append(kwargs))
    run = IngestRun.objects.create(prefix="s3://no-such-bucket-anywhere/x")

    result = ingest_run_task.apply(args=[run.pk], throw=False)

    run.refresh_from_db()
    assert result.state == "FAILURE"
    assert (run.status, run.attempts, requested) == ("failed", 1, [])
    assert "NoSuchBucket" in run.error


def test_s3_outage_halfway_leaves_the_dataset_as_it_was_and_retries(
    two_datasets: str, flaky: FlakyS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = VolumeFactory(url=f"s3://{two_datasets}/{SECOND[1]}", dataset__slug="ds_b", name="older record")
    before = _dump()
    published = ingest_service.record_progress

    def stop_after_first_volume_of_second_dataset(run_id: int, done: int, total: int) -> None:
        published(run_id, done, total)
        if done == len(FIRST) + 1:
            flaky.stop()

    requested: list[dict[str, Any]] = []

    def request_retry(**kwargs: Any) -> Retry:
        requested.append(kwargs)
        return Retry(exc=kwargs["exc"], when=kwargs["countdown"])

    monkeypatch.setattr(ingest_service, "record_progress", stop_after_first_volume_of_second_dataset)
    monkeypatch.setattr(ingest_run_task, "retry", request_retry)
    run = _queued_run(two_datasets)

    with pytest.raises(Retry):
        ingest_run_task.apply(args=[run.pk])

    assert len(requested) == 1
    assert isinstance(requested[0]["exc"], S3TransientError)
    assert requested[0]["countdown"] > 0
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("retrying", 1)
    assert run.error.startswith("S3: ")
    assert f'Could not connect to the endpoint URL: "{flaky.endpoint_url}' in run.error
    assert (run.progress_done, run.progress_total) == (len(FIRST) + 1, 4)
    after = _dump()
    ds_b = Dataset.objects.get(slug="ds_b")
    assert [row for row in after["volumes"] if row["dataset_id"] == ds_b.pk] == [
        row for row in before["volumes"] if row["dataset_id"] == ds_b.pk
    ]
    assert [row for row in after["datasets"] if row["id"] == ds_b.pk] == [
        row for row in before["datasets"] if row["id"] == ds_b.pk
    ]
    assert not VolumeStatistics.objects.filter(volume__dataset=ds_b).exists()
    assert set(Volume.objects.filter(dataset__slug="ds_a").values_list("url", flat=True)) == {
        f"s3://{two_datasets}/{key}" for key in FIRST
    }

    monkeypatch.setattr(ingest_service, "record_progress", published)
    with pytest.raises(S3TransientError):
        ingest_run_task.apply(args=[run.pk], retries=ingest_run_task.max_retries)
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", 2)
    assert "Could not connect" in run.error

    flaky.start()
    ingest_run_task.apply(args=[run.pk], retries=1)

    run.refresh_from_db()
    assert (run.status, run.attempts, run.error) == ("succeeded", 3, "")
    assert (run.created, run.updated) == (1, 1)
    assert Volume.objects.filter(dataset__slug="ds_b", status="ok").count() == 2
    assert Volume.objects.get(pk=kept.pk).scale_x == 2.0
    assert Volume.objects.get(pk=kept.pk).name == "older record"


def test_retry_delays_grow_exponentially_and_are_capped() -> None:
    assert all(5 <= retry_delay(0) <= 10 for _ in range(20))
    assert max(retry_delay(3) for _ in range(200)) > 10
    assert all(retry_delay(20) <= 15 * 60 for _ in range(20))
    assert (ingest_run_task.acks_late, ingest_run_task.max_retries) == (True, 5)
    assert ingest_run_task.soft_time_limit < ingest_run_task.time_limit


def test_eager_enqueue_records_a_failure_instead_of_raising(
    flaky: FlakyS3, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.INGEST_ALLOWED_BUCKETS = ["bucket-on-a-stopped-server"]
    flaky.stop()

    with django_capture_on_commit_callbacks(execute=True):
        run = ingest_service.start_ingest_run(prefix="s3://bucket-on-a-stopped-server/x")

    run.refresh_from_db()
    assert (run.status, run.attempts) == ("failed", 1)
    assert "Could not connect" in run.error
