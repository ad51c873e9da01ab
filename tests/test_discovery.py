"""Discovery against a real S3 API (moto server on loopback) with volumes the tests write."""

from __future__ import annotations

import pytest

from catalog.discovery import VolumeDescription, classify, dataset_from_layout, discover, nanometres_per
from catalog.s3 import S3Reader, parse_s3_url
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_ingest_data import (
    delete_prefix,
    get_json,
    gradient_volume,
    put_json,
    write_n5_array,
    write_n5_multiscale,
    write_precomputed,
)

pytestmark = pytest.mark.s3


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.create_public_bucket()


def _discover(s3_server: S3Server, url: str) -> dict[str, VolumeDescription]:
    reader = S3Reader(endpoint_url=s3_server.endpoint_url)
    found = discover(reader, parse_s3_url(url))
    return {volume.location.key: volume for volume in found}


def _fields(volume: VolumeDescription) -> list[str]:
    return [issue.field for issue in volume.errors]


def test_ome_zarr_04_image(s3_server: S3Server, bucket: str) -> None:
    key = "jrc_a/jrc_a.zarr/recon-1/em/fibsem-uint8"
    write_ome_zarr(s3_server.endpoint_url, bucket, key, gradient_volume(), (5.24, 4.0, 4.0), (10.0, 20.0, 30.0))

    volume = _discover(s3_server, f"s3://{bucket}/jrc_a")[key]

    assert volume.errors == []
    assert volume.format == "ome-zarr-0.4"
    assert (volume.dtype, volume.axes, volume.scale_levels) == ("uint8", "zyx", 2)
    assert volume.shape == {"x": 64, "y": 48, "z": 32}
    assert volume.voxel_size == {"x": 4.0, "y": 4.0, "z": 5.24}
    assert volume.translation == {"x": 30.0, "y": 20.0, "z": 10.0}
    assert (volume.kind, volume.content_type, volume.label_class) == ("image", "em", None)
    assert [level.shape for level in volume.levels] == [(32, 48, 64), (16, 24, 32)]


def test_ome_zarr_05_image(s3_server: S3Server, bucket: str) -> None:
    key = "jrc_b/jrc_b.zarr/recon-1/em/fibsem-uint16"
    write_ome_zarr(s3_server.endpoint_url, bucket, key, gradient_volume(dtype="uint16"), (3.0, 2.0, 1.0), zarr_format=3)

    volume = _discover(s3_server, f"s3://{bucket}/")[key]

    assert volume.errors == []
    assert volume.format == "ome-zarr-0.5"
    assert volume.dtype == "uint16"
    assert volume.voxel_size == {"x": 1.0, "y": 2.0, "z": 3.0}
    assert volume.shape == {"x": 64, "y": 48, "z": 32}


def test_ome_zarr_05_label_groups_are_walked_into(s3_server: S3Server, bucket: str) -> None:
    image = "jrc_b2/jrc_b2.zarr/image"
    labels = f"{image}/labels/cells"
    write_ome_zarr(s3_server.endpoint_url, bucket, image, gradient_volume(), (1.0, 1.0, 1.0), zarr_format=3)
    write_ome_zarr(s3_server.endpoint_url, bucket, labels, gradient_volume(), (1.0, 1.0, 1.0), zarr_format=3)
    group = {"zarr_format": 3, "node_type": "group", "attributes": {"ome": {"version": "0.5", "labels": ["cells"]}}}
    put_json(s3_server, bucket, f"{image}/labels/zarr.json", group)

    found = _discover(s3_server, f"s3://{bucket}/jrc_b2/jrc_b2.zarr/image/labels")

    assert list(found) == [labels]
    assert found[labels].errors == []


def test_cellmap_crop_group_is_ground_truth_with_class(s3_server: S3Server, bucket: str) -> None:
    key = "jrc_c/jrc_c.zarr/recon-1/labels/groundtruth/crop7/mito"
    write_ome_zarr(s3_server.endpoint_url, bucket, key, gradient_volume(dtype="uint8"), (2.0, 2.0, 2.0), n_levels=1)
    annotation = {
        "cellmap": {
            "annotation": {
                "annotation_type": {"encoding": {"absent": 0, "unknown": 255}, "type": "semantic_segmentation"},
                "class_name": "mito",
                "complement_counts": {"absent": 1000, "unknown": 0},
            }
        }
    }
    put_json(s3_server, bucket, f"{key}/0/.zattrs", annotation)
    all_key = "jrc_c/jrc_c.zarr/recon-1/labels/groundtruth/crop7/all"
    write_ome_zarr(s3_server.endpoint_url, bucket, all_key, gradient_volume(dtype="uint8"), (2.0, 2.0, 2.0))

    found = _discover(s3_server, f"s3://{bucket}/jrc_c/jrc_c.zarr/recon-1/labels")

    mito, everything = found[key], found[all_key]
    assert (mito.kind, mito.content_type, mito.label_class, mito.crop_number) == (
        "segmentation",
        "groundtruth",
        "mito",
        7,
    )
    assert (everything.content_type, everything.label_class, everything.crop_number) == ("groundtruth", None, 7)


