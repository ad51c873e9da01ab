"""Crop contents: ingest reads complement_counts, counts s0 when they are missing, else says unknown.

CellMap-layout crops are written to a moto S3 server: label arrays with and without
``cellmap.annotation.complement_counts``, instance and semantic, and one without any
annotation at all.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command

from catalog.models import Crop, CropContent, LabelClass, Volume
from catalog.models.crops import ContentSource
from catalog.s3 import parse_s3_url
from catalog.services.ingest import ingest_prefix
from catalog.services.loading import REFERENCE_CATALOG, ManifestError, load_catalog, read_catalog
from tests.factories import LabelClassFactory
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_ingest_data import put_json

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

CROP_PREFIX = "ds_one/ds_one.zarr/recon-1/labels/groundtruth/crop7"
SHAPE = (8, 16, 16)
TOTAL = 8 * 16 * 16


def annotation(class_name: str, kind: str, counts: dict[str, int] | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "annotation_type": {"encoding": {"absent": 0, "unknown": 255}, "type": kind},
        "class_name": class_name,
    }
    if counts is not None:
        document["complement_counts"] = counts
    return {"cellmap": {"annotation": document}}


def write_label_array(
    server: S3Server, bucket: str, name: str, array: np.ndarray, attributes: dict[str, Any] | None
) -> None:
    """One class's label array in the CellMap layout, with its annotation on level 0."""
    key = f"{CROP_PREFIX}/{name}"
    write_ome_zarr(server.endpoint_url, bucket, key, array, (2.0, 2.0, 2.0), (100.0, 200.0, 300.0), n_levels=2)
    if attributes is not None:
        put_json(server, bucket, f"{key}/0/.zattrs", attributes)


def instance_labels() -> np.ndarray:
    """Three objects (ids 1, 2, 3) in 3 x 40 voxels, 64 unknown voxels, the rest absent."""
    array = np.zeros(SHAPE, dtype="uint8")
    array[0, 0, :16] = 1
    array[0, 1, :16] = 1
    array[0, 2, :8] = 1
    array[1, 0, :16] = 2
    array[1, 1, :16] = 2
    array[1, 2, :8] = 2
    array[2, 0, :16] = 3
    array[2, 1, :16] = 3
    array[2, 2, :8] = 3
    array[7, :4, :16] = 255
    return array


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> S3Server:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    settings.MEDIA_ROOT = tmp_path / "media"
    return s3_server


@pytest.fixture
def classes() -> dict[str, LabelClass]:
    return {
        name: LabelClassFactory(name=name, label_id=label_id, instance_scored=name == "mito")
        for name, label_id in (("nuc", 28), ("mito", 4), ("er", 16), ("ves", 24))
    }


@pytest.fixture
def crop_bucket(s3_env: S3Server, classes: dict[str, LabelClass]) -> str:
    bucket = s3_env.create_public_bucket()
    semantic = np.zeros(SHAPE, dtype="uint8")
    semantic[:4] = 1  # the data disagree with the stated counts on purpose: the attributes are read
    write_label_array(
        s3_env, bucket, "nuc", semantic, annotation("nuc", "semantic_segmentation", {"absent": 1000, "unknown": 24})
    )
    write_label_array(s3_env, bucket, "mito", instance_labels(), annotation("mito", "instance_segmentation", None))
    write_label_array(
        s3_env, bucket, "er", np.zeros(SHAPE, dtype="uint8"), annotation("er", "semantic_segmentation", None)
    )
    write_label_array(s3_env, bucket, "ves", semantic, None)
    write_label_array(s3_env, bucket, "all", semantic, None)
    return bucket


def ingest(bucket: str) -> Any:
    return ingest_prefix(location=parse_s3_url(f"s3://{bucket}/ds_one"))


