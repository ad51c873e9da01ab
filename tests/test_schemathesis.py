"""Schemathesis over the whole OpenAPI document, every check, in-process through the WSGI app.

Every operation, the state and ingest endpoints included, gets requests generated from the
schema, valid and invalid (positive and negative generation modes): reads anonymously, writes
with a curator's (staff) token. Every built-in check runs, so a schema-valid request answered
400, an invalid one accepted, an undocumented status, content type or header, a response that
breaks its schema, an ignored credential or a server error each fail the test. Example counts
are kept small so the run takes a few minutes.
"""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import pydantic
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, assume, settings
from rest_framework.authtoken.models import Token

from catalog import untrusted_json
from catalog.filters import CONTENT_PARAMETERS
from catalog.neuroglancer import recipe
from catalog.schemas.manifest import DatasetManifest
from catalog.services.records import CropPayload, VolumePayload
from portal.wsgi import application
from tests.test_api_fixtures import small_catalog  # noqa: F401

SCHEMA_URL = "/api/schema/?format=json"
HEALTH_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much]

# The ingest endpoint's schema names the allow-listed buckets; the run allows one that does not
# exist (no request leaves the machine: ingest tasks run on commit, and tests never commit).
INGEST_BUCKETS = ["schemathesis"]
with override_settings(INGEST_ALLOWED_BUCKETS=INGEST_BUCKETS):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)

# Rules of the manifest models that OpenAPI 3.0 cannot state (they relate two fields, or need
# arithmetic): a schema-valid body that breaks one is rightly a 400, so generated bodies that
# break one are not offered as valid data. Everything else the models check is in the schema.
INEXPRESSIBLE = (
    "is above max",  # contrast min <= max
    "a training crop needs labels_url",
    "appears more than once",  # names, numbers, URLs unique within a manifest
    "a given name needs a family name",
    "an ORCID iD identifies a person",
    "its check digit is wrong",  # ORCID ISO 7064 check digit
    "is a ratio between 0 and 1",  # every metric but Hausdorff
    "unknown contents carry no counts",  # crop contents: counts follow the source
    "known contents need total_voxels",
    "must equal total_voxels",
    "not in label_classes",  # a crop's contents name its own classes
)


@pytest.fixture
def in_process_requests():
    """Calls through the WSGI app share the test's transaction: keep Django from closing the
    connection at the end of each request, as its test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(small_catalog) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("schemathesis-curator", is_staff=True)
    return Token.objects.create(user=user).key


def test_the_whole_schema_is_covered() -> None:
    """Nothing is left out of the run: the state and ingest endpoints are in the schema too."""
    paths = set(schema.raw_schema["paths"])
    for path in ("/api/states/saved/", "/api/states/saved/{key}/", "/api/states/custom/", "/api/ingest/"):
        assert path in paths, path
    assert any(path.startswith("/api/states/datasets/") for path in paths)


@pytest.mark.django_db
@override_settings(API_ANON_RATE="100000/minute", NEUROGLANCER_SAVE_RATE="100000/minute")
@schema.include(method=["GET", "HEAD", "OPTIONS"]).parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=HEALTH_CHECKS)
def test_reads_honour_the_schema(case, small_catalog, in_process_requests) -> None:
    assume(not breaks_a_parameter_dependency(case))
    case.call_and_validate()


def breaks_a_parameter_dependency(case) -> bool:
    """A positive (schema-valid) query that the crop filters refuse for a rule OpenAPI 3.0 cannot
    state: the content filters and ordering by share need ``organelle`` (catalog.filters)."""
    if not case.meta.generation.mode.is_positive or not case.query or case.query.get("organelle"):
        return False
    ordering = case.query.get("ordering") or []
    ordering = ordering.split(",") if isinstance(ordering, str) else ordering
    content = any(case.query.get(name) not in (None, "", []) for name in CONTENT_PARAMETERS)
    return content or any(str(item).lstrip("-") == "share" for item in ordering)


def breaks_a_cutout_rule(body: dict) -> bool:
    """The cut-out request's rules between fields (catalog.services.cutouts): a crop, or a
    dataset with a box whose upper corner exceeds its lower one, and classes only with a crop
    (every field is optional on its own, so an empty body is schema-valid too)."""
    if body.get("crop") is not None:
        return False
    lower, upper = body.get("lower_nm"), body.get("upper_nm")
    if not body.get("dataset") or body.get("classes") or not isinstance(lower, dict) or not isinstance(upper, dict):
        return True
    try:
        return any(float(lower[axis]) >= float(upper[axis]) for axis in "zyx")
    except (KeyError, TypeError, ValueError):
        return True


@pytest.mark.django_db
@override_settings(
    API_ANON_RATE="100000/minute",
    NEUROGLANCER_SAVE_RATE="100000/minute",
    INGEST_ALLOWED_BUCKETS=INGEST_BUCKETS,
    CONVERSION_OUTPUT_BUCKET="schemathesis-converted",
)
@schema.exclude(method=["GET", "HEAD", "OPTIONS"]).parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=HEALTH_CHECKS)
def test_writes_honour_the_schema(case, staff_token, in_process_requests) -> None:
    """Manifest payloads are large; a few generated bodies per operation keep this quick."""
    assume(not breaks_an_inexpressible_rule(case))
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"})


MODELS = {"/api/datasets/": DatasetManifest, "/api/volumes/": VolumePayload, "/api/crops/": CropPayload}


def breaks_an_inexpressible_rule(case) -> bool:
    """A positive (schema-valid) body refused only for a rule OpenAPI 3.0 cannot state: for a
    manifest, one in INEXPRESSIBLE; for a saved state, object keys without NUL characters,
    nesting at most 32 levels (no propertyNames, no depth bound) and what Neuroglancer parses."""
    if not case.meta.generation.mode.is_positive:
        return False
    if case.operation.path == "/api/cutouts/":
        return breaks_a_cutout_rule(case.body if isinstance(case.body, dict) else {})
    if not isinstance(case.body, dict):
        return False
    if case.operation.path == "/api/states/saved/":
        if untrusted_json.value_problem(case.body) is not None:
            return True
        try:
            recipe.parse_state(case.body)
        except Exception:  # the package raises many exception types for states it cannot read
            return True
        return False
    model = next((m for prefix, m in MODELS.items() if case.operation.path.startswith(prefix)), None)
    if model is None:
        return False
    try:
        model.model_validate(case.body)
    except pydantic.ValidationError as error:
        messages = [item["msg"] for item in error.errors()]
        return all(any(rule in message for rule in INEXPRESSIBLE) for message in messages)
    return False
