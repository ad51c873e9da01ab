"""The REST API's resources, errors, permissions and throttling."""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from catalog import models
from tests.test_api_fixtures import SmallCatalog, api, slugs, small_catalog, token_client  # noqa: F401

pytestmark = pytest.mark.django_db


def error_fields(response) -> list[str]:
    body = response.json()
    assert body["status"] == response.status_code
    assert body["detail"]
    return [error["field"] for error in body["errors"]]


# Reading -----------------------------------------------------------------------------------------


def test_dataset_list_rows(api, small_catalog: SmallCatalog) -> None:
    response = api.get("/api/datasets/")
    body = response.json()
    assert body["count"] == 3
    row = next(row for row in body["results"] if row["slug"] == "jrc_hela-2")
    assert row["organism"] == {"slug": "homo-sapiens", "name": "Homo sapiens"}
    assert row["voxel_size"] == {"x": 4.0, "y": 4.0, "z": 3.24}
    assert row["volume_count"] == 2
    assert row["crop_count"] == 2
    assert row["api_url"] == "http://testserver/api/datasets/jrc_hela-2/"
    assert slugs(response) == ["jrc_hela-2", "jrc_macrophage-2", "jrc_mus-liver"]


def test_dataset_detail(api, small_catalog: SmallCatalog) -> None:
    body = api.get("/api/datasets/jrc_hela-2/").json()
    assert body["slug"] == "jrc_hela-2"
    assert body["organism"]["ncbi_taxonomy_id"] == 9606
    assert body["modality"] == "fib-sem"
    assert body["voxel_size"] == {"x": 4.0, "y": 4.0, "z": 3.24}
    assert body["extent"] is None
    assert body["dois"] == [
        {"doi": "10.25378/janelia.13114211", "url": "https://doi.org/10.25378/janelia.13114211", "group": "em"}
    ]
    assert body["publications"][0]["doi_url"] == "https://doi.org/10.1038/s41586-021-03977-3"
    assert body["collections"][0]["slug"] == "cellmap-segmentation-challenge"
    assert (body["volume_count"], body["crop_count"], body["view_count"]) == (2, 2, 1)
    assert body["links"]["volumes"] == "http://testserver/api/volumes/?dataset=jrc_hela-2"
    assert body["links"]["crops"] == "http://testserver/api/crops/?dataset=jrc_hela-2"
    assert body["views"][0]["name"] == "Mitochondria close-up"
    assert body["neuroglancer_state_url"] == "http://testserver" + reverse("state-dataset", args=["jrc_hela-2"])
    assert body["neuroglancer_url"]
    assert "search_vector" not in body
    assert "search_text" not in body
    assert body["institutions"] == ["HHMI/Janelia"]
    assert body["organelles"] == ["mito_mem", "mito_lum", "er", "nuc"]


def test_links_of_a_dataset_resolve(api, small_catalog: SmallCatalog) -> None:
    links = api.get("/api/datasets/jrc_hela-2/").json()["links"]
    volumes = api.get(links["volumes"]).json()
    assert {row["name"] for row in volumes["results"]} == {"em/fibsem-uint8", "labels/mito_mem_seg"}
    assert [row["number"] for row in api.get(links["crops"]).json()["results"]] == [1, 2]
    assert api.get(links["citation"]).status_code == 200


def test_volume_detail(api, small_catalog: SmallCatalog) -> None:
    body = api.get(f"/api/volumes/{small_catalog.hela_mito.pk}/").json()
    assert body["dataset"] == "jrc_hela-2"
    assert body["url"].startswith("s3://test-bucket/jrc_hela-2/")
    assert body["label_class"] == "mito_mem"
    assert body["format"] == "n5"
    assert body["shape"] == {"x": 100, "y": 100, "z": 100}
    assert body["voxel_size"] == {"x": 4.0, "y": 4.0, "z": 5.24}
    assert body["translation"] == {"x": 0.0, "y": 0.0, "z": 0.0}
    assert body["display"]["contrast_start"] == 100
    assert body["status"] == "ok"
    assert body["validation_errors"] == []
    assert body["neuroglancer_state_url"].endswith(reverse("state-volume", args=[small_catalog.hela_mito.pk]))
    labels = api.get(f"/api/volumes/{small_catalog.liver_labels.pk}/").json()["segment_labels"]
    assert labels == [{"value": 1, "name": "nucleus", "colour": "", "label_class": "nuc"}]