def contents() -> dict[str, dict[str, Any]]:
    return {
        row["label_class__name"]: row
        for row in CropContent.objects.values(
            "label_class__name",
            "source",
            "total_voxels",
            "present_voxels",
            "absent_voxels",
            "unknown_voxels",
            "object_count",
            "present_share",
            "note",
        )
    }


def test_ingest_stores_what_each_label_array_holds(crop_bucket: str) -> None:
    ingest(crop_bucket)

    found = contents()
    assert set(found) == {"nuc", "mito", "er", "ves"}
    nuc = found["nuc"]
    assert (nuc["source"], nuc["total_voxels"], nuc["absent_voxels"], nuc["unknown_voxels"]) == (
        ContentSource.ATTRIBUTES,
        TOTAL,
        1000,
        24,
    )
    assert nuc["present_voxels"] == TOTAL - 1000 - 24
    assert nuc["object_count"] is None
    assert nuc["present_share"] == pytest.approx((TOTAL - 1024) / TOTAL)

    mito = found["mito"]
    assert (mito["source"], mito["present_voxels"], mito["unknown_voxels"], mito["object_count"]) == (
        ContentSource.COUNTED,
        120,
        64,
        3,
    )
    assert mito["absent_voxels"] == TOTAL - 120 - 64

    er = found["er"]
    assert (er["source"], er["present_voxels"], er["absent_voxels"], er["present_share"]) == (
        ContentSource.COUNTED,
        0,
        TOTAL,
        0.0,
    )
    assert er["object_count"] is None  # a semantic class has no objects to count

    ves = found["ves"]
    assert ves["source"] == ContentSource.UNKNOWN
    assert ves["present_voxels"] is None
    assert ves["present_share"] is None
    assert "no cellmap.annotation" in ves["note"]

    crop = Crop.objects.get(number=7)
    assert {c.name for c in crop.label_classes.all()} == {"nuc", "mito", "er", "ves"}


def test_a_second_ingest_changes_nothing(crop_bucket: str) -> None:
    ingest(crop_bucket)
    before = list(CropContent.objects.order_by("pk").values())

    summary = ingest(crop_bucket)

    assert summary.created == summary.updated == 0
    assert list(CropContent.objects.order_by("pk").values()) == before


def test_unknown_never_replaces_known_counts(crop_bucket: str, s3_env: S3Server) -> None:
    ingest(crop_bucket)
    # The attributes now lose their annotation: ingest can no longer count, but the counts stand.
    put_json(s3_env, crop_bucket, f"{CROP_PREFIX}/mito/0/.zattrs", {})

    ingest(crop_bucket)

    mito = contents()["mito"]
    assert (mito["source"], mito["present_voxels"], mito["object_count"]) == (ContentSource.COUNTED, 120, 3)


def test_complement_counts_that_exceed_the_array_are_unknown(crop_bucket: str, s3_env: S3Server) -> None:
    put_json(
        s3_env,
        crop_bucket,
        f"{CROP_PREFIX}/nuc/0/.zattrs",
        annotation("nuc", "semantic_segmentation", {"absent": TOTAL, "unknown": 1}),
    )

    ingest(crop_bucket)

    nuc = contents()["nuc"]
    assert nuc["source"] == ContentSource.UNKNOWN
    assert "exceed" in nuc["note"]


def test_a_dry_run_reads_and_writes_no_counts(crop_bucket: str) -> None:
    ingest_prefix(location=parse_s3_url(f"s3://{crop_bucket}/ds_one"), dry_run=True)

    assert not CropContent.objects.exists()


# --- manifests ------------------------------------------------------------------------------

HELA2 = "jrc_hela-2.json"
NUC_KNOWN = {
    "label_class": "nuc",
    "source": "attributes",
    "total_voxels": 200_000_000,
    "present_voxels": 150_000_000,
    "absent_voxels": 50_000_000,
    "unknown_voxels": 0,
}
ER_UNKNOWN = {"label_class": "er", "source": "unknown", "note": "not counted"}


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(REFERENCE_CATALOG, target)
    return target


