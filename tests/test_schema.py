"""The OpenAPI document: valid OpenAPI 3, complete, served with local docs, and honoured by the API.

The property-based run (schemathesis, in-process through the WSGI app) generates requests from
the schema for every operation and checks that no response is a server error or breaks the
schema. It is kept small (a few examples per operation) so the suite stays fast.
"""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import positive_data_acceptance

from portal.wsgi import application
from tests.test_api_fixtures import api, small_catalog  # noqa: F401

SCHEMA_URL = "/api/schema/?format=json"


@pytest.fixture
def openapi(api) -> dict:
    response = api.get(SCHEMA_URL)
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.mark.django_db
def test_schema_is_valid_openapi_3(openapi: dict) -> None:
    assert openapi["openapi"].startswith("3.0")
    validate(openapi)


@pytest.mark.django_db
def test_every_resource_and_filter_is_described(openapi: dict) -> None:
    paths = openapi["paths"]
    for path in (
        "/api/datasets/",
        "/api/datasets/{slug}/",
        "/api/datasets/facets/",
        "/api/datasets/{slug}/citation/",
        "/api/datasets/{slug}/jsonld/",
        "/api/datasets/{slug}/datacite/",
        "/api/volumes/{id}/",
        "/api/crops/{number}/",
        "/api/label-classes/{name}/",
        "/api/organisms/{slug}/",
        "/api/tissues/{slug}/",
        "/api/collections/{slug}/",
        "/api/publications/{id}/",
        "/api/views/{id}/",
        "/api/benchmark-results/{id}/",
    ):
        assert path in paths, path
    parameters = {p["name"]: p for p in paths["/api/datasets/"]["get"]["parameters"]}
    for name in (
        "q",
        "organism",
        "tissue",
        "organelle",
        "modality",
        "collection",
        "has_crops",
        "voxel_size_min",
        "voxel_size_max",
        "fixation",
        "ordering",
        "page",
        "page_size",
    ):
        assert parameters[name].get("description"), name
    assert parameters["organism"]["explode"] is True
    assert parameters["page"]["schema"]["minimum"] == 1
    assert parameters["page_size"]["schema"]["maximum"] == 100
    volume_parameters = {p["name"] for p in paths["/api/volumes/"]["get"]["parameters"]}
    assert {"dataset", "kind", "content_type", "format", "organelle"} <= volume_parameters
    crop_parameters = {p["name"] for p in paths["/api/crops/"]["get"]["parameters"]}
    assert {"dataset", "organelle", "split"} <= crop_parameters
    axis = openapi["components"]["schemas"]["DatasetDetail"]["properties"]["voxel_size"]
    assert set(axis["properties"]) == {"x", "y", "z"}
    assert axis["description"]


@pytest.mark.django_db
def test_docs_are_served_from_local_files(api) -> None:
    for path in ("/api/docs/", "/api/redoc/"):
        response = api.get(path)
        assert response.status_code == 200
        page = response.content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        assert "cdn" not in page.lower()
        assert "unpkg" not in page.lower()


@pytest.fixture
def in_process_requests():
    """Calls through the WSGI app share the test's transaction: keep Django from closing the
    connection at the end of each request, as its test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# The state, ingest and conversion endpoints (/api/states/, /api/ingest/, /api/conversions/) belong to
# their own modules and tests.
schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application).exclude(
    path_regex="^/api/(states|ingest|conversions)/"
)
HEALTH_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much]


def call_and_validate(case) -> None:
    # Schema-valid values may still name nothing in the catalog (organism=x): that is a
    # documented 400, so "valid data accepted" is not among the checks; all others are.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


@pytest.mark.django_db
@override_settings(API_ANON_RATE="100000/minute")
@schema.include(method="GET").parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=HEALTH_CHECKS)
def test_reads_honour_the_schema(case, small_catalog, in_process_requests) -> None:
    call_and_validate(case)


@pytest.mark.django_db
@override_settings(API_ANON_RATE="100000/minute")
@schema.exclude(method="GET").parametrize()
@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=HEALTH_CHECKS)
def test_writes_honour_the_schema(case, small_catalog, in_process_requests) -> None:
    """Manifest payloads are large; a couple of generated bodies per operation keep this quick."""
    call_and_validate(case)
