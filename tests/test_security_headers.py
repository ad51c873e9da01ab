"""Stored XSS through URL fields is refused, and every response carries the security headers.

URL fields end up in ``href`` and ``src`` on the pages, so only the schemes that make sense for
each are accepted (http/https, s3 for data, doi: for publications), on every write path: the
API and the manifests. Every response, page, API, admin, static file or error, carries a
Content-Security-Policy (own scripts only; the viewer's extra needs named), nosniff, a referrer
policy and frame-ancestors 'none'.
"""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog import models as m
from catalog.services.loading import REFERENCE_CATALOG
from portal.security import page_policy, viewer_policy
from tests.test_api_fixtures import SmallCatalog, api, small_catalog, token_client  # noqa: F401
from tests.test_api_writes import dataset_payload

pytestmark = pytest.mark.django_db

XSS = "javascript:alert(document.domain)"


@pytest.fixture
def curator():
    return token_client(staff=True)


def _field_errors(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"licence": "CC BY 4.0", "licence_url": XSS}, "licence_url"),
        ({"publications": [{"title": "A paper", "url": XSS}]}, "publications.0.url"),
        ({"publications": [{"title": "A paper", "url": "JavaScript://%0aalert(1)"}]}, "publications.0.url"),
        ({"thumbnail_url": "data:image/svg+xml,<svg onload=alert(1)>"}, "thumbnail_url"),
        ({"download_url": "vbscript:msgbox"}, "download_url"),
        ({"benchmarks": [{"method": "m", "metric": "dice", "value": 0.5, "source": XSS}]}, "benchmarks.0.source"),
    ],
)
def test_a_dangerous_url_is_refused_through_the_api_and_nothing_is_stored(
    curator, small_catalog: SmallCatalog, overrides, field
) -> None:
    errors = _field_errors(curator.post("/api/datasets/", dataset_payload(**overrides), format="json"))
    assert field in errors
    assert "URL" in errors[field]
    assert "javascript" not in errors[field].split("'")[-1]  # the message names the value, then the rule
    assert not m.Dataset.objects.filter(slug="jrc_new-cell").exists()
    assert not m.Publication.objects.filter(title="A paper").exists()


def test_an_existing_record_cannot_be_given_a_dangerous_url(curator, small_catalog: SmallCatalog) -> None:
    assert curator.post("/api/datasets/", dataset_payload(), format="json").status_code == 201
    payload = dataset_payload(licence="CC BY 4.0", licence_url=XSS, publications=[{"title": "P", "url": XSS}])
    errors = _field_errors(curator.put("/api/datasets/jrc_new-cell/", payload, format="json"))
    assert {"licence_url", "publications.0.url"} <= set(errors)
    dataset = m.Dataset.objects.get(slug="jrc_new-cell")
    assert dataset.licence_url == ""
    page = curator.get("/datasets/jrc_new-cell/").content.decode()
    assert "javascript:" not in page


def test_good_urls_of_every_kind_are_kept(curator, small_catalog: SmallCatalog) -> None:
    payload = dataset_payload(
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        download_url="s3://bucket/archive.zip",
        publications=[{"title": "A paper", "url": "doi:10.1234/abc"}, {"title": "B", "url": "http://x.org/b"}],
        benchmarks=[{"method": "m", "metric": "dice", "value": 0.5, "source": "10.1234/abc"}],
    )
    payload["volumes"][0]["url"] = "50-images.tif"  # a file within the published archive
    assert curator.post("/api/datasets/", payload, format="json").status_code == 201, "refused"


