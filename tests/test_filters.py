"""The shared FilterSets, search and facets, through the API and directly."""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from django.db import connection
from django.http import QueryDict

from catalog import models, search
from catalog.facets import dataset_facets
from catalog.filters import CropFilterSet, DatasetFilterSet
from catalog.freshness import bump_catalog_version, catalog_version
from catalog.indexing import refresh_derived
from catalog.search import parse_query
from tests import factories
from tests.test_api_fixtures import SmallCatalog, api, slugs, small_catalog  # noqa: F401

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("organism=mus-musculus", ["jrc_macrophage-2", "jrc_mus-liver"]),
        ("organism=mus-musculus&organism=homo-sapiens", ["jrc_hela-2", "jrc_macrophage-2", "jrc_mus-liver"]),
        ("tissue=liver", ["jrc_mus-liver"]),
        ("tissue=liver&tissue=blood", ["jrc_macrophage-2", "jrc_mus-liver"]),
        ("modality=sbf-sem", ["jrc_macrophage-2"]),
        ("collection=cellmap-segmentation-challenge", ["jrc_hela-2", "jrc_mus-liver"]),
        ("has_crops=true", ["jrc_hela-2"]),
        ("has_crops=false", ["jrc_macrophage-2", "jrc_mus-liver"]),
        ("fixation=hpf", ["jrc_hela-2"]),
        ("fixation=hpf&fixation=chemical", ["jrc_hela-2", "jrc_mus-liver"]),
        ("voxel_size_max=8", ["jrc_hela-2", "jrc_mus-liver"]),
        ("voxel_size_max=3.5", []),
        ("voxel_size_max=4", ["jrc_hela-2"]),
        ("voxel_size_min=8", ["jrc_macrophage-2", "jrc_mus-liver"]),
        ("voxel_size_min=4&voxel_size_max=10", ["jrc_mus-liver"]),
        ("organism=mus-musculus&has_crops=false&modality=fib-sem", ["jrc_mus-liver"]),
    ],
)
def test_dataset_filters(api, small_catalog: SmallCatalog, query: str, expected: list[str]) -> None:
    assert slugs(api.get(f"/api/datasets/?{query}")) == expected


@pytest.mark.parametrize(
    ("organelle", "expected"),
    [
        # The group matches a volume of mito_mem and a crop of mito_lum, both in HeLa.
        ("mito", ["jrc_hela-2"]),
        ("mito_mem", ["jrc_hela-2"]),
        # A segment label (liver) and a crop (HeLa).
        ("nuc", ["jrc_hela-2", "jrc_mus-liver"]),
        ("er", ["jrc_hela-2"]),
    ],
)
def test_organelle_filter_includes_group_members(api, small_catalog: SmallCatalog, organelle, expected) -> None:
    assert slugs(api.get(f"/api/datasets/?organelle={organelle}")) == expected


def test_nested_groups_match_recursively(api, small_catalog: SmallCatalog, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        organelles = factories.LabelClassFactory(name="organelles", label_id=200)
        organelles.members.set([small_catalog.mito])
    assert slugs(api.get("/api/datasets/?organelle=organelles")) == ["jrc_hela-2"]


def test_crop_and_volume_filters(api, small_catalog: SmallCatalog) -> None:
    crops = api.get("/api/crops/?organelle=mito").json()["results"]
    assert [crop["number"] for crop in crops] == [1]
    assert [c["number"] for c in api.get("/api/crops/?split=test").json()["results"]] == [2]
    assert [c["number"] for c in api.get("/api/crops/?dataset=jrc_hela-2&ordering=-number").json()["results"]] == [2, 1]
    names = {v["name"] for v in api.get("/api/volumes/?organelle=mito").json()["results"]}
    assert names == {"labels/mito_mem_seg"}
    names = {v["name"] for v in api.get("/api/volumes/?organelle=nuc").json()["results"]}
    assert names == {"labels/nuclei"}
    assert [v["name"] for v in api.get("/api/volumes/?format=n5").json()["results"]] == ["labels/mito_mem_seg"]
    kinds = api.get("/api/volumes/?kind=segmentation&content_type=prediction").json()["results"]
    assert [v["name"] for v in kinds] == ["labels/nuclei"]
    assert api.get("/api/volumes/?dataset=jrc_macrophage-2&format=precomputed").json()["count"] == 1


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("title", ["jrc_hela-2", "jrc_macrophage-2", "jrc_mus-liver"]),
        ("-release_date", ["jrc_mus-liver", "jrc_hela-2", "jrc_macrophage-2"]),
        ("voxel_size", ["jrc_hela-2", "jrc_mus-liver", "jrc_macrophage-2"]),
        ("-crop_count,slug", ["jrc_hela-2", "jrc_macrophage-2", "jrc_mus-liver"]),
        ("-volume_count,-slug", ["jrc_mus-liver", "jrc_hela-2", "jrc_macrophage-2"]),
    ],
)
def test_ordering(api, small_catalog: SmallCatalog, ordering: str, expected: list[str]) -> None:
    assert slugs(api.get(f"/api/datasets/?ordering={ordering}")) == expected


