"""Pages are served from the cache until the catalog changes, and answer conditional GETs."""

import pytest
from django.urls import reverse

from tests.factories import DatasetFactory, commit_catalog

pytestmark = pytest.mark.django_db


def test_a_repeated_page_costs_one_query_and_an_edit_is_seen(client, django_assert_num_queries):
    dataset = DatasetFactory(slug="jrc_page-1", title="Before")
    commit_catalog()
    url = reverse("catalog:dataset-detail", args=[dataset.slug])
    first = client.get(url)
    assert b"Before" in first.content
    with django_assert_num_queries(1):  # the catalog version
        assert client.get(url).content == first.content
    dataset.title = "After the curator's edit"
    dataset.save()
    assert b"After the curator&#x27;s edit" in client.get(url).content


def test_htmx_fragments_and_full_pages_are_cached_apart(client):
    DatasetFactory()
    url = reverse("catalog:dataset-list")
    full = client.get(url)
    fragment = client.get(url, HTTP_HX_REQUEST="true")
    assert b"<html" in full.content
    assert b"<html" not in fragment.content
    assert client.get(url).content == full.content


def test_pages_answer_conditional_gets(client):
    url = reverse("catalog:home")
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(reverse("catalog:dataset-list"), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_errors_are_not_cached(client):
    url = reverse("catalog:dataset-detail", args=["jrc_later-1"])
    assert client.get(url).status_code == 404
    DatasetFactory(slug="jrc_later-1")
    assert client.get(url).status_code == 200
