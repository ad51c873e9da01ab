"""Curators write datasets, volumes and crops through the API; payloads are manifests."""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from django.core.cache import cache

from catalog import models
from catalog.freshness import catalog_version as get_catalog_version
from tests.test_api_fixtures import SmallCatalog, api, slugs, small_catalog, token_client  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def curator():
    cache.clear()
    return token_client(staff=True)


def dataset_payload(**overrides) -> dict:
    payload = {
        "slug": "jrc_new-cell",
        "title": "A new cell",
        "description": "Freshly imaged golgi stacks.",
        "organism": "Homo sapiens",
        "tissues": ["Liver"],
        "sample": {"fixation": "hpf", "cell_types": ["HeLa"]},
        "imaging": {"modality": "fib-sem", "voxel_size_nm": {"x": 4, "y": 4, "z": 4}},
        "institutions": ["HHMI/Janelia"],
        "dois": [{"doi": "https://doi.org/10.25378/Janelia.NEW", "group": "dataset"}],
        "volumes": [
            {
                "name": "em/fibsem-uint8",
                "url": "s3://bucket/jrc_new-cell/em",
                "format": "ome-zarr-0.4",
                "kind": "image",
                "content_type": "em",
                "shape": {"x": 10, "y": 10, "z": 10},
                "scale_nm": {"x": 4, "y": 4, "z": 4},
            }
        ],
    }
    payload.update(overrides)
    return payload