def test_filterset_used_directly_like_the_pages(small_catalog: SmallCatalog) -> None:
    filterset = DatasetFilterSet(
        QueryDict("organelle=mito&ordering=-crop_count"), queryset=models.Dataset.objects.all()
    )
    assert filterset.is_valid()
    assert [d.slug for d in filterset.qs] == ["jrc_hela-2"]
    invalid = DatasetFilterSet(QueryDict("voxel_size_max=abc"), queryset=models.Dataset.objects.for_list())
    assert not invalid.is_valid()
    assert "voxel_size_max" in invalid.errors
    crops = CropFilterSet(QueryDict("organelle=mito"), queryset=models.Crop.objects.all())
    assert [crop.number for crop in crops.qs] == [1]


# Search ------------------------------------------------------------------------------------------


def test_parse_query_reads_websearch_syntax() -> None:
    parsed = parse_query('"interphase hela" mito or er -macrophage')
    assert parsed.groups == [["interphase hela"], ["mito", "er"]]
    assert parsed.excluded == ["macrophage"]


def test_search_ranks_title_above_description(api, small_catalog: SmallCatalog) -> None:
    response = api.get("/api/datasets/?q=liver")
    assert slugs(response) == ["jrc_mus-liver", "jrc_macrophage-2"]
    ranks = [row["search_rank"] for row in response.json()["results"]]
    assert ranks[0] > ranks[1] > 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("liver -macrophage", ["jrc_mus-liver"]),
        ('"interphase hela"', ["jrc_hela-2"]),
        ("hela or macrophage", ["jrc_hela-2", "jrc_macrophage-2"]),
        ("Mus musculus", ["jrc_macrophage-2", "jrc_mus-liver"]),
        ("hela", ["jrc_hela-2"]),
        ("nucleus", ["jrc_hela-2", "jrc_mus-liver"]),
        ("zebrafish", []),
    ],
)
def test_search_syntax(api, small_catalog: SmallCatalog, query: str, expected: list[str]) -> None:
    assert sorted(slugs(api.get("/api/datasets/", {"q": query}))) == expected


def test_search_finds_group_names_of_annotated_members(api, small_catalog: SmallCatalog) -> None:
    # HeLa is annotated with mito_mem and mito_lum only; their group's long name is Mitochondria.
    assert "jrc_hela-2" in slugs(api.get("/api/datasets/?q=mitochondria"))


def test_search_combines_with_filters_and_explicit_ordering(api, small_catalog: SmallCatalog) -> None:
    assert slugs(api.get("/api/datasets/?q=liver&modality=sbf-sem")) == ["jrc_macrophage-2"]
    assert slugs(api.get("/api/datasets/?q=liver&ordering=slug")) == ["jrc_macrophage-2", "jrc_mus-liver"]


def test_search_index_follows_refresh(api, small_catalog: SmallCatalog) -> None:
    models.Dataset.objects.filter(pk=small_catalog.macrophage.pk).update(title="Kupffer cell")
    models.Tissue.objects.filter(slug="blood").update(name="Peripheral blood")
    refresh_derived([small_catalog.macrophage.pk])
    bump_catalog_version()  # as catalog.freshness does after every refresh: readers' indexes follow it
    assert slugs(api.get("/api/datasets/?q=kupffer")) == ["jrc_macrophage-2"]
    assert slugs(api.get("/api/datasets/?q=peripheral")) == ["jrc_macrophage-2"]
    # The new words join the spelling vocabulary with the dataset's refresh.
    assert slugs(api.get("/api/datasets/?q=kupfer")) == ["jrc_macrophage-2"]


