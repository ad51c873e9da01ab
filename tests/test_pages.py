"""Client tests of the browse pages: every page, every filter, escaping and fixed query counts."""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.template import loader
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import models, views
from catalog.models.base import ContentType, CropSplit, DoiGroup, VolumeKind
from tests import factories

XSS = '"><script>alert("pwned")</script><img src=x onerror=alert(1)>'


@dataclass
class PageCatalog:
    """A small catalog with one richly described dataset, one sparse one and optional filler."""

    rich: models.Dataset
    sparse: models.Dataset
    mito: models.LabelClass
    er: models.LabelClass
    challenge: models.Collection
    p7: models.Collection
    human: models.Organism
    mouse: models.Organism
    kidney: models.Tissue
    volumes: list[models.Volume] = field(default_factory=list)
    extra: list[models.Dataset] = field(default_factory=list)


def build_catalog(extra: int = 0) -> PageCatalog:
    """Records shaped like the reference catalog: an OpenOrganelle dataset and a challenge-only one."""
    mito_mem = factories.LabelClassFactory(
        name="mito_mem", label_id=3, long_name="Mitochondria membrane", colour="#ff8000"
    )
    mito_lum = factories.LabelClassFactory(
        name="mito_lum", label_id=4, long_name="Mitochondria lumen", colour="#ffb366"
    )
    mito = factories.LabelClassFactory(
        name="mito", label_id=37, long_name="Mitochondria", colour="#ff9900", description="Mitochondria, whole."
    )
    mito.members.set([mito_mem, mito_lum])
    er = factories.LabelClassFactory(name="er", label_id=16, long_name="Endoplasmic reticulum", colour="#00aa55")
    nuc = factories.LabelClassFactory(name="nuc", label_id=28, long_name="Nucleus", colour="#3366ff")

    human = factories.OrganismFactory(name="Homo sapiens", slug="homo-sapiens", common_name="human")
    mouse = factories.OrganismFactory(name="Mus musculus", slug="mus-musculus", common_name="mouse")
    kidney = factories.TissueFactory(name="Kidney", slug="kidney", uberon_id="UBERON:0002113")
    factories.TissueFactory(name="Liver", slug="liver")

    rich = factories.DatasetFactory(
        slug="jrc_hela-2",
        title="Interphase HeLa cell",
        description="A HeLa cell imaged by FIB-SEM at 4 nm isotropic.",
        organism=human,
        sample_type="cell-culture",
        fixation="hpf",
        embedding="Epon",
        instrument="Zeiss Merlin",
        acquisition_institution="HHMI Janelia",
        bias_voltage_v=0.0,
        scan_rate_mhz=0.5,
        current_na=2.0,
        primary_energy_ev=700.0,
        extent_x=50000.0,
        extent_y=10000.0,
        extent_z=40000.0,
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        contact="cosem@janelia.hhmi.org",
        release_date=datetime.date(2021, 1, 1),
        thumbnail_url="https://example.org/thumbs/jrc_hela-2.png",
        known_issues=[{"field": "dois", "message": "titled 'Segementations' upstream"}],
    )
    rich.cell_types.add(models.CellType.objects.create(name="HeLa"))
    em_doi = models.DOI.objects.create(value="10.25378/janelia.13114211")
    seg_doi = models.DOI.objects.create(value="10.25378/janelia.13114212")
    models.DatasetDOI.objects.create(dataset=rich, doi=em_doi, group=DoiGroup.EM)
    models.DatasetDOI.objects.create(dataset=rich, doi=seg_doi, group=DoiGroup.SEGMENTATIONS)
    paper_doi = models.DOI.objects.create(value="10.1038/s41586-020-03070-1")
    rich.publications.add(
        models.Publication.objects.create(
            title="Whole-cell organelle segmentation in volume electron microscopy",
            authors="Heinrich L. et al.",
            year=2021,
            doi=paper_doi,
        )
    )

    volumes = [
        factories.VolumeFactory(dataset=rich, name="fibsem-uint8", content_type=ContentType.EM),
        factories.VolumeFactory(
            dataset=rich,
            name="mito_seg",
            content_type=ContentType.SEGMENTATION,
            kind=VolumeKind.SEGMENTATION,
            label_class=mito,
            dtype="uint64",
        ),
        factories.VolumeFactory(dataset=rich, name="er_pred", content_type=ContentType.PREDICTION, label_class=er),
    ]
    view = factories.ViewFactory(dataset=rich, name="Mitochondria close-up", description="Cristae in focus.")
    view.organelles.add(mito)
    models.CuratedViewLayer.objects.create(view=view, position=0, name="fibsem-uint8", volume=volumes[0])
    crop = factories.CropFactory(dataset=rich, number=1)
    crop.label_classes.set([mito, er])
    factories.CropFactory(dataset=rich, number=2, split=CropSplit.TEST, labels_url="")
    models.BenchmarkResult.objects.create(dataset=rich, method="U-Net", metric="f1", label_class=mito, value=0.91)

    sparse = factories.DatasetFactory(
        slug="jrc_mus-kidney",
        title="",
        description="",
        organism=None,
        modality="",
        voxel_size_x=None,
        voxel_size_y=None,
        voxel_size_z=None,
    )
    volumes.append(factories.VolumeFactory(dataset=sparse, name="em-s0"))
    sparse_crop = factories.CropFactory(dataset=sparse, number=3)
    sparse_crop.label_classes.set([nuc])

    challenge = factories.CollectionFactory(
        slug="cellmap-segmentation-challenge",
        title="CellMap Segmentation Challenge",
        summary="Segment 48 organelle classes in FIB-SEM volumes.",
        description="## The challenge\n\nTrain on the **training crops**. <b>raw html</b>",
    )
    challenge.datasets.set([rich, sparse])
    p7 = factories.CollectionFactory(slug="p7-mouse-tissue", title="P7 mouse tissue", summary="Seven tissues.")

    result = PageCatalog(rich, sparse, mito, er, challenge, p7, human, mouse, kidney, volumes)
    for index in range(extra):
        dataset = factories.DatasetFactory(
            slug=f"jrc_mus-tissue-{index}", organism=mouse, description="Mouse kidney imaged by FIB-SEM."
        )
        dataset.tissues.add(kidney)
        p7.datasets.add(dataset)
        factories.VolumeFactory(dataset=dataset, name="em")
        factories.VolumeFactory(dataset=dataset, name="nuc_seg", content_type=ContentType.SEGMENTATION, label_class=nuc)
        extra_crop = factories.CropFactory(dataset=dataset)
        extra_crop.label_classes.set([mito_mem, nuc])
        extra_view = factories.ViewFactory(dataset=dataset)
        extra_view.organelles.add(nuc)
        result.extra.append(dataset)
    factories.commit_catalog()
    return result


