"""The ingest service and command against a real S3 API (moto server on loopback)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image

from catalog.models import Crop, Dataset, IngestRun, LabelClass, Volume, VolumeStatistics
from catalog.s3 import parse_s3_url
from catalog.services.ingest import ingest_prefix
from tests.factories import CropFactory, DatasetFactory, LabelClassFactory, VolumeFactory
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_ingest_data import (
    delete_prefix,
    get_json,
    gradient_volume,
    put_json,
    write_n5_multiscale,
    write_precomputed,
)

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

EM = "ds_one/ds_one.zarr/recon-1/em/fibsem-uint8"
EM05 = "ds_one/ds_one.zarr/recon-1/em/fibsem-uint16"
CROP = "ds_one/ds_one.zarr/recon-1/labels/groundtruth/crop12/mito"
N5_EM = "ds_two/ds_two.n5/em/fibsem-uint8"
N5_SEG = "ds_two/ds_two.n5/labels/er_seg"
PRECOMPUTED = "ds_two/neuroglancer/em/fibsem-uint8.precomputed"
BROKEN = "ds_two/ds_two.n5/labels/broken_seg"


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> S3Server:
    """Point boto3's standard configuration at the moto server; keep thumbnails in tmp."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    settings.MEDIA_ROOT = tmp_path / "media"
    return s3_server


@pytest.fixture
def bucket(s3_env: S3Server, settings: Any) -> str:
    name = s3_env.create_public_bucket()
    settings.INGEST_ALLOWED_BUCKETS = [name]
    return name


@pytest.fixture
def populated(s3_env: S3Server, bucket: str) -> str:
    """Two datasets in every supported format, plus one broken volume."""
    endpoint = s3_env.endpoint_url
    write_ome_zarr(endpoint, bucket, EM, gradient_volume(), (5.24, 4.0, 4.0), (10.0, 20.0, 30.0))
    write_ome_zarr(endpoint, bucket, EM05, gradient_volume(dtype="uint16") * 7, (5.24, 4.0, 4.0), zarr_format=3)
    write_ome_zarr(endpoint, bucket, CROP, (gradient_volume() > 100).astype("uint8"), (2.0, 2.0, 2.0))
    write_n5_multiscale(s3_env, bucket, N5_EM, gradient_volume(), (8.0, 8.0, 8.0), (0.0, 8.0, 16.0))
    write_n5_multiscale(s3_env, bucket, N5_SEG, gradient_volume(dtype="uint64"), (0.008, 0.008, 0.008), unit="um")
    write_precomputed(s3_env, bucket, PRECOMPUTED, gradient_volume(), (4, 4, 8))
    write_n5_multiscale(s3_env, bucket, BROKEN, gradient_volume(dtype="uint64"), (8.0, 8.0, 8.0), unit="parsec")
    return bucket


def _ingest(bucket: str, prefix: str = "", **options: Any) -> Any:
    return ingest_prefix(location=parse_s3_url(f"s3://{bucket}/{prefix}"), **options)


def _volume(bucket: str, key: str) -> Volume:
    return Volume.objects.select_related("dataset", "label_class").get(url=f"s3://{bucket}/{key}")


def _dump() -> dict[str, list[dict[str, Any]]]:
    """Every column of every row the ingest touches."""
    return {
        "datasets": list(Dataset.objects.order_by("pk").values()),
        "volumes": list(Volume.objects.order_by("pk").values()),
        "statistics": list(VolumeStatistics.objects.order_by("pk").values()),
        "label_classes": list(LabelClass.objects.order_by("pk").values()),
        "crops": list(Crop.objects.order_by("pk").values()),
        "crop_classes": list(Crop.label_classes.through.objects.order_by("pk").values()),
    }


@pytest.fixture
def mito() -> LabelClass:
    return LabelClassFactory(name="mito", label_id=4)