def test_crop_detail(api, small_catalog: SmallCatalog) -> None:
    body = api.get("/api/crops/1/").json()
    assert body["number"] == 1
    assert body["dataset"] == "jrc_hela-2"
    assert body["split"] == "train"
    assert body["voxel_size"] == {"x": 2.0, "y": 2.0, "z": 2.0}
    assert body["translation"] == {"x": 1000.0, "y": 2000.0, "z": 3000.0}
    assert body["shape"] == {"x": 400, "y": 400, "z": 400}
    assert sorted(body["label_classes"]) == ["er", "mito_lum"]
    assert body["url"].endswith("/crop1")
    assert body["neuroglancer_state_url"].endswith(reverse("state-crop", args=[1]))


def test_label_class_detail(api, small_catalog: SmallCatalog) -> None:
    body = api.get("/api/label-classes/mito/").json()
    assert body["name"] == "mito"
    assert body["label_id"] == 50
    assert body["long_name"] == "Mitochondria"
    assert body["colour"] == "#ff8800"
    assert sorted(body["members"]) == ["mito_lum", "mito_mem"]
    assert api.get("/api/label-classes/mito_mem/").json()["member_of"] == ["mito"]
    groups = api.get("/api/label-classes/?is_group=true").json()["results"]
    assert [row["name"] for row in groups] == ["mito"]
    members = api.get("/api/label-classes/?member_of=mito").json()["results"]
    assert sorted(row["name"] for row in members) == ["mito_lum", "mito_mem"]


def test_vocabulary_and_other_resources(api, small_catalog: SmallCatalog) -> None:
    organisms = {row["slug"]: row for row in api.get("/api/organisms/").json()["results"]}
    assert organisms["mus-musculus"]["dataset_count"] == 2
    assert organisms["homo-sapiens"]["taxonomy_url"].endswith("id=9606")
    tissue = api.get("/api/tissues/liver/").json()
    assert tissue["dataset_count"] == 1
    assert tissue["uberon_url"] == "http://purl.obolibrary.org/obo/UBERON_0002107"
    collection = api.get("/api/collections/cellmap-segmentation-challenge/").json()
    assert collection["doi_url"] == "https://doi.org/10.25378/janelia.challenge"
    assert [row["slug"] for row in collection["datasets"]] == ["jrc_hela-2", "jrc_mus-liver"]
    assert collection["downloads"][0]["name"] == "all"
    assert collection["dataset_count"] == 2
    publications = api.get("/api/publications/?dataset=jrc_hela-2").json()["results"]
    assert publications[0]["datasets"] == ["jrc_hela-2"]
    view = api.get(f"/api/views/{small_catalog.view.pk}/").json()
    assert view["position"] == {"x": 100.0, "y": 200.0, "z": 300.0}
    assert view["organelles"] == ["mito"]
    assert view["layers"] == [{"position": 0, "name": "em/fibsem-uint8", "volume": small_catalog.hela_em.pk}]
    scores = api.get("/api/benchmark-results/?dataset=jrc_hela-2&metric=iou").json()["results"]
    assert scores[0]["label_class"] == "mito"
    assert scores[0]["value"] == 0.8


def test_api_root_and_trailing_slash(api, small_catalog: SmallCatalog) -> None:
    assert "datasets" in api.get("/api/").json()
    response = api.get("/api/datasets/jrc_hela-2?x=1")
    assert response.status_code == 308
    assert response["Location"] == "/api/datasets/jrc_hela-2/?x=1"


# Errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("voxel_size_max=abc", "voxel_size_max"),
        ("voxel_size_min=-1", "voxel_size_min"),
        ("modality=x-ray", "modality"),
        ("has_crops=maybe", "has_crops"),
        ("ordering=colour", "ordering"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("organsim=homo-sapiens", "organsim"),
        ("has_crops=", "has_crops"),
        ("organism=homo-sapiens&organism=", "organism"),
    ],
)
def test_bad_dataset_parameters_are_400_naming_them(api, small_catalog: SmallCatalog, query: str, field: str) -> None:
    response = api.get(f"/api/datasets/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_request"
    assert field in error_fields(response)
    assert field in body["detail"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/volumes/?format=zip", "format"),
        ("/api/volumes/?kind=picture", "kind"),
        ("/api/crops/?split=validation", "split"),
        ("/api/datasets/facets/?fixation=frozen", "fixation"),
        ("/api/datasets/facets/?page=2", "page"),
        ("/api/datasets/jrc_hela-2/citation/?style=apa", "style"),
        ("/api/datasets/jrc_hela-2/?organism=homo-sapiens", "organism"),
    ],
)
def test_bad_parameters_elsewhere_are_400(api, small_catalog: SmallCatalog, path: str, field: str) -> None:
    response = api.get(path)
    assert response.status_code == 400
    assert field in error_fields(response)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/volumes/?organelle=nope", "organelle"),
        ("/api/crops/?dataset=nope", "dataset"),
        ("/api/datasets/?organism=homo-sapiens&organism=atlantean", "organism"),
        ("/api/datasets/facets/?tissue=gills", "tissue"),
        ("/api/datasets/?organelle=not_a_class", "organelle"),
        ("/api/datasets/?organism=atlantis", "organism"),
    ],
)
def test_a_filter_naming_no_record_is_a_404_naming_it(api, small_catalog: SmallCatalog, path: str, field: str) -> None:
    """The request is well formed; the record it names does not exist."""
    response = api.get(path)
    assert response.status_code == 404
    assert field in error_fields(response)


def test_not_found_and_method_not_allowed_are_json(api, small_catalog: SmallCatalog) -> None:
    for path in ("/api/datasets/nope/", "/api/crops/999/", "/api/no-such-thing/", "/api/datasets/?page=99"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"
    response = token_client(staff=True).patch("/api/datasets/jrc_hela-2/", {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert api.post("/api/label-classes/", {}, format="json").status_code in (401, 405)


def test_empty_search_is_no_search(api, small_catalog: SmallCatalog) -> None:
    assert len(slugs(api.get("/api/datasets/?q="))) == 3


def test_page_size_and_pages(api, small_catalog: SmallCatalog) -> None:
    first = api.get("/api/datasets/?page_size=2").json()
    assert first["count"] == 3
    assert len(first["results"]) == 2
    assert first["next"]
    second = api.get(first["next"]).json()
    assert [row["slug"] for row in second["results"]] == ["jrc_mus-liver"]
    assert api.get("/api/datasets/?page_size=100").status_code == 200


# Permissions and throttling ----------------------------------------------------------------------


def test_anonymous_writes_are_401(api, small_catalog: SmallCatalog) -> None:
    response = api.post("/api/datasets/", {"slug": "new"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")
    assert api.delete("/api/datasets/jrc_hela-2/").status_code == 401
    assert models.Dataset.objects.filter(slug="jrc_hela-2").exists()


def test_non_staff_writes_are_403(small_catalog: SmallCatalog) -> None:
    client = token_client(staff=False)
    response = client.delete("/api/crops/1/")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert models.Crop.objects.filter(number=1).exists()


@override_settings(API_ANON_RATE="3/minute")
def test_anonymous_traffic_is_throttled(api, small_catalog: SmallCatalog) -> None:
    for _ in range(3):
        assert api.get("/api/organisms/").status_code == 200
    response = api.get("/api/organisms/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"] == "throttled"
    assert token_client(staff=False).get("/api/organisms/").status_code == 200
