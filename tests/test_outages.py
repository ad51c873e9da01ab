"""Outages of the cache: Redis is an optimisation, never a dependency of a request.

A private ``redis-server`` on a free loopback port (``tests/fixtures/redis.py``, never the shared
one) serves as the cache;
the tests stop it in the middle, check that pages, API lists, details, searches, facets and
states keep answering the same 200s from the database, that the outage is logged once and not
per request, and that the cache is used again as soon as Redis is back. The throttles fail
open while the cache is down. Without ``redis-server`` the tests are skipped locally and fail
under CI=true.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import pytest
import redis
from django.test import Client, override_settings

from catalog import freshness
from tests.factories import CropFactory, DatasetFactory, VolumeFactory, commit_catalog
from tests.fixtures.redis import RedisServer, free_port, redis_cache

pytestmark = pytest.mark.django_db

STATE = {
    "dimensions": {"x": [4e-09, "m"], "y": [4e-09, "m"], "z": [4e-09, "m"]},
    "layers": [{"type": "image", "source": "zarr://s3://bucket/em.zarr", "name": "em"}],
    "layout": "xy",
}


@pytest.fixture(autouse=True)
def healthy_cache_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with the cache believed healthy and leaves the belief as it found it."""
    monkeypatch.setattr(freshness, "_cache_failed_at", None)


@pytest.fixture
def catalog_paths() -> list[str]:
    """One of each read: pages, searches, API lists, details, facets, states."""
    dataset = DatasetFactory(slug="jrc_outage", title="HeLa cell during an outage")
    volume = VolumeFactory(dataset=dataset, name="em")
    crop = CropFactory(dataset=dataset)
    commit_catalog()
    return [
        "/",
        "/datasets/",
        "/datasets/?q=hela",
        f"/datasets/{dataset.slug}/",
        "/api/",
        "/api/datasets/",
        "/api/datasets/?q=hela",
        "/api/datasets/?organism=homo-sapiens",
        f"/api/datasets/{dataset.slug}/",
        "/api/datasets/facets/",
        "/api/volumes/",
        f"/api/volumes/{volume.pk}/",
        "/api/crops/",
        f"/api/states/datasets/{dataset.slug}/",
        f"/api/states/volumes/{volume.pk}/",
        f"/api/states/crops/{crop.number}/",
        f"/api/states/custom/?volumes={volume.pk}",
    ]


def _answers(client: Client, paths: list[str]) -> dict[str, tuple[int, bytes]]:
    return {path: (response.status_code, response.content) for path in paths for response in [client.get(path)]}


def _cache_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "catalog.freshness" and r.levelno >= logging.ERROR]


def test_reads_keep_answering_while_redis_is_stopped_and_use_it_again_when_it_returns(
    redis_server: RedisServer, catalog_paths: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    with override_settings(CACHES=redis_cache(redis_server.url), CACHE_RETRY_SECONDS=0, API_ANON_RATE="1000/minute"):
        before = _answers(client, catalog_paths)
        assert {path: status for path, (status, _) in before.items()} == dict.fromkeys(catalog_paths, 200)
        assert redis_server.client().dbsize() > 0, "the reads were cached in Redis"
        assert _answers(client, catalog_paths) == before, "served from the cache"

        redis_server.stop()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="catalog.freshness"):
            during = [_answers(client, catalog_paths) for _ in range(3)]
            saved = client.post("/api/states/saved/", data=STATE, content_type="application/json")

        for answers in during:
            assert answers == before, "the same answers, from the database"
        assert saved.status_code == 201, saved.content
        errors = _cache_errors(caplog)
        assert len(errors) == 1, f"one log line per outage, not per request: {[r.getMessage() for r in errors]}"
        assert "Cache unavailable" in errors[0].getMessage()

        redis_server.start()  # the same port, empty
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="catalog.freshness"):
            after = _answers(client, catalog_paths)
        assert after == before
        assert [r.getMessage() for r in caplog.records if r.name == "catalog.freshness"] == ["Cache available again."]
        assert redis_server.client().dbsize() > 0, "the first requests after the outage fill the cache again"
        assert freshness.cache_available()


def test_reads_answer_when_the_cache_points_at_a_closed_port(
    catalog_paths: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with (
        override_settings(CACHES=redis_cache(closed), API_ANON_RATE="1000/minute"),
        caplog.at_level(logging.WARNING, logger="catalog.freshness"),
    ):
        answers = [_answers(client, catalog_paths) for _ in range(2)]

    for answer in answers:
        failing = {path: status for path, (status, _) in answer.items() if status != 200}
        assert failing == {}
    assert answers[0] == answers[1]
    assert len(_cache_errors(caplog)) == 1


def test_the_throttles_let_requests_through_while_the_cache_is_down_and_count_again_after(
    redis_server: RedisServer, catalog_paths: list[str]
) -> None:
    """Failing open is the choice: a rate limit is not worth an outage (logged once)."""
    client = Client()
    with override_settings(CACHES=redis_cache(redis_server.url), CACHE_RETRY_SECONDS=0, API_ANON_RATE="3/minute"):
        assert [client.get("/api/organisms/").status_code for _ in range(4)] == [200, 200, 200, 429]
        redis_server.stop()
        assert [client.get("/api/organisms/").status_code for _ in range(6)] == [200] * 6
        redis_server.start()
        assert [client.get("/api/organisms/").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_failed_cache_is_left_alone_for_the_retry_interval(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """A Redis that hangs costs one timeout per interval per process, not one per operation."""
    settings.CACHE_RETRY_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(freshness.time, "monotonic", lambda: clock[0])
    attempts: list[str] = []

    def failing() -> str:
        attempts.append("try")
        raise redis.ConnectionError("down")

    assert freshness.cache_call(failing, "fallback") == "fallback"
    clock[0] += 4.9
    assert freshness.cache_call(failing, "fallback") == "fallback"
    assert len(attempts) == 1, "not tried again within the interval"
    assert not freshness.cache_available()
    clock[0] += 0.2
    assert freshness.cache_call(lambda: "value", "fallback") == "value", "tried again after it"
    assert freshness.cache_available()


class HangingServer:
    """Accepts connections and never answers: a Redis behind a dead network path or frozen."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(client)

    def close(self) -> None:
        self.listener.close()
        for client in self.accepted:
            client.close()


def test_a_redis_that_hangs_costs_one_timeout_per_retry_interval(
    catalog_paths: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    server = HangingServer()
    client = Client()
    try:
        with (
            override_settings(
                CACHES=redis_cache(f"redis://127.0.0.1:{server.port}/0"),
                CACHE_RETRY_SECONDS=3600,
                API_ANON_RATE="1000/minute",
            ),
            caplog.at_level(logging.WARNING, logger="catalog.freshness"),
        ):
            first = client.get(catalog_paths[1])
            connections = len(server.accepted)
            answers = _answers(client, catalog_paths)
    finally:
        server.close()

    assert first.status_code == 200
    assert connections >= 1, "the first request tried the cache"
    assert {status for status, _ in answers.values()} == {200}
    assert len(server.accepted) == connections, "no further attempt within the retry interval"
    assert len(_cache_errors(caplog)) == 1
