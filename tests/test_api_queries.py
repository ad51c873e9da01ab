"""Every list and detail endpoint runs a fixed number of SQL queries, whatever the number of rows.

Each endpoint is requested over a catalog of 2 and of 30 datasets (each with volumes, crops,
views, DOIs, publications, tissues and a collection), under the same pinned maximum.
"""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from django.core.cache import cache

from catalog import models
from tests import factories
from tests.test_api_fixtures import api  # noqa: F401

pytestmark = pytest.mark.django_db


def build_rows(count: int) -> models.Dataset:
    """``count`` datasets, and one dataset with ``count`` of each of its children; returns that one."""
    mito = factories.LabelClassFactory(name="mito", label_id=50)
    members = [factories.LabelClassFactory(name=f"mito_part{n}", label_id=60 + n) for n in range(3)]
    mito.members.set(members)
    collection = factories.CollectionFactory(slug="challenge", authors=["Jane Doe"])
    big = None
    for n in range(count):
        tissue = factories.TissueFactory(name=f"Tissue {n}", slug=f"tissue-{n}")
        dataset = factories.DatasetFactory(slug=f"ds-{n:03d}")
        dataset.tissues.add(tissue)
        collection.datasets.add(dataset)
        volume = factories.VolumeFactory(dataset=dataset, label_class=members[n % 3])
        models.SegmentLabel.objects.create(volume=volume, value=1, name="part", label_class=members[0])
        crop = factories.CropFactory(dataset=dataset, number=n + 1)
        crop.label_classes.set(members)
        models.CropContent.objects.create(
            crop=crop,
            label_class=members[n % 3],
            source="attributes",
            total_voxels=1000,
            present_voxels=n + 1,
            absent_voxels=999 - n,
            unknown_voxels=0,
        )
        view = factories.ViewFactory(dataset=dataset)
        view.organelles.set([mito])
        models.CuratedViewLayer.objects.create(view=view, position=0, name=volume.name, volume=volume)
        models.BenchmarkResult.objects.create(dataset=dataset, method="m", metric="iou", label_class=mito, value=0.5)
        publication = models.Publication.objects.create(
            title=f"Paper {n}", doi=models.DOI.objects.create(value=f"10.1234/paper.{n}")
        )
        dataset.publications.add(publication)
        big = big or dataset
    for n in range(count):
        factories.VolumeFactory(dataset=big, name=f"extra-{n}")
        models.DatasetDOI.objects.create(dataset=big, doi=models.DOI.objects.create(value=f"10.1234/ds.{n}"))
        factories.ViewFactory(dataset=big, name=f"extra view {n}")
        big.institutions.add(models.Institution.objects.create(name=f"Institute {n}"))
        factories.CropFactory(dataset=big, number=1000 + n).label_classes.set(members)
    factories.commit_catalog()
    cache.clear()
    return big


VERSION = 1
"""Every request reads the catalog version once (catalog.freshness)."""

ENDPOINTS = [
    # (path, maximum queries); {dataset}, {volume}, {crop}, {view} are filled in.
    # Filters and orders of the facet index (catalog.facets.indexed_list): counted there (the
    # write that made the catalog version built the index), then the page's rows and tissues.
    ("/api/datasets/?page_size=100", 2 + VERSION),
    # q: every match's rank from the search table as written (typos only when nothing matches),
    # filtered on the facet index: the organelle's lookup, the closure, rows and tissues.
    ("/api/datasets/?page_size=100&organelle=mito&organism=homo-sapiens&tissue=tissue-1&q=dataset", 6 + VERSION),
    # An order the facet index does not keep: SQL counts and pages the ids, then the rows and tissues.
    ("/api/datasets/?page_size=100&ordering=-crop_count&collection=challenge&has_crops=true", 5 + VERSION),
    # The record: its row, and every relation it lists in one query (selectors.dataset_relations).
    ("/api/datasets/{dataset}/", 2 + VERSION),
    # The organelle's lookup; the facet index of the version was built by the write that made it.
    ("/api/datasets/facets/?modality=fib-sem&organelle=mito", 1 + VERSION),
    ("/api/datasets/{dataset}/citation/?style=ris", 6 + VERSION),
    ("/api/datasets/{dataset}/jsonld/", 6 + VERSION),
    ("/api/volumes/?page_size=100", 2 + VERSION),
    ("/api/volumes/?page_size=100&dataset={dataset}&organelle=mito", 6 + VERSION),
    ("/api/volumes/{volume}/", 4 + VERSION),
    ("/api/crops/?page_size=100&organelle=mito", 7 + VERSION),
    ("/api/crops/?page_size=100&organelle=mito_part0&present=true&min_share=0.001&ordering=-share", 7 + VERSION),
    ("/api/crops/facets/?organelle=mito_part0&present=true", 9 + VERSION),
    ("/api/crops/{crop}/", 3 + VERSION),
    ("/api/label-classes/?page_size=100", 4 + VERSION),
    ("/api/label-classes/mito/", 3 + VERSION),
    ("/api/organisms/?page_size=100", 2 + VERSION),
    ("/api/tissues/?page_size=100", 2 + VERSION),
    ("/api/tissues/tissue-0/", 1 + VERSION),
    ("/api/collections/", 2 + VERSION),
    ("/api/collections/challenge/", 3 + VERSION),
    ("/api/collections/challenge/jsonld/", 3 + VERSION),
    ("/api/publications/?page_size=100", 3 + VERSION),
    ("/api/views/?page_size=100", 4 + VERSION),
    ("/api/views/{view}/", 3 + VERSION),
    ("/api/benchmark-results/?page_size=100", 2 + VERSION),
]


@pytest.mark.parametrize("rows", [2, 30])
@pytest.mark.parametrize(("path", "maximum"), ENDPOINTS)
def test_query_count_does_not_grow(api, django_assert_max_num_queries, rows: int, path: str, maximum: int) -> None:
    big = build_rows(rows)
    url = path.format(
        dataset=big.slug,
        volume=big.volumes.order_by("pk").first().pk,
        crop=big.crops.order_by("number").first().number,
        view=big.views.order_by("pk").first().pk,
    )
    with django_assert_max_num_queries(maximum):
        response = api.get(url)
    assert response.status_code == 200, response.content
    if response["Content-Type"] == "application/json":
        body = response.json()
        assert body.get("results", body)
