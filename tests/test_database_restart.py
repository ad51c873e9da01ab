"""A PostgreSQL restart costs no 500: persistent connections are health-checked before a request
reuses them (``CONN_HEALTH_CHECKS``), so a worker whose connection the server dropped reconnects.

The portal runs under gunicorn (one sync worker, persistent connections) on the test database;
the test kills that worker's database connection with ``pg_terminate_backend`` (what a server
restart does to every connection, without restarting the server that other tests share) and asks
again. The same request with health checks switched off (a test-only settings module) answers
500: the test can fail. PostgreSQL only: SQLite keeps no persistent connection; under CI=true
the test fails instead of skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import DatasetFactory, commit_catalog
from tests.fixtures.browser import skip_or_fail
from tests.fixtures.redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parent.parent


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class Portal:
    """gunicorn serving the portal on the test database, its connections named ``application``."""

    def __init__(self, settings_module: str) -> None:
        config = connection.settings_dict
        self.application = f"restart-test-{uuid.uuid4().hex[:12]}"
        password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
        host, port = config.get("HOST") or "127.0.0.1", config.get("PORT") or 5432
        database_url = (
            f"postgres://{config['USER']}{password}@{host}:{port}/{config['NAME']}?application_name={self.application}"
        )
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CONN_MAX_AGE": "600",
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "",
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": str(REPO),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--workers", "1", "--bind", self.address],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url("/favicon.ico"), timeout=5)
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def terminate_connections(self) -> int:
        """Kill the worker's database connections, as a PostgreSQL restart would."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                [self.application],
            )
            return len(cursor.fetchall())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        message = "needs PostgreSQL (DATABASE_URL=postgres://...)"
        skip_or_fail(message)


@pytest.fixture
def dataset_path(postgresql: None) -> str:
    dataset = DatasetFactory(slug="jrc_restart")
    commit_catalog()
    return f"/api/datasets/{dataset.slug}/"


def _requests_around_a_restart(settings_module: str, path: str) -> list[int]:
    portal = Portal(settings_module)
    try:
        first = _get(portal.url(path))
        assert portal.terminate_connections() == 1, "the worker kept one persistent connection"
        return [first, *(_get(portal.url(path)) for _ in range(3))]
    finally:
        portal.stop()


def test_no_request_fails_after_the_database_dropped_the_connections(dataset_path: str) -> None:
    assert _requests_around_a_restart("portal.settings", dataset_path) == [200, 200, 200, 200]


def test_without_health_checks_the_first_request_after_it_fails(dataset_path: str) -> None:
    """What the setting prevents: one 500 per worker."""
    codes = _requests_around_a_restart("tests.fixtures.settings_without_health_checks", dataset_path)

    assert codes == [200, 500, 200, 200]
