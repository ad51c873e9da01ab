"""The pages the issue names, in headless Chromium over the shipped reference catalog, with
screenshots in test-artifacts/ for people to look at: platelet-em (TIFFs: every viewer control
disabled, the reason on the page, its seven semantic classes), the confocal dataset (HDF5
published nowhere: its Brainbow channels and who to ask), and jrc_hela-2's citation box."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000


@pytest.fixture
def reference_catalog(transactional_db) -> None:
    """The shipped reference catalog, committed, so the derived viewer facts are written."""
    cache.clear()
    call_command("load_catalog", verbosity=0)
    yield
    cache.clear()


@pytest.fixture
def page(chromium_browser):
    context = chromium_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    # Thumbnails and archives point at other hosts; nothing may leave the machine in a test.
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
    yield page
    context.close()


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _shoot(page, path: Path, selector: str | None = None) -> None:
    if selector is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        page.locator(selector).screenshot(path=str(path))
    assert path.stat().st_size > 5_000


def _viewer_links(page) -> int:
    return page.locator("a[href*='#!']").count()


def test_platelet_em_disables_the_viewer_and_says_why(live_server, reference_catalog, page, artifacts_dir):
    _open(page, live_server.url + reverse("catalog:dataset-detail", args=["platelet-em"]))

    opener = page.locator("[data-testid=open-dataset]")
    assert opener.evaluate("element => element.tagName") == "BUTTON"
    assert opener.is_disabled()
    assert "TIFF volumes cannot be streamed by Neuroglancer" in opener.get_attribute("title")
    assert page.locator("[data-testid=open-picked]").is_disabled()
    assert _viewer_links(page) == 0, "no control may open the viewer into a 409"
    views = page.locator("button[data-viewer-problem]")
    assert views.count() == 8, "one disabled View per TIFF volume"
    assert all(views.nth(index).is_disabled() for index in range(views.count()))
    assert page.locator("input[name=volumes]:enabled").count() == 0
    notice = page.locator("#viewer-problem")
    assert notice.is_visible()
    assert "Neuroglancer cannot open this dataset." in notice.inner_text()
    assert page.locator(".viewer-problem:visible").count() >= 8
    # Visibly disabled: greyed out, and the pointer says it does nothing.
    assert float(opener.evaluate("element => getComputedStyle(element).opacity")) < 1
    assert opener.evaluate("element => getComputedStyle(element).cursor") == "not-allowed"

    labels = page.locator("#segment-labels")
    assert "Semantic classes 7" in labels.inner_text()
    rows = labels.locator("tbody tr")
    assert rows.count() == 7
    colours = [
        rows.nth(index)
        .locator("td:nth-child(2) .swatch")
        .evaluate("element => getComputedStyle(element).backgroundColor")
        for index in range(7)
    ]
    assert "rgb(0, 255, 255)" in colours, "Mitochondria in cyan"
    assert "rgb(128, 0, 128)" in colours, "Dense granule core in purple"
    assert page.locator("[data-testid=download-archive]").is_visible()
    _shoot(page, artifacts_dir / "pages-platelet-em.png")


def test_the_confocal_dataset_shows_its_channels_and_that_it_is_unpublished(
    live_server, reference_catalog, page, artifacts_dir
):
    _open(page, live_server.url + reverse("catalog:dataset-detail", args=["mouse-brain-confocal"]))

    assert page.locator("[data-testid=open-dataset]").is_disabled()
    assert _viewer_links(page) == 0
    channels = page.locator(".channels")
    assert [" ".join(channels.nth(index).inner_text().split()) for index in range(channels.count())] == [
        "Channels: red green blue",
        "Channel: fluorescence",
    ]
    badge = page.locator(".status-badge").first
    assert badge.inner_text() == "Invalid"
    assert "publishes no storage location" in badge.get_attribute("title")
    assert "publishes no storage location" in page.locator(".status-reason").first.inner_text()
    unpublished = page.locator("[data-testid=not-published]")
    assert "Foysal.mdkamrulhasan@mayo.edu" in unpublished.inner_text()
    _shoot(page, artifacts_dir / "pages-confocal.png")


def test_jrc_hela_2_citation_box(live_server, reference_catalog, page, artifacts_dir):
    _open(page, live_server.url + reverse("catalog:dataset-detail", args=["jrc_hela-2"]))

    assert page.locator("[data-testid=open-dataset]").evaluate("element => element.tagName") == "A"
    assert _viewer_links(page) > 70
    cite = page.locator("#cite")
    cite.scroll_into_view_if_needed()
    assert "10.25378/janelia.13114211" in cite.inner_text()
    _shoot(page, artifacts_dir / "pages-jrc_hela-2-citation.png", "#cite")
