"""Decoding of coarsest levels and the statistics drawn from them (no S3 needed here)."""

from __future__ import annotations

import gzip
import io
import struct

import numcodecs
import numpy as np
import pytest
from PIL import Image

from catalog.discovery import ScaleLevel
from catalog.s3 import S3Location
from catalog.volume_stats import (
    StatisticsError,
    _read_n5,
    _read_precomputed,
    spatial_volume,
    summarise,
    thumbnail_png,
)


def _n5_level(shape: tuple[int, ...], block: tuple[int, ...], dtype: str, compression: dict) -> ScaleLevel:
    return ScaleLevel("s0", S3Location("b", "k/s0"), shape, block, dtype, "n5", {"compression": compression})


def _n5_block(data: np.ndarray, compress: object) -> bytes:
    dims = tuple(reversed(data.shape))
    header = struct.pack(">HH", 0, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    return header + compress(data.astype(data.dtype.newbyteorder(">")).tobytes())


@pytest.mark.parametrize(
    ("compression", "compress"),
    [
        ({"type": "raw"}, lambda payload: payload),
        ({"type": "gzip"}, lambda payload: gzip.compress(payload)),
        ({"type": "blosc", "cname": "zstd"}, lambda payload: numcodecs.Blosc(cname="zstd").encode(payload)),
        ({"type": "zstd"}, lambda payload: numcodecs.Zstd().encode(payload)),
    ],
)
def test_n5_blocks_including_truncated_edges(compression: dict, compress: object) -> None:
    array = np.arange(5 * 6 * 7, dtype="uint16").reshape(5, 6, 7)
    block = (4, 4, 4)
    files = {}
    for z in range(0, 5, 4):
        for y in range(0, 6, 4):
            for x in range(0, 7, 4):
                data = array[z : z + 4, y : y + 4, x : x + 4]
                files[f"{x // 4}/{y // 4}/{z // 4}"] = _n5_block(data, compress)
    files["attributes.json"] = b"{}"

    decoded = _read_n5(files, _n5_level(array.shape, block, "uint16", compression))

    np.testing.assert_array_equal(decoded, array)


def test_precomputed_jpeg_chunks_with_an_offset() -> None:
    array = np.tile(np.arange(0, 256, 16, dtype="uint8"), (4, 8, 1))
    buffer = io.BytesIO()
    Image.fromarray(array.reshape(4 * 8, 16)).save(buffer, format="JPEG", quality=100)
    level = ScaleLevel(
        "8_8_8",
        S3Location("b", "k/8_8_8"),
        (4, 8, 16),
        (4, 8, 16),
        "uint8",
        "precomputed",
        {"encoding": "jpeg", "voxel_offset": [10, 20, 30], "size": [16, 8, 4], "num_channels": 1, "sharded": False},
    )

    decoded = _read_precomputed({"10-26_20-28_30-34": buffer.getvalue()}, level)

    assert decoded.shape == (4, 8, 16)
    assert np.abs(decoded.astype(int) - array.astype(int)).max() <= 2


def test_sharded_precomputed_levels_are_refused() -> None:
    level = ScaleLevel("s", S3Location("b", "k/s"), (1, 1, 1), (1, 1, 1), "uint8", "precomputed", {"sharded": True})

    with pytest.raises(ValueError, match="sharded"):
        _read_precomputed({}, level)


def test_channels_and_time_are_dropped_for_the_spatial_view() -> None:
    array = np.zeros((2, 3, 4, 5, 6))
    array[0, 0] = 1.0

    view = spatial_volume(array, "tczyx")

    assert view.shape == (4, 5, 6)
    assert view.min() == 1.0
    assert spatial_volume(np.zeros((6, 5, 4)), "xyz").shape == (4, 5, 6)


def test_percentiles_and_ranges() -> None:
    values = np.arange(1000, dtype="float32").reshape(10, 10, 10)
    values[0, 0, 0] = np.nan

    statistics = summarise(values, level_path="s3", level_fingerprint="f")

    assert (statistics.data_min, statistics.data_max) == (1.0, 999.0)
    assert (statistics.contrast_min, statistics.contrast_max) == (1.0, 999.0)
    expected = np.percentile(np.arange(1, 1000), [0.5, 99.5])
    assert (statistics.contrast_start, statistics.contrast_end) == pytest.approx(tuple(expected))
    assert Image.open(io.BytesIO(statistics.thumbnail_png)).size == (256, 256)


def test_eight_bit_volumes_offer_the_whole_dtype_range() -> None:
    statistics = summarise(np.full((4, 4, 4), 7, dtype="int8"), level_path="0", level_fingerprint="f")

    assert (statistics.contrast_min, statistics.contrast_max) == (-128.0, 127.0)
    assert statistics.contrast_start == statistics.contrast_end == 7.0


def test_all_nan_levels_have_no_statistics() -> None:
    with pytest.raises(StatisticsError, match="no finite values"):
        summarise(np.full((2, 2, 2), np.nan), level_path="0", level_fingerprint="f")


def test_thumbnail_windowing_and_aspect_ratio() -> None:
    plane = np.array([[0, 50, 100, 150]] * 2, dtype="uint8")

    image = Image.open(io.BytesIO(thumbnail_png(plane, 50.0, 150.0)))

    assert image.size == (256, 128)
    pixels = np.asarray(image)
    assert (pixels[0, 0], pixels[0, 64], pixels[0, 255]) == (0, 0, 255)
