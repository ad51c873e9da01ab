"""Download panels: exact S3 keys, objects and bytes from the chunk grid ingest stored, never from
listing S3 at request time; the EM region under a crop at the level nearest its label voxels."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from catalog import s3
from catalog.citations import canonical_url
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_crop_contents import CROP_PREFIX, classes, crop_bucket, ingest, s3_env  # noqa: F401  (fixtures)
from tests.test_ingest_data import gradient_volume

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

EM = "ds_one/ds_one.zarr/recon-1/em/fibsem-uint8"


@pytest.fixture
def ingested(crop_bucket: str, s3_env: S3Server) -> str:  # noqa: F811  (fixtures)
    """crop7 (2 nm labels, 8 x 16 x 16 voxels from (z, y, x) = (100, 200, 300) nm) over an EM of
    64 x 96 x 128 voxels of 4 nm at the origin, three levels, 16-voxel chunks."""
    write_ome_zarr(
        s3_env.endpoint_url,
        crop_bucket,
        EM,
        gradient_volume((64, 96, 128)),
        (4.0, 4.0, 4.0),
        n_levels=3,
        chunks=(16, 16, 16),
    )
    ingest(crop_bucket)
    return crop_bucket


@pytest.fixture
def no_listing(ingested: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the ingest: any read from S3 by a request fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a request read S3")

    for name in ("list_directory", "list_objects", "get", "get_many"):
        monkeypatch.setattr(s3.S3Reader, name, refuse)


@pytest.mark.usefixtures("no_listing")
def test_the_em_region_under_a_crop_at_the_nearest_level(ingested: str) -> None:
    body = APIClient().get("/api/crops/7/download/").json()

    em = body["em"]
    assert em["url"] == f"s3://{ingested}/{EM}"
    assert (em["level"], em["voxel_size_nm"]) == ("0", {"z": 4.0, "y": 4.0, "x": 4.0})
    # the crop spans x 299..331, y 199..231, z 99..115 nm; EM voxel i covers 4i - 2 .. 4i + 2
    assert (em["start"], em["stop"]) == ([25, 50, 75], [30, 59, 84])
    assert (em["chunk_start"], em["chunk_stop"]) == ([1, 3, 4], [2, 4, 6])
    assert (em["voxels"], em["bytes"], em["objects"], em["object_bytes"]) == (405, 405, 2, 2 * 16**3)
    assert em["keys"] == [f"s3://{ingested}/{EM}/0/1/3/4", f"s3://{ingested}/{EM}/0/1/3/5"]


def test_every_listed_key_exists(ingested: str, s3_server: S3Server) -> None:
    body = APIClient().get("/api/crops/7/download/?padding_nm=40").json()

    keys = body["em"]["keys"]
    # padded: z 59..155, y 159..271, x 259..371 nm = voxels 15:40, 40:69, 65:94 = chunks 0:3, 2:5, 4:6
    assert (body["em"]["chunk_start"], body["em"]["chunk_stop"]) == ([0, 2, 4], [3, 5, 6])
    assert body["em"]["objects"] == len(keys) == 3 * 3 * 2
    client = s3_server.client()
    for url in keys:
        client.head_object(Bucket=ingested, Key=url.removeprefix(f"s3://{ingested}/"))
    level = f"{EM}/0/"
    stored = {
        item["Key"].removeprefix(level)
        for item in client.list_objects_v2(Bucket=ingested, Prefix=level)["Contents"]
        if not item["Key"].rsplit("/", 1)[-1].startswith(".")
    }
    assert len(stored) == 4 * 6 * 8  # the test's only listing: the whole grid, to compare with
    assert {url.removeprefix(f"s3://{ingested}/{level}") for url in keys} < stored


@pytest.mark.usefixtures("no_listing")
def test_label_arrays_at_each_level_with_objects_and_bytes(ingested: str) -> None:
    labels = APIClient().get("/api/crops/7/download/").json()["labels"]

    assert labels["url"] == f"s3://{ingested}/{CROP_PREFIX}"
    assert labels["voxels_per_class"] == 8 * 16 * 16
    assert [array["url"].rsplit("/", 1)[1] for array in labels["arrays"]] == ["all", "er", "mito", "nuc", "ves"]
    nuc = next(array for array in labels["arrays"] if array["label_class"] == "nuc")
    assert [(level["path"], level["objects"], level["bytes"]) for level in nuc["levels"]] == [
        ("0", 1, 2048),
        ("1", 1, 256),
    ]
    assert (labels["objects"], labels["bytes"]) == (10, 5 * (2048 + 256))


@pytest.mark.usefixtures("no_listing")
def test_commands_copy_the_labels_read_the_region_and_fetch_the_manifest(ingested: str) -> None:
    commands = APIClient().get("/api/crops/7/download/").json()["commands"]

    assert commands["labels"] == (
        f"aws s3 cp --no-sign-request --recursive s3://{ingested}/{CROP_PREFIX}/ crop7/labels/"
    )
    assert '--include "*/0/*"' in commands["labels_finest"]
    assert "--include 0/1/3/4 --include 0/1/3/5" in commands["em_region"]
    assert f"zarr.open_array('s3://{ingested}/{EM}/0'" in commands["python"]
    assert "region = em[25:30, 50:59, 75:84]" in commands["python"]
    manifest = canonical_url("/api/crops/manifest.csv?number=7")  # the portal's address, not the request's
    assert commands["manifest"] == f"curl -o crop7_manifest.csv '{manifest}'"
    rows = APIClient().get("/api/crops/manifest.csv?number=7").content.decode().splitlines()
    assert len(rows) == 1 + 4


@pytest.mark.parametrize("padding", ["-1", "abc", "nan", "1e9"])
def test_a_bad_padding_is_a_400(ingested: str, padding: str) -> None:
    response = APIClient().get(f"/api/crops/7/download/?padding_nm={padding}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "padding_nm"


@pytest.mark.usefixtures("no_listing")
def test_the_crop_page_puts_the_size_first(ingested: str, client: Client) -> None:
    html = client.get(reverse("catalog:crop-detail", args=[7]) + "?padding_nm=40").content.decode()

    size = html[
        html.index('data-testid="download-size"') : html.index("</dl>", html.index('data-testid="download-size"'))
    ]
    assert "11.2\xa0KB" in size  # 11,520 bytes of labels
    assert "in 10 objects" in size
    assert "18 chunk objects" in size
    assert "padded by 40 nm" in size
    assert html.index('data-testid="download-size"') < html.index("aws s3 cp")


@pytest.mark.usefixtures("no_listing")
def test_a_volume_record_gives_each_levels_objects_and_bytes(ingested: str) -> None:
    from catalog.models import Volume

    volume = Volume.objects.get(url=f"s3://{ingested}/{EM}")
    levels = APIClient().get(f"/api/volumes/{volume.pk}/").json()["levels"]

    assert [(level["path"], level["shape"], level["objects"], level["bytes"]) for level in levels] == [
        ("0", [64, 96, 128], 4 * 6 * 8, 64 * 96 * 128),
        ("1", [32, 48, 64], 2 * 3 * 4, 32 * 48 * 64),
        ("2", [16, 24, 32], 1 * 2 * 2, 16 * 24 * 32),
    ]
    assert levels[0]["url"] == f"s3://{ingested}/{EM}/0"


@pytest.mark.usefixtures("no_listing")
def test_the_dataset_page_puts_the_size_first(ingested: str, client: Client) -> None:
    html = client.get(reverse("catalog:dataset-detail", args=["ds_one"])).content.decode()

    access = html[html.index('id="access"') :]
    assert access.index('data-testid="download-size"') < access.index("aws s3 cp")
    assert "Full resolution (0): 768.0\xa0KB</strong> uncompressed in 192 objects" in access
    manifest = canonical_url("/api/crops/manifest.csv?dataset=ds_one")
    assert f"curl -o ds_one_crops.csv &#x27;{manifest}&#x27;" in access


@pytest.mark.usefixtures("no_listing")
def test_the_volume_page_puts_the_size_first(ingested: str, client: Client, django_assert_max_num_queries: Any) -> None:
    from catalog.models import Volume

    volume = Volume.objects.get(url=f"s3://{ingested}/{EM}")
    # version, the volume with its dataset and class
    with django_assert_max_num_queries(2):
        html = client.get(reverse("catalog:volume-detail", args=[volume.pk])).content.decode()

    panel = html[html.index('id="download"') :]
    total = 64 * 96 * 128 + 32 * 48 * 64 + 16 * 24 * 32
    assert f"uncompressed in {192 + 24 + 4} objects, 3 levels" in panel
    assert panel.index('data-testid="download-size"') < panel.index("aws s3 cp")
    assert total == 897_024
    assert "<strong>876.0\xa0KB</strong>" in panel
    assert "--exclude &quot;*&quot;" in panel and "--include &#x27;1/*&#x27;" in panel  # noqa: PT018
    dataset = client.get(reverse("catalog:dataset-detail", args=["ds_one"])).content.decode()
    assert reverse("catalog:volume-detail", args=[volume.pk]) in dataset
