"""The browse pages in headless Chromium: live search and facets without reloads, the layer
picker landing in Neuroglancer, and screenshots of the main pages for people to look at."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from catalog.neuroglancer.links import self_hosted_viewer_available
from tests.fixtures.browser import skip_or_fail
from tests.test_pages import PageCatalog, build_catalog

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000


@pytest.fixture
def catalog(transactional_db) -> PageCatalog:
    cache.clear()
    data = build_catalog(extra=3)
    yield data
    cache.clear()


@pytest.fixture
def page(chromium_browser):
    context = chromium_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    # Thumbnails point at remote buckets; nothing may leave the machine in a test.
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
    yield page
    context.close()


def _result_count(page) -> int:
    return int(page.locator("[data-result-count]").inner_text())


def _wait_for_count(page, expected: int) -> None:
    page.wait_for_function(
        "expected => Number(document.querySelector('[data-result-count]')?.textContent) === expected",
        arg=expected,
    )


def test_search_and_facets_update_in_place_with_shareable_urls(live_server, catalog, page):
    page.goto(live_server.url + reverse("catalog:dataset-list"))
    assert _result_count(page) == 5
    page.evaluate("window.__notReloaded = true")

    page.fill("#q", "hela")
    _wait_for_count(page, 1)
    assert page.url.endswith("/datasets/?q=hela")
    assert page.title().startswith("\u201chela\u201d \u00b7 Datasets")
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#q").evaluate("element => element === document.activeElement")

    page.fill("#q", "")
    _wait_for_count(page, 5)
    page.check("#f-organism-mus-musculus")
    _wait_for_count(page, 3)
    assert "organism=mus-musculus" in page.url
    assert page.evaluate("window.__notReloaded") is True
    # The ticked box survives the swap and keeps the keyboard focus.
    assert page.locator("#f-organism-mus-musculus").is_checked()
    assert page.evaluate("document.activeElement && document.activeElement.id") == "f-organism-mus-musculus"

    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    _wait_for_count(page, 4)
    assert page.evaluate("window.__notReloaded") is True
    shared = page.url

    # Back and forward step through the searches.
    page.go_back()
    _wait_for_count(page, 3)
    page.go_forward()
    _wait_for_count(page, 4)

    # Every state is a plain URL: loading it afresh shows the same results.
    page.goto(shared)
    assert _result_count(page) == 4
    assert page.evaluate("window.__notReloaded") is None


def test_browse_works_without_javascript(live_server, catalog, chromium_browser):
    context = chromium_browser.new_context(viewport=VIEWPORT, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("catalog:dataset-list"))
        page.fill("#q", "hela")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"\?q=hela"))
        assert page.locator("[data-result-count]").inner_text() == "1"
    finally:
        context.close()


def test_layer_picker_opens_the_chosen_volumes_in_neuroglancer(live_server, catalog, page):
    if not self_hosted_viewer_available():
        skip_or_fail("viewer/dist is not built; run `make viewer`")
    page.goto(live_server.url + reverse("catalog:dataset-list"))
    page.click("text=Interphase HeLa cell")
    page.wait_for_url(re.compile(r"/datasets/jrc_hela-2/$"))

    em, segmentation = catalog.volumes[0], catalog.volumes[1]
    button = page.locator("[data-testid=open-picked]")
    assert button.is_disabled()
    page.check(f"#pick-{em.pk}")
    page.check(f"#pick-{segmentation.pk}")
    assert page.locator("[data-picker-status]").inner_text() == "2 layers selected"

    redirects: list[str] = []
    page.on("response", lambda response: redirects.append(response.headers.get("location", "")))
    state_requests: list[str] = []
    page.on("request", lambda request: state_requests.append(request.url) if "/api/states/" in request.url else None)
    button.click()
    page.wait_for_url(re.compile(r"/neuroglancer/"))

    location = next(value for value in redirects if "#!" in value)
    viewer_url, _, state_url = location.partition("#!")
    assert viewer_url == live_server.url + reverse("neuroglancer-viewer")
    expected_state = f"{live_server.url}{reverse('state-custom')}?volumes={em.pk}%2C{segmentation.pk}"
    assert state_url == expected_state

    with urllib.request.urlopen(state_url, timeout=10) as response:
        state = json.load(response)
    layer_names = {layer["name"] for layer in state["layers"]}
    assert {em.name, segmentation.name} <= layer_names
    assert not layer_names - {em.name, segmentation.name}

    # The viewer itself asked for exactly that state.
    page.wait_for_function("() => window.viewer !== undefined", timeout=60_000)
    page.wait_for_function(
        "names => names.every(name => window.viewer.layerManager.getLayerByName(name))",
        arg=[em.name, segmentation.name],
        timeout=60_000,
    )
    assert any(urllib.parse.unquote(url).startswith(urllib.parse.unquote(state_url)) for url in state_requests)


def _shoot(page, url: str, path: Path) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def _fits_the_screen(page) -> bool:
    """Nothing makes the page scroll sideways (wide tables scroll inside their own box)."""
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


@pytest.fixture
def reference_catalog(transactional_db) -> None:
    """The shipped reference catalog (52 datasets, 305 crops), so the screenshots show real records."""
    cache.clear()
    call_command("load_catalog", verbosity=0)
    yield
    cache.clear()


def test_screenshots_of_the_main_pages(live_server, reference_catalog, page, chromium_browser, artifacts_dir):
    targets = {
        "pages-home": reverse("catalog:home"),
        "pages-browse": reverse("catalog:dataset-list") + "?organism=homo-sapiens",
        "pages-dataset": reverse("catalog:dataset-detail", args=["jrc_hela-2"]),
        "pages-dataset-sparse": reverse("catalog:dataset-detail", args=["jrc_ut21-1413-003"]),
        "pages-organelle": reverse("catalog:organelle-detail", args=["mito"]),
        "pages-organelles": reverse("catalog:organelle-list"),
        "pages-challenge": reverse("catalog:collection-detail", args=["cellmap-segmentation-challenge"]),
        "pages-p7": reverse("catalog:collection-detail", args=["p7-mouse-tissue"]),
    }
    for name, path in targets.items():
        _shoot(page, live_server.url + path, artifacts_dir / f"{name}.png")
        # No broken layout: the page never scrolls sideways.
        assert _fits_the_screen(page), name

    phone = chromium_browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        phone_page = phone.new_page()
        phone_page.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
        for name in ("pages-browse", "pages-dataset", "pages-challenge", "pages-organelle"):
            _shoot(phone_page, live_server.url + targets[name], artifacts_dir / f"{name}-phone.png")
            assert _fits_the_screen(phone_page), name
    finally:
        phone.close()


def test_challenge_crops_filter_in_place(live_server, catalog, page):
    page.goto(live_server.url + reverse("catalog:collection-detail", args=["cellmap-segmentation-challenge"]))
    count = page.locator("[data-crop-count]")
    assert count.inner_text() == "3"
    page.evaluate("window.__notReloaded = true")
    page.select_option("select[name=organelle]", "nuc")
    page.wait_for_function("() => document.querySelector('[data-crop-count]').textContent === '1'")
    assert "organelle=nuc" in page.url
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#crop-results tbody tr").count() == 1


def test_facets_are_reachable_and_visibly_focused_by_keyboard(live_server, catalog, page):
    page.goto(live_server.url + reverse("catalog:dataset-list"))
    page.focus("#q")
    seen = set()
    for _ in range(30):
        page.keyboard.press("Tab")
        element_id = page.evaluate("document.activeElement.id")
        seen.add(element_id)
        if element_id == "f-organism-homo-sapiens":
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none"
            break
    assert "f-organism-homo-sapiens" in seen
