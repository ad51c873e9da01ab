"""Intensity statistics and a thumbnail of an image volume, read from its coarsest scale level.

The coarsest level is small by construction (the pyramid stops when it fits a few chunks),
so it is read whole: every object below the level is fetched concurrently and decoded here.
Zarr v2/v3 levels are decoded by zarr-python itself (from an in-memory copy of the level);
N5 blocks and precomputed raw/JPEG chunks have simple documented layouts decoded directly.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import math
import re
import struct
import zlib
from dataclasses import dataclass

import numcodecs
import numpy as np
import zarr
import zarr.storage
from PIL import Image
from zarr.core.buffer import default_buffer_prototype

from catalog.discovery import ScaleLevel, VolumeDescription
from catalog.s3 import ObjectInfo, S3Location, S3Reader

MAX_LEVEL_BYTES = 256 * 1024 * 1024
PERCENTILES = (0.5, 99.5)
THUMBNAIL_SIZE = 256
PRECOMPUTED_CHUNK_RE = re.compile(r"^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$")


class StatisticsError(Exception):
    """The level could not be read or decoded; the volume keeps its previous statistics."""


@dataclass(frozen=True)
class VolumeStatistics:
    """What the coarsest level says about the intensities of a volume."""

    level_path: str
    fingerprint: str
    data_min: float
    data_max: float
    contrast_min: float
    contrast_max: float
    contrast_start: float
    contrast_end: float
    thumbnail_png: bytes


def list_level(reader: S3Reader, level: ScaleLevel) -> list[ObjectInfo]:
    """Every object of one level (metadata and chunks)."""
    return reader.list_objects(level.location)


def fingerprint(objects: list[ObjectInfo]) -> str:
    """A digest that changes whenever any object of the level changes (key, size or ETag)."""
    digest = hashlib.sha256()
    for item in sorted(objects, key=lambda item: item.key):
        digest.update(f"{item.key}\0{item.size}\0{item.etag}\n".encode())
    return digest.hexdigest()


def read_level(reader: S3Reader, level: ScaleLevel, objects: list[ObjectInfo]) -> np.ndarray:
    """The whole level as a numpy array in C order."""
    total = sum(item.size for item in objects)
    if total > MAX_LEVEL_BYTES:
        raise StatisticsError(f"coarsest level {level.location.url} holds {total} bytes; too large to summarise")
    locations = [S3Location(level.location.bucket, item.key) for item in objects]
    contents = reader.get_many(locations)
    prefix = f"{level.location.key}/" if level.location.key else ""
    files = {location.key[len(prefix) :]: data for location, data in contents.items() if data is not None}
    try:
        if level.reader == "zarr":
            return _read_zarr(files)
        if level.reader == "n5":
            return _read_n5(files, level)
        if level.reader == "precomputed":
            return _read_precomputed(files, level)
    except (ValueError, KeyError, OSError, RuntimeError, struct.error, zlib.error, lzma.LZMAError) as error:
        raise StatisticsError(f"cannot decode {level.location.url}: {error}") from error
    raise StatisticsError(f"no reader for {level.reader!r} levels")


def _read_zarr(files: dict[str, bytes]) -> np.ndarray:
    prototype = default_buffer_prototype()
    store = zarr.storage.MemoryStore(
        {key: prototype.buffer.from_bytes(data) for key, data in files.items()}, read_only=True
    )
    return np.asarray(zarr.open_array(store=store, mode="r")[...])


def _decompress_n5(payload: bytes, compression: dict) -> bytes:
    kind = compression.get("type", "raw")
    if kind == "raw":
        return payload
    if kind == "gzip":
        return zlib.decompress(payload) if compression.get("useZlib") else gzip.decompress(payload)
    if kind == "bzip2":
        return bz2.decompress(payload)
    if kind == "xz":
        return lzma.decompress(payload)
    if kind == "blosc":
        return numcodecs.Blosc().decode(payload)
    if kind == "zstd":
        return numcodecs.Zstd().decode(payload)
    raise ValueError(f"N5 compression {kind!r} is not supported")


def _read_n5(files: dict[str, bytes], level: ScaleLevel) -> np.ndarray:
    """N5 blocks: big-endian header (mode, ndim, block size fastest-first), then the payload."""
    dtype = np.dtype(level.dtype).newbyteorder(">")
    array = np.zeros(level.shape, dtype=level.dtype)
    ndim = len(level.shape)
    for key, raw in files.items():
        parts = key.split("/")
        if len(parts) != ndim or not all(part.isdigit() for part in parts):
            continue
        mode, block_ndim = struct.unpack(">HH", raw[:4])
        block = struct.unpack(f">{block_ndim}I", raw[4 : 4 + 4 * block_ndim])
        offset = 4 + 4 * block_ndim + (4 if mode == 1 else 0)
        count = math.prod(block)
        data = np.frombuffer(_decompress_n5(raw[offset:], level.metadata.get("compression", {})), dtype=dtype)
        values = data[:count].reshape(tuple(reversed(block)))
        start = [int(index) * size for index, size in zip(reversed(parts), level.chunks, strict=True)]
        target = tuple(slice(begin, begin + extent) for begin, extent in zip(start, values.shape, strict=True))
        array[target] = values[tuple(slice(0, t.stop - t.start) for t in target)]
    return array


def _read_precomputed(files: dict[str, bytes], level: ScaleLevel) -> np.ndarray:
    """Unsharded raw or JPEG chunks named ``x0-x1_y0-y1_z0-z1`` (data x fastest, then y, z, channel)."""
    metadata = level.metadata
    if metadata.get("sharded"):
        raise ValueError("sharded precomputed levels are not supported")
    encoding = metadata.get("encoding")
    channels = metadata.get("num_channels", 1)
    offset = metadata.get("voxel_offset", [0, 0, 0])
    size = metadata.get("size")
    array = np.zeros((channels, size[2], size[1], size[0]), dtype=level.dtype)
    for key, raw in files.items():
        match = PRECOMPUTED_CHUNK_RE.match(key)
        if not match:
            continue
        x0, x1, y0, y1, z0, z1 = (int(value) for value in match.groups())
        extent = (channels, z1 - z0, y1 - y0, x1 - x0)
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        if encoding == "raw":
            values = np.frombuffer(raw, dtype=np.dtype(level.dtype).newbyteorder("<")).reshape(extent)
        elif encoding == "jpeg":
            pixels = np.asarray(Image.open(io.BytesIO(raw)))
            values = pixels.reshape(extent[1], extent[2], extent[3], -1).transpose(3, 0, 1, 2)[:channels]
        else:
            raise ValueError(f"precomputed encoding {encoding!r} is not supported for statistics")
        array[
            :,
            z0 - offset[2] : z1 - offset[2],
            y0 - offset[1] : y1 - offset[1],
            x0 - offset[0] : x1 - offset[0],
        ] = values
    return array if channels > 1 else array[0]


def spatial_volume(array: np.ndarray, axes: str) -> np.ndarray:
    """The z/y/x part of an array (first channel, first time point), as (z, y, x) or (y, x)."""
    if len(axes) != array.ndim:
        return array[(0,) * (array.ndim - 3)] if array.ndim > 3 else array
    index = tuple(slice(None) if axis in "zyx" else 0 for axis in axes)
    kept = [axis for axis in axes if axis in "zyx"]
    data = array[index]
    order = [kept.index(axis) for axis in "zyx" if axis in kept]
    return np.transpose(data, order)


def summarise(array: np.ndarray, *, level_path: str, level_fingerprint: str) -> VolumeStatistics:
    """Contrast limits from percentiles and a PNG of the middle z slice."""
    values = array.ravel()
    if np.issubdtype(values.dtype, np.floating):
        values = values[np.isfinite(values)]
    if values.size == 0:
        raise StatisticsError("the coarsest level holds no finite values")
    low, high = (float(value) for value in np.percentile(values, PERCENTILES))
    data_min, data_max = float(values.min()), float(values.max())
    if np.issubdtype(array.dtype, np.integer) and array.dtype.itemsize == 1:
        info = np.iinfo(array.dtype)
        contrast_min, contrast_max = float(info.min), float(info.max)
    else:
        contrast_min, contrast_max = data_min, data_max
    middle = array[array.shape[0] // 2] if array.ndim == 3 else array
    return VolumeStatistics(
        level_path=level_path,
        fingerprint=level_fingerprint,
        data_min=data_min,
        data_max=data_max,
        contrast_min=contrast_min,
        contrast_max=contrast_max,
        contrast_start=low,
        contrast_end=high,
        thumbnail_png=thumbnail_png(middle, low, high),
    )


def thumbnail_png(plane: np.ndarray, start: float, end: float) -> bytes:
    """An 8-bit greyscale PNG of ``plane`` windowed to [start, end], fitted into the thumbnail box."""
    span = end - start if end > start else 1.0
    scaled = np.clip((plane.astype(np.float64) - start) / span * 255.0, 0, 255).round().astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(scaled), mode="L")
    height, width = scaled.shape
    factor = THUMBNAIL_SIZE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    resample = Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.NEAREST
    image = image.resize(size, resample)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def compute(
    reader: S3Reader, description: VolumeDescription, previous_fingerprint: str = ""
) -> VolumeStatistics | None:
    """Statistics of the coarsest level, or None when its fingerprint equals ``previous_fingerprint``."""
    level = description.coarsest_level
    if level is None:
        raise StatisticsError("the volume has no readable scale level")
    objects = list_level(reader, level)
    level_fingerprint = fingerprint(objects)
    if level_fingerprint == previous_fingerprint:
        return None
    array = spatial_volume(read_level(reader, level, objects), description.axes)
    return summarise(array, level_path=level.path, level_fingerprint=level_fingerprint)
