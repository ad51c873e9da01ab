"""Pages that only promise what works and show what the catalog holds.

A dataset, volume, crop or view that cannot make a viewer state has its "Open in Neuroglancer",
"View" and layer-picker controls disabled and says why, with the reason its state URL gives;
status badges carry their reason; semantic classes, channels and where to get the data are on
the dataset page; every page answers HEAD; /favicon.ico and the API root answer.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Dataset, SegmentLabel, Volume
from catalog.models.base import ContentType, CropSplit, VolumeFormat, VolumeKind, VolumeStatus
from tests.factories import (
    CollectionFactory,
    CropFactory,
    DatasetFactory,
    LabelClassFactory,
    ViewFactory,
    VolumeFactory,
    commit_catalog,
)
from tests.test_pages import visible_text

TIFF_REASON = "TIFF volumes cannot be streamed by Neuroglancer"


class _Controls(HTMLParser):
    """Every link, button and checkbox of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("a", "button", "input"):
            self.controls.append((tag, dict(attrs)))


def controls(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Controls()
    parser.feed(html)
    return parser.controls


def viewer_links(html: str) -> list[str]:
    return [attrs["href"] for tag, attrs in controls(html) if tag == "a" and "#!" in (attrs.get("href") or "")]


@pytest.fixture
def platelet_like(db) -> Dataset:
    """A dataset published as TIFFs in an archive (like platelet-em): seven semantic classes, a
    curated view and a withheld crop, none of which Neuroglancer can open."""
    dataset = DatasetFactory(
        slug="platelet-like",
        voxel_size_x=10.0,
        voxel_size_y=10.0,
        voxel_size_z=40.0,
        download_url="https://example.org/images-and-labels.zip",
        data_size="95.8 MB (zipped)",
        data_formats=["TIFF"],
    )
    cell = LabelClassFactory(name="cell", label_id=900, colour="#00008b")
    images = VolumeFactory(dataset=dataset, name="50-images", url="50-images.tif", format=VolumeFormat.TIFF)
    semantic = VolumeFactory(
        dataset=dataset,
        name="50-semantic",
        url="50-semantic.tif",
        format=VolumeFormat.TIFF,
        kind=VolumeKind.SEGMENTATION,
        content_type=ContentType.SEGMENTATION,
    )
    for value, name, colour, label_class in (
        (0, "Background", "", None),
        (1, "Cell", "", cell),
        (2, "Mitochondria", "#00ffff", None),
        (3, "Alpha granule", "#008000", None),
        (4, "Canalicular vessel", "#ffff00", None),
        (5, "Dense granule body", "#ff0000", None),
        (6, "Dense granule core", "#800080", None),
    ):
        SegmentLabel.objects.create(volume=semantic, value=value, name=name, colour=colour, label_class=label_class)
    view = ViewFactory(dataset=dataset, name="Granules")
    view.layers.create(position=0, name="50-images", volume=images)
    CropFactory(dataset=dataset, number=77, split=CropSplit.TEST, labels_url="")
    collection = CollectionFactory(slug="mixed")
    collection.datasets.add(dataset)
    commit_catalog()
    return dataset


def test_a_dataset_that_cannot_be_viewed_disables_every_viewer_control_and_says_why(client: Client, platelet_like):
    html = client.get(reverse("catalog:dataset-detail", args=["platelet-like"])).content.decode()
    text = visible_text(html)
    found = controls(html)

    assert viewer_links(html) == [], "no link may open the viewer into a 409"
    buttons = {attrs.get("data-testid"): attrs for tag, attrs in found if tag == "button"}
    assert "disabled" in buttons["open-dataset"]
    assert TIFF_REASON in buttons["open-dataset"]["title"]
    assert "disabled" in buttons["open-picked"]
    assert all("disabled" in attrs for tag, attrs in found if tag == "input" and attrs.get("name") == "volumes")
    disabled_views = [attrs for tag, attrs in found if tag == "button" and "data-viewer-problem" in attrs]
    assert len(disabled_views) == 4, "two volumes, the view and the crop"
    assert all("disabled" in attrs and attrs["title"] for attrs in disabled_views)
    # The reasons are on the page, in words, not only on hover.
    assert "Neuroglancer cannot open this dataset." in text
    assert platelet_like.viewer_problem in text
    assert text.count(TIFF_REASON) >= 3
    assert "withheld" in text


def test_collection_and_organelle_tables_disable_what_cannot_be_viewed(client: Client, platelet_like):
    html = client.get(reverse("catalog:collection-detail", args=["mixed"])).content.decode()
    assert viewer_links(html) == []
    assert TIFF_REASON in visible_text(html)
    assert "withheld" in visible_text(html), "the crop table says why crop 77 cannot be viewed"


def test_the_layer_picker_drops_volumes_neuroglancer_cannot_open(client: Client, platelet_like):
    good = VolumeFactory(dataset=platelet_like, name="em-zarr")
    commit_catalog()
    tiff = Volume.objects.get(name="50-images")
    url = reverse("catalog:dataset-open", args=["platelet-like"])

    assert client.get(url, {"volumes": [tiff.pk]})["Location"].endswith("#layers")
    location = client.get(url, {"volumes": [tiff.pk, good.pk]})["Location"]
    assert location.endswith(f"?volumes={good.pk}")


def test_invalid_and_missing_badges_carry_their_reason(client: Client, db):
    dataset = DatasetFactory(slug="jrc_badges")
    VolumeFactory(dataset=dataset, name="em")
    VolumeFactory(
        dataset=dataset,
        name="broken",
        status=VolumeStatus.INVALID,
        validation_errors=[{"field": ".zattrs.multiscales", "message": "no multiscales"}],
    )
    VolumeFactory(dataset=dataset, name="gone", status=VolumeStatus.MISSING)
    commit_catalog()

    html = client.get(reverse("catalog:dataset-detail", args=["jrc_badges"])).content.decode()

    badges = re.findall(r'<span class="pill test status-badge" title="([^"]+)">(\w+)</span>', html)
    assert badges == [
        (".zattrs.multiscales: no multiscales", "Invalid"),
        ("Its data was not found at its storage location when it was last ingested.", "Missing"),
    ]
    text = visible_text(html)
    assert "Invalid: .zattrs.multiscales: no multiscales" in text
    assert "Missing: Its data was not found" in text
    assert len(viewer_links(html)) == 2, "the dataset and its one good volume"


def test_semantic_classes_are_listed_with_their_colours(client: Client, platelet_like):
    html = client.get(reverse("catalog:dataset-detail", args=["platelet-like"])).content.decode()
    section = html[html.index('id="segment-labels"') :]
    section = section[: section.index("</table>")]
    rows = re.findall(r"<tr>\s*<td class=\"num\">(\d+)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", section, re.S)

    assert [(int(value), visible_text(name).split(" #")[0]) for value, name, _ in rows] == [
        (0, "Background"),
        (1, "Cell"),
        (2, "Mitochondria"),
        (3, "Alpha granule"),
        (4, "Canalicular vessel"),
        (5, "Dense granule body"),
        (6, "Dense granule core"),
    ]
    assert 'style="background: #00008b"' in rows[1][1], "a label without its own colour shows its class's"
    assert 'style="background: #800080"' in rows[6][1]
    assert "organelles/cell/" in rows[1][2]
    assert "Semantic classes 7" in visible_text(html)


def test_a_volume_with_channels_shows_them(client: Client, db):
    dataset = DatasetFactory(slug="brainbow-like")
    volume = VolumeFactory(dataset=dataset, name="brainbow-rgb", content_type=ContentType.LM, axes="czyx")
    for index, (name, colour) in enumerate((("red", "#ff0000"), ("green", "#00ff00"), ("blue", "#0000ff"))):
        volume.channels.create(index=index, name=name, colour=colour)
    commit_catalog()

    html = client.get(reverse("catalog:dataset-detail", args=["brainbow-like"])).content.decode()

    assert "Channels: red green blue" in visible_text(html)
    for colour in ("#ff0000", "#00ff00", "#0000ff"):
        assert f'style="background: {colour}"' in html


def test_get_the_data_is_honest_about_where_the_data_is(client: Client, platelet_like):
    s3 = DatasetFactory(slug="jrc_s3")
    VolumeFactory(dataset=s3, name="fibsem-uint8")
    unpublished = DatasetFactory(slug="unpublished", contact="someone@example.org")
    VolumeFactory(dataset=unpublished, name="raw", url="", format="")
    nobody = DatasetFactory(slug="nobody", provenance="A release post")
    VolumeFactory(dataset=nobody, name="raw", url="", format="")
    commit_catalog()

    def access(slug: str) -> str:
        html = client.get(reverse("catalog:dataset-detail", args=[slug])).content.decode()
        assert '<a class="button" href="#access">Get the data</a>' in html
        return visible_text(html[html.index('id="access"') :])

    text = access("jrc_s3")
    assert "aws s3 ls --no-sign-request s3://test-bucket/jrc_s3/" in text
    assert (
        "aws s3 cp --no-sign-request --recursive s3://test-bucket/jrc_s3/jrc_s3.zarr/fibsem-uint8 ./fibsem-uint8"
        in text
    )
    assert "Not yet published" not in text

    text = access("platelet-like")
    assert "Download the archive 95.8 MB (zipped) · TIFF" in text
    assert "It holds the files 50-images.tif, 50-semantic.tif." in text
    assert "aws s3" not in text
    assert "Not yet published" not in text

    text = access("unpublished")
    assert "Not yet published" in text
    assert "Ask the contact: someone@example.org" in text
    assert (
        'href="mailto:someone@example.org"'
        in client.get(reverse("catalog:dataset-detail", args=["unpublished"])).content.decode()
    )

    text = access("nobody")
    assert "The source names no contact; this record comes from: A release post." in text


PAGES = [
    ("catalog:home", []),
    ("catalog:dataset-list", []),
    ("catalog:dataset-detail", ["platelet-like"]),
    ("catalog:organelle-list", []),
    ("catalog:organelle-detail", ["cell"]),
    ("catalog:collection-list", []),
    ("catalog:collection-detail", ["mixed"]),
    ("catalog:organism-detail", ["homo-sapiens"]),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_head_answers_as_get_does(client: Client, platelet_like, name: str, args: list[str]):
    url = reverse(name, args=args)
    get = client.get(url)
    head = client.head(url)

    assert get.status_code == 200
    assert head.status_code == get.status_code
    assert head["Content-Type"] == get["Content-Type"]
    assert head.content == b""


def test_head_of_the_layer_picker_and_of_a_missing_page(client: Client, platelet_like):
    assert client.head(reverse("catalog:dataset-open", args=["platelet-like"])).status_code == 302
    assert client.head(reverse("catalog:dataset-detail", args=["nope"])).status_code == 404
    assert client.post(reverse("catalog:home")).status_code == 405


def test_favicon_is_a_real_icon_served_locally(client: Client, db):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00", "an ICO file"
    assert client.head("/favicon.ico").status_code == 200
    html = client.get(reverse("catalog:home")).content.decode()
    assert re.search(r'<link rel="icon" href="/static/favicon[^"]*\.ico"', html)


def test_the_api_root_links_the_docs_schema_facets_and_states(client: Client, db):
    body = client.get("/api/").json()

    assert body["datasets"] == "http://testserver/api/datasets/"
    assert body["docs"] == "http://testserver/api/docs/"
    assert body["redoc"] == "http://testserver/api/redoc/"
    assert body["schema"] == "http://testserver/api/schema/"
    assert body["facets"] == "http://testserver/api/datasets/facets/"
    assert body["states"] == {
        "dataset": "http://testserver/api/states/datasets/{slug}/",
        "volume": "http://testserver/api/states/volumes/{id}/",
        "crop": "http://testserver/api/states/crops/{number}/",
        "view": "http://testserver/api/states/views/{id}/",
        "custom": "http://testserver/api/states/custom/?volumes={id},{id}",
        "save": "http://testserver/api/states/saved/",
    }
    for name in ("docs", "schema", "facets"):
        assert client.get(body[name]).status_code == 200, name


@pytest.mark.usefixtures("reference_catalog")
class TestReferenceCatalog:
    """The shipped records the issue names: platelet-em, the confocal dataset, jrc_hela-2."""

    def test_platelet_em_lists_its_seven_semantic_classes_and_disables_the_viewer(self, client: Client):
        html = client.get(reverse("catalog:dataset-detail", args=["platelet-em"])).content.decode()
        text = visible_text(html)

        assert "Semantic classes 7" in text
        for name in ("Background", "Cell", "Mitochondria", "Alpha granule", "Canalicular vessel"):
            assert name in text
        assert "Dense granule body" in text
        assert "Dense granule core" in text
        assert "The values of 24-semantic, 50-semantic" in text
        assert viewer_links(html) == []
        assert "Neuroglancer cannot open this dataset." in text
        assert TIFF_REASON in text
        assert "Download the archive" in text

    def test_the_confocal_dataset_shows_its_brainbow_channels_and_that_it_is_unpublished(self, client: Client):
        html = client.get(reverse("catalog:dataset-detail", args=["mouse-brain-confocal"])).content.decode()
        text = visible_text(html)

        assert "Channels: red green blue" in text
        assert "Channel: fluorescence" in text
        assert viewer_links(html) == []
        assert "Not yet published" in text
        assert "Foysal.mdkamrulhasan@mayo.edu" in text[text.index("Not yet published") :]

    def test_jrc_hela_2_state_archives_the_layers_hidden_by_default(self, client: Client):
        state = client.get(reverse("state-dataset", args=["jrc_hela-2"])).json()

        bar = [layer["name"] for layer in state["layers"] if not layer.get("archived")]
        assert len(state["layers"]) > 70
        assert 1 < len(bar) <= 12, bar
        assert all(layer.get("visible", True) for layer in state["layers"] if not layer.get("archived"))