def test_search_forgives_typos(api, small_catalog: SmallCatalog) -> None:
    assert sorted(slugs(api.get("/api/datasets/?q=mitochondira"))) == ["jrc_hela-2", "jrc_mus-liver"]
    assert slugs(api.get("/api/datasets/?q=macrophgae")) == ["jrc_macrophage-2"]
    # A word cut short is corrected too; a known word (liver) is kept as written.
    assert sorted(slugs(api.get("/api/datasets/?q=mitochond"))) == ["jrc_hela-2", "jrc_mus-liver"]
    assert slugs(api.get("/api/datasets/?q=mitochond -liver")) == ["jrc_hela-2"]
    assert slugs(api.get("/api/datasets/?q=qwertyuiop")) == []


def test_similarity_is_pg_trgm_similarity() -> None:
    assert search.similarity("word", "word") == 1.0
    # "  mitochondira " and "  mitochondria ": 9 shared of 17 distinct trigrams (pg_trgm: 0.5294118).
    assert search.similarity("mitochondira", "mitochondria") == pytest.approx(9 / 17)
    assert search.similarity("abcd", "wxyz") == 0.0
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute("SELECT similarity('mitochondira', 'mitochondria'), similarity('macrophgae', 'macrophage')")
            expected = cursor.fetchone()
        assert search.similarity("mitochondira", "mitochondria") == pytest.approx(expected[0], abs=1e-6)
        assert search.similarity("macrophgae", "macrophage") == pytest.approx(expected[1], abs=1e-6)


def test_fts5_query_keeps_the_websearch_syntax() -> None:
    assert search.fts5_query('"interphase hela" mito or er -macrophage') == (
        '(("interphase hela") AND ("mito" OR "er")) NOT ("macrophage")'
    )
    assert search.fts5_query('a"b NOT') == '("a b") AND ("not")'
    assert search.fts5_query("-liver") == ""
    assert search.fts5_query("--- ...") == ""


def test_the_search_index_holds_the_weighted_texts(small_catalog: SmallCatalog) -> None:
    """Each engine's own index: a weighted tsvector on PostgreSQL, FTS5 columns on SQLite."""
    if ON_POSTGRESQL:
        vector = models.DatasetSearch.objects.values_list("vector", flat=True).get(dataset=small_catalog.liver)
        positions = dict(item.split(":", 1) for item in vector.split(" "))
        assert "A" in positions["'liver'"]  # title and slug
        assert "C" in positions["'liver'"]  # tissue name
        assert positions["'hepatocyt'"].endswith("B")  # description only
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT dataset_id, primary_text, description, names FROM catalog_datasetsearch WHERE rowid = %s",
            [small_catalog.liver.pk],
        )
        dataset_id, primary, description, names = cursor.fetchone()
    assert dataset_id == small_catalog.liver.pk
    assert "jrc mus liver" in primary.lower()
    assert "hepatocyte" in description.lower()
    assert "Liver" in names


def test_search_index_drops_deleted_datasets(api, small_catalog: SmallCatalog) -> None:
    macrophage = small_catalog.macrophage.pk
    models.Dataset.objects.filter(pk=macrophage).delete()
    refresh_derived([macrophage])
    with connection.cursor() as cursor:
        key = "dataset_id" if ON_POSTGRESQL else "rowid"
        cursor.execute(f"SELECT count(*) FROM catalog_datasetsearch WHERE {key} = %s", [macrophage])
        assert cursor.fetchone()[0] == 0
    assert slugs(api.get("/api/datasets/?q=liver")) == ["jrc_mus-liver"]


def test_search_words_are_the_vocabulary(small_catalog: SmallCatalog) -> None:
    words = set(models.SearchWord.objects.values_list("word", flat=True))
    assert {"mitochondria", "macrophage", "liver", "musculus"} <= words
    assert all(len(word) >= 4 for word in words)


# Facets ------------------------------------------------------------------------------------------


def facet(body: dict, name: str) -> dict[str, int]:
    return {item["value"]: item["count"] for item in body[name]}


