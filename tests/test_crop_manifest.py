"""The reference catalog's crops: its ML manifest is the challenge's own, row for row (the
Croissant description names that file), and nothing in it or on its pages invents a count."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

CHALLENGE_MANIFEST = Path(__file__).parent / "fixtures" / "cellmap" / "train_crop_manifest.csv.gz"
GEOMETRY = ("crop_name", "dataset", "class_label", "voxel_size", "translation", "shape")


@pytest.fixture
def api() -> APIClient:
    cache.clear()
    return APIClient()


def csv_rows(api: APIClient, query: str = "") -> list[dict[str, str]]:
    response = api.get(f"/api/crops/manifest.csv{query}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def challenge_rows() -> list[dict[str, str]]:
    with gzip.open(CHALLENGE_MANIFEST, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.usefixtures("reference_catalog")
class TestReferenceCatalog:
    def test_the_training_manifest_is_the_challenges_row_for_row(self, api: APIClient) -> None:
        ours = csv_rows(api, "?split=train")
        published = challenge_rows()

        assert len(ours) == len(published) == 11786
        assert list(ours[0])[:6] == list(GEOMETRY)
        key = lambda row: (int(row["crop_name"]), row["class_label"])  # noqa: E731
        assert sorted(tuple(row[c] for c in GEOMETRY) for row in ours) == sorted(
            tuple(row[c] for c in GEOMETRY) for row in published
        ), "voxel size, translation and shape differ from the challenge's"
        assert len({key(row) for row in ours}) == 11786

    def test_every_row_says_where_its_labels_and_em_are_and_invents_no_counts(self, api: APIClient) -> None:
        rows = csv_rows(api, "?dataset=jrc_hela-2&split=train")

        assert {row["present_voxels"] for row in rows} == {""}
        assert {row["present_share"] for row in rows} == {""}
        first = next(row for row in rows if row["crop_name"] == "1" and row["class_label"] == "nuc")
        assert first["label_url"] == (
            "s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.zarr/recon-1/labels/groundtruth/crop1/nuc"
        )
        assert first["em_url"] == "s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.zarr/recon-1/em/fibsem-uint8"
        assert first["split"] == "train"

    def test_test_crops_are_listed_without_label_locations(self, api: APIClient) -> None:
        rows = csv_rows(api, "?split=test")

        assert rows
        assert {row["label_url"] for row in rows} == {""}
        assert all(row["em_url"].startswith("s3://") for row in rows)

    def test_no_crop_of_the_reference_catalog_is_known_to_contain_anything(self, api: APIClient) -> None:
        assert csv_rows(api, "?organelle=nuc&present=true") == []
        assert api.get("/api/crops/manifest.json?organelle=nuc&present=true").json() == {"count": 0, "rows": []}

    def test_json_rows_match_the_csv(self, api: APIClient) -> None:
        body = api.get("/api/crops/manifest.json?dataset=jrc_hela-2").json()
        rows = csv_rows(api, "?dataset=jrc_hela-2")

        assert body["count"] == len(body["rows"]) == len(rows)
        first = body["rows"][0]
        assert (first["crop"], first["label_class"]) == (int(rows[0]["crop_name"]), rows[0]["class_label"])
        assert rows[0]["voxel_size"] == "[{z!r};{y!r};{x!r}]".format(**first["voxel_size"])

    def test_the_manifest_costs_a_fixed_number_of_queries(
        self, api: APIClient, django_assert_max_num_queries: Any
    ) -> None:
        # version, crops, their classes, their contents, the EM volumes of their datasets
        with django_assert_max_num_queries(5):
            assert api.get("/api/crops/manifest.csv").status_code == 200

    def test_croissant_describes_the_csv_it_links(self, api: APIClient) -> None:
        document = api.get("/api/crops/croissant.json?split=train").json()
        csv_body = api.get("/api/crops/manifest.csv?split=train").content

        assert document["@type"] == "sc:Dataset"
        assert document["conformsTo"] == "http://mlcommons.org/croissant/1.0"
        (file_object,) = document["distribution"]
        assert file_object["contentUrl"] == "http://testserver/api/crops/manifest.csv?split=train"
        assert file_object["sha256"] == hashlib.sha256(csv_body).hexdigest()
        (record_set,) = document["recordSet"]
        header = csv_body.decode().splitlines()[0].split(",")
        assert [field["source"]["extract"]["column"] for field in record_set["field"]] == header

    def test_reference_crops_say_their_counts_are_unknown_until_ingested(self, client: Client) -> None:
        crop = client.get(reverse("catalog:crop-detail", args=[1])).content.decode()
        assert 'data-testid="counts-unknown"' in crop
        assert '<span class="share">' not in crop
        assert not re.search(r'<td class="num">\d', crop)  # no number in any count column
        assert crop.count('data-testid="download-size"') == 1
        start = crop.index('data-testid="download-size"')
        size = crop[start : crop.index("</dl>", start)]
        assert size.count("size unknown until ingested") == 2  # labels and EM: no stored chunk grid
        assert "aws s3 cp --no-sign-request --recursive s3://janelia-cosem-datasets/jrc_hela-2/" in crop

        organelle = client.get(reverse("catalog:organelle-detail", args=["nuc"])).content.decode()
        assert "Counts unknown: no crop's voxels of nuc have been counted yet" in organelle

        dataset = client.get(reverse("catalog:dataset-detail", args=["jrc_hela-2"])).content.decode()
        assert "Counts unknown until the labels are ingested." in dataset
        assert "<strong>Size unknown until the volume is ingested</strong>" in dataset
        volume = re.search(r'href="(/volumes/\d+/)"', dataset)
        assert volume
        assert (
            "<strong>Size unknown until the volume is ingested</strong>" in client.get(volume.group(1)).content.decode()
        )