def test_ingest_registers_every_format(populated: str, mito: LabelClass) -> None:
    LabelClassFactory(name="er", label_id=16)
    summary = _ingest(populated)

    assert (summary.found, summary.created, summary.updated, summary.missing, summary.invalid) == (7, 7, 0, 0, 1)
    assert sorted(summary.datasets_created) == ["ds_one", "ds_two"]
    em = _volume(populated, EM)
    assert em.dataset.slug == "ds_one"
    assert (em.name, em.format, em.kind, em.content_type, em.dtype, em.axes) == (
        "fibsem-uint8",
        "ome-zarr-0.4",
        "image",
        "em",
        "uint8",
        "zyx",
    )
    assert (em.shape_x, em.shape_y, em.shape_z, em.scale_levels) == (64, 48, 32, 2)
    assert (em.scale_x, em.scale_y, em.scale_z) == (4.0, 4.0, 5.24)
    assert (em.translation_x, em.translation_y, em.translation_z) == (30.0, 20.0, 10.0)
    assert em.status == "ok"
    assert em.validation_errors == []

    crop = _volume(populated, CROP)
    assert (crop.name, crop.kind, crop.content_type, crop.label_class) == (
        "crop12/mito",
        "segmentation",
        "groundtruth",
        mito,
    )
    assert _volume(populated, EM05).format == "ome-zarr-0.5"
    n5 = _volume(populated, N5_EM)
    assert (n5.format, n5.dataset.slug, n5.scale_x, n5.translation_x) == ("n5", "ds_two", 8.0, 16.0)
    seg = _volume(populated, N5_SEG)
    assert (seg.kind, seg.content_type, seg.label_class.name, seg.scale_z) == (
        "segmentation",
        "segmentation",
        "er",
        8.0,
    )
    precomputed = _volume(populated, PRECOMPUTED)
    assert (precomputed.format, precomputed.dataset.slug, precomputed.scale_z) == ("precomputed", "ds_two", 8.0)

    broken = _volume(populated, BROKEN)
    assert broken.status == "invalid"
    assert {error["field"] for error in broken.validation_errors} == {
        "attributes.json.multiscales[0].datasets[0].transform.units[0]",
        "attributes.json.multiscales[0].datasets[0].transform.units[1]",
        "attributes.json.multiscales[0].datasets[0].transform.units[2]",
    }
    assert broken.scale_x is None

    created = Dataset.objects.get(slug="ds_one")
    assert created.title == ""
    assert created.provenance == f"Created by the ingest of s3://{populated}; to be completed by a curator."
    assert (created.voxel_size_x, created.voxel_size_y, created.voxel_size_z) == (4.0, 4.0, 5.24)
    assert (created.extent_x, created.extent_y, created.extent_z) == (256.0, 192.0, 32 * 5.24)


def test_contrast_limits_and_thumbnail_from_the_coarsest_level(populated: str) -> None:
    _ingest(populated)

    for key in (EM, EM05, N5_EM, PRECOMPUTED):
        volume = _volume(populated, key)
        statistics = volume.statistics
        coarsest = gradient_volume()[::2, ::2, ::2] if key != PRECOMPUTED else gradient_volume()
        assert statistics.level_path in {"1", "s1", "4_4_8"}
        assert volume.contrast_start == statistics.contrast_start
        assert volume.contrast_end == statistics.contrast_end
        assert volume.contrast_start < volume.contrast_end
        if key in (N5_EM, PRECOMPUTED):
            low, high = np.percentile(coarsest, [0.5, 99.5])
            assert (volume.contrast_start, volume.contrast_end) == pytest.approx((low, high))
        if volume.dtype == "uint8":
            assert (volume.contrast_min, volume.contrast_max) == (0.0, 255.0)
        else:
            assert (volume.contrast_min, volume.contrast_max) == (statistics.data_min, statistics.data_max)
        with default_storage.open(statistics.thumbnail.name) as handle:
            image = Image.open(io.BytesIO(handle.read()))
            assert image.format == "PNG"
            assert max(image.size) == 256
            assert len(np.unique(np.asarray(image))) > 16
    assert not VolumeStatistics.objects.filter(volume__kind="segmentation").exists()


def test_second_run_changes_nothing(populated: str) -> None:
    _ingest(populated)
    before = _dump()
    files_before = sorted(path.name for path in Path(default_storage.location).rglob("*.png"))

    summary = _ingest(populated)

    assert (summary.created, summary.updated, summary.missing) == (0, 0, 0)
    assert summary.unchanged == 7
    assert _dump() == before
    assert sorted(path.name for path in Path(default_storage.location).rglob("*.png")) == files_before


def test_an_unchanged_run_costs_a_fixed_number_of_queries(populated: str, django_assert_max_num_queries: Any) -> None:
    """Volumes, classes, then per dataset: savepoint, dataset, names, crops (+ their classes), release.

    Nothing per volume.
    """
    _ingest(populated)

    with django_assert_max_num_queries(12):
        _ingest(populated)


