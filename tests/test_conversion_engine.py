"""The conversion engine without the catalog: real TIFF/HDF5/zip files in, OME-Zarr out through
moto's S3 server, read back with zarr and checked against the source and the pyramid method."""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from catalog.conversion import engine, writer
from catalog.conversion.errors import ConversionError
from catalog.conversion.readers import open_source
from catalog.conversion.store import S3Store
from catalog.s3 import S3Location, S3Writer
from tests.fixtures.s3 import S3Server

pytestmark = pytest.mark.s3

PLATELET_TABLE = {
    (0, 0, 0): 0,
    (0x00, 0x00, 0x8B): 1,
    (0x00, 0xFF, 0xFF): 2,
    (0x00, 0x80, 0x00): 3,
    (0xFF, 0xFF, 0x00): 4,
    (0xFF, 0x00, 0x00): 5,
    (0x80, 0x00, 0x80): 6,
}
"""platelet-em's seven classes and their colours (catalog/reference/datasets/platelet-em.json)."""


def em_stack(shape: tuple[int, int, int] = (40, 90, 70)) -> np.ndarray:
    rng = np.random.default_rng(1)
    z, y, x = np.indices(shape)
    return (1000 + 30 * z + 7 * y + 3 * x + rng.integers(0, 50, shape)).astype(np.uint16)