def test_volume_and_crop_writes_check_their_urls(curator, small_catalog: SmallCatalog) -> None:
    volume = {"dataset": "jrc_hela-2", "name": "v", "kind": "image", "content_type": "em", "url": XSS}
    assert "url" in _field_errors(curator.post("/api/volumes/", volume, format="json"))
    volume["url"] = "//evil.example/x"
    assert "url" in _field_errors(curator.post("/api/volumes/", volume, format="json"))
    crop = {
        "dataset": "jrc_hela-2",
        "number": 999,
        "split": "train",
        "voxel_size_nm": {"x": 4, "y": 4, "z": 4},
        "translation_nm": {"x": 0, "y": 0, "z": 0},
        "shape": {"x": 1, "y": 1, "z": 1},
        "labels_url": XSS,
    }
    assert "labels_url" in _field_errors(curator.post("/api/crops/", crop, format="json"))
    assert not m.Volume.objects.filter(name="v").exists()
    assert not m.Crop.objects.filter(number=999).exists()


@pytest.mark.parametrize("key", ["licence_url", "publications"])
def test_a_manifest_with_a_javascript_url_fails_the_load(tmp_path: Path, key) -> None:
    partial = tmp_path / "partial"
    (partial / "datasets").mkdir(parents=True)
    shutil.copy(REFERENCE_CATALOG / "datasets" / "platelet-em.json", partial / "datasets")
    manifest = partial / "datasets" / "platelet-em.json"
    data = json.loads(manifest.read_text())
    data[key] = XSS if key == "licence_url" else [{"title": "A paper", "url": XSS}]
    manifest.write_text(json.dumps(data))
    before = m.Dataset.objects.count()

    with pytest.raises(CommandError) as refusal:
        call_command("load_catalog", str(partial))

    expected = "licence_url" if key == "licence_url" else "publications['A paper'].url"
    assert f"datasets/platelet-em.json: {expected}: " in str(refusal.value)
    assert "is not a URL starting with" in str(refusal.value)
    assert m.Dataset.objects.count() == before


# Headers ---------------------------------------------------------------------------------------------


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def test_the_page_policy_allows_only_own_scripts() -> None:
    policy = _directives(page_policy())
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert not any("unsafe" in value for value in policy["script-src"] + policy["default-src"])


def test_the_viewer_policy_names_its_needs_and_the_s3_endpoint(settings) -> None:
    settings.AWS_ENDPOINT_URL_S3 = "http://127.0.0.1:9999/"
    policy = _directives(viewer_policy())
    assert policy["script-src"] == ["'self'", "'unsafe-eval'", "'wasm-unsafe-eval'"]
    assert "blob:" in policy["worker-src"]
    assert "https:" in policy["connect-src"]
    assert "http://127.0.0.1:9999" in policy["connect-src"]
    assert policy["frame-ancestors"] == ["'none'"]


def _page_paths(small: SmallCatalog) -> list[str]:
    hela = small.hela
    return [
        "/",
        "/datasets/",
        "/datasets/?organism=homo-sapiens",
        f"/datasets/{hela.slug}/",
        "/organelles/",
        "/organelles/mito/",
        "/collections/",
        f"/collections/{small.collection.slug}/",
        "/organisms/homo-sapiens/",
        "/tissues/liver/",
        "/datasets/no-such-dataset/",
        "/admin/login/",
        "/api/",
        "/api/datasets/",
        f"/api/datasets/{hela.slug}/",
        "/api/datasets/?organism=nope",
        "/api/no-such-thing/",
        "/api/schema/",
        "/api/docs/",
        "/api/docs/?script=",
        "/api/redoc/",
        f"/api/states/datasets/{hela.slug}/",
        "/static/js/portal.js",
        "/favicon.ico",
    ]


def test_every_response_carries_the_security_headers(api, small_catalog: SmallCatalog) -> None:
    for path in [*_page_paths(small_catalog), "/neuroglancer/"]:
        response = api.get(path)
        assert response.status_code < 500, path
        policy = response.get("Content-Security-Policy")
        assert policy, path
        expected = viewer_policy() if path.startswith("/neuroglancer/") else page_policy()
        assert policy == expected, path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in policy, path


def test_pages_hold_no_inline_script(api, small_catalog: SmallCatalog) -> None:
    """Under ``script-src 'self'`` an inline script would not run: the pages must not need one."""
    # Data blocks (JSON, JSON-LD) are not scripts the browser runs.
    inline = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(ld\+)?json\")[^>]*>", re.I)
    handler = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
    for path in _page_paths(small_catalog):
        response = api.get(path)
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        page = response.content.decode()
        assert not inline.search(page), path
        assert not handler.search(page), path
        assert "javascript:" not in page, path


