"""The cache stays bounded: answers to query strings (searches, filter combinations, custom
states), which are mostly asked once, expire after ``CATALOG_QUERY_CACHE_SECONDS``; per-record
and unfiltered reads, which repeat, keep ``CATALOG_CACHE_SECONDS``. Checked on the TTLs that a
private Redis reports for the keys the requests wrote."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.factories import DatasetFactory, VolumeFactory, commit_catalog
from tests.fixtures.redis import RedisServer, redis_cache

pytestmark = pytest.mark.django_db

LONG = 24 * 3600
SHORT = 600


def _new_key_ttls(server: RedisServer, client: Client, path: str, namespace: str) -> list[int]:
    """TTLs of the keys of ``namespace`` that one request of ``path`` added."""
    redis = server.client()
    pattern = f"*:{namespace}:*"
    before = set(redis.scan_iter(pattern))
    assert client.get(path).status_code in (200, 302)  # ?inline=1 redirects
    return [redis.ttl(key) for key in set(redis.scan_iter(pattern)) - before]


@pytest.mark.parametrize(
    ("path", "namespace", "seconds"),
    [
        ("/api/datasets/?q=hela", "api", SHORT),
        ("/api/datasets/?organism=homo-sapiens&modality=fib-sem", "api", SHORT),
        ("/api/datasets/", "api", LONG),
        ("/api/datasets/jrc_bounded/", "api", LONG),
        ("/datasets/?q=hela", "page", SHORT),
        ("/datasets/jrc_bounded/", "page", LONG),
        ("/api/datasets/facets/?organism=homo-sapiens", "facets", SHORT),
        ("/api/datasets/facets/", "facets", LONG),
        ("/api/states/datasets/jrc_bounded/", "state", LONG),
        ("/api/states/datasets/jrc_bounded/?inline=1", "state", LONG),
        ("/api/states/custom/?volumes={volume}", "state", SHORT),
    ],
)
def test_one_off_queries_get_the_short_timeout(
    redis_server: RedisServer, path: str, namespace: str, seconds: int
) -> None:
    dataset = DatasetFactory(slug="jrc_bounded", title="HeLa cell")
    volume = VolumeFactory(dataset=dataset)
    commit_catalog()
    client = Client()
    with override_settings(
        CACHES=redis_cache(redis_server.url), CATALOG_CACHE_SECONDS=LONG, CATALOG_QUERY_CACHE_SECONDS=SHORT
    ):
        ttls = _new_key_ttls(redis_server, client, path.format(volume=volume.pk), namespace)

    assert len(ttls) == 1, f"one {namespace} entry for {path}: {ttls}"
    assert seconds - 60 < ttls[0] <= seconds