def test_changed_metadata_updates_the_row(populated: str, s3_env: S3Server) -> None:
    _ingest(populated)
    untouched = _volume(populated, EM05)
    attributes = get_json(s3_env, populated, f"{EM}/.zattrs")
    for dataset in attributes["multiscales"][0]["datasets"]:
        dataset["coordinateTransformations"][1]["translation"] = [0.0, 0.0, 0.0]
    put_json(s3_env, populated, f"{EM}/.zattrs", attributes)

    summary = _ingest(populated)

    assert (summary.created, summary.updated) == (0, 1)
    em = _volume(populated, EM)
    assert (em.translation_x, em.translation_y, em.translation_z) == (0.0, 0.0, 0.0)
    assert _volume(populated, EM05).updated_at == untouched.updated_at


def test_new_data_in_the_coarsest_level_replaces_the_thumbnail(
    populated: str, s3_env: S3Server, django_capture_on_commit_callbacks: Any
) -> None:
    _ingest(populated)
    old = _volume(populated, EM).statistics
    write_ome_zarr(s3_env.endpoint_url, populated, EM, 255 - gradient_volume(), (5.24, 4.0, 4.0), (10.0, 20.0, 30.0))

    with django_capture_on_commit_callbacks(execute=True):
        _ingest(populated)

    new = VolumeStatistics.objects.get(pk=old.pk)
    assert new.fingerprint != old.fingerprint
    assert new.thumbnail.name != old.thumbnail.name
    assert default_storage.exists(new.thumbnail.name)
    assert not default_storage.exists(old.thumbnail.name)


def test_deleting_a_volume_deletes_its_thumbnail(populated: str, django_capture_on_commit_callbacks: Any) -> None:
    _ingest(populated)
    volume = _volume(populated, EM)
    name = volume.statistics.thumbnail.name
    assert default_storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True):
        volume.delete()

    assert not default_storage.exists(name)


def test_volumes_gone_from_the_bucket_are_marked_missing(populated: str, s3_env: S3Server) -> None:
    _ingest(populated)
    outside = VolumeFactory(url=f"s3://{populated}/elsewhere/volume")
    delete_prefix(s3_env, populated, EM05)

    summary = _ingest(populated, "ds_one")

    assert summary.missing == 1
    assert _volume(populated, EM05).status == "missing"
    assert _volume(populated, EM).status == "ok"
    assert Volume.objects.get(pk=outside.pk).status == "ok"
    again = _ingest(populated, "ds_one")
    assert again.missing == 0


def test_returning_volume_is_ok_again(populated: str, s3_env: S3Server) -> None:
    _ingest(populated)
    Volume.objects.filter(url=f"s3://{populated}/{EM}").update(status="missing")

    summary = _ingest(populated, "ds_one")

    assert summary.updated == 1
    assert _volume(populated, EM).status == "ok"


def test_curator_display_settings_are_kept(populated: str) -> None:
    _ingest(populated)
    Volume.objects.filter(url=f"s3://{populated}/{EM}").update(
        display_set_by_curator=True, contrast_start=1.0, contrast_end=2.0
    )
    VolumeStatistics.objects.filter(volume__url=f"s3://{populated}/{EM}").delete()

    _ingest(populated)

    em = _volume(populated, EM)
    assert (em.contrast_start, em.contrast_end) == (1.0, 2.0)
    assert em.statistics.contrast_end > 2.0


def test_existing_rows_keep_curated_fields(populated: str) -> None:
    dataset = DatasetFactory(slug="curated")
    volume = VolumeFactory(
        dataset=dataset,
        name="Raw EM",
        url=f"s3://{populated}/{EM}",
        kind="image",
        content_type="em",
        description="Curated text.",
        scale_x=1.0,
    )

    _ingest(populated, "ds_one")

    volume.refresh_from_db()
    assert (volume.dataset, volume.name, volume.description) == (dataset, "Raw EM", "Curated text.")
    assert volume.scale_x == 4.0
    assert (volume.contrast_min, volume.contrast_max, volume.contrast_start, volume.contrast_end) == (0, 255, 100, 200)
    assert volume.statistics.contrast_end != 200


def test_precomputed_segmentation_meshes_are_recorded(s3_env: S3Server, bucket: str) -> None:
    key = "ds_three/neuroglancer/labels/mito_seg.precomputed"
    write_precomputed(s3_env, bucket, key, gradient_volume(dtype="uint64"), (8, 8, 8), volume_type="segmentation")
    info = get_json(s3_env, bucket, f"{key}/info")
    put_json(s3_env, bucket, f"{key}/info", {**info, "mesh": "mesh"})
    put_json(
        s3_env, bucket, f"{key}/mesh/info", {"@type": "neuroglancer_multilod_draco", "vertex_quantization_bits": 10}
    )

    _ingest(bucket)
    before = _dump()
    again = _ingest(bucket)

    volume = _volume(bucket, key)
    assert (volume.kind, volume.content_type, volume.dtype) == ("segmentation", "segmentation", "uint64")
    assert list(volume.meshes.values_list("name", "url", "format")) == [
        ("mesh", f"s3://{bucket}/{key}/mesh", "neuroglancer_multilod_draco")
    ]
    assert again.unchanged == 1
    assert _dump() == before


