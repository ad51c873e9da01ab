"""The Celery path for real: a worker process, the Redis broker, the database and moto on loopback.

A ``celery -A portal worker --pool=solo`` subprocess shares the test's database (the
PostgreSQL test database, committed through ``transactional_db``; for SQLite, whose test
database lives in memory, a migrated file of its own). The run is started by a subprocess
too, because this test process runs Celery eagerly: there, ``start_ingest_run`` queues the
task with ``transaction.on_commit`` onto Redis exactly as a web request would.

Without Redis the test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from tests.fixtures.browser import skip_or_fail
from tests.fixtures.s3 import DUMMY_CREDENTIALS, S3Server, write_ome_zarr
from tests.test_ingest_data import gradient_volume, write_n5_multiscale

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parent.parent
BROKER_URL = os.environ.get("INGEST_TEST_BROKER_URL", "redis://127.0.0.1:6379/6")
WAIT_FOR_WORKER_SECONDS = 180
EM = "ds_worker/ds_worker.zarr/recon-1/em/fibsem-uint8"
N5 = "ds_worker/ds_worker.n5/labels/mito_seg"


@pytest.fixture
def broker() -> str:
    try:
        # The broker database is this test's alone: drop what a killed earlier run left queued or
        # unacknowledged, which a new worker would otherwise restore and run against this database.
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2).flushdb()
    except redis.RedisError as error:
        message = f"Redis broker {BROKER_URL} is not reachable ({error})"
        skip_or_fail(message)
    return BROKER_URL


def _database_url(tmp_path: Path) -> tuple[str, Path | None]:
    """The test database as a URL the worker can open (a fresh file for in-memory SQLite)."""
    if connection.vendor == "postgresql":
        config = connection.settings_dict
        password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
        host = config.get("HOST") or "127.0.0.1"
        port = config.get("PORT") or 5432
        return f"postgres://{config['USER']}{password}@{host}:{port}/{config['NAME']}", None
    path = tmp_path / "worker.sqlite3"
    return f"sqlite:///{path}", path


class WorkerEnvironment:
    """Environment and helpers shared by the worker and the subprocesses that talk to it."""

    def __init__(self, env: dict[str, str], sqlite_path: Path | None, log: Path) -> None:
        self.env = env
        self.sqlite_path = sqlite_path
        self.log = log

    def manage(self, *arguments: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"manage.py {arguments[0]} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        """Read committed rows the worker wrote (``%s`` placeholders)."""
        if self.sqlite_path is None:
            with connection.cursor() as cursor:
                cursor.execute(sql, parameters)
                return list(cursor.fetchall())
        with sqlite3.connect(self.sqlite_path) as database:
            return list(database.execute(sql.replace("%s", "?"), parameters).fetchall())

    def worker_log(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""


@pytest.fixture
def worker(broker: str, s3_server: S3Server, tmp_path: Path) -> Iterator[tuple[WorkerEnvironment, str]]:
    bucket = s3_server.create_public_bucket()
    database_url, sqlite_path = _database_url(tmp_path)
    env = {
        **os.environ,
        **DUMMY_CREDENTIALS,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "AWS_ENDPOINT_URL_S3": s3_server.endpoint_url,
        "INGEST_ALLOWED_BUCKETS": bucket,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PYTHONPATH": str(REPO),
    }
    env.pop("AWS_PROFILE", None)
    log = tmp_path / "worker.log"
    environment = WorkerEnvironment(env, sqlite_path, log)
    if sqlite_path is not None:
        environment.manage("migrate", "--no-input", "-v", "0")
    celery = Path(sys.executable).with_name("celery")
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                str(celery),
                "-A",
                "portal",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"ingest-test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield environment, bucket
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_finished(environment: WorkerEnvironment, run_id: int) -> tuple[Any, ...]:
    """Poll the run until the worker finishes it; the deadline only guards against a hang."""
    deadline = time.monotonic() + WAIT_FOR_WORKER_SECONDS
    row: tuple[Any, ...] = ()
    while time.monotonic() < deadline:
        rows = environment.query(
            "SELECT status, found, created, invalid, attempts, error, progress_done, progress_total"
            " FROM catalog_ingestrun WHERE id = %s",
            (run_id,),
        )
        row = rows[0] if rows else ()
        if row and row[0] in {"succeeded", "failed"}:
            return row
        time.sleep(0.5)
    pytest.fail(f"the worker did not finish run {run_id} (last state {row}); worker log:\n{environment.worker_log()}")


def test_a_real_worker_ingests_through_the_redis_broker(
    worker: tuple[WorkerEnvironment, str], s3_server: S3Server
) -> None:
    environment, bucket = worker
    write_ome_zarr(s3_server.endpoint_url, bucket, EM, gradient_volume(), (4.0, 4.0, 4.0))
    write_n5_multiscale(s3_server, bucket, N5, gradient_volume(dtype="uint64"), (8.0, 8.0, 8.0))
    start = (
        "import json; from catalog.services.ingest import start_ingest_run; "
        f"run = start_ingest_run(prefix='s3://{bucket}/ds_worker'); "
        "print(json.dumps({'id': run.pk, 'status': run.status}))"
    )

    started = json.loads(environment.manage("shell", "-c", start).strip().splitlines()[-1])

    assert started["status"] == "queued"
    status, found, created, invalid, attempts, error, done, total = _wait_until_finished(environment, started["id"])
    assert (status, error) == ("succeeded", ""), environment.worker_log()
    assert (found, created, invalid, attempts, done, total) == (2, 2, 0, 1, 2, 2)
    assert "catalog.ingest_run" in environment.worker_log()
    volumes = environment.query(
        "SELECT v.url, v.scale_x, v.status, d.slug FROM catalog_volume v"
        " JOIN catalog_dataset d ON d.id = v.dataset_id ORDER BY v.url"
    )
    assert volumes == [
        (f"s3://{bucket}/{N5}", 8.0, "ok", "ds_worker"),
        (f"s3://{bucket}/{EM}", 4.0, "ok", "ds_worker"),
    ]
    thumbnails = environment.query("SELECT thumbnail FROM catalog_volumestatistics")
    assert len(thumbnails) == 1
    media = Path(environment.env["MEDIA_ROOT"])
    assert (media / thumbnails[0][0]).read_bytes().startswith(b"\x89PNG")
