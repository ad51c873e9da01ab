"""A crop table filtered by a class in headless Chromium: the filter form swaps the table in
place, present classes come first with their share, absent ones are greyed, the chosen class
is highlighted; screenshots in test-artifacts/ for people to look at."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from tests.test_crop_api import build_crops

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000


@pytest.fixture
def crops(transactional_db) -> None:
    cache.clear()
    build_crops()
    yield
    cache.clear()


@pytest.fixture
def page(chromium_browser):
    context = chromium_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
    yield page
    context.close()


def _chip_states(page, crop: int) -> list[tuple[str, str]]:
    row = page.locator("tr", has=page.locator(f"a[href='/crops/{crop}/']"))
    return [
        (chip.get_attribute("data-state"), chip.inner_text().split()[0]) for chip in row.locator("a.class-chip").all()
    ]


@pytest.mark.usefixtures("crops")
def test_a_crop_table_filtered_by_a_class(live_server, page, artifacts_dir) -> None:
    page.goto(live_server.url + reverse("catalog:collection-detail", args=["challenge"]) + "#crops")
    page.wait_for_selector("[data-crop-count]")
    assert page.locator("[data-crop-count]").inner_text() == "4"

    page.select_option("select[name=organelle]", "mito")
    page.wait_for_function("() => document.querySelector('[data-crop-count]').textContent === '3'")
    page.select_option("select[name=present]", "true")
    page.wait_for_function("() => document.querySelector('[data-crop-count]').textContent === '2'")
    page.select_option("select[name=ordering]", "-share")
    page.wait_for_function(
        "() => document.querySelector('#crop-results tbody tr a').getAttribute('href') === '/crops/2/'"
    )
    assert "organelle=mito" in page.url and "present=true" in page.url  # noqa: PT018

    assert _chip_states(page, 2) == [("present", "mito"), ("absent", "nuc")]
    assert _chip_states(page, 1) == [("present", "nuc"), ("present", "mito"), ("absent", "er")]
    highlighted = page.locator("#crop-results a.class-chip.highlight")
    assert highlighted.count() == 2
    assert {" ".join(text.split()) for text in highlighted.all_inner_texts()} == {"mito 30 %", "mito 10 %"}
    absent = page.locator("#crop-results a.class-chip.content-absent").first
    present = page.locator("#crop-results a.class-chip.content-present").first
    assert absent.evaluate("e => getComputedStyle(e).color") != present.evaluate("e => getComputedStyle(e).color")

    page.locator("#crops").screenshot(path=str(artifacts_dir / "crop-table-filtered-by-mito.png"))
    page.goto(live_server.url + reverse("catalog:crop-detail", args=[1]))
    page.screenshot(path=str(artifacts_dir / "crop-page.png"), full_page=True)
    assert page.locator("table.contents-table tbody tr").count() == 3


@pytest.fixture
def reference_catalog(transactional_db) -> None:
    cache.clear()
    call_command("load_catalog", verbosity=0)
    yield
    cache.clear()


@pytest.mark.usefixtures("reference_catalog")
def test_reference_crops_say_their_counts_are_unknown(live_server, page, artifacts_dir) -> None:
    page.goto(live_server.url + reverse("catalog:crop-detail", args=[1]))
    assert page.locator("[data-testid=counts-unknown]").is_visible()
    assert page.locator("a.class-chip.content-present").count() == 0
    assert page.locator("a.class-chip.content-unknown").count() == page.locator("table.contents-table tbody tr").count()
    size = page.locator("[data-testid=download-size]").inner_text()
    assert size.count("size unknown until ingested") == 2
    page.screenshot(path=str(artifacts_dir / "crop-page-reference.png"), full_page=True)

    page.goto(live_server.url + reverse("catalog:organelle-detail", args=["nuc"]) + "#present-crops")
    assert "Counts unknown" in page.locator("#present-crops").inner_text()
    page.locator("#present-crops").screenshot(path=str(artifacts_dir / "organelle-present-crops-reference.png"))