def error_map(response, status: int = 400) -> dict[str, str]:
    """Field -> message of a refusal: 400 for a malformed payload, 409 for one the catalog's
    current state refuses (unknown references, names and numbers already taken)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == {400: "bad_request", 409: "conflict"}[status]
    return {error["field"]: error["message"] for error in body["errors"]}


def test_curator_creates_a_dataset(curator, small_catalog: SmallCatalog, django_capture_on_commit_callbacks) -> None:
    version = get_catalog_version()
    with django_capture_on_commit_callbacks(execute=True):
        response = curator.post("/api/datasets/", dataset_payload(), format="json")
    assert response.status_code == 201, response.content
    assert response["Location"] == "/api/datasets/jrc_new-cell/"
    body = response.json()
    assert body["organism"]["slug"] == "homo-sapiens"
    assert body["voxel_size"] == {"x": 4.0, "y": 4.0, "z": 4.0}
    assert body["dois"] == [
        {"doi": "10.25378/janelia.new", "url": "https://doi.org/10.25378/janelia.new", "group": "dataset"}
    ]
    assert body["volume_count"] == 1
    assert body["cell_types"] == ["HeLa"]
    # Searchable at once, and cached reads are invalidated.
    assert slugs(curator.get("/api/datasets/?q=golgi")) == ["jrc_new-cell"]
    assert get_catalog_version() != version


def test_invalid_payload_lists_every_problem_and_changes_nothing(curator, small_catalog: SmallCatalog) -> None:
    payload = dataset_payload(
        slug="bad slug!",
        imaging={"modality": "x-ray", "voxel_size_nm": {"x": -1, "y": 4, "z": 4}},
        colour="red",
    )
    errors = error_map(curator.post("/api/datasets/", payload, format="json"))
    assert set(errors) >= {"slug", "imaging.modality", "imaging.voxel_size_nm.x", "colour"}
    assert not models.Dataset.objects.filter(title="A new cell").exists()


def test_unknown_references_are_409(curator, small_catalog: SmallCatalog) -> None:
    payload = dataset_payload(
        organism="Atlantean",
        tissues=["Gills"],
        crops=[
            {
                "number": 1,
                "split": "train",
                "voxel_size_nm": {"x": 2, "y": 2, "z": 2},
                "translation_nm": {"x": 0, "y": 0, "z": 0},
                "shape": {"x": 4, "y": 4, "z": 4},
                "label_classes": ["unobtainium"],
                "labels_url": "s3://bucket/crop1",
            }
        ],
    )
    errors = error_map(curator.post("/api/datasets/", payload, format="json"), 409)
    assert "organism" in errors
    assert "tissues" in errors
    assert "unobtainium" in errors["crops.0.label_classes.0"]
    assert "jrc_hela-2" in errors["crops.0.number"]
    assert not models.Dataset.objects.filter(slug="jrc_new-cell").exists()


def test_duplicate_slug_and_renames_are_refused(curator, small_catalog: SmallCatalog) -> None:
    assert "slug" in error_map(curator.post("/api/datasets/", dataset_payload(slug="jrc_hela-2"), format="json"), 409)
    response = curator.put("/api/datasets/jrc_hela-2/", dataset_payload(slug="other"), format="json")
    assert "slug" in error_map(response, 409)
    assert error_map(curator.post("/api/datasets/", [1, 2], format="json")) == {"body": "Expected a JSON object."}


def test_curator_replaces_and_deletes_a_dataset(curator, small_catalog: SmallCatalog) -> None:
    payload = dataset_payload(slug="jrc_mus-liver", title="Mouse liver, re-imaged", organism="Mus musculus", dois=[])
    response = curator.put("/api/datasets/jrc_mus-liver/", payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Mouse liver, re-imaged"
    # The volume the manifest lists is updated; the one it does not list is kept.
    names = set(models.Volume.objects.filter(dataset__slug="jrc_mus-liver").values_list("name", flat=True))
    assert names == {"em/fibsem-uint8", "labels/nuclei"}
    assert models.Volume.objects.get(dataset__slug="jrc_mus-liver", name="em/fibsem-uint8").url == (
        "s3://bucket/jrc_new-cell/em"
    )
    assert curator.delete("/api/datasets/jrc_mus-liver/").status_code == 204
    assert curator.get("/api/datasets/jrc_mus-liver/").status_code == 404
    assert not models.Volume.objects.filter(dataset__slug="jrc_mus-liver").exists()


def test_curator_writes_volumes(curator, small_catalog: SmallCatalog) -> None:
    payload = {
        "dataset": "jrc_hela-2",
        "name": "labels/er_seg",
        "url": "s3://bucket/jrc_hela-2/er",
        "format": "ome-zarr-0.4",
        "kind": "segmentation",
        "content_type": "segmentation",
        "label_class": "er",
        "display": {"colour": "lime"},
    }
    response = curator.post("/api/volumes/", payload, format="json")
    assert response.status_code == 201, response.content
    volume = response.json()
    assert volume["label_class"] == "er"
    assert volume["display"]["colour"] == "#00ff00"
    assert slugs(curator.get("/api/datasets/?organelle=er&has_crops=true")) == ["jrc_hela-2"]
    renamed = curator.put(f"/api/volumes/{volume['id']}/", {**payload, "name": "labels/er"}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["id"] == volume["id"]
    assert renamed.json()["name"] == "labels/er"
    errors = error_map(
        curator.post("/api/volumes/", {**payload, "label_class": "nope", "name": "x"}, format="json"), 409
    )
    assert "nope" in errors["label_class"]
    errors = error_map(curator.post("/api/volumes/", {**payload, "dataset": "nope"}, format="json"), 409)
    assert "dataset" in errors
    assert curator.delete(f"/api/volumes/{volume['id']}/").status_code == 204
    assert not models.Volume.objects.filter(pk=volume["id"]).exists()


def test_curator_writes_crops(curator, small_catalog: SmallCatalog, django_capture_on_commit_callbacks) -> None:
    payload = {
        "dataset": "jrc_mus-liver",
        "number": 77,
        "split": "train",
        "voxel_size_nm": {"x": 8, "y": 8, "z": 8},
        "translation_nm": {"x": 0, "y": 0, "z": 4},
        "shape": {"x": 100, "y": 100, "z": 100},
        "label_classes": ["mito_mem"],
        "labels_url": "s3://bucket/jrc_mus-liver/crop77",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = curator.post("/api/crops/", payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["translation"] == {"x": 0.0, "y": 0.0, "z": 4.0}
    assert slugs(curator.get("/api/datasets/?organelle=mito")) == ["jrc_hela-2", "jrc_mus-liver"]
    assert "number" in error_map(curator.post("/api/crops/", payload, format="json"), 409)
    assert "number" in error_map(curator.put("/api/crops/77/", {**payload, "number": 78}, format="json"), 409)
    assert "labels_url" not in error_map(curator.post("/api/crops/", {**payload, "number": 0}, format="json"))
    updated = curator.put("/api/crops/77/", {**payload, "split": "test"}, format="json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["split"] == "test"
    assert curator.delete("/api/crops/77/").status_code == 204
    assert curator.get("/api/crops/77/").status_code == 404