def test_facets_count_every_value(api, small_catalog: SmallCatalog) -> None:
    body = api.get("/api/datasets/facets/").json()
    assert body["total"] == 3
    assert facet(body, "organism") == {"mus-musculus": 2, "homo-sapiens": 1}
    assert facet(body, "tissue") == {"liver": 1, "blood": 1}
    assert facet(body, "modality") == {"fib-sem": 2, "sbf-sem": 1}
    assert facet(body, "organelle") == {"mito": 1, "mito_mem": 1, "mito_lum": 1, "er": 1, "nuc": 2}
    assert facet(body, "collection") == {"cellmap-segmentation-challenge": 2}
    assert facet(body, "has_crops") == {"true": 1, "false": 2}
    assert facet(body, "fixation") == {"hpf": 1, "chemical": 1}
    assert facet(body, "voxel_size") == {"2": 0, "4": 1, "8": 2, "16": 2, "32": 3, "64": 3}
    organism = body["organism"][0]
    assert organism == {"value": "mus-musculus", "label": "Mus musculus", "count": 2, "selected": False}
    assert next(item for item in body["modality"] if item["value"] == "fib-sem")["label"] == "FIB-SEM"


def test_facets_are_disjunctive(api, small_catalog: SmallCatalog) -> None:
    body = api.get("/api/datasets/facets/?organism=homo-sapiens&modality=fib-sem").json()
    assert body["total"] == 1
    # The organism facet ignores the organism filter but keeps modality=fib-sem.
    assert facet(body, "organism") == {"mus-musculus": 1, "homo-sapiens": 1}
    assert next(item for item in body["organism"] if item["value"] == "homo-sapiens")["selected"] is True
    # The modality facet ignores modality but keeps organism=homo-sapiens.
    assert facet(body, "modality") == {"fib-sem": 1}
    assert facet(body, "organelle") == {"mito": 1, "mito_mem": 1, "mito_lum": 1, "er": 1, "nuc": 1}
    assert facet(body, "has_crops") == {"true": 1, "false": 0}


def test_facets_follow_search(api, small_catalog: SmallCatalog) -> None:
    body = api.get("/api/datasets/facets/?q=liver").json()
    assert body["total"] == 2
    assert facet(body, "organism") == {"mus-musculus": 2}


def test_facets_keep_selected_values_without_datasets(api, small_catalog: SmallCatalog) -> None:
    body = api.get("/api/datasets/facets/?tissue=blood&organism=homo-sapiens").json()
    blood = next(item for item in body["tissue"] if item["value"] == "blood")
    assert blood == {"value": "blood", "label": "Blood", "count": 0, "selected": True}


def test_facets_are_cached_until_the_catalog_changes(
    api, small_catalog: SmallCatalog, django_assert_num_queries, django_capture_on_commit_callbacks
) -> None:
    first = api.get("/api/datasets/facets/?modality=fib-sem").json()
    with django_assert_num_queries(1):  # the catalog version
        assert api.get("/api/datasets/facets/?modality=fib-sem").json() == first
    version = catalog_version()
    # Any committed write to the catalog bumps the version (catalog.freshness), so the next read recounts.
    with django_capture_on_commit_callbacks(execute=True):
        factories.DatasetFactory(slug="jrc_new", organism=small_catalog.hela.organism, modality="fib-sem")
    assert catalog_version() != version
    assert api.get("/api/datasets/facets/?modality=fib-sem").json()["total"] == first["total"] + 1


def test_facets_count_within_the_other_filters(small_catalog: SmallCatalog) -> None:
    facets = dataset_facets(DatasetFilterSet(QueryDict("organism=mus-musculus"), queryset=models.Dataset.objects.all()))
    assert facets["total"] == 2
    assert facet(facets, "organism")["mus-musculus"] == 2
    assert facet(facets, "modality") == {"fib-sem": 1, "sbf-sem": 1}


def test_facets_refuse_an_invalid_filterset(small_catalog: SmallCatalog) -> None:
    with pytest.raises(ValueError, match="voxel_size_max"):
        dataset_facets(DatasetFilterSet(QueryDict("voxel_size_max=abc"), queryset=models.Dataset.objects.all()))