def class_stack(shape: tuple[int, int, int] = (40, 90, 70)) -> np.ndarray:
    z, y, x = np.indices(shape)
    return ((z // 3 + y // 11 + x // 13) % 7).astype(np.uint8)


def colours_of(ids: np.ndarray, table: dict[tuple[int, int, int], int]) -> np.ndarray:
    lookup = np.zeros((max(table.values()) + 1, 3), dtype=np.uint8)
    for colour, value in table.items():
        lookup[value] = colour
    return lookup[ids]


def convert(
    server: S3Server,
    source: Path,
    *,
    kind: str = "image",
    table: dict | None = None,
    version: str = "0.5",
    part_bytes: int = 64 * 1024,
    member: str = "",
    work_dir: Path | None = None,
) -> tuple[S3Store, engine.Plan]:
    """Plan, write every part and finish, as the tasks do one after another."""
    bucket = server.create_public_bucket()
    client = S3Writer(endpoint_url=server.endpoint_url)
    output = S3Location(bucket, "out.ome.zarr")
    volume = engine.open_staged(str(source), work_dir or source.parent / "work", member=member)
    the_plan = engine.plan(
        volume,
        kind=kind,
        voxel_size_nm=(40.0, 10.0, 10.0),
        translation_nm=(0.0, 0.0, 0.0),
        table=table or {},
        version=version,
        part_bytes=part_bytes,
    )
    display = writer.Display(
        channels=[{"label": f"c{i}", "color": "FFFFFF", "active": True} for i in range(the_plan.layout.channels)]
        if the_plan.encoding == "image"
        else [],
        labels=[{"value": v, "name": f"class {v}", "rgba": [*c, 255]} for c, v in (table or {}).items()],
        is_label=the_plan.encoding != "image",
    )
    engine.start(client, output, the_plan, display)
    for part in the_plan.parts:
        engine.write_part(client, output, the_plan, volume, part)
    engine.finish(client, output, the_plan, display)
    volume.close()
    return S3Store(client, output), the_plan


def level(store: S3Store, path: str) -> np.ndarray:
    return np.asarray(zarr.open_array(store=store, path=path, mode="r")[...])


def test_multipage_tiff_round_trips_in_several_parts(s3_server: S3Server, tmp_path: Path) -> None:
    data = em_stack()
    tifffile.imwrite(tmp_path / "em.tif", data)

    store, the_plan = convert(s3_server, tmp_path / "em.tif")

    assert len(the_plan.parts) > 1, "the small part size must split the stack"
    assert np.array_equal(level(store, "s0"), data)
    expected = data
    for index in range(1, len(the_plan.layout.levels)):
        expected = writer.downsample(expected, writer.level_step(the_plan.layout, index), "mean")
        assert np.array_equal(level(store, f"s{index}"), expected), f"level {index}"
    coarsest = the_plan.layout.levels[-1]
    assert all(s <= c for s, c in zip(coarsest.shape, coarsest.chunks, strict=True))
    attrs = zarr.open_group(store=store, mode="r").attrs.asdict()["ome"]
    multiscale = attrs["multiscales"][0]
    assert [a["unit"] for a in multiscale["axes"]] == ["nanometer"] * 3
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"] == [40.0, 10.0, 10.0]
    assert multiscale["datasets"][1]["coordinateTransformations"][0]["scale"] == [40.0, 20.0, 20.0]
    assert multiscale["datasets"][1]["coordinateTransformations"][1]["translation"] == [0.0, 5.0, 5.0]
    window = attrs["omero"]["channels"][0]["window"]
    assert window["min"] <= window["start"] < window["end"] <= window["max"]
    for part in the_plan.parts:
        assert engine.part_written(store.client, store.location, part.index) is not None


def test_ome_zarr_0_4_is_selectable(s3_server: S3Server, tmp_path: Path) -> None:
    data = em_stack((12, 40, 50))
    tifffile.imwrite(tmp_path / "em.tif", data)

    store, _ = convert(s3_server, tmp_path / "em.tif", version="0.4")

    attrs = zarr.open_group(store=store, mode="r", zarr_format=2).attrs.asdict()
    assert attrs["multiscales"][0]["version"] == "0.4"
    assert np.array_equal(np.asarray(zarr.open_array(store=store, path="s0", mode="r", zarr_format=2)[...]), data)


def test_semantic_rgb_labels_become_class_ids(s3_server: S3Server, tmp_path: Path) -> None:
    ids = class_stack()
    tifffile.imwrite(tmp_path / "semantic.tif", colours_of(ids, PLATELET_TABLE), photometric="rgb")

    store, the_plan = convert(s3_server, tmp_path / "semantic.tif", kind="segmentation", table=PLATELET_TABLE)

    assert the_plan.encoding == "semantic"
    assert np.array_equal(level(store, "s0"), ids)
    for index in range(1, len(the_plan.layout.levels)):
        assert set(np.unique(level(store, f"s{index}"))) <= set(np.unique(ids))
    label = zarr.open_group(store=store, mode="r").attrs.asdict()["ome"]["image-label"]
    assert {"label-value": 2, "rgba": [0, 255, 255, 255]} in label["colors"]


def test_a_colour_outside_the_table_names_the_colour_and_the_first_voxel(s3_server: S3Server, tmp_path: Path) -> None:
    rgb = colours_of(class_stack(), PLATELET_TABLE)
    rgb[17, 5, 9] = (1, 2, 3)
    rgb[30, 0, 0] = (1, 2, 3)
    tifffile.imwrite(tmp_path / "semantic.tif", rgb, photometric="rgb")

    with pytest.raises(ConversionError, match=r"#010203 .* at voxel z=17, y=5, x=9 is not in the class table"):
        convert(s3_server, tmp_path / "semantic.tif", kind="segmentation", table=PLATELET_TABLE)


def test_rgb_instances_get_the_same_id_in_every_slice(s3_server: S3Server, tmp_path: Path) -> None:
    rgb = np.zeros((40, 60, 60, 3), dtype=np.uint8)
    rgb[:, 5:20, 5:20] = (200, 10, 30)
    rgb[3:35, 30:50, 30:55] = (7, 250, 9)
    tifffile.imwrite(tmp_path / "instances.tif", rgb, photometric="rgb")

    store, the_plan = convert(s3_server, tmp_path / "instances.tif", kind="segmentation")

    result = level(store, "s0")
    assert the_plan.encoding == "instance"
    assert result.dtype == np.uint32
    first = result[0, 10, 10]
    assert first != 0
    assert np.all(result[:, 5:20, 5:20] == first)
    second = result[3, 40, 40]
    assert second not in (0, first)
    assert np.all(result[3:35, 30:50, 30:55] == second)
    assert np.all(result[0, 40, 40] == 0)


def test_three_channel_tiff_and_hdf5_stay_one_volume_with_channels(s3_server: S3Server, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 4000, (10, 3, 48, 40)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "brainbow.tif", stack, metadata={"axes": "ZCYX"}, imagej=True)
    with h5py.File(tmp_path / "brainbow.h5", "w") as file:
        file.create_dataset("processed/stack", data=np.moveaxis(stack, 1, -1))

    for name, member in (("brainbow.tif", ""), ("brainbow.h5", "processed/stack")):
        store, the_plan = convert(s3_server, tmp_path / name, member=member)
        assert the_plan.layout.axes == "czyx", name
        assert np.array_equal(level(store, "s0"), np.moveaxis(stack, 1, 0)), name
        channels = zarr.open_group(store=store, mode="r").attrs.asdict()["ome"]["omero"]["channels"]
        assert len(channels) == 3
        assert all("window" in channel for channel in channels)


def test_zip_member_and_slice_folder(s3_server: S3Server, tmp_path: Path) -> None:
    data = em_stack((6, 30, 20))
    tifffile.imwrite(tmp_path / "50-images.tif", data)
    with zipfile.ZipFile(tmp_path / "images-and-labels.zip", "w") as archive:
        archive.write(tmp_path / "50-images.tif", "images-and-labels/50-images.tif")
    store, _ = convert(s3_server, tmp_path / "images-and-labels.zip", member="images-and-labels/50-images.tif")
    assert np.array_equal(level(store, "s0"), data)

    folder = tmp_path / "slices"
    folder.mkdir()
    for index, plane in enumerate(data):
        tifffile.imwrite(folder / f"slice_{index}.tif", plane)
    store, _ = convert(s3_server, folder)
    assert np.array_equal(level(store, "s0"), data)


def read_all(path: Path) -> np.ndarray:
    volume = open_source(path)
    return volume.read(0, volume.shape[0])


def test_bad_sources_give_clear_errors(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "em.tif", em_stack((8, 64, 64)))
    raw = (tmp_path / "em.tif").read_bytes()
    (tmp_path / "truncated.tif").write_bytes(raw[: len(raw) // 3])
    (tmp_path / "stack.nd2").write_bytes(b"not really")
    (tmp_path / "notes.xyz").write_text("hello")

    with pytest.raises(ConversionError, match=r"truncated\.tif"):
        read_all(tmp_path / "truncated.tif")
    with pytest.raises(ConversionError, match="needs the Python package 'nd2'"):
        open_source(tmp_path / "stack.nd2")
    with pytest.raises(ConversionError, match=r"unknown format '\.xyz'"):
        open_source(tmp_path / "notes.xyz")
    with pytest.raises(ConversionError, match="only local paths, s3:// and https://"):
        engine.source_kind("ftp://example.org/x.tif")


def test_ome_tiff_voxel_size_is_read_in_nm(tmp_path: Path) -> None:
    tifffile.imwrite(
        tmp_path / "a.ome.tif",
        em_stack((4, 10, 12)),
        ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": 0.01, "PhysicalSizeY": 0.01, "PhysicalSizeZ": 0.04},
    )
    volume = open_source(tmp_path / "a.ome.tif")
    assert volume.voxel_size_nm == pytest.approx({"z": 40.0, "y": 10.0, "x": 10.0})
    assert volume.shape == (4, 10, 12, 1)


def test_write_multiscale_writes_any_region_source_in_one_call(s3_server: S3Server) -> None:
    """The reusable writer (cut-outs use it): an array-like source to an S3 prefix, labels mode."""
    labels = class_stack((40, 300, 200)).astype(np.uint32)

    class Source:
        shape = (*labels.shape, 1)

        def read(self, z0: int, z1: int) -> np.ndarray:
            return labels[z0:z1, ..., None]

    bucket = s3_server.create_public_bucket()
    store = S3Store(S3Writer(endpoint_url=s3_server.endpoint_url), S3Location(bucket, "cut/labels.ome.zarr"))
    layout = writer.plan_layout(
        shape_zyx=labels.shape,
        channels=1,
        dtype="uint32",
        voxel_size_nm=(8.0, 8.0, 8.0),
        translation_nm=(80.0, 0.0, 16.0),
        method="mode",
    )
    display = writer.Display(labels=[{"value": 1, "name": "one", "rgba": [255, 0, 0, 255]}], is_label=True)

    writer.write_multiscale(store, layout, Source(), display=display)
    engine.validate(store, layout, is_label=True)

    assert np.array_equal(level(store, "s0"), labels)
    expected = writer.downsample(labels, writer.level_step(layout, 1), "mode")
    assert np.array_equal(level(store, "s1"), expected)
    multiscale = zarr.open_group(store=store, mode="r").attrs.asdict()["ome"]["multiscales"][0]
    assert multiscale["datasets"][0]["coordinateTransformations"][1]["translation"] == [80.0, 0.0, 16.0]
    assert multiscale["datasets"][1]["coordinateTransformations"][1]["translation"] == [84.0, 4.0, 20.0]


def test_mode_downsampling_keeps_the_most_frequent_id_of_each_block() -> None:
    block = np.array([[[5, 5], [7, 9]], [[9, 5], [7, 7]]], dtype=np.uint32)  # 5 x3, 7 x3, 9 x2: first wins
    assert writer.downsample(block, (2, 2, 2), "mode").tolist() == [[[5]]]
    block[1, 1, 1] = 5
    assert writer.downsample(block, (2, 2, 2), "mode").tolist() == [[[5]]]
    block[:] = 9
    block[0, 0, 0] = 1
    assert writer.downsample(block, (2, 2, 2), "mode").tolist() == [[[9]]]
