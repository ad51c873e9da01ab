"""Shared fixtures: factories, the reference catalog, an S3 server on loopback and a headless browser."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction

from tests.factories import commit_catalog

pytest_plugins = ["tests.fixtures.s3", "tests.fixtures.browser", "tests.fixtures.redis"]


@pytest.fixture(scope="module")
def reference_catalog(django_db_setup, django_db_blocker):
    """The shipped reference catalog, loaded once per module inside a transaction rolled back at
    the end; each test's own transaction nests inside it, so tests stay isolated."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_catalog", verbosity=0)
        commit_catalog()
        yield
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: cached facet counts are keyed by catalog version,
    which factories do not bump, and under CI the cache is a Redis that outlives the run."""
    cache.clear()
    yield
    cache.clear()
