"""Write OME-Zarr multiscales to S3: the layout (levels, chunks, shards), the metadata, the
downsampling, and region writes. Nothing here knows the catalog; conversion and cut-outs both
use it.

Layout: OME-NGFF 0.5 on Zarr v3 with sharding (chunks grouped into shard objects; a shard is a
whole slab of ``chunk z`` slices across y and x up to 8x8 chunks), or 0.4 on Zarr v2 (plain
chunks). Each level halves the axes whose voxel size is within a factor 2 of the finest one
(so 40x10x10 nm halves y and x first), until the level fits one chunk. Images are reduced by
the mean of each 2x2x2 block, segmentations by its most frequent value (the first voxel on a
tie), so every id in a coarse level exists in the full-resolution data. Both place the coarse
voxel at the block's centre, which is the translation each level's metadata gives.

``write_multiscale`` is the one-call form: a region source (anything with ``shape`` and
``read(z0, z1)``) to an S3 prefix, slab by slab.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.codecs import BloscCodec

NgffVersion = Literal["0.5", "0.4"]
Method = Literal["mean", "mode"]
CHUNK_Z = 32
CHUNK_YX = 128
SHARD_CHUNKS_YX = 8
SPATIAL = "zyx"


@dataclass(frozen=True)
class Level:
    """One scale level: its array path, shape (with ``c`` first for multichannel data),
    chunk and shard shapes, and the cumulative downsampling factor per spatial axis."""

    path: str
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...]
    factors: tuple[int, int, int]

    @property
    def z_size(self) -> int:
        return self.shape[-3]

    @property
    def shard_z(self) -> int:
        return self.shards[-3]


@dataclass(frozen=True)
class Layout:
    """Everything needed to write the arrays and the metadata of one multiscale image."""

    axes: str
    dtype: str
    voxel_size_nm: tuple[float, float, float]
    translation_nm: tuple[float, float, float]
    levels: tuple[Level, ...]
    version: NgffVersion = "0.5"
    method: Method = "mean"
    name: str = ""

    @property
    def channels(self) -> int:
        return self.levels[0].shape[0] if self.axes.startswith("c") else 1

    def level_scale(self, level: Level) -> list[float]:
        spatial = [size * factor for size, factor in zip(self.voxel_size_nm, level.factors, strict=True)]
        return [1.0, *spatial] if self.axes.startswith("c") else spatial

    def level_translation(self, level: Level) -> list[float]:
        spatial = [
            offset + (factor - 1) * size / 2
            for offset, size, factor in zip(self.translation_nm, self.voxel_size_nm, level.factors, strict=True)
        ]
        return [0.0, *spatial] if self.axes.startswith("c") else spatial


def plan_layout(
    *,
    shape_zyx: tuple[int, int, int],
    channels: int,
    dtype: str,
    voxel_size_nm: Sequence[float],
    translation_nm: Sequence[float] = (0.0, 0.0, 0.0),
    version: NgffVersion = "0.5",
    method: Method = "mean",
    name: str = "",
) -> Layout:
    """The levels of a multiscale pyramid for a ``(z, y, x)`` stack (``channels`` > 1: ``czyx``)."""
    scales = [abs(float(value)) for value in voxel_size_nm]
    levels: list[Level] = []
    shape = list(shape_zyx)
    factors = [1, 1, 1]
    while True:
        chunks = [min(CHUNK_Z, shape[0]), min(CHUNK_YX, shape[1]), min(CHUNK_YX, shape[2])]
        if version == "0.5":
            shards = [
                chunks[0],
                chunks[1] * min(SHARD_CHUNKS_YX, math.ceil(shape[1] / chunks[1])),
                chunks[2] * min(SHARD_CHUNKS_YX, math.ceil(shape[2] / chunks[2])),
            ]
        else:
            shards = list(chunks)
        # Neuroglancer needs every channel of a chunk together: the channel axis is not chunked.
        prefix = (channels,) if channels > 1 else ()
        levels.append(
            Level(
                path=f"s{len(levels)}",
                shape=(*prefix, *shape),
                chunks=(*prefix, *chunks),
                shards=(*prefix, *shards),
                factors=(factors[0], factors[1], factors[2]),
            )
        )
        if all(size <= chunk for size, chunk in zip(shape, chunks, strict=True)):
            break
        current = [scale * factor for scale, factor in zip(scales, factors, strict=True)]
        finest = min(current[axis] for axis in range(3) if shape[axis] > 1)
        halve = [shape[axis] > 1 and current[axis] < 2 * finest for axis in range(3)]
        shape = [math.ceil(size / 2) if h else size for size, h in zip(shape, halve, strict=True)]
        factors = [factor * 2 if h else factor for factor, h in zip(factors, halve, strict=True)]
    return Layout(
        axes=("c" if channels > 1 else "") + SPATIAL,
        dtype=str(np.dtype(dtype)),
        voxel_size_nm=(float(voxel_size_nm[0]), float(voxel_size_nm[1]), float(voxel_size_nm[2])),
        translation_nm=(float(translation_nm[0]), float(translation_nm[1]), float(translation_nm[2])),
        levels=tuple(levels),
        version=version,
        method=method,
        name=name,
    )


def level_step(layout: Layout, index: int) -> tuple[int, int, int]:
    """How much level ``index`` halves each spatial axis relative to level ``index - 1``."""
    previous, level = layout.levels[index - 1].factors, layout.levels[index].factors
    return (level[0] // previous[0], level[1] // previous[1], level[2] // previous[2])


# --- metadata ---------------------------------------------------------------------------------


@dataclass
class Display:
    """What a viewer needs beyond geometry: channel colours and windows, or label classes."""

    channels: list[dict[str, Any]] = field(default_factory=list)
    """omero channels: ``{"label", "color" (RRGGBB), "window": {min, max, start, end}}``."""
    labels: list[dict[str, Any]] = field(default_factory=list)
    """image-label classes: ``{"value", "name", "rgba": [r, g, b, a]}``."""
    is_label: bool = False


def _axes_metadata(layout: Layout) -> list[dict[str, str]]:
    axes = [{"name": "c", "type": "channel"}] if layout.axes.startswith("c") else []
    return axes + [{"name": axis, "type": "space", "unit": "nanometer"} for axis in SPATIAL]


def ome_attributes(layout: Layout, display: Display | None = None) -> dict[str, Any]:
    """The group's OME-NGFF metadata (``ome`` in 0.5; top-level attributes in 0.4)."""
    multiscale: dict[str, Any] = {
        "axes": _axes_metadata(layout),
        "datasets": [
            {
                "path": level.path,
                "coordinateTransformations": [
                    {"type": "scale", "scale": layout.level_scale(level)},
                    {"type": "translation", "translation": layout.level_translation(level)},
                ],
            }
            for level in layout.levels
        ],
        "type": "mean" if layout.method == "mean" else "mode",
    }
    if layout.name:
        multiscale["name"] = layout.name
    body: dict[str, Any] = {"multiscales": [multiscale]}
    display = display or Display()
    if display.channels:
        body["omero"] = {"channels": display.channels, "rdefs": {"model": "color"}}
    if display.is_label:
        image_label: dict[str, Any] = {
            "colors": [
                {"label-value": item["value"], "rgba": item["rgba"]} for item in display.labels if "rgba" in item
            ],
            "properties": [{"label-value": item["value"], "name": item["name"]} for item in display.labels],
        }
        body["image-label"] = image_label
    if layout.version == "0.5":
        return {"ome": {"version": "0.5", **body}}
    multiscale["version"] = "0.4"
    if display.is_label:
        body["image-label"]["version"] = "0.4"
    return body