@pytest.mark.parametrize(
    "query",
    ["", "organism=mus-musculus", "modality=fib-sem&organelle=mito", "q=liver&has_crops=false", "voxel_size_max=8"],
)
def test_every_facet_count_is_the_size_of_the_list_it_leads_to(api, small_catalog: SmallCatalog, query: str) -> None:
    """A value's count is the size of the list with that value as its facet's only choice."""
    body = api.get(f"/api/datasets/facets/?{query}").json()
    params = QueryDict(query, mutable=True)
    assert body["total"] == api.get(f"/api/datasets/?{params.urlencode()}").json()["count"]
    parameter_of = {"voxel_size": "voxel_size_max"}
    checked = 0
    for name in ("organism", "tissue", "modality", "organelle", "collection", "has_crops", "fixation", "voxel_size"):
        parameter = parameter_of.get(name, name)
        for item in body[name]:
            chosen = params.copy()
            chosen.setlist(parameter, [item["value"]])
            listed = api.get(f"/api/datasets/?{chosen.urlencode()}").json()["count"]
            assert item["count"] == listed, (name, item)
            checked += 1
    assert checked > 10


@pytest.mark.parametrize(
    "query",
    [
        "",
        "ordering=title",
        "ordering=-release_date",
        "ordering=-slug&organism=mus-musculus",
        "organelle=nuc&ordering=release_date",
        "tissue=liver&tissue=blood",
        "has_crops=false&voxel_size_max=16",
        "voxel_size_min=4&fixation=chemical&fixation=hpf",
        "collection=cellmap-segmentation-challenge&modality=fib-sem",
        "q=liver",
        "q=mitochondria&organism=mus-musculus",
        "q=hela or macrophage",
        "q=mitochondira",
        "q=zebrafish",
    ],
)
def test_the_indexed_list_is_the_sql_list(api, small_catalog: SmallCatalog, query: str) -> None:
    """Lists the facet index answers (catalog.facets.indexed_list) hold what SQL answers, in order."""
    from catalog.facets import indexed_list

    filterset = DatasetFilterSet(QueryDict(query), queryset=models.Dataset.objects.all())
    assert filterset.is_valid()
    indexed = indexed_list(filterset, models.Dataset.objects.all())
    assert indexed is not None
    expected = [dataset.slug for dataset in filterset.qs]
    assert indexed.count() == len(expected)
    assert [dataset.slug for dataset in indexed[0 : len(expected)]] == expected
    ranks = [getattr(dataset, "search_rank", None) for dataset in filterset.qs]
    assert [getattr(dataset, "search_rank", None) for dataset in indexed[0 : len(expected)]] == ranks
    assert [dataset.slug for dataset in indexed[1:2]] == expected[1:2]
    assert slugs(api.get(f"/api/datasets/?{query}")) == expected


def test_searches_in_an_explicit_order_and_other_orders_are_listed_by_sql(small_catalog: SmallCatalog) -> None:
    from catalog.facets import indexed_list

    for query in ("q=liver&ordering=title", "ordering=-crop_count", "ordering=title,slug"):
        filterset = DatasetFilterSet(QueryDict(query), queryset=models.Dataset.objects.all())
        assert filterset.is_valid()
        assert indexed_list(filterset, models.Dataset.objects.all()) is None


def test_each_filterset_has_its_own_filters(small_catalog: SmallCatalog) -> None:
    """catalog.filters.FilterCopies: shallow copies, each bound to its own FilterSet."""
    first = DatasetFilterSet(QueryDict("organelle=nuc"), queryset=models.Dataset.objects.all())
    second = DatasetFilterSet(QueryDict("organelle=mito"), queryset=models.Dataset.objects.all())
    for name in ("organelle", "q", "organism"):
        assert first.filters[name] is not second.filters[name]
        assert first.filters[name].parent is first
        assert second.filters[name].parent is second
        assert first.filters[name].extra is not DatasetFilterSet.base_filters[name].extra
        assert getattr(DatasetFilterSet.base_filters[name], "parent", None) is None
    assert first.filters["organelle"].filter.f is first.filters["organelle"]  # its method, bound to it
    # catalog.filters.SharedFields: every form takes the fields made once for the class's filters.
    for name in ("organelle", "q", "organism"):
        assert first.form.fields[name] is first.filters[name].field
        assert first.form.fields[name] is second.form.fields[name]
        assert first.form.fields[name] is DatasetFilterSet.base_filters[name].field
    assert [d.slug for d in first.qs] != [d.slug for d in second.qs]
    assert {d.slug for d in first.qs} == {"jrc_hela-2", "jrc_mus-liver"}  # a crop, a segment label