def test_cellmap_challenge_documents_as_published(s3_server: S3Server, bucket: str) -> None:
    """The attribute documents exactly as the CellMap challenge data publishes them."""
    key = "jrc_cos7-1a/jrc_cos7-1a.zarr/recon-1/labels/groundtruth/crop234/vim"
    put_json(
        s3_server,
        bucket,
        f"{key}/.zattrs",
        {
            "multiscales": [
                {
                    "axes": [{"name": axis, "type": "space", "unit": "nanometer"} for axis in "zyx"],
                    "datasets": [
                        {
                            "coordinateTransformations": [
                                {"scale": [2.0, 2.0, 2.0], "type": "scale"},
                                {"translation": [2760.0, 5160.0, 10670.0], "type": "translation"},
                            ],
                            "path": "s0",
                        }
                    ],
                    "version": "0.4",
                }
            ]
        },
    )
    put_json(s3_server, bucket, f"{key}/.zgroup", {"zarr_format": 2})
    put_json(
        s3_server,
        bucket,
        f"{key}/s0/.zarray",
        {
            "zarr_format": 2,
            "shape": [400, 400, 400],
            "chunks": [64, 64, 64],
            "dtype": "|u1",
            "compressor": {"id": "gzip", "level": 5},
            "fill_value": 0,
            "filters": None,
            "order": "C",
            "dimension_separator": "/",
        },
    )
    put_json(
        s3_server,
        bucket,
        f"{key}/s0/.zattrs",
        {
            "cellmap": {
                "annotation": {
                    "annotation_type": {"encoding": {"absent": 0, "unknown": 255}, "type": "instance_segmentation"},
                    "class_name": "vim",
                    "complement_counts": {"absent": 64000000, "unknown": 0},
                }
            }
        },
    )

    volume = _discover(s3_server, f"s3://{bucket}/jrc_cos7-1a")[key]

    assert volume.errors == []
    assert volume.translation == {"x": 10670.0, "y": 5160.0, "z": 2760.0}
    assert volume.voxel_size == {"x": 2.0, "y": 2.0, "z": 2.0}
    assert volume.shape == {"x": 400, "y": 400, "z": 400}
    assert (volume.kind, volume.content_type, volume.label_class, volume.crop_number) == (
        "segmentation",
        "groundtruth",
        "vim",
        234,
    )
    assert dataset_from_layout(key) == ("jrc_cos7-1a", "recon-1/labels/groundtruth/crop234/vim")


def test_n5_multiscale_cosem_transform(s3_server: S3Server, bucket: str) -> None:
    key = "jrc_d/jrc_d.n5/em/fibsem-uint8"
    write_n5_multiscale(s3_server, bucket, key, gradient_volume(), (5.24, 4.0, 4.0), (100.0, 200.0, 300.0))

    volume = _discover(s3_server, f"s3://{bucket}/jrc_d")[key]

    assert volume.errors == []
    assert volume.format == "n5"
    assert (volume.axes, volume.scale_levels, volume.dtype) == ("zyx", 2, "uint8")
    assert volume.shape == {"x": 64, "y": 48, "z": 32}
    assert volume.voxel_size == {"x": 4.0, "y": 4.0, "z": 5.24}
    assert volume.translation == {"x": 300.0, "y": 200.0, "z": 100.0}


def test_n5_viewer_pixel_resolution_in_micrometres(s3_server: S3Server, bucket: str) -> None:
    key = "jrc_e/jrc_e.n5/labels/mito_seg"
    write_n5_multiscale(
        s3_server, bucket, key, gradient_volume(dtype="uint64"), (0.008, 0.004, 0.002), unit="um", style="n5-viewer"
    )

    volume = _discover(s3_server, f"s3://{bucket}/jrc_e")[key]

    assert volume.errors == []
    assert volume.voxel_size == pytest.approx({"x": 2.0, "y": 4.0, "z": 8.0})
    assert (volume.kind, volume.content_type, volume.label_class) == ("segmentation", "segmentation", "mito")