def test_ground_truth_crops_are_created_and_linked(populated: str, mito: LabelClass, s3_env: S3Server) -> None:
    summary = _ingest(populated)

    crop = Crop.objects.get(number=12)
    assert summary.crops_created == [12]
    assert (crop.dataset.slug, crop.split, crop.labels_url) == (
        "ds_one",
        "train",
        f"s3://{populated}/ds_one/ds_one.zarr/recon-1/labels/groundtruth/crop12",
    )
    assert (crop.voxel_size_x, crop.shape_x, crop.translation_x) == (2.0, 64, 0.0)
    assert list(crop.label_classes.all()) == [mito]

    nucleus = LabelClassFactory(name="nuc", label_id=28)
    write_ome_zarr(
        s3_env.endpoint_url, populated, CROP.replace("/mito", "/nuc"), gradient_volume(), (2.0, 2.0, 2.0), n_levels=1
    )
    again = _ingest(populated, "ds_one")

    assert again.crops_created == []
    assert set(crop.label_classes.all()) == {mito, nucleus}


def test_existing_crops_keep_their_geometry(populated: str, mito: LabelClass) -> None:
    existing = CropFactory(number=12, dataset=DatasetFactory(slug="ds_one"), split="test", voxel_size_x=4.0)

    _ingest(populated)

    existing.refresh_from_db()
    assert (existing.split, existing.voxel_size_x) == ("test", 4.0)
    assert list(existing.label_classes.all()) == [mito]


def test_dataset_option_attaches_volumes_to_that_dataset(populated: str) -> None:
    dataset = DatasetFactory(slug="target")

    summary = _ingest(populated, "ds_two/neuroglancer", dataset=dataset)

    assert summary.created == 1
    assert summary.datasets_created == []
    assert _volume(populated, PRECOMPUTED).dataset == dataset


def test_dry_run_writes_nothing(populated: str) -> None:
    before = _dump()

    summary = _ingest(populated, dry_run=True)

    assert (summary.found, summary.created) == (7, 7)
    assert sorted(summary.datasets_created) == ["ds_one", "ds_two"]
    assert _dump() == before


def test_volumes_without_a_dataset_in_the_path_are_reported(s3_env: S3Server, bucket: str) -> None:
    write_ome_zarr(s3_env.endpoint_url, bucket, "loose/image", gradient_volume(), (4.0, 4.0, 4.0))

    summary = _ingest(bucket)

    assert summary.created == 0
    assert summary.warnings == [f"s3://{bucket}/loose/image: no dataset in the path; ingest it with --dataset SLUG"]


def test_command_prints_a_summary(populated: str) -> None:
    out = io.StringIO()

    call_command("ingest", f"s3://{populated}/ds_one", stdout=out, stderr=io.StringIO())

    text = out.getvalue()
    assert "found 3, created 3, updated 0, unchanged 0, missing 0, invalid 0" in text
    run = IngestRun.objects.get()
    assert (run.status, run.found, run.created, run.progress_done, run.progress_total) == ("succeeded", 3, 3, 3, 3)


def test_command_dry_run_and_dataset(populated: str) -> None:
    DatasetFactory(slug="target")
    out = io.StringIO()

    call_command(
        "ingest", f"s3://{populated}/ds_one", "--dataset", "target", "--dry-run", stdout=out, stderr=io.StringIO()
    )

    assert "dry run, nothing written: found 3, created 3" in out.getvalue()
    assert not Volume.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["http://127.0.0.1/bucket"], "is not an s3:// URL"),
        (["s3://Bad_Bucket/x"], "not a valid S3 bucket name"),
        (["s3://fine-bucket/x", "--dataset", "nope"], "no dataset with slug 'nope'"),
    ],
)
def test_command_rejects_bad_input(arguments: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("ingest", *arguments, stdout=io.StringIO(), stderr=io.StringIO())
    assert not IngestRun.objects.exists()


def test_command_reports_an_unreachable_bucket(s3_env: S3Server) -> None:
    with pytest.raises(CommandError, match="NoSuchBucket"):
        call_command("ingest", "s3://no-such-bucket-here/x", stdout=io.StringIO(), stderr=io.StringIO())
    run = IngestRun.objects.get()
    assert run.status == "failed"
    assert "NoSuchBucket" in run.error
