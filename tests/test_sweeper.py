"""No ingest or conversion request is lost to a broker outage: the task is sent after the commit; a
broker that cannot be reached fails the run with the reason and the API answers 503; the sweeper
sends a lost queued run again (onto a real, private Redis broker) or fails it, and fails a run whose
worker died (for a conversion: whose parts and finish all stopped, finishing included).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import ConversionPart, ConversionRun, ConversionTarget, IngestRun
from catalog.services import jobs
from catalog.services.conversion import _complete_part, _maybe_finish
from catalog.services.jobs import task_named
from catalog.tasks import conversion_run_task, ingest_run_task
from portal.celery import app as celery_app
from tests.factories import DatasetFactory, VolumeFactory
from tests.fixtures.redis import RedisServer, free_port

BUCKET = "sweeper-bucket"


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Any]:
    """Point Celery at a broker URL of the test's choosing, not eager, with a fresh connection pool."""
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager")}

    def use(url: str) -> None:
        settings.CELERY_TASK_ALWAYS_EAGER = False
        celery_app.conf.update(broker_url=url, task_always_eager=False)
        monkeypatch.setattr(celery_app, "_pool", None)
        monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)

    yield use
    for pool in (celery_app.amqp._producer_pool, celery_app._pool):
        if pool is not None:
            pool.force_close_all()
    celery_app.conf.update(saved)


@pytest.fixture
def staff() -> APIClient:
    user = get_user_model().objects.create_user("curator", password="pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_an_ingest_request_with_the_broker_down_answers_503_and_fails_the_run(
    broker: Any, staff: APIClient, settings: Any
) -> None:
    settings.INGEST_ALLOWED_BUCKETS = [BUCKET]
    broker(f"redis://127.0.0.1:{free_port()}/0")

    response = staff.post(reverse("ingest-run-list"), {"prefix": f"s3://{BUCKET}/ds"}, format="json")

    assert response.status_code == 503, response.content
    body = response.json()
    assert body["error"] == "service_unavailable"
    run = IngestRun.objects.get()
    assert f"ingest run {run.pk} was recorded as failed" in body["detail"]
    assert run.status == "failed"
    assert run.enqueued_at is None
    assert "task broker could not be reached" in run.enqueue_error
    assert "Connection refused" in run.enqueue_error
    assert "start it again once the broker is back" in run.error
    assert run.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_ingest_request_reaches_a_live_broker_after_the_commit(
    broker: Any, staff: APIClient, settings: Any, redis_server: RedisServer
) -> None:
    settings.INGEST_ALLOWED_BUCKETS = [BUCKET]
    broker(redis_server.url)

    response = staff.post(reverse("ingest-run-list"), {"prefix": f"s3://{BUCKET}/ds"}, format="json")

    assert response.status_code == 202, response.content
    run = IngestRun.objects.get()
    assert (run.status, run.enqueue_error) == ("queued", "")
    assert run.enqueued_at is not None
    followed = staff.get(response["Location"]).json()
    assert (followed["status"], followed["enqueue_error"], followed["requeues"]) == ("queued", "", 0)
    assert followed["enqueued_at"] is not None
    messages = redis_server.client().lrange("celery", 0, -1)
    assert [json.loads(message)["headers"]["task"] for message in messages] == ["catalog.ingest_run"]
    assert json.loads(messages[0])["headers"]["argsrepr"] == f"[{run.pk}]"


@pytest.mark.django_db
def test_nothing_is_sent_before_the_commit(
    broker: Any, settings: Any, redis_server: RedisServer, django_capture_on_commit_callbacks: Any
) -> None:
    from catalog.services.ingest import start_ingest_run

    settings.INGEST_ALLOWED_BUCKETS = [BUCKET]
    broker(redis_server.url)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        start_ingest_run(prefix=f"s3://{BUCKET}/ds")
        assert redis_server.client().llen("celery") == 0

    assert len(callbacks) == 1
    callbacks[0]()
    assert redis_server.client().llen("celery") == 1


