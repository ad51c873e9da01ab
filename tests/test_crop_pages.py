"""Crop tables and pages show what crops hold: present classes first with their share, absent
ones greyed, the filtered class highlighted; an organelle's page lists the crops where it is
present; crops never counted (the whole reference catalog) say so instead of showing numbers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.test_crop_api import crops  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def chips(html: str, crop: int) -> list[tuple[str, str, bool]]:
    """(class, state, highlighted) of the chips in one crop's table row, in order."""
    row = re.search(rf'<tr>\s*<td class="nowrap"><a href="/crops/{crop}/">crop {crop}</a>.*?</tr>', html, re.S)
    assert row, f"no row for crop {crop}"
    return [
        (name, state, "highlight" in classes)
        for classes, state, name in re.findall(
            r'<a class="class-chip ([^"]*)" data-state="(\w+)"[^>]*>.*?</span>(\w+)', row.group(0), re.S
        )
    ]


@pytest.mark.usefixtures("crops")
def test_a_crop_table_filtered_by_a_class_shows_present_first_and_highlights_it(client: Client) -> None:
    html = client.get(
        reverse("catalog:collection-detail", args=["challenge"]) + "?organelle=mito&present=true&ordering=-share"
    ).content.decode()

    assert re.search(r"data-crop-count>2<", html)
    assert chips(html, 1) == [("nuc", "present", False), ("mito", "present", True), ("er", "absent", False)]
    assert chips(html, 2) == [("mito", "present", True), ("nuc", "absent", False)]
    assert html.index("crop 2</a>") < html.index("crop 1</a>")  # largest mito share first
    assert '<span class="share">50 %</span>' in html
    assert '<span class="share">30 %</span>' in html


@pytest.mark.usefixtures("crops")
def test_content_filters_without_a_class_are_explained_on_the_page(client: Client) -> None:
    response = client.get(reverse("catalog:collection-detail", args=["challenge"]) + "?present=true")

    assert response.status_code == 200
    assert "Needs organelle=&lt;class&gt;" in response.content.decode()


@pytest.mark.usefixtures("crops")
def test_an_organelle_page_lists_crops_where_it_is_present_by_share(client: Client) -> None:
    html = client.get(reverse("catalog:organelle-detail", args=["nuc"])).content.decode()

    section = html[html.index('id="present-crops"') : html.index('id="crops"')]
    assert re.findall(r"crop (\d+)</a>", section) == ["1", "3"]
    assert re.findall(r'<td class="num">(\d+ %)</td>', section) == ["50 %", "20 %"]
    assert "/api/crops/manifest.csv?organelle=nuc&amp;present=true&amp;ordering=-share" in section


@pytest.mark.usefixtures("crops")
def test_a_crop_page_shows_every_class_with_its_counts(client: Client) -> None:
    html = client.get(reverse("catalog:crop-detail", args=[1])).content.decode()

    rows = re.findall(r'<tr class="(present|absent|unknown)">', html)
    assert rows == ["present", "present", "absent"]
    assert "500" in html and "Counts unknown until" not in html  # noqa: PT018
    three = client.get(reverse("catalog:crop-detail", args=[3])).content.decode()
    assert "too large to count" in three
    four = client.get(reverse("catalog:crop-detail", args=[4])).content.decode()
    assert 'data-testid="counts-unknown"' in four


@pytest.mark.usefixtures("crops")
def test_no_page_for_a_crop_that_does_not_exist(client: Client) -> None:
    assert client.get("/crops/999/").status_code == 404


@pytest.mark.usefixtures("crops")
def test_curators_see_and_edit_contents_in_the_admin(admin_client: Client) -> None:
    from catalog.models import Crop, CropContent

    row = CropContent.objects.get(crop__number=1, label_class__name="nuc")
    assert admin_client.get(reverse("admin:catalog_cropcontent_changelist"), {"q": "nuc"}).status_code == 200
    assert admin_client.get(reverse("admin:catalog_cropcontent_change", args=[row.pk])).status_code == 200
    crop = admin_client.get(reverse("admin:catalog_crop_change", args=[Crop.objects.get(number=1).pk]))
    assert crop.status_code == 200
    assert "cellmap.annotation.complement_counts" in crop.content.decode()


@pytest.mark.usefixtures("crops")
def test_a_changed_count_is_on_the_pages_at_once(client: Client) -> None:
    from catalog.models import CropContent
    from tests.factories import commit_catalog

    assert "50 %" in client.get(reverse("catalog:crop-detail", args=[1])).content.decode()
    row = CropContent.objects.select_related("crop").get(crop__number=1, label_class__name="nuc")
    row.present_voxels, row.absent_voxels = 250, 750
    row.save()
    commit_catalog()

    html = client.get(reverse("catalog:crop-detail", args=[1])).content.decode()
    assert "25 %" in html
    assert "50 %" not in html


@pytest.mark.usefixtures("crops")
def test_the_crop_page_runs_a_fixed_number_of_queries(client: Client, django_assert_max_num_queries: Any) -> None:
    # version, the crop with its dataset, its classes, its contents, its dataset's volumes
    with django_assert_max_num_queries(5):
        assert client.get(reverse("catalog:crop-detail", args=[1])).status_code == 200
