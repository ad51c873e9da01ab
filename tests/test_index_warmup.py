"""A committed write builds the facet and crop indexes of the new catalog version, so that no
reader pays for them; a warm-up that fails never fails the write."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.db import connection
from kombu.exceptions import OperationalError

from catalog import facets, freshness, tasks
from catalog.models import Crop, Dataset
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_write_builds_the_indexes_of_its_version(empty_cache) -> None:
    dataset = factories.DatasetFactory(slug="ds-warm")
    factories.CropFactory(dataset=dataset, number=7)
    factories.commit_catalog()
    factories.DatasetFactory(slug="ds-later")  # a write of its own: a new version, warmed again
    facet_index = freshness.stored_index("facet-index")
    crop_index = freshness.stored_index("crop-index")
    assert facet_index is not freshness.MISSING
    assert crop_index is not freshness.MISSING
    assert sorted(facet_index.ids) == sorted(Dataset.objects.values_list("pk", flat=True))
    assert list(crop_index.ids) == [Crop.objects.get(number=7).pk]
    if connection.vendor == "postgresql":
        search_index = freshness.stored_index("search-index")
        assert search_index is not freshness.MISSING
        assert sorted(search_index.ids) == sorted(Dataset.objects.values_list("pk", flat=True))


def test_the_shared_cache_holds_one_copy_of_each_index(empty_cache) -> None:
    """An index is large and worthless once the catalog changes: a new version's copy replaces
    the last one under the same key instead of waiting beside it for its expiry."""
    factories.DatasetFactory(slug="ds-first")
    first_version = freshness.catalog_version()
    factories.DatasetFactory(slug="ds-second")
    stored_version, index = cache.get("index:facet-index")
    assert stored_version == freshness.catalog_version() != first_version
    assert sorted(index.ids) == sorted(Dataset.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(("eager", "method"), [(False, "apply_async"), (True, "apply")])
def test_a_warm_up_that_fails_leaves_the_write_done(
    monkeypatch, caplog, settings, empty_cache, eager: bool, method: str
) -> None:
    """With a broker, sending fails (it is down); without one, the eager build fails."""

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    settings.CELERY_TASK_ALWAYS_EAGER = eager
    monkeypatch.setattr(tasks.warm_indexes_task, method, unreachable)
    with caplog.at_level(logging.ERROR, logger="catalog.tasks"):
        factories.DatasetFactory(slug="ds-cold")
    assert Dataset.objects.filter(slug="ds-cold").exists()
    assert "index warm-up" in caplog.text
    assert freshness.stored_index("facet-index") is freshness.MISSING
    freshness._memo.clear()
    assert sorted(facets.facet_index().ids) == sorted(Dataset.objects.values_list("pk", flat=True))
