"""Every error under /api/ is the API's JSON envelope, never HTML and never an internal message:
crashes, bodies over the upload limit, paths no pattern matches (newlines, NUL characters),
saved-state keys that cannot exist, CSRF refusals. The pages keep their HTML error pages."""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import json

import pytest
from django.test import Client

from catalog.api import views as api_views
from tests.test_api_fixtures import SmallCatalog, small_catalog, token_client  # noqa: F401

pytestmark = pytest.mark.django_db

INTERNAL_WORDS = ("Traceback", "string literal", "NUL (0x00)", "IntegrityError", "psycopg", "sqlite", "secret")


def assert_envelope(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"status", "error", "detail", "errors"}
    assert body["status"] == status
    text = response.content.decode()
    for word in INTERNAL_WORDS:
        assert word not in text, word
    return body


@pytest.fixture
def client_no_raise() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    "path",
    [
        "/api/x%0A/",
        "/api/x%0D%0A/",
        "/api/datasets/%0A/",
        "/api/%00/",
        "/api/states/saved/%00/",
        "/api/states/saved/a%0Ab/",
        "/api/states/saved/" + "a" * 40 + "/",
        "/api/states/datasets/a%00/",
        "/api/states/nothing-here/",
        "/api/states/volumes/99999999999999999999999/",
    ],
)
def test_unknown_api_paths_answer_a_json_404(client_no_raise, small_catalog: SmallCatalog, path) -> None:
    assert_envelope(client_no_raise.get(path), 404)


def test_an_unknown_saved_state_key_is_a_json_404(client_no_raise) -> None:
    body = assert_envelope(client_no_raise.get("/api/states/saved/AAAAAAAAAAAA/"), 404)
    assert body["error"] == "not_found"


def test_a_crash_under_the_api_is_a_json_500_without_its_message(
    client_no_raise, small_catalog: SmallCatalog, monkeypatch
) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api_views.selectors, "volume_queryset", crash)
    body = assert_envelope(client_no_raise.get("/api/volumes/"), 500)
    assert body["error"] == "server_error"


def test_a_crash_in_a_page_is_still_the_html_page(client_no_raise, small_catalog: SmallCatalog, monkeypatch) -> None:
    from catalog import views

    monkeypatch.setattr(views, "render", lambda *args, **kwargs: (_ for _ in ()).throw(RuntimeError("boom")))
    response = client_no_raise.get("/organelles/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_pages_keep_their_html_404(client_no_raise) -> None:
    response = client_no_raise.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_bodies_over_the_upload_limit_are_a_json_413(client_no_raise, small_catalog: SmallCatalog, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"volumes": [1] * 1000})
    assert_envelope(client_no_raise.post("/api/states/custom/", big, content_type="application/json"), 413)
    curator = token_client(staff=True)
    payload = json.dumps({"slug": "big", "description": "x" * 2000})
    response = curator.generic("POST", "/api/datasets/", payload, content_type="application/json")
    assert_envelope(response, 413)
    # A form body over the limit, read by Django itself (CSRF check on a session-less POST).
    form = "a=" + "x" * 2000
    response = client_no_raise.generic("POST", "/api/ingest/", form, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 401, 403, 413, 415)
    assert_envelope(response, response.status_code)


def test_a_csrf_refusal_under_the_api_is_json(small_catalog: SmallCatalog) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("curator-csrf", password="pw", is_staff=True)
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    response = client.post("/api/datasets/", json.dumps({"slug": "x"}), content_type="application/json")
    body = assert_envelope(response, 403)
    assert "CSRF" in body["detail"]


def test_method_not_allowed_is_json(client_no_raise, small_catalog: SmallCatalog) -> None:
    curator = token_client(staff=True)
    assert_envelope(curator.patch("/api/datasets/jrc_hela-2/", "{}", content_type="application/json"), 405)
    assert_envelope(client_no_raise.put("/api/states/saved/", "{}", content_type="application/json"), 405)
    assert_envelope(client_no_raise.delete("/api/schema/"), 405)
