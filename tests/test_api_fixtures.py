"""A small catalog with every relation the API serves, shared by the API, filter and citation tests.

Three datasets (HeLa, mouse liver, macrophage), a label class group ``mito`` of ``mito_mem`` and
``mito_lum``, annotations through a volume's class, a crop's classes and a segment label, a
collection with a DOI, a dataset DOI, a publication, a view and a benchmark score.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog import models
from catalog.models.base import ContentType, CropSplit, DoiGroup, VolumeKind
from tests import factories


@dataclass
class SmallCatalog:
    hela: models.Dataset
    liver: models.Dataset
    macrophage: models.Dataset
    mito: models.LabelClass
    mito_mem: models.LabelClass
    mito_lum: models.LabelClass
    nuc: models.LabelClass
    er: models.LabelClass
    hela_em: models.Volume
    hela_mito: models.Volume
    liver_labels: models.Volume
    collection: models.Collection
    view: models.CuratedView


def build_small_catalog() -> SmallCatalog:
    mito_mem = factories.LabelClassFactory(name="mito_mem", long_name="Mitochondrial membrane", label_id=3)
    mito_lum = factories.LabelClassFactory(name="mito_lum", long_name="Mitochondrial lumen", label_id=4)
    mito = factories.LabelClassFactory(name="mito", long_name="Mitochondria", label_id=50, colour="#ff8800")
    mito.members.set([mito_mem, mito_lum])
    nuc = factories.LabelClassFactory(name="nuc", long_name="Nucleus", label_id=37)
    er = factories.LabelClassFactory(name="er", long_name="Endoplasmic reticulum", label_id=16)

    human = factories.OrganismFactory(name="Homo sapiens", slug="homo-sapiens", ncbi_taxonomy_id=9606)
    mouse = factories.OrganismFactory(name="Mus musculus", slug="mus-musculus", common_name="Mouse")
    liver_tissue = factories.TissueFactory(name="Liver", slug="liver", uberon_id="UBERON:0002107")
    blood = factories.TissueFactory(name="Blood", slug="blood")

    hela = factories.DatasetFactory(
        slug="jrc_hela-2",
        title="Interphase HeLa cell",
        description="A HeLa cell imaged by FIB-SEM at high resolution.",
        organism=human,
        modality="fib-sem",
        fixation="hpf",
        voxel_size_x=4.0,
        voxel_size_y=4.0,
        voxel_size_z=3.24,
        release_date=datetime.date(2021, 5, 1),
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
    )
    hela.institutions.add(models.Institution.objects.create(name="HHMI/Janelia"))
    liver = factories.DatasetFactory(
        slug="jrc_mus-liver",
        title="Mouse liver",
        description="Hepatocytes full of mitochondria and glycogen.",
        organism=mouse,
        modality="fib-sem",
        fixation="chemical",
        voxel_size_x=8.0,
        voxel_size_y=8.0,
        voxel_size_z=8.0,
        release_date=datetime.date(2022, 1, 1),
    )
    liver.tissues.add(liver_tissue)
    macrophage = factories.DatasetFactory(
        slug="jrc_macrophage-2",
        title="Macrophage",
        description="A macrophage taken from a liver biopsy.",
        organism=mouse,
        modality="sbf-sem",
        fixation="",
        voxel_size_x=16.0,
        voxel_size_y=16.0,
        voxel_size_z=30.0,
        release_date=datetime.date(2020, 3, 1),
    )
    macrophage.tissues.add(blood)

    hela_em = factories.VolumeFactory(dataset=hela, name="em/fibsem-uint8")
    hela_mito = factories.VolumeFactory(
        dataset=hela,
        name="labels/mito_mem_seg",
        kind=VolumeKind.SEGMENTATION,
        content_type=ContentType.SEGMENTATION,
        label_class=mito_mem,
        format="n5",
        dtype="uint64",
    )
    liver_labels = factories.VolumeFactory(
        dataset=liver, name="labels/nuclei", kind=VolumeKind.SEGMENTATION, content_type=ContentType.PREDICTION
    )
    models.SegmentLabel.objects.create(volume=liver_labels, value=1, name="nucleus", label_class=nuc)
    factories.VolumeFactory(dataset=liver, name="em/fibsem-uint8")
    factories.VolumeFactory(dataset=macrophage, name="em/fibsem-uint8", format="precomputed")

    crop1 = factories.CropFactory(dataset=hela, number=1, split=CropSplit.TRAIN)
    crop1.label_classes.set([mito_lum, er])
    crop2 = factories.CropFactory(dataset=hela, number=2, split=CropSplit.TEST)
    crop2.label_classes.set([nuc])

    collection_doi = models.DOI.objects.create(value="10.25378/janelia.challenge")
    collection = factories.CollectionFactory(
        slug="cellmap-segmentation-challenge",
        title="CellMap Segmentation Challenge",
        summary="Ground truth for organelle segmentation.",
        doi=collection_doi,
        authors=["Jane Doe", "Smith, John"],
        release_date=datetime.date(2024, 6, 1),
        tags=["segmentation"],
    )
    collection.datasets.set([hela, liver])
    models.CollectionDownload.objects.create(collection=collection, name="all", url="s3://bucket/all.zip")

    models.DatasetDOI.objects.create(
        dataset=hela, doi=models.DOI.objects.create(value="10.25378/janelia.13114211"), group=DoiGroup.EM
    )
    publication = models.Publication.objects.create(
        title="Whole-cell organelle segmentation",
        authors="Heinrich et al.",
        year=2021,
        doi=models.DOI.objects.create(value="10.1038/s41586-021-03977-3"),
    )
    hela.publications.add(publication)

    view = factories.ViewFactory(dataset=hela, name="Mitochondria close-up")
    view.organelles.set([mito])
    models.CuratedViewLayer.objects.create(view=view, position=0, name=hela_em.name, volume=hela_em)
    models.BenchmarkResult.objects.create(dataset=hela, method="U-Net", metric="iou", label_class=mito, value=0.8)

    factories.commit_catalog()
    return SmallCatalog(
        hela=hela,
        liver=liver,
        macrophage=macrophage,
        mito=mito,
        mito_mem=mito_mem,
        mito_lum=mito_lum,
        nuc=nuc,
        er=er,
        hela_em=hela_em,
        hela_mito=hela_mito,
        liver_labels=liver_labels,
        collection=collection,
        view=view,
    )


@pytest.fixture
def small_catalog(db) -> SmallCatalog:
    cache.clear()
    return build_small_catalog()


@pytest.fixture
def api() -> APIClient:
    cache.clear()
    return APIClient()


def token_client(*, staff: bool) -> APIClient:
    user = get_user_model().objects.create_user(
        username="curator" if staff else "reader", password="not-used-here", is_staff=staff
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["slug"] for row in response.json()["results"]]


def test_small_catalog_builds(small_catalog: SmallCatalog) -> None:
    assert models.Dataset.objects.count() == 3
    assert set(small_catalog.mito.members.values_list("name", flat=True)) == {"mito_mem", "mito_lum"}
