"""Client tests of the browse pages: every page, every filter, escaping and fixed query counts."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from catalog import models
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
    models.ViewLayer.objects.create(view=view, position=0, name="fibsem-uint8", volume=volumes[0])
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
        dataset = factories.DatasetFactory(slug=f"jrc_mus-tissue-{index}", organism=mouse)
        dataset.tissues.add(kidney)
        p7.datasets.add(dataset)
        factories.VolumeFactory(dataset=dataset, name="em")
        factories.VolumeFactory(dataset=dataset, name="nuc_seg", content_type=ContentType.SEGMENTATION, label_class=nuc)
        extra_crop = factories.CropFactory(dataset=dataset)
        extra_crop.label_classes.set([mito_mem, nuc])
        extra_view = factories.ViewFactory(dataset=dataset)
        extra_view.organelles.add(nuc)
        result.extra.append(dataset)
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
