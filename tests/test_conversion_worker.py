"""Killing a real Celery worker halfway through a conversion, then running it again.

A ``celery worker --pool=solo`` subprocess on the Redis broker (db 9, this test's alone) works
through the parts of a run; the test kills it with SIGKILL once some parts are done and others
are not. At that point the catalog must be exactly as before. A second worker then takes the
resumed run: the parts written before the kill are found by their markers in S3 and not
written again (their ``written_at`` stays), the others are written, and only then is the volume
switched to its copy. Without Redis the test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
import tifffile

from tests.fixtures.browser import skip_or_fail
from tests.fixtures.s3 import DUMMY_CREDENTIALS, S3Server
from tests.test_ingest_worker import REPO, WorkerEnvironment, _database_url

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]

BROKER_URL = os.environ.get("CONVERSION_TEST_BROKER_URL", "redis://127.0.0.1:6379/9")
DEADLINE_SECONDS = 240
SHAPE = (32 * 12, 192, 192)
"""Twelve parts of 32 slices (one shard each): long enough to kill the worker between parts."""


@pytest.fixture
def broker() -> Iterator[str]:
    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        message = f"Redis broker {BROKER_URL} is not reachable ({error})"
        skip_or_fail(message)
    yield BROKER_URL
    client.flushdb()


@pytest.fixture
def environment(broker: str, s3_server: S3Server, tmp_path: Path) -> WorkerEnvironment:
    bucket = s3_server.create_public_bucket()
    database_url, sqlite_path = _database_url(tmp_path)
    env = {
        **os.environ,
        **DUMMY_CREDENTIALS,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "AWS_ENDPOINT_URL_S3": s3_server.endpoint_url,
        "CONVERSION_OUTPUT_BUCKET": bucket,
        "CONVERSION_WORK_DIR": str(tmp_path / "work"),
        "CONVERSION_PART_BYTES": str(SHAPE[1] * SHAPE[2] * 2 * 32),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PYTHONPATH": str(REPO),
    }
    env.pop("AWS_PROFILE", None)
    result = WorkerEnvironment(env, sqlite_path, tmp_path / "worker.log")
    if sqlite_path is not None:
        result.manage("migrate", "--no-input", "-v", "0")
    return result


def start_worker(environment: WorkerEnvironment, log: Path) -> subprocess.Popen:
    celery = Path(sys.executable).with_name("celery")
    with log.open("a") as output:
        return subprocess.Popen(
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
                f"convert-test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=REPO,
            env=environment.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run_state(environment: WorkerEnvironment, run_id: int) -> tuple:
    rows = environment.query(
        "SELECT status, parts_done, parts_total, error FROM catalog_conversionrun WHERE id = %s", (run_id,)
    )
    return rows[0] if rows else ()


def written_parts(environment: WorkerEnvironment) -> dict[int, str]:
    rows = environment.query('SELECT p."index", p.written_at FROM catalog_conversionpart p WHERE p.done = %s', (True,))
    return {index: str(written_at) for index, written_at in rows}


def volume_row(environment: WorkerEnvironment) -> tuple:
    return environment.query("SELECT url, format, source_url FROM catalog_volume WHERE name = %s", ("stack",))[0]


def test_killing_the_worker_halfway_loses_only_the_parts_in_flight(
    environment: WorkerEnvironment, tmp_path: Path
) -> None:
    data = (np.arange(np.prod(SHAPE), dtype=np.uint32) % 60000).astype(np.uint16).reshape(SHAPE)
    source = tmp_path / "stack.tif"
    tifffile.imwrite(source, data)
    setup = (
        "import json; from catalog.models import Dataset, Volume; "
        "from catalog.services.conversion import start_conversion; "
        "d = Dataset.objects.create(slug='kill-test', title='Kill test', modality='sbf-sem'); "
        "Volume.objects.create(dataset=d, name='stack', url='stack.tif', format='tiff', kind='image', "
        "content_type='em', scale_z=40, scale_y=10, scale_x=10); "
        f"run = start_conversion(source={str(source)!r}, dataset_slug='kill-test', allow_any_source=True); "
        "print(json.dumps({'id': run.pk}))"
    )
    log = tmp_path / "worker.log"
    first = start_worker(environment, log)
    try:
        run_id = json.loads(environment.manage("shell", "-c", setup).strip().splitlines()[-1])["id"]
        deadline = time.monotonic() + DEADLINE_SECONDS
        state: tuple = ()
        while time.monotonic() < deadline:
            state = run_state(environment, run_id)
            if state and state[1] >= 3:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        stop(first)
    state = run_state(environment, run_id)
    status, done, total, error = state
    assert error == "", log.read_text()[-4000:]
    assert total == 12
    assert 3 <= done < total, f"the worker must die halfway, not after {done} of {total} parts"
    assert status == "running"
    assert volume_row(environment) == ("stack.tif", "tiff", ""), "nothing is published before the run completes"
    before = written_parts(environment)

    second = start_worker(environment, log)
    try:
        resume = f"from catalog.services.conversion import resume_conversion; resume_conversion(run_id={run_id})"
        environment.manage("shell", "-c", resume)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            state = run_state(environment, run_id)
            if state[0] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
    finally:
        stop(second)

    assert state[:2] == ("succeeded", 12), (state, log.read_text()[-4000:])
    after = written_parts(environment)
    assert len(after) == 12
    assert {index: after[index] for index in before} == before, "parts written before the kill were written again"
    url, volume_format, source_url = volume_row(environment)
    assert (volume_format, source_url) == ("ome-zarr-0.5", "stack.tif")
    assert url.startswith("s3://")
    assert "catalog.conversion_part" in log.read_text()
