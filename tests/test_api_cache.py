"""API reads are cached per catalog version, after permissions and throttling have run."""

import pytest

from tests.factories import DatasetFactory, commit_catalog

pytestmark = pytest.mark.django_db


def test_a_repeated_read_costs_one_query_and_a_write_is_seen(client, django_assert_num_queries):
    dataset = DatasetFactory(slug="jrc_api-1", title="Before")
    commit_catalog()
    url = "/api/datasets/?organism=homo-sapiens"
    first = client.get(url).json()
    with django_assert_num_queries(1):  # the catalog version
        assert client.get(url).json() == first
    dataset.title = "After"
    dataset.save()
    assert client.get(url).json()["results"][0]["title"] == "After"
    assert client.get("/api/datasets/jrc_api-1/").json()["title"] == "After"


def test_cached_reads_are_still_throttled(client, settings):
    settings.API_ANON_RATE = "2/minute"
    DatasetFactory()
    statuses = [client.get("/api/datasets/").status_code for _ in range(4)]
    assert statuses[:2] == [200, 200]
    assert statuses[-1] == 429


def test_errors_are_not_cached(client):
    assert client.get("/api/datasets/jrc_later-2/").status_code == 404
    DatasetFactory(slug="jrc_later-2")
    assert client.get("/api/datasets/jrc_later-2/").status_code == 200