def test_precomputed_volume(s3_server: S3Server, bucket: str) -> None:
    key = "jrc_f/neuroglancer/em/fibsem-uint8.precomputed"
    write_precomputed(s3_server, bucket, key, gradient_volume(), (4, 4, 8), voxel_offset_xyz=(10, 0, 5))
    put_json(s3_server, bucket, "jrc_f/neuroglancer/mesh/info", {"@type": "neuroglancer_legacy_mesh"})

    found = _discover(s3_server, f"s3://{bucket}/jrc_f")

    assert list(found) == [key]
    volume = found[key]
    assert volume.errors == []
    assert (volume.format, volume.axes, volume.kind, volume.content_type) == ("precomputed", "zyx", "image", "em")
    assert volume.shape == {"x": 64, "y": 48, "z": 32}
    assert volume.voxel_size == {"x": 4.0, "y": 4.0, "z": 8.0}
    assert volume.translation == {"x": 40.0, "y": 0.0, "z": 40.0}


def test_plain_n5_array_without_resolution_is_invalid(s3_server: S3Server, bucket: str) -> None:
    key = "jrc_g/jrc_g.n5/labels/cell_seg"
    write_n5_array(s3_server, bucket, key, gradient_volume(dtype="uint32"), block=(16, 16, 16))

    volume = _discover(s3_server, f"s3://{bucket}/jrc_g")[key]

    assert volume.shape == {"x": 64, "y": 48, "z": 32}
    assert _fields(volume) == ["attributes.json"]
    assert "voxel size" in volume.errors[0].message


@pytest.fixture
def ome_key(s3_server: S3Server, bucket: str) -> str:
    key = "jrc_h/jrc_h.zarr/recon-1/em/fibsem-uint8"
    write_ome_zarr(s3_server.endpoint_url, bucket, key, gradient_volume(), (4.0, 4.0, 4.0))
    return key


def _edit_axes(s3_server: S3Server, bucket: str, key: str, **changes: object) -> None:
    attributes = get_json(s3_server, bucket, f"{key}/.zattrs")
    multiscale = attributes["multiscales"][0]
    if "unit" in changes:
        for axis in multiscale["axes"]:
            axis["unit"] = changes["unit"]
    if "scale" in changes:
        for dataset in multiscale["datasets"]:
            dataset["coordinateTransformations"][0]["scale"] = changes["scale"]
    put_json(s3_server, bucket, f"{key}/.zattrs", attributes)


def test_micrometre_units_are_converted(s3_server: S3Server, bucket: str, ome_key: str) -> None:
    _edit_axes(s3_server, bucket, ome_key, unit="micrometer", scale=[0.00524, 0.004, 0.004])

    volume = _discover(s3_server, f"s3://{bucket}/jrc_h")[ome_key]

    assert volume.errors == []
    assert volume.voxel_size == pytest.approx({"x": 4.0, "y": 4.0, "z": 5.24})


@pytest.mark.parametrize(
    ("unit", "nanometres"), [("µm", 1000.0), ("um", 1000.0), ("Å", 0.1), ("angstrom", 0.1), ("mm", 1e6), ("nm", 1.0)]
)
def test_unit_table(unit: str, nanometres: float) -> None:
    assert nanometres_per(unit) == pytest.approx(nanometres)


def test_unknown_unit_is_a_validation_error(s3_server: S3Server, bucket: str, ome_key: str) -> None:
    _edit_axes(s3_server, bucket, ome_key, unit="furlong")

    volume = _discover(s3_server, f"s3://{bucket}/jrc_h")[ome_key]

    assert _fields(volume) == [f".zattrs.multiscales[0].axes[{index}].unit" for index in range(3)]
    assert "furlong" in volume.errors[0].message
    assert volume.voxel_size == {"x": None, "y": None, "z": None}


@pytest.mark.parametrize("bad", [0.0, -4.0])
def test_zero_or_negative_scale_is_a_validation_error(
    s3_server: S3Server, bucket: str, ome_key: str, bad: float
) -> None:
    _edit_axes(s3_server, bucket, ome_key, scale=[4.0, bad, 4.0])

    volume = _discover(s3_server, f"s3://{bucket}/jrc_h")[ome_key]

    assert _fields(volume) == [".zattrs.multiscales[0].datasets[0].coordinateTransformations.scale[1]"]
    assert volume.voxel_size == {"x": 4.0, "y": None, "z": 4.0}