# In a browser that enforces the policy -----------------------------------------------------------------


def _csp_violations(console: list[str]) -> list[str]:
    return [line for line in console if "Content Security Policy" in line or "Content-Security-Policy" in line]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_and_api_docs_run_under_the_policy(live_server, chromium_browser) -> None:
    from tests.test_api_fixtures import build_small_catalog

    build_small_catalog()
    context = chromium_browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    try:
        for path in ("/", "/datasets/", "/datasets/jrc_hela-2/", "/organelles/", "/collections/"):
            response = page.goto(f"{live_server.url}{path}", wait_until="load")
            assert "default-src 'self'" in response.headers["content-security-policy"], path
        # htmx, the portal's own script, still runs: a facet click updates the list in place.
        page.goto(f"{live_server.url}/datasets/", wait_until="load")
        page.wait_for_function("() => window.htmx !== undefined")
        page.goto(f"{live_server.url}/api/docs/", wait_until="load")
        page.locator(".swagger-ui .info .title").wait_for(state="visible")
        page.goto(f"{live_server.url}/api/redoc/", wait_until="load")
        page.locator("redoc .api-info, .api-content h1").first.wait_for(state="visible")
    finally:
        context.close()
    assert _csp_violations(console) == []


@pytest.fixture
def portal_server(transactional_db):
    """A live server whose static files go through the middleware, as whitenoise serves them in
    production (pytest-django's live server answers them before any middleware): the viewer's
    workers then carry the viewer's policy, as they do for real."""
    from django.db import connections
    from django.test.testcases import LiveServerThread

    shared = {conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()}
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = LiveServerThread("127.0.0.1", lambda handler: handler, connections_override=shared, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


@pytest.mark.browser
@pytest.mark.s3
def test_the_viewer_shows_data_under_its_policy(
    s3_server, chromium_browser, artifacts_dir: Path, portal_server: str, settings
) -> None:
    """Neuroglancer, its workers and their WebAssembly decoders run under the viewer's policy:
    the state and the S3 data load, voxels are drawn, and the browser reports no violation."""
    import urllib.parse
    import urllib.request

    from django.test import RequestFactory

    from catalog.neuroglancer.links import neuroglancer_links
    from tests.fixtures.browser import skip_or_fail
    from tests.test_browser_viewer import catalogue, open_in_viewer
    from tests.test_viewer_smoke import MIN_GREY_LEVELS, panel_stats

    if not (Path(settings.VIEWER_DIST_DIR) / "index.html").is_file():
        skip_or_fail("viewer/dist is not built; run `make viewer`")
    settings.AWS_ENDPOINT_URL_S3 = s3_server.endpoint_url
    settings.NEUROGLANCER_VIEWER_URL = ""
    dataset = catalogue(s3_server)
    host = urllib.parse.urlsplit(portal_server).netloc
    url = neuroglancer_links(RequestFactory().get("/", HTTP_HOST=host), "dataset", dataset.slug)["neuroglancer_url"]
    worker = next(Path(settings.VIEWER_DIST_DIR, "assets").glob("chunk_worker.bundle-*.js")).name
    for path in ("/neuroglancer/", f"/static/neuroglancer/assets/{worker}"):
        with urllib.request.urlopen(f"{portal_server}{path}") as response:
            assert response.headers["Content-Security-Policy"] == viewer_policy(), path

    screenshot = artifacts_dir / "csp-viewer-dataset.png"
    state, names, _, box, console = open_in_viewer(chromium_browser, url, screenshot)

    assert state.get("ready"), (state, console[-20:])
    assert names == ["em", "cells"]
    assert panel_stats(screenshot, box)[0] >= MIN_GREY_LEVELS, console[-20:]
    assert _csp_violations(console) == []
