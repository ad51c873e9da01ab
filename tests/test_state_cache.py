"""Built viewer states are cached per catalog version: repeat requests read only the version, and
any committed change to the catalog (here: a curator's edit, as the admin makes it) is seen."""

import pytest
from django.urls import reverse

from tests.factories import DatasetFactory, VolumeFactory, commit_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset():
    dataset = DatasetFactory(slug="jrc_cached-1")
    VolumeFactory(dataset=dataset, name="em", display_colour="")
    commit_catalog()
    return dataset


def test_a_repeated_state_request_costs_one_query(client, dataset, django_assert_num_queries):
    url = reverse("state-dataset", args=[dataset.slug])
    first = client.get(url)
    assert first.status_code == 200
    with django_assert_num_queries(1):  # the catalog version
        again = client.get(url)
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    with django_assert_num_queries(1):
        revalidated = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert revalidated.status_code == 304
    assert revalidated["Access-Control-Allow-Origin"] == "*"


def test_an_edit_invalidates_the_cached_state(client, dataset, django_capture_on_commit_callbacks):
    url = reverse("state-dataset", args=[dataset.slug])
    before = client.get(url)
    volume = dataset.volumes.get()
    with django_capture_on_commit_callbacks(execute=True):
        volume.contrast_start, volume.contrast_end = 20, 90
        volume.save()
    after = client.get(url)
    assert after["ETag"] != before["ETag"]
    assert b"[20,90]" in after.content
    assert client.get(url, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 200


def test_query_parameters_are_part_of_the_key(client, dataset):
    first, second = (VolumeFactory(dataset=dataset, name=name) for name in ("a", "b"))
    url = reverse("state-custom")
    only_first = client.get(url, {"volumes": str(first.pk)}).json()
    only_second = client.get(url, {"volumes": str(second.pk)}).json()
    assert [layer["name"] for layer in only_first["layers"]] != [layer["name"] for layer in only_second["layers"]]