class _TextParser(HTMLParser):
    """Collects the visible text of a page (script and style contents left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _TextParser()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def assert_clean(html: str) -> None:
    """No Python reprs or empty placeholders leak onto the page."""
    text = visible_text(html)
    for leak in ("None", "[]", "{}", "<QuerySet", "object at 0x"):
        assert leak not in text, f"{leak!r} leaked into the page: ...{text[max(0, text.find(leak) - 80) :][:200]}"


@pytest.fixture
def catalog(db) -> PageCatalog:
    return build_catalog()


# --- home ---------------------------------------------------------------------------------


def test_home_shows_counts_collections_and_newest(client, catalog):
    response = client.get(reverse("catalog:home"))
    assert response.status_code == 200
    html = response.content.decode()
    text = visible_text(html)
    assert "2 datasets" in text
    assert "4 volumes" in text
    assert "3 annotated crops" in text
    assert "CellMap Segmentation Challenge" in text
    assert "P7 mouse tissue" in text
    # The release collection is listed before the challenge, as featured.
    assert text.index("P7 mouse tissue") < text.index("CellMap Segmentation Challenge")
    assert reverse("catalog:dataset-detail", args=["jrc_hela-2"]) in html
    assert reverse("catalog:organism-detail", args=["homo-sapiens"]) in html
    # Vocabulary terms without datasets are not offered.
    assert reverse("catalog:tissue-detail", args=["liver"]) not in html
    assert_clean(html)


def test_home_on_an_empty_catalog(client, db):
    response = client.get(reverse("catalog:home"))
    assert response.status_code == 200
    assert "The catalog is empty" in response.content.decode()


# --- organelles ---------------------------------------------------------------------------


def test_organelle_list_separates_groups_and_shows_swatches(client, catalog):
    html = client.get(reverse("catalog:organelle-list")).content.decode()
    groups_at = html.index("Groups")
    assert html.index(reverse("catalog:organelle-detail", args=["mito"])) > groups_at
    assert html.index(reverse("catalog:organelle-detail", args=["er"])) < groups_at
    assert "background: #ff9900" in html
    assert_clean(html)


def test_organelle_detail_lists_members_datasets_and_crops(client, catalog):
    response = client.get(reverse("catalog:organelle-detail", args=["mito"]))
    assert response.status_code == 200
    html = response.content.decode()
    text = visible_text(html)
    assert "Mitochondria" in text
    assert "Mitochondria, whole." in text
    assert "Made of" in text
    assert "Mitochondria membrane" in text
    assert reverse("catalog:dataset-detail", args=["jrc_hela-2"]) in html
    assert "crop 1" in text
    assert "jrc_mus-kidney" not in text
    assert_clean(html)


def test_organelle_detail_shows_the_group_a_member_belongs_to(client, catalog):
    text = visible_text(client.get(reverse("catalog:organelle-detail", args=["mito_mem"])).content.decode())
    assert "Part of" in text
    assert "Mitochondria" in text


def test_unknown_organelle_is_404(client, catalog):
    response = client.get(reverse("catalog:organelle-detail", args=["nope"]))
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


# --- tissues, organisms, collections ------------------------------------------------------


def test_tissue_page_lists_its_datasets(client, db):
    data = build_catalog(extra=2)
    html = client.get(reverse("catalog:tissue-detail", args=["kidney"])).content.decode()
    assert "UBERON:0002113" in html
    assert "http://purl.obolibrary.org/obo/UBERON_0002113" in html
    for dataset in data.extra:
        assert reverse("catalog:dataset-detail", args=[dataset.slug]) in html
    assert reverse("catalog:dataset-detail", args=["jrc_hela-2"]) not in html
    assert_clean(html)


def test_organism_page_lists_its_datasets(client, catalog):
    html = client.get(reverse("catalog:organism-detail", args=["homo-sapiens"])).content.decode()
    assert reverse("catalog:dataset-detail", args=["jrc_hela-2"]) in html
    assert reverse("catalog:dataset-detail", args=["jrc_mus-kidney"]) not in html
    assert_clean(html)


@pytest.mark.parametrize("name", ["catalog:tissue-detail", "catalog:organism-detail", "catalog:collection-detail"])
def test_unknown_slugs_are_404(client, catalog, name):
    assert client.get(reverse(name, args=["does-not-exist"])).status_code == 404


def test_collection_list(client, catalog):
    html = client.get(reverse("catalog:collection-list")).content.decode()
    assert reverse("catalog:collection-detail", args=["cellmap-segmentation-challenge"]) in html
    assert reverse("catalog:collection-detail", args=["p7-mouse-tissue"]) in html


def test_collection_renders_markdown_without_raw_html(client, catalog):
    html = client.get(reverse("catalog:collection-detail", args=["cellmap-segmentation-challenge"])).content.decode()
    assert "<h2>The challenge</h2>" in html
    assert "<strong>training crops</strong>" in html
    assert "<b>raw html</b>" not in html
    assert "&lt;b&gt;raw html&lt;/b&gt;" in html


COS7_STATE = "s3://janelia-cosem-datasets/jrc_cos7-1a/neuroglancer/viewer_states/neuroglancer-jrc_cos7-1a.json"
# The shape of the challenge post's "View the Data" section, as the source publishes it.
ABOUT_WITH_TABLE = f"""### View the Data