def _run(status: str, **values: Any) -> IngestRun:
    run = IngestRun.objects.create(prefix=f"s3://{BUCKET}/ds", status=status)
    IngestRun.objects.filter(pk=run.pk).update(**values)  # created_at is auto_now_add
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_the_sweeper_sends_a_lost_queued_run_again(broker: Any, redis_server: RedisServer, settings: Any) -> None:
    settings.JOB_QUEUED_SECONDS = 600
    broker(redis_server.url)
    now = timezone.now()
    lost = _run("queued", enqueued_at=now - timedelta(minutes=11), created_at=now - timedelta(minutes=11))
    never_sent = _run("queued", enqueued_at=None, created_at=now - timedelta(hours=3))
    waiting = _run("queued", enqueued_at=now - timedelta(minutes=2), created_at=now - timedelta(minutes=2))
    done = _run("succeeded", enqueued_at=now - timedelta(hours=1), created_at=now - timedelta(hours=1))

    report = jobs.sweep(now=now)

    assert sorted(report.requeued) == sorted([f"ingest run {lost.pk}", f"ingest run {never_sent.pk}"])
    assert report.failed == []
    messages = [json.loads(m) for m in redis_server.client().lrange("celery", 0, -1)]
    assert sorted(m["headers"]["argsrepr"] for m in messages) == sorted([f"[{lost.pk}]", f"[{never_sent.pk}]"])
    for run in (lost, never_sent):
        run.refresh_from_db()
        assert (run.status, run.requeues, run.enqueue_error) == ("queued", 1, "")
        assert run.enqueued_at >= now
    for run in (waiting, done):
        before = (run.status, run.requeues, run.enqueued_at)
        run.refresh_from_db()
        assert (run.status, run.requeues, run.enqueued_at) == before
    assert jobs.sweep(now=now).requeued == [], "just sent: not again at once"


@pytest.mark.django_db
def test_the_sweeper_fails_a_queued_run_no_worker_took(broker: Any, redis_server: RedisServer, settings: Any) -> None:
    settings.JOB_QUEUED_SECONDS = 600
    settings.JOB_MAX_REQUEUES = 3
    broker(redis_server.url)
    now = timezone.now()
    run = _run("queued", enqueued_at=now - timedelta(minutes=11), requeues=3)

    report = jobs.sweep(now=now)

    run.refresh_from_db()
    assert report.failed == [f"ingest run {run.pk}"]
    assert run.status == "failed"
    assert run.error == (
        "Not started within 10 minutes after being sent 4 times: no worker took it (is a worker running?). "
        "Start it again."
    )
    assert run.finished_at == now
    assert redis_server.client().llen("celery") == 0


@pytest.mark.django_db
def test_the_sweeper_keeps_a_queued_run_while_the_broker_is_down(broker: Any, settings: Any) -> None:
    """Sent again at the next pass: the sweeper records why, and the run stays queued."""
    settings.JOB_QUEUED_SECONDS = 600
    broker(f"redis://127.0.0.1:{free_port()}/0")
    now = timezone.now()
    run = _run("queued", enqueued_at=now - timedelta(minutes=11))

    jobs.sweep(now=now)

    run.refresh_from_db()
    assert (run.status, run.requeues) == ("queued", 1)
    assert "Connection refused" in run.enqueue_error


@pytest.mark.django_db
@override_settings(JOB_STALE_SECONDS=3 * 3600)
def test_the_sweeper_fails_runs_whose_worker_died() -> None:
    now = timezone.now()
    dead = _run("running", started_at=now - timedelta(hours=5), heartbeat_at=now - timedelta(hours=4))
    dead_retrying = _run("retrying", heartbeat_at=now - timedelta(hours=3, minutes=1))
    working = _run("running", started_at=now - timedelta(hours=5), heartbeat_at=now - timedelta(minutes=5))
    old_without_heartbeat = _run("running", started_at=now - timedelta(hours=4), heartbeat_at=None)

    report = jobs.sweep(now=now)

    assert sorted(report.failed) == sorted(f"ingest run {r.pk}" for r in (dead, dead_retrying, old_without_heartbeat))
    for run in (dead, dead_retrying, old_without_heartbeat):
        run.refresh_from_db()
        assert run.status == "failed"
        assert run.error == (
            "No sign of life from its worker for 180 minutes: the worker stopped without finishing it. Start it again."
        )
    working.refresh_from_db()
    assert working.status == "running"


@pytest.mark.django_db
def test_the_sweep_runs_command_reports_what_it_did(settings: Any) -> None:
    settings.JOB_STALE_SECONDS = 3 * 3600
    run = _run("running", heartbeat_at=timezone.now() - timedelta(hours=4))
    out = StringIO()

    call_command("sweep_runs", stdout=out)

    assert out.getvalue() == f"Failed ingest run {run.pk}\nSent again: 0, failed: 1.\n"
    run.refresh_from_db()
    assert run.status == "failed"


@pytest.mark.django_db
def test_a_run_that_succeeded_is_not_run_again() -> None:
    """The sweeper may send a run that was only waiting in a long queue: the second copy does nothing."""
    run = _run("succeeded", found=3)

    result = ingest_run_task.apply(args=[run.pk])

    assert result.get() == {"run": run.pk, "status": "skipped: succeeded already"}
    run.refresh_from_db()
    assert (run.status, run.attempts, run.found) == ("succeeded", 0, 3)


