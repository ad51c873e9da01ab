"""The OpenAPI document: valid OpenAPI 3, complete, served with local docs.

That the API honours it, every operation and every check, is tests/test_schemathesis.py.
"""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

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