def _compressor(layout: Layout, dtype: np.dtype) -> Any:
    if layout.version == "0.5":
        return BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle" if dtype.itemsize == 1 else "shuffle")
    import numcodecs

    return numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)


def create_multiscale(store: Store, layout: Layout, display: Display | None = None) -> None:
    """Write the group and empty level arrays (their metadata only), replacing existing metadata."""
    zarr_format = 3 if layout.version == "0.5" else 2
    group = zarr.open_group(store=store, mode="a", zarr_format=zarr_format)
    group.attrs.put(ome_attributes(layout, display))
    dtype = np.dtype(layout.dtype)
    for level in layout.levels:
        arguments: dict[str, Any] = {
            "name": level.path,
            "shape": level.shape,
            "dtype": dtype,
            "chunks": level.chunks,
            "compressors": [_compressor(layout, dtype)],
            "fill_value": 0,
            "overwrite": True,
        }
        if zarr_format == 3:
            arguments["shards"] = level.shards
            arguments["dimension_names"] = list(layout.axes)
        else:
            arguments["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
        group.create_array(**arguments)


def update_display(store: Store, layout: Layout, display: Display) -> None:
    """Rewrite the group metadata with the final display (windows need the written data)."""
    zarr_format = 3 if layout.version == "0.5" else 2
    group = zarr.open_group(store=store, mode="r+", zarr_format=zarr_format)
    group.attrs.put(ome_attributes(layout, display))


def open_level(store: Store, layout: Layout, index: int) -> zarr.Array:
    zarr_format = 3 if layout.version == "0.5" else 2
    return zarr.open_array(store=store, path=layout.levels[index].path, mode="r+", zarr_format=zarr_format)


# --- data -----------------------------------------------------------------------------------


def to_level_array(slab: np.ndarray, layout: Layout) -> np.ndarray:
    """A ``(z, y, x, c)`` slab in the layout's axis order (``zyx`` or ``czyx``)."""
    if layout.axes.startswith("c"):
        return np.ascontiguousarray(np.moveaxis(slab, -1, 0))
    return slab[..., 0]


def downsample(data: np.ndarray, step: tuple[int, int, int], method: Method) -> np.ndarray:
    """Reduce the last three axes by ``step`` (1 or 2 each): block mean or block mode.

    Odd sizes repeat their last plane, so a ragged edge block averages (or votes) over the
    voxels it has.
    """
    if step == (1, 1, 1):
        return data
    lead = data.ndim - 3
    pad = [(0, 0)] * lead + [(0, size % s) for size, s in zip(data.shape[-3:], step, strict=True)]
    if any(after for _, after in pad):
        data = np.pad(data, pad, mode="edge")
    shape = list(data.shape[:lead])
    for size, s in zip(data.shape[-3:], step, strict=True):
        shape += [size // s, s]
    blocks = data.reshape(shape)
    block_axes = tuple(lead + 2 * i + 1 for i in range(3))
    if method == "mean":
        reduced = blocks.mean(axis=block_axes, dtype=np.float64)
        if np.issubdtype(data.dtype, np.integer):
            reduced = np.rint(reduced)
        return reduced.astype(data.dtype)
    order = list(range(lead)) + [lead + 2 * i for i in range(3)] + list(block_axes)
    voxels = blocks.transpose(order).reshape(*blocks.shape[:lead], *(blocks.shape[lead + 2 * i] for i in range(3)), -1)
    counts = np.zeros(voxels.shape, dtype=np.uint8)
    for candidate in range(voxels.shape[-1]):
        counts[..., candidate] = (voxels == voxels[..., candidate : candidate + 1]).sum(axis=-1)
    winner = np.argmax(counts, axis=-1)
    return np.take_along_axis(voxels, winner[..., None], axis=-1)[..., 0]


def write_slab(array: zarr.Array, data: np.ndarray, z0: int) -> int:
    """Write ``data`` (in level axis order) at level z offset ``z0``; the bytes it holds."""
    index = (*([slice(None)] * (data.ndim - 3)), slice(z0, z0 + data.shape[-3]))
    array[index] = data
    return int(data.nbytes)


class RegionSource(Protocol):
    """Anything that can hand out ``(z, y, x, c)`` slabs of a stack."""

    shape: tuple[int, int, int, int]

    def read(self, z0: int, z1: int) -> np.ndarray: ...


def write_multiscale(
    store: Store,
    layout: Layout,
    source: RegionSource,
    *,
    display: Display | None = None,
    transform: Callable[[np.ndarray, int], np.ndarray] | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write a whole multiscale from ``source`` in one process, slab by slab.

    Slabs are as tall as the deepest level that halves z needs (a multiple of every level's
    shard height), so every level is written from memory in whole shards; ``transform`` maps
    a raw slab (with its z offset) to the values to store, e.g. colour labels to ids.
    """
    create_multiscale(store, layout, display)
    height = slab_height(layout)
    for z0 in range(0, layout.levels[0].z_size, height):
        z1 = min(z0 + height, layout.levels[0].z_size)
        slab = source.read(z0, z1)
        if transform is not None:
            slab = transform(slab, z0)
        written = write_pyramid_part(store, layout, to_level_array(slab, layout), z0, owned=range(len(layout.levels)))
        if progress is not None:
            progress(written)


def slab_height(layout: Layout, max_height: int | None = None) -> int:
    """A part height (level-0 slices) aligned to every level's shard height, so each level of a
    part is whole shards; capped by ``max_height`` (then the coarsest levels are not owned)."""
    height = layout.levels[0].shard_z
    for level in layout.levels[1:]:
        candidate = math.lcm(height, level.shard_z * level.factors[0])
        if max_height is not None and candidate > max_height:
            break
        height = candidate
    return height


def owned_levels(layout: Layout, height: int, parts: int) -> list[int]:
    """Levels a part of ``height`` level-0 slices writes alone: its z range there is whole shards."""
    owned = []
    for index, level in enumerate(layout.levels):
        if parts == 1 or height % (level.factors[0] * level.shard_z) == 0:
            owned.append(index)
        else:
            break
    return owned


def write_pyramid_part(store: Store, layout: Layout, data: np.ndarray, z0: int, *, owned: Sequence[int]) -> int:
    """Write level 0 from ``data`` (level axis order, starting at level-0 slice ``z0``) and each
    owned coarser level from the one before, in memory; the bytes written."""
    written = 0
    for index in owned:
        if index > 0:
            data = downsample(data, level_step(layout, index), layout.method)
        level = layout.levels[index]
        written += write_slab(open_level(store, layout, index), data, z0 // level.factors[0])
    return written


def finish_levels(store: Store, layout: Layout, first: int) -> int:
    """Write levels ``first``.. from the level before each, slab by slab (the levels no part
    owned); the bytes written."""
    written = 0
    for index in range(first, len(layout.levels)):
        source = open_level(store, layout, index - 1)
        target = open_level(store, layout, index)
        step = level_step(layout, index)
        level = layout.levels[index]
        for z0 in range(0, level.z_size, level.shard_z):
            z1 = min(z0 + level.shard_z, level.z_size)
            lead = (slice(None),) * (source.ndim - 3)
            data = np.asarray(source[(*lead, slice(z0 * step[0], z1 * step[0]))])
            written += write_slab(target, downsample(data, step, layout.method), z0)
    return written


def channel_windows(data: np.ndarray, layout: Layout) -> list[dict[str, float]]:
    """Per channel min/max and 0.5/99.5 percentile window of a (coarse) level."""
    planes = data if layout.axes.startswith("c") else data[None]
    windows = []
    for channel in planes:
        values = channel.ravel()
        low, high = (float(value) for value in np.percentile(values, (0.5, 99.5)))
        windows.append({"min": float(values.min()), "max": float(values.max()), "start": low, "end": high})
    return windows


def read_level(store: Store, layout: Layout, index: int) -> np.ndarray:
    return np.asarray(open_level(store, layout, index)[...])


def layout_to_json(layout: Layout) -> str:
    """The layout as JSON, so every part task rebuilds exactly the same one."""
    return json.dumps(
        {
            "axes": layout.axes,
            "dtype": layout.dtype,
            "voxel_size_nm": layout.voxel_size_nm,
            "translation_nm": layout.translation_nm,
            "version": layout.version,
            "method": layout.method,
            "name": layout.name,
            "levels": [
                {"path": lv.path, "shape": lv.shape, "chunks": lv.chunks, "shards": lv.shards, "factors": lv.factors}
                for lv in layout.levels
            ],
        }
    )


def layout_from_json(value: str | Mapping[str, Any]) -> Layout:
    data = json.loads(value) if isinstance(value, str) else dict(value)
    return Layout(
        axes=data["axes"],
        dtype=data["dtype"],
        voxel_size_nm=tuple(data["voxel_size_nm"]),
        translation_nm=tuple(data["translation_nm"]),
        levels=tuple(
            Level(
                path=lv["path"],
                shape=tuple(lv["shape"]),
                chunks=tuple(lv["chunks"]),
                shards=tuple(lv["shards"]),
                factors=tuple(lv["factors"]),
            )
            for lv in data["levels"]
        ),
        version=data["version"],
        method=data["method"],
        name=data.get("name", ""),
    )