def test_the_worker_beat_runs_the_sweeper(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-jobs"]
    assert entry["task"] == "catalog.sweep_jobs"
    assert entry["schedule"] == settings.JOB_SWEEP_SECONDS
    assert task_named("catalog.sweep_jobs").name == "catalog.sweep_jobs"
    assert celery_app.conf.beat_schedule["sweep-jobs"]["task"] == "catalog.sweep_jobs"


def test_every_job_model_is_swept() -> None:
    assert IngestRun in jobs.job_models()
    assert ConversionRun in jobs.job_models()
    assert task_named(IngestRun.TASK_NAME).name == ingest_run_task.name == "catalog.ingest_run"
    assert task_named(ConversionRun.TASK_NAME).name == conversion_run_task.name == "catalog.conversion_run"


# --- conversions -------------------------------------------------------------------------------


def _conversion_request(staff: APIClient, settings: Any) -> Any:
    settings.INGEST_ALLOWED_BUCKETS = [BUCKET]
    settings.CONVERSION_OUTPUT_BUCKET = BUCKET
    DatasetFactory(slug="conv-ds")
    source = f"s3://{BUCKET}/uploads/stack.tif"
    return staff.post(reverse("conversion-run-list"), {"source": source, "dataset": "conv-ds"}, format="json")


@pytest.mark.django_db(transaction=True)
def test_a_conversion_request_with_the_broker_down_answers_503_and_fails_the_run(
    broker: Any, staff: APIClient, settings: Any
) -> None:
    broker(f"redis://127.0.0.1:{free_port()}/0")

    response = _conversion_request(staff, settings)

    assert response.status_code == 503, response.content
    body = response.json()
    assert body["error"] == "service_unavailable"
    run = ConversionRun.objects.get()
    assert f"conversion run {run.pk} was recorded as failed" in body["detail"]
    assert run.status == "failed"
    assert run.enqueued_at is None
    assert "task broker could not be reached" in run.enqueue_error
    assert "Connection refused" in run.enqueue_error
    assert "start it again once the broker is back" in run.error
    assert run.finished_at is not None
    assert run.attempts == 0, "nothing was done"


@pytest.mark.django_db(transaction=True)
def test_a_conversion_request_reaches_a_live_broker_after_the_commit(
    broker: Any, staff: APIClient, settings: Any, redis_server: RedisServer
) -> None:
    broker(redis_server.url)

    response = _conversion_request(staff, settings)

    assert response.status_code == 202, response.content
    run = ConversionRun.objects.get()
    assert (run.status, run.enqueue_error) == ("queued", "")
    assert run.enqueued_at is not None
    followed = staff.get(response["Location"]).json()
    assert (followed["status"], followed["enqueue_error"], followed["requeues"]) == ("queued", "", 0)
    assert followed["enqueued_at"] is not None
    assert followed["heartbeat_at"] is None
    messages = [json.loads(message)["headers"] for message in redis_server.client().lrange("celery", 0, -1)]
    # Besides the run: the index warm-ups the fixture's catalog writes sent (catalog.tasks).
    conversions = [headers for headers in messages if headers["task"] == "catalog.conversion_run"]
    assert {headers["task"] for headers in messages} == {"catalog.conversion_run", "catalog.warm_indexes"}
    assert [headers["argsrepr"] for headers in conversions] == [f"[{run.pk}]"]


def _conversion(status: str, **values: Any) -> ConversionRun:
    run = ConversionRun.objects.create(source=f"s3://{BUCKET}/stack.tif", dataset=DatasetFactory(), status=status)
    ConversionRun.objects.filter(pk=run.pk).update(**values)  # created_at is auto_now_add
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_the_sweeper_sends_a_lost_queued_conversion_again(
    broker: Any, redis_server: RedisServer, settings: Any
) -> None:
    settings.JOB_QUEUED_SECONDS = 600
    broker(redis_server.url)
    now = timezone.now()
    lost = _conversion("queued", enqueued_at=now - timedelta(minutes=11), created_at=now - timedelta(minutes=11))
    waiting = _conversion("queued", enqueued_at=now - timedelta(minutes=2), created_at=now - timedelta(minutes=2))

    report = jobs.sweep(now=now)

    assert (report.requeued, report.failed) == ([f"conversion run {lost.pk}"], [])
    messages = [json.loads(m) for m in redis_server.client().lrange("celery", 0, -1)]
    assert [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages] == [
        ("catalog.conversion_run", f"[{lost.pk}]")
    ]
    lost.refresh_from_db()
    assert (lost.status, lost.requeues, lost.enqueue_error) == ("queued", 1, "")
    waiting.refresh_from_db()
    assert (waiting.status, waiting.requeues) == ("queued", 0)


@pytest.mark.django_db
@override_settings(JOB_STALE_SECONDS=3 * 3600)
def test_the_sweeper_fails_conversions_whose_workers_all_stopped() -> None:
    now = timezone.now()
    dead = _conversion("running", started_at=now - timedelta(hours=5), heartbeat_at=now - timedelta(hours=4))
    dead_finishing = _conversion("finishing", heartbeat_at=now - timedelta(hours=3, minutes=1))
    dead_retrying = _conversion("retrying", heartbeat_at=None, started_at=now - timedelta(hours=4))
    working = _conversion("running", started_at=now - timedelta(hours=5), heartbeat_at=now - timedelta(minutes=5))
    finishing = _conversion("finishing", started_at=now - timedelta(hours=5), heartbeat_at=now - timedelta(minutes=1))
    done = _conversion("succeeded", heartbeat_at=now - timedelta(hours=9))

    report = jobs.sweep(now=now)

    expected = (dead, dead_finishing, dead_retrying)
    assert sorted(report.failed) == sorted(f"conversion run {r.pk}" for r in expected)
    for run in expected:
        run.refresh_from_db()
        assert (run.status, run.finished_at) == ("failed", now)
        assert run.error == (
            "No sign of life from its worker for 180 minutes: the worker stopped without finishing it. Start it again."
        )
    for run, status in ((working, "running"), (finishing, "finishing"), (done, "succeeded")):
        run.refresh_from_db()
        assert run.status == status


@pytest.mark.django_db
def test_a_conversion_run_that_ended_is_not_run_again() -> None:
    """The sweeper may send a run that was only waiting in a long queue: the second copy does
    nothing; a failed run is run again only by resuming it (which queues it first)."""
    succeeded = _conversion("succeeded", parts_done=4, parts_total=4, attempts=1)
    failed = _conversion("failed", error="stopped", attempts=1)

    for run in (succeeded, failed):
        conversion_run_task.apply(args=[run.pk]).get()

    succeeded.refresh_from_db()
    assert (succeeded.status, succeeded.attempts, succeeded.parts_done, succeeded.heartbeat_at) == (
        "succeeded",
        1,
        4,
        None,
    )
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error, failed.heartbeat_at) == ("failed", 1, "stopped", None)