def test_invalid_json_is_recorded_and_does_not_stop_the_walk(s3_server: S3Server, bucket: str, ome_key: str) -> None:
    broken = "jrc_h/jrc_h.zarr/recon-1/em/broken"
    put_json(s3_server, bucket, f"{broken}/.zattrs", b'{"multiscales": [')
    put_json(s3_server, bucket, f"{broken}/s0/.zarray", get_json(s3_server, bucket, f"{ome_key}/0/.zarray"))

    found = _discover(s3_server, f"s3://{bucket}/jrc_h")

    assert found[ome_key].errors == []
    assert _fields(found[broken]) == [".zattrs"]
    assert found[broken].errors[0].message.startswith("invalid JSON")
    assert found[broken].format == "ome-zarr-0.4"


def test_a_broken_group_document_is_walked_past_with_a_warning(s3_server: S3Server, bucket: str, ome_key: str) -> None:
    put_json(s3_server, bucket, "jrc_h/jrc_h.zarr/recon-1/.zattrs", b"{oops")
    warnings: list[str] = []

    found = discover(S3Reader(endpoint_url=s3_server.endpoint_url), parse_s3_url(f"s3://{bucket}/jrc_h"), warnings)

    assert [volume.location.key for volume in found] == [ome_key]
    assert found[0].errors == []
    assert len(warnings) == 1
    assert warnings[0].startswith(f"s3://{bucket}/jrc_h/jrc_h.zarr/recon-1/.zattrs: invalid JSON")


def test_missing_level_is_a_validation_error(s3_server: S3Server, bucket: str, ome_key: str) -> None:
    delete_prefix(s3_server, bucket, f"{ome_key}/1")

    volume = _discover(s3_server, f"s3://{bucket}/jrc_h")[ome_key]

    assert _fields(volume) == [".zattrs.multiscales[0].datasets[1].path"]
    assert volume.scale_levels == 1


def test_shape_and_chunk_disagreement_is_a_validation_error(s3_server: S3Server, bucket: str, ome_key: str) -> None:
    array = get_json(s3_server, bucket, f"{ome_key}/0/.zarray")
    array["chunks"] = [32, 32]
    put_json(s3_server, bucket, f"{ome_key}/0/.zarray", array)

    volume = _discover(s3_server, f"s3://{bucket}/jrc_h")[ome_key]

    assert _fields(volume) == [".zattrs.multiscales[0].datasets[0] (0)"]
    assert "chunk shape" in volume.errors[0].message


def test_axes_and_array_dimensions_disagree(s3_server: S3Server, bucket: str, ome_key: str) -> None:
    attributes = get_json(s3_server, bucket, f"{ome_key}/.zattrs")
    attributes["multiscales"][0]["axes"].insert(0, {"name": "c", "type": "channel"})
    for dataset in attributes["multiscales"][0]["datasets"]:
        for transform in dataset["coordinateTransformations"]:
            key = transform["type"]
            transform[key] = [1.0, *transform[key]]
    put_json(s3_server, bucket, f"{ome_key}/.zattrs", attributes)

    volume = _discover(s3_server, f"s3://{bucket}/jrc_h")[ome_key]

    assert "array has 3 dimensions but there are 4 axes" in [issue.message for issue in volume.errors]


def test_layout_gives_dataset_and_name() -> None:
    assert dataset_from_layout("jrc_a/jrc_a.zarr/recon-1/em/fibsem-uint8") == ("jrc_a", "recon-1/em/fibsem-uint8")
    assert dataset_from_layout("x/jrc_a/jrc_a.n5/labels/mito_seg") == ("jrc_a", "labels/mito_seg")
    assert dataset_from_layout("jrc_a/neuroglancer/em/a.precomputed") == ("jrc_a", "neuroglancer/em/a.precomputed")
    assert dataset_from_layout("loose/volume.zarr") == (None, "loose/volume.zarr")


@pytest.mark.parametrize(
    ("key", "dtype", "expected"),
    [
        ("d/d.zarr/recon-1/em/fibsem-uint8", "uint8", ("image", "em", None)),
        ("d/d.n5/labels/er_seg", "uint64", ("segmentation", "segmentation", "er")),
        ("d/d.n5/labels/mito_pred", "uint8", ("image", "prediction", "mito")),
        ("d/d.zarr/recon-1/labels/groundtruth/crop3/nuc", "uint8", ("segmentation", "groundtruth", "nuc")),
        ("d/d.zarr/recon-1/lm/confocal", "uint16", ("image", "lm", None)),
        ("d/d.zarr/somewhere/ids", "uint64", ("segmentation", "segmentation", None)),
    ],
)
def test_classify_by_path(key: str, dtype: str, expected: tuple) -> None:
    assert classify(key, dtype=dtype)[:3] == expected