def set_contents(catalog: Path, contents: list[dict[str, Any]] | None) -> None:
    path = catalog / "datasets" / HELA2
    data = json.loads(path.read_text())
    if contents is None:
        data["crops"][0].pop("contents", None)
    else:
        data["crops"][0]["contents"] = contents
    path.write_text(json.dumps(data))


def test_the_reference_catalog_states_no_counts() -> None:
    call_command("load_catalog", stdout=io.StringIO())

    assert Crop.objects.count() == 305
    assert not CropContent.objects.exists()


def test_contents_load_export_and_load_again_unchanged(catalog_copy: Path, tmp_path: Path) -> None:
    set_contents(catalog_copy, [NUC_KNOWN, ER_UNKNOWN])
    load_catalog(files=read_catalog(catalog_copy))
    rows = contents()
    assert rows["nuc"]["present_share"] == pytest.approx(0.75)
    assert (rows["er"]["source"], rows["er"]["present_voxels"]) == ("unknown", None)

    call_command("export_catalog", str(tmp_path / "export"))
    exported = json.loads((tmp_path / "export" / "datasets" / HELA2).read_text())
    by_class = {entry["label_class"]: entry for entry in exported["crops"][0]["contents"]}
    assert by_class == {"nuc": NUC_KNOWN, "er": ER_UNKNOWN}
    before = list(CropContent.objects.order_by("pk").values())
    report = load_catalog(files=read_catalog(tmp_path / "export"))
    assert not report.changed
    assert list(CropContent.objects.order_by("pk").values()) == before


def test_a_manifest_without_contents_keeps_them_and_a_list_replaces_them(catalog_copy: Path) -> None:
    set_contents(catalog_copy, [NUC_KNOWN, ER_UNKNOWN])
    load_catalog(files=read_catalog(catalog_copy))

    set_contents(catalog_copy, None)
    load_catalog(files=read_catalog(catalog_copy))
    assert set(contents()) == {"nuc", "er"}

    set_contents(catalog_copy, [NUC_KNOWN])
    load_catalog(files=read_catalog(catalog_copy))
    assert set(contents()) == {"nuc"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**NUC_KNOWN, "present_voxels": 1}, "must equal total_voxels"),
        ({**ER_UNKNOWN, "present_voxels": 0}, "unknown contents carry no counts"),
        ({**NUC_KNOWN, "label_class": "not_annotated"}, "not in label_classes"),
        ({**NUC_KNOWN, "absent_voxels": -1}, "absent_voxels"),
    ],
)
def test_bad_contents_are_rejected_naming_the_crop(catalog_copy: Path, entry: dict[str, Any], message: str) -> None:
    set_contents(catalog_copy, [entry])

    with pytest.raises(ManifestError) as error:
        read_catalog(catalog_copy)

    problem = " ".join(error.value.problems)
    assert f"datasets/{HELA2}: crops[" in problem
    assert message in problem


def test_ingest_stores_each_levels_chunk_grid_and_geometry(crop_bucket: str) -> None:
    ingest(crop_bucket)

    volume = Volume.objects.get(url=f"s3://{crop_bucket}/{CROP_PREFIX}/nuc")
    assert volume.levels == [
        {
            "path": "0",
            "shape": [8, 16, 16],
            "chunks": [8, 16, 16],
            "voxel_size_nm": {"z": 2.0, "y": 2.0, "x": 2.0},
            "translation_nm": {"z": 100.0, "y": 200.0, "x": 300.0},
            "chunk_key": {"prefix": "", "separator": "/"},
        },
        {
            "path": "1",
            "shape": [4, 8, 8],
            "chunks": [4, 8, 8],
            "voxel_size_nm": {"z": 4.0, "y": 4.0, "x": 4.0},
            "translation_nm": {"z": 101.0, "y": 201.0, "x": 301.0},
            "chunk_key": {"prefix": "", "separator": "/"},
        },
    ]