@pytest.mark.django_db
def test_every_part_is_a_sign_of_life_and_the_last_one_makes_the_run_finishing(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the finish task is only sent (after the commit), not run
    long_ago = timezone.now() - timedelta(hours=5)
    run = _conversion("running", started_at=long_ago, heartbeat_at=long_ago, parts_total=2)
    target = ConversionTarget.objects.create(
        run=run, volume=VolumeFactory(dataset=run.dataset), output_url=f"s3://{BUCKET}/out", parts_total=2
    )
    ConversionTarget.objects.filter(pk=target.pk).update(status="running")
    first, last = (ConversionPart.objects.create(target=target, index=i, z0=i, z1=i + 1) for i in range(2))

    _complete_part(first, 100, written=True)
    run.refresh_from_db()
    assert (run.status, run.parts_done, run.bytes_written) == ("running", 1, 100)
    assert run.heartbeat_at > long_ago
    beat = run.heartbeat_at

    with django_capture_on_commit_callbacks(execute=False) as sent:
        _complete_part(last, 50, written=True)
        _maybe_finish(target.pk)
    run.refresh_from_db()
    assert (run.status, run.parts_done, run.bytes_written) == ("finishing", 2, 150)
    assert run.heartbeat_at >= beat
    assert ConversionTarget.objects.get(pk=target.pk).status == "finishing"
    assert len(sent) == 1, "the finish is sent once"


@pytest.mark.django_db(transaction=True)
def test_resuming_a_conversion_from_the_admin_with_the_broker_down_says_so(broker: Any, client: Any) -> None:
    broker(f"redis://127.0.0.1:{free_port()}/0")
    run = _conversion("failed", error="part 3 stopped", requeues=3)
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.org", "pw"))

    response = client.post(
        "/admin/catalog/conversionrun/", {"action": "resume", "_selected_action": [run.pk]}, follow=True
    )

    messages = [str(message) for message in response.context["messages"]]
    assert len(messages) == 1
    assert messages[0].startswith(f"run {run.pk}: conversion run {run.pk} was recorded as failed: ")
    assert "task broker could not be reached" in messages[0]
    run.refresh_from_db()
    assert (run.status, run.requeues) == ("failed", 0)
    assert "start it again once the broker is back" in run.error