| **Collection** | **View Data** |
|---|---|
| jrc_cos7-1a | [View in Neuroglancer](https://neuroglancer-demo.appspot.com#!{COS7_STATE}) |

More on [GitHub](https://github.com/janelia-cellmap/cellmap-segmentation-challenge).
"""


def test_collection_about_renders_its_table_and_opens_links_in_the_portal_viewer(client, catalog, settings):
    settings.NEUROGLANCER_VIEWER_URL = "https://viewer.example.org/"
    catalog.challenge.description = ABOUT_WITH_TABLE
    catalog.challenge.save()
    html = client.get(reverse("catalog:collection-detail", args=["cellmap-segmentation-challenge"])).content.decode()
    about = html[html.index('id="about"') :]
    assert "<table>" in about
    assert "<th><strong>Collection</strong></th>" in about
    assert "<td>jrc_cos7-1a</td>" in about
    assert "|---|" not in about
    assert f'<a href="https://viewer.example.org/#!{COS7_STATE}">View in Neuroglancer</a>' in about
    assert "neuroglancer-demo.appspot.com" not in about
    assert '<a href="https://github.com/janelia-cellmap/cellmap-segmentation-challenge">GitHub</a>' in about


def test_dataset_citation_box_gives_the_data_s_year_every_doi_and_the_canonical_address(client, catalog, settings):
    settings.PORTAL_BASE_URL = "https://catalog.example.org"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    host = {"HTTP_HOST": "127.0.0.1:8011"}
    html = client.get(reverse("catalog:dataset-detail", args=["jrc_hela-2"]), **host).content.decode()
    box = visible_text(html[html.index('id="cite"') :])
    assert "HHMI Janelia (2021). Interphase HeLa cell." in box
    assert "https://doi.org/10.25378/janelia.13114211; Segmentations: https://doi.org/10.25378/janelia.13114212" in box
    assert "url = {https://catalog.example.org/datasets/jrc_hela-2/}" in box
    assert "127.0.0.1" not in box

    # Neither a release date nor a publication: "n.d.", not the day the record was loaded.
    sparse = client.get(reverse("catalog:dataset-detail", args=["jrc_mus-kidney"]), **host).content.decode()
    sparse_box = visible_text(sparse[sparse.index('id="cite"') :])
    assert "jrc_mus-kidney (n.d.)." in sparse_box
    assert "year =" not in sparse_box
    assert str(datetime.date.today().year) not in sparse_box


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Facets and the class hierarchy are cached per catalog version; every test builds its own catalog."""
    cache.clear()
    yield
    cache.clear()


# --- dataset browse -----------------------------------------------------------------------


def _slugs(response) -> list[str]:
    return [dataset.slug for dataset in response.context["page"].object_list]


def test_dataset_list_shows_cards_with_counts_and_facets(client, catalog):
    response = client.get(reverse("catalog:dataset-list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert _slugs(response) == ["jrc_hela-2", "jrc_mus-kidney"]
    text = visible_text(html)
    assert "2 datasets" in text
    assert "3 volumes" in text
    assert "2 crops" in text
    assert "4 \u00d7 4 \u00d7 5.24 nm" in text
    assert 'src="https://example.org/thumbs/jrc_hela-2.png"' in html
    assert 'alt="Thumbnail of Interphase HeLa cell"' in html
    for heading in ("Collection", "Organism", "Modality", "Organelle", "Voxel size", "Annotated crops"):
        assert f"<legend>{heading}</legend>" in html
    assert 'id="f-organism-homo-sapiens"' in html
    assert "vendor/htmx/htmx.min.js" in html
    assert "cdn" not in html.lower()
    assert_clean(html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=hela", ["jrc_hela-2"]),
        ("organism=homo-sapiens", ["jrc_hela-2"]),
        ("tissue=kidney", ["jrc_mus-tissue-0", "jrc_mus-tissue-1"]),
        ("modality=fib-sem", ["jrc_hela-2", "jrc_mus-tissue-0", "jrc_mus-tissue-1"]),
        ("organelle=nuc", ["jrc_mus-kidney", "jrc_mus-tissue-0", "jrc_mus-tissue-1"]),
        ("organelle=mito", ["jrc_hela-2", "jrc_mus-tissue-0", "jrc_mus-tissue-1"]),
        ("collection=cellmap-segmentation-challenge", ["jrc_hela-2", "jrc_mus-kidney"]),
        ("collection=p7-mouse-tissue&organism=mus-musculus", ["jrc_mus-tissue-0", "jrc_mus-tissue-1"]),
        ("has_crops=false", []),
        ("voxel_size_max=4", []),
        ("voxel_size_max=8", ["jrc_hela-2", "jrc_mus-tissue-0", "jrc_mus-tissue-1"]),
        ("fixation=hpf", ["jrc_hela-2"]),
        ("organism=homo-sapiens&organism=mus-musculus", ["jrc_hela-2", "jrc_mus-tissue-0", "jrc_mus-tissue-1"]),
        ("q=&organism=&ordering=", ["jrc_hela-2", "jrc_mus-kidney", "jrc_mus-tissue-0", "jrc_mus-tissue-1"]),
        ("ordering=-volume_count", None),
    ],
)
def test_every_filter_of_the_browse_page(client, db, query, expected):
    build_catalog(extra=2)
    response = client.get(f"{reverse('catalog:dataset-list')}?{query}")
    assert response.status_code == 200
    if expected is None:
        counts = [dataset.volume_count for dataset in response.context["page"].object_list]
        assert counts == sorted(counts, reverse=True)
        assert counts[0] == 3
    else:
        assert sorted(_slugs(response)) == expected
        assert f"{len(expected)} dataset" in visible_text(response.content.decode())


def test_facet_counts_follow_the_other_filters(client, db):
    build_catalog(extra=2)
    response = client.get(f"{reverse('catalog:dataset-list')}?organism=mus-musculus")
    groups = {group["key"]: group for group in response.context["facet_groups"]}
    organisms = {item["value"]: item for item in groups["organism"]["values"]}
    assert organisms["mus-musculus"]["selected"]
    assert organisms["mus-musculus"]["count"] == 2
    assert organisms["homo-sapiens"]["count"] == 1
    tissues = {item["value"]: item["count"] for item in groups["tissue"]["values"]}
    assert tissues == {"kidney": 2}
    html = response.content.decode()
    assert re.search(r'id="f-organism-mus-musculus"[^>]*checked', html)
    assert "Remove filter Mus musculus" in html


def test_sorting_and_layouts(client, db):
    build_catalog(extra=2)
    url = reverse("catalog:dataset-list")
    by_title = _slugs(client.get(f"{url}?ordering=title"))
    titles = [models.Dataset.objects.get(slug=slug).title for slug in by_title]
    assert titles == sorted(titles)
    grid = client.get(url).content.decode()
    listed = client.get(f"{url}?layout=list").content.decode()
    assert 'class="card-grid"' in grid
    assert "dataset-list-table" not in grid
    assert "dataset-list-table" in listed


def test_pagination_keeps_the_filters(client, db):
    build_catalog(extra=30)
    url = reverse("catalog:dataset-list")
    first = client.get(f"{url}?organism=mus-musculus")
    assert len(_slugs(first)) == 24
    assert "?organism=mus-musculus&amp;page=2" in first.content.decode()
    second = client.get(f"{url}?organism=mus-musculus&page=2")
    assert len(_slugs(second)) == 6
    assert not set(_slugs(first)) & set(_slugs(second))
    assert client.get(f"{url}?page=999").context["page"].number == 2
    assert client.get(f"{url}?page=abc").context["page"].number == 1


def test_htmx_requests_get_the_results_fragment(client, catalog):
    url = f"{reverse('catalog:dataset-list')}?q=hela"
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="browse-body"')
    assert "<html" not in html
    assert "HX-Request" in fragment["Vary"]
    restored = client.get(url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restored.content.decode()


def test_browse_form_works_without_javascript(client, catalog):
    html = client.get(reverse("catalog:dataset-list")).content.decode()
    form = re.search(r"<form id=\"dataset-search\"[^>]*>", html).group(0)
    assert 'method="get"' in form
    assert f'action="{reverse("catalog:dataset-list")}"' in form
    assert 'hx-push-url="true"' in form
    assert '<label class="visually-hidden" for="q">' in html


def test_bad_filter_values_are_named(client, catalog):
    response = client.get(f"{reverse('catalog:dataset-list')}?organism=atlantis&voxel_size_max=abc")
    assert response.status_code == 400
    text = visible_text(response.content.decode())
    assert "organism" in text
    assert "voxel_size_max" in text
    assert response.context["page"].paginator.count == 0


def test_search_text_is_escaped_everywhere(client, catalog):
    url = reverse("catalog:dataset-list")
    for headers in ({}, {"HX-Request": "true"}):
        html = client.get(url, {"q": XSS, "organism": "homo-sapiens"}, headers=headers).content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert" in html


# --- dataset page -------------------------------------------------------------------------


def test_rich_dataset_page(client, catalog):
    response = client.get(reverse("catalog:dataset-detail", args=["jrc_hela-2"]))
    assert response.status_code == 200
    html = response.content.decode()
    text = visible_text(html)
    for expected in (
        "Interphase HeLa cell",
        "A HeLa cell imaged by FIB-SEM at 4 nm isotropic.",
        "Homo sapiens",
        "HeLa",
        "High-pressure freezing",
        "700 eV",
        "2 nA",
        "0.5 MHz",
        "0 V",
        "50 \u00d7 10 \u00d7 40 \u00b5m",
        "CC BY 4.0",
        "cosem@janelia.hhmi.org",
        "10.25378/janelia.13114211",
        "Segmentations",
        "Whole-organelle",
        "Mitochondria close-up",
        "crop 1",
        "withheld",
        "U-Net",
        "0.910",
        "Notes on this record",
        "Annotated organelles 2",
        "titled 'Segementations' upstream",
    ):
        if expected == "Whole-organelle":
            expected = "Whole-cell organelle segmentation in volume electron microscopy"
        assert expected in text, expected
    # Volumes grouped by content type, EM first.
    assert text.index("EM 1") < text.index("Segmentation 1") < text.index("Prediction 1")
    assert_clean(html)


def test_dataset_page_links_every_part_to_neuroglancer(client, catalog):
    html = client.get(reverse("catalog:dataset-detail", args=["jrc_hela-2"])).content.decode()
    state = "http://testserver" + reverse("state-dataset", args=["jrc_hela-2"])
    assert f"#!{state}" in html
    for volume in catalog.rich.volumes.all():
        assert "#!http://testserver" + reverse("state-volume", args=[volume.pk]) in html
        assert f'name="volumes" value="{volume.pk}"' in html
    assert "#!http://testserver" + reverse("state-crop", args=[1]) in html
    view = catalog.rich.views.get()
    assert "#!http://testserver" + reverse("state-view", args=[view.pk]) in html


def test_dataset_page_explains_how_to_get_the_data(client, catalog):
    html = client.get(reverse("catalog:dataset-detail", args=["jrc_hela-2"])).content.decode()
    text = visible_text(html)
    assert "aws s3 ls --no-sign-request s3://test-bucket/jrc_hela-2/ " in text + " "
    assert "s3://test-bucket/jrc_hela-2/jrc_hela-2.zarr/fibsem-uint8" in text
    assert "zarr.open_group(url, mode=&quot;r&quot;" in html
    assert 'storage_options={"anon": True}' in text


def test_sparse_dataset_page_hides_empty_sections(client, catalog):
    response = client.get(reverse("catalog:dataset-detail", args=["jrc_mus-kidney"]))
    assert response.status_code == 200
    html = response.content.decode()
    text = visible_text(html)
    assert "<h1>jrc_mus-kidney</h1>" in html
    for absent in ("Sample", "Acquisition parameters", "Release", "Curated views", "Benchmark", "Publications", "DOIs"):
        assert absent not in text, absent
    assert "Annotated crops" in text
    assert_clean(html)


def test_dataset_page_embeds_schema_org_json_ld_safely(client, catalog):
    models.Dataset.objects.filter(pk=catalog.rich.pk).update(description="</script><script>alert(1)</script>")
    html = client.get(reverse("catalog:dataset-detail", args=["jrc_hela-2"])).content.decode()
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match is not None
    data = json.loads(match.group(1))
    assert data["@type"] == "Dataset"
    assert data["description"] == "</script><script>alert(1)</script>"
    assert "<script>alert(1)" not in html


def test_unknown_dataset_is_404(client, catalog):
    response = client.get(reverse("catalog:dataset-detail", args=["jrc_nope"]))
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_layer_picker_redirects_to_the_viewer_with_a_custom_state(client, catalog):
    picked = [volume.pk for volume in catalog.volumes[:2]]
    other = catalog.volumes[3].pk  # a volume of another dataset is ignored
    url = reverse("catalog:dataset-open", args=["jrc_hela-2"])
    response = client.get(url, {"volumes": [*picked, other, "x"]})
    assert response.status_code == 302
    viewer, _, state_url = response["Location"].partition("#!")
    assert viewer
    expected = "http://testserver" + reverse("state-custom") + "?volumes=" + "%2C".join(map(str, sorted(picked)))
    assert state_url == expected


def test_layer_picker_without_volumes_returns_to_the_dataset(client, catalog):
    response = client.get(reverse("catalog:dataset-open", args=["jrc_hela-2"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:dataset-detail", args=["jrc_hela-2"]) + "#layers"


# --- collections with crops ---------------------------------------------------------------


def test_challenge_page_lists_datasets_with_viewer_links_and_crops(client, catalog):
    response = client.get(reverse("catalog:collection-detail", args=["cellmap-segmentation-challenge"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "#!http://testserver" + reverse("state-dataset", args=["jrc_mus-kidney"]) in html
    assert [crop.number for crop in response.context["crop_page"].object_list] == [1, 2, 3]
    assert "#!http://testserver" + reverse("state-crop", args=[3]) in html
    assert_clean(html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"dataset": "jrc_mus-kidney"}, [3]),
        ({"organelle": "mito"}, [1]),
        ({"organelle": "er", "dataset": "jrc_hela-2"}, [1]),
        ({"split": "test"}, [2]),
        ({"dataset": "", "organelle": "", "split": ""}, [1, 2, 3]),
    ],
)
def test_challenge_crops_filter_by_dataset_class_and_split(client, catalog, query, expected):
    response = client.get(reverse("catalog:collection-detail", args=["cellmap-segmentation-challenge"]), query)
    assert [crop.number for crop in response.context["crop_page"].object_list] == expected


def test_collection_without_crops_has_no_crop_section(client, db):
    build_catalog(extra=1)
    html = client.get(reverse("catalog:collection-detail", args=["p7-mouse-tissue"])).content.decode()
    assert "jrc_mus-tissue-0" in html
    assert 'id="crop-results"' in html


# --- fixed query counts -------------------------------------------------------------------

VERSION = 1
"""Every request reads the catalog version once (catalog.freshness)."""
PAGE_QUERY_LIMITS = [
    ("catalog:home", [], 10 + VERSION),
    ("catalog:dataset-list", [], 18 + VERSION),
    # + channels and segment labels of its volumes, contents of its crops
    ("catalog:dataset-detail", ["jrc_hela-2"], 19 + VERSION),
    ("catalog:organelle-list", [], 4 + VERSION),
    # + contents of the crops, crops where the class is present, how many crops counted it
    ("catalog:organelle-detail", ["nuc"], 15 + VERSION),
    ("catalog:collection-detail", ["p7-mouse-tissue"], 14 + VERSION),
    ("catalog:collection-detail", ["cellmap-segmentation-challenge"], 14 + VERSION),
    ("catalog:collection-list", [], 2 + VERSION),
    ("catalog:tissue-detail", ["kidney"], 4 + VERSION),
    ("catalog:organism-detail", ["mus-musculus"], 4 + VERSION),
]


def _count_queries(client, name: str, args: list[str]) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(("name", "args", "limit"), PAGE_QUERY_LIMITS)
def test_pages_run_a_fixed_number_of_queries(client, db, django_assert_max_num_queries, name, args, limit):
    data = build_catalog(extra=2)
    small = _count_queries(client, name, args)
    for index in range(2, 25):
        dataset = factories.DatasetFactory(slug=f"jrc_more-{index}", organism=data.mouse)
        dataset.tissues.add(data.kidney)
        data.p7.datasets.add(dataset)
        data.challenge.datasets.add(dataset)
        for volume_index in range(3):
            factories.VolumeFactory(dataset=dataset, name=f"v{volume_index}", label_class=data.mito)
        crop = factories.CropFactory(dataset=dataset)
        crop.label_classes.set([data.mito, data.er])
    for volume_index in range(10):
        factories.VolumeFactory(dataset=data.rich, name=f"extra-{volume_index}", label_class=data.er)
    for _ in range(10):
        factories.CropFactory(dataset=data.rich).label_classes.set([data.mito])
    factories.commit_catalog()
    large = _count_queries(client, name, args)
    assert large == small
    cache.clear()
    with django_assert_max_num_queries(limit):
        client.get(reverse(name, args=args))


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (["s3://bucket/jrc_x/jrc_x.zarr/recon-1/em/fibsem-uint8"], "s3://bucket/jrc_x/"),
        (["s3://bucket/other/a.zarr/em", "s3://bucket/other/a.zarr/seg"], "s3://bucket/other/a.zarr/"),
        (["s3://bucket/other/a.zarr/em"], "s3://bucket/other/a.zarr/"),
        (["/local/path/a.zarr", ""], ""),
    ],
)
def test_where_a_dataset_lives_in_s3(urls, expected):
    assert views._s3_prefix(urls, "jrc_x") == expected


REFERENCE_PAGES = [
    ("catalog:home", [], {}),
    ("catalog:dataset-list", [], {"organism": "homo-sapiens", "organelle": "mito", "q": "cell"}),
    ("catalog:dataset-detail", ["jrc_hela-2"], {}),
    ("catalog:dataset-detail", ["jrc_ut21-1413-003"], {}),
    ("catalog:organelle-list", [], {}),
    ("catalog:organelle-detail", ["mito"], {}),
    ("catalog:collection-list", [], {}),
    ("catalog:collection-detail", ["cellmap-segmentation-challenge"], {"organelle": "nuc"}),
    ("catalog:collection-detail", ["p7-mouse-tissue"], {}),
    ("catalog:tissue-detail", ["kidney"], {}),
    ("catalog:organism-detail", ["mus-musculus"], {}),
]


def test_every_page_of_the_reference_catalog_renders_within_its_query_budget(client, db):
    """The shipped catalog (52 datasets, 305 crops, ~460 volumes) renders every page cleanly,
    within the same query limits as the small catalogs above."""
    call_command("load_catalog", verbosity=0)
    limits = {name: limit for name, _args, limit in PAGE_QUERY_LIMITS}
    limits["catalog:dataset-list"] += 3  # validating three filter values costs one query each
    for name, args, params in REFERENCE_PAGES:
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse(name, args=args), params)
        assert response.status_code == 200, (name, args)
        assert len(captured) <= limits[name], (name, args, len(captured))
        assert_clean(response.content.decode())


def test_pages_only_have_get_forms_and_load_nothing_from_other_hosts(client, catalog):
    """Reading pages change nothing (no POST, so no CSRF token is needed), and every script and
    stylesheet comes from our own static files: the portal runs on a closed network."""
    for name, args in [
        ("catalog:home", []),
        ("catalog:dataset-list", []),
        ("catalog:dataset-detail", ["jrc_hela-2"]),
        ("catalog:collection-detail", ["cellmap-segmentation-challenge"]),
    ]:
        html = client.get(reverse(name, args=args)).content.decode()
        forms = re.findall(r"<form\b[^>]*>", html)
        assert forms
        assert all('method="get"' in form for form in forms), forms
        assets = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', html)
        assert assets
        assert all(asset.startswith("/static/") for asset in assets), assets


def test_server_error_page_renders_without_a_request_context():
    html = loader.get_template("500.html").render({})
    assert "Something went wrong on our side" in html
    assert reverse("catalog:home") in html
