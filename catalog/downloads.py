"""What getting a crop's, a volume's or a dataset's data takes: the exact S3 keys, how many
objects and bytes, and ready commands.

Sizes come from the chunk grid that ingest stored on each volume (``Volume.levels``), never
from listing S3 at request time: objects are chunk files (or shards), bytes are uncompressed
(voxels x bytes per voxel; what is stored is usually smaller). A volume ingest has not seen
has no stored grid, and its sizes are unknown, said so, never estimated. Reads only.

An EM region under a crop is cut at the EM level whose voxel size is nearest the crop's label
voxel size, with an optional padding in nm, in the level's own voxel grid: OME-Zarr places
voxel ``i`` centred on ``translation + i * scale``, so voxel ``i`` covers ``translation +
(i - 1/2) * scale`` to ``translation + (i + 1/2) * scale``.
"""

from __future__ import annotations

import itertools
import math
import shlex
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from catalog.crop_manifest import nearest_url
from catalog.errors import InvalidRequestError
from catalog.models import Crop, Volume
from catalog.models.base import AXES, ContentType

MAX_KEYS = 500
"""Chunk keys listed one by one (and as ``--include`` arguments) at most; beyond, the prefix and
the chunk index ranges say which keys, and the Python snippet reads just the region."""
MAX_PADDING_NM = 100_000.0


@dataclass(frozen=True)
class LevelSize:
    """One stored level of a volume: where it is and what it weighs."""

    path: str
    url: str
    shape: list[int]
    voxel_size_nm: dict[str, float] | None
    objects: int
    bytes: int | None


def _itemsize(dtype: str) -> int | None:
    try:
        return np.dtype(dtype).itemsize if dtype else None
    except TypeError:
        return None


def level_sizes(volume: Volume) -> list[LevelSize]:
    """Every stored level of ``volume``: chunk files in its grid and uncompressed bytes."""
    itemsize = _itemsize(volume.dtype)
    sizes = []
    for level in volume.levels or []:
        shape, chunks = level["shape"], level["chunks"]
        objects = math.prod(math.ceil(extent / chunk) for extent, chunk in zip(shape, chunks, strict=True))
        sizes.append(
            LevelSize(
                path=level["path"],
                url=f"{volume.url.rstrip('/')}/{level['path']}" if level["path"] else volume.url,
                shape=list(shape),
                voxel_size_nm=level.get("voxel_size_nm"),
                objects=objects,
                bytes=math.prod(shape) * itemsize if itemsize else None,
            )
        )
    return sizes


@dataclass
class Region:
    """A box of one level of a volume, in its voxel and chunk grid (C order, like the array)."""

    volume: Volume
    level: dict[str, Any]
    axes: str
    start: list[int]
    stop: list[int]
    chunk_start: list[int]
    chunk_stop: list[int]
    objects: int
    bytes: int | None
    keys: list[str] | None = None
    chunk_bytes: int | None = None

    @property
    def url(self) -> str:
        return f"{self.volume.url.rstrip('/')}/{self.level['path']}" if self.level["path"] else self.volume.url

    @property
    def voxels(self) -> int:
        return math.prod(b - a for a, b in zip(self.start, self.stop, strict=True))

    @property
    def slices(self) -> str:
        return ", ".join(f"{a}:{b}" for a, b in zip(self.start, self.stop, strict=True))


def nearest_level(volume: Volume, voxel_nm: dict[str, float]) -> dict[str, Any] | None:
    """The stored level whose voxel size is nearest ``voxel_nm`` (by summed log ratio over the
    axes); None when no level carries its own voxel size."""
    candidates = [level for level in volume.levels or [] if level.get("voxel_size_nm") and level.get("translation_nm")]
    if not candidates:
        return None

    def distance(level: dict[str, Any]) -> float:
        size = level["voxel_size_nm"]
        return sum(abs(math.log(abs(size[axis]) / voxel_nm[axis])) for axis in AXES)

    return min(candidates, key=distance)


def region(volume: Volume, level: dict[str, Any], lower_nm: dict[str, float], upper_nm: dict[str, float]) -> Region:
    """The voxels and chunks of ``level`` that the box ``lower_nm .. upper_nm`` touches."""
    axes = volume.axes or "zyx"
    start, stop, chunk_start, chunk_stop = [], [], [], []
    for index, axis in enumerate(axes):
        extent, chunk = level["shape"][index], level["chunks"][index]
        if axis in AXES:
            scale, offset = level["voxel_size_nm"][axis], level["translation_nm"][axis]
            first = math.floor((lower_nm[axis] - offset) / scale - 0.5) + 1
            last = math.ceil((upper_nm[axis] - offset) / scale + 0.5)
            first, last = max(0, min(first, extent)), max(0, min(last, extent))
        else:
            first, last = 0, extent
        start.append(first)
        stop.append(last)
        chunk_start.append(first // chunk)
        chunk_stop.append(math.ceil(last / chunk) if last > first else first // chunk)
    objects = math.prod(b - a for a, b in zip(chunk_start, chunk_stop, strict=True))
    itemsize = _itemsize(volume.dtype)
    found = Region(volume, level, axes, start, stop, chunk_start, chunk_stop, objects, None)
    if itemsize:
        found.bytes = found.voxels * itemsize
        found.chunk_bytes = objects * math.prod(level["chunks"]) * itemsize
    key = level.get("chunk_key")
    if key is not None and 0 < objects <= MAX_KEYS:
        separator, prefix = key["separator"], key["prefix"]
        ranges = [range(a, b) for a, b in zip(chunk_start, chunk_stop, strict=True)]
        found.keys = [
            f"{found.url}/{prefix}{separator.join(str(i) for i in indices)}" for indices in itertools.product(*ranges)
        ]
    return found


def level_command(volume: Volume, size: LevelSize) -> str:
    """``aws s3 cp`` of one level of a volume, with the metadata that describes it."""
    base = volume.url.rstrip("/") + "/"
    name = base.rstrip("/").rsplit("/", 1)[-1]
    includes = " ".join(
        f"--include {shlex.quote(item)}"
        for item in (".zattrs", ".zgroup", "zarr.json", "attributes.json", f"{size.path}/*")
    )
    return f'aws s3 cp --no-sign-request --recursive {shlex.quote(base)} ./{name}/ --exclude "*" {includes}'


# Crops ---------------------------------------------------------------------------------------------


@dataclass
class CropDownload:
    """Everything a crop's download panel and endpoint show."""

    crop: Crop
    padding_nm: float
    labels: list[tuple[Volume, list[LevelSize]]]
    label_voxels: int
    em: Volume | None
    em_region: Region | None
    notes: list[str] = field(default_factory=list)

    @property
    def label_objects(self) -> int | None:
        if not self.labels or any(not sizes for _, sizes in self.labels):
            return None
        return sum(size.objects for _, sizes in self.labels for size in sizes)

    @property
    def label_bytes(self) -> int | None:
        if not self.labels:
            return None
        values = [size.bytes for _, sizes in self.labels for size in sizes]
        return sum(values) if values and all(value is not None for value in values) else None  # type: ignore[misc]


def crop_box_nm(crop: Crop, padding_nm: float = 0.0) -> tuple[dict[str, float], dict[str, float]]:
    """The crop's label voxels as drawn (OME-Zarr: translation is voxel 0's centre), padded."""
    lower = {axis: getattr(crop, f"translation_{axis}") - getattr(crop, f"voxel_size_{axis}") / 2 for axis in AXES}
    upper = {axis: lower[axis] + getattr(crop, f"shape_{axis}") * getattr(crop, f"voxel_size_{axis}") for axis in AXES}
    return (
        {axis: value - padding_nm for axis, value in lower.items()},
        {axis: value + padding_nm for axis, value in upper.items()},
    )


def crop_download(crop: Crop, volumes: list[Volume], em: Volume | None, padding_nm: float = 0.0) -> CropDownload:
    """The crop's label arrays (its ingested class volumes, level by level) and the EM region
    under it. ``volumes`` are the dataset's volumes below the crop's labels location."""
    labels_prefix = crop.labels_url.rstrip("/") + "/"
    label_volumes = sorted(
        (volume for volume in volumes if crop.labels_url and volume.url.startswith(labels_prefix)),
        key=lambda volume: volume.url,
    )
    labels = [(volume, level_sizes(volume)) for volume in label_volumes]
    notes = []
    if not crop.labels_url:
        notes.append("The crop's labels are withheld (a test crop): only the EM under it can be downloaded.")
    elif not labels:
        notes.append(
            "The crop's label arrays have not been ingested, so their levels, objects and bytes are unknown "
            "until they are; the prefix below is exact."
        )
    voxel = {axis: getattr(crop, f"voxel_size_{axis}") for axis in AXES}
    found_region = None
    if em is None:
        notes.append("The catalog knows no EM volume of this dataset in S3.")
    else:
        level = nearest_level(em, voxel)
        if level is None:
            notes.append(
                "The EM volume's levels have not been ingested (or carry no per-level geometry), so the region's "
                "keys, objects and bytes are unknown until they are."
            )
        else:
            lower, upper = crop_box_nm(crop, padding_nm)
            found_region = region(em, level, lower, upper)
    return CropDownload(
        crop=crop,
        padding_nm=padding_nm,
        labels=labels,
        label_voxels=crop.shape_x * crop.shape_y * crop.shape_z,
        em=em,
        em_region=found_region,
        notes=notes,
    )


def parse_padding(raw: str | None) -> float:
    """``padding_nm`` from a request: a number of nm from 0 to ``MAX_PADDING_NM`` (default 0)."""
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= MAX_PADDING_NM:
        raise InvalidRequestError.on("padding_nm", f"padding_nm is a number of nm from 0 to {MAX_PADDING_NM:g}.")
    return value


def plan_crop(crop: Crop, padding_nm: float = 0.0) -> CropDownload:
    """``crop_download`` with its volumes read from the catalog (one query)."""
    volumes = list(
        Volume.objects.filter(dataset_id=crop.dataset_id)
        .exclude(url="")
        .select_related("label_class")
        .only("id", "url", "format", "dtype", "axes", "levels", "content_type", "label_class__name")
    )
    ems = {volume.url: volume for volume in volumes if volume.content_type == ContentType.EM}
    chosen = nearest_url(crop.labels_url, ((volume.url, volume.format) for volume in ems.values()))
    return crop_download(crop, volumes, ems[chosen] if chosen else None, padding_nm)


def crop_commands(download: CropDownload, manifest_url: str) -> dict[str, str]:
    """Ready commands: aws s3 cp of the labels (and of the EM chunks when listed), Python reading
    just the region with zarr, and a curl of the crop's manifest rows."""
    crop = download.crop
    commands: dict[str, str] = {}
    if crop.labels_url.startswith("s3://"):
        target = f"crop{crop.number}/labels/"
        commands["labels"] = (
            f"aws s3 cp --no-sign-request --recursive {shlex.quote(crop.labels_url.rstrip('/') + '/')} {target}"
        )
        paths = sorted({size.path for _, sizes in download.labels for size in sizes if size.path})
        if paths:
            commands["labels_finest"] = (
                f"aws s3 cp --no-sign-request --recursive {shlex.quote(crop.labels_url.rstrip('/') + '/')} {target}"
                f' --exclude "*" --include "*/.z*" --include "*/zarr.json" --include "*/{paths[0]}/*"'
            )
    found = download.em_region
    if found is not None and found.url.startswith("s3://"):
        base = download.em.url.rstrip("/") + "/"  # type: ignore[union-attr]
        if found.keys is not None:
            relative = [key.removeprefix(base) for key in found.keys]
            level = found.level["path"]
            includes = " ".join(
                f"--include {shlex.quote(item)}"
                for item in [".zattrs", ".zgroup", "zarr.json", f"{level}/.zarray", f"{level}/zarr.json", *relative]
            )
            commands["em_region"] = (
                f'aws s3 cp --no-sign-request --recursive {shlex.quote(base)} crop{crop.number}/em/ --exclude "*" '
                + includes
            )
        names = ", ".join(found.axes)
        commands["python"] = "\n".join(
            [
                "import zarr  # zarr 3 with s3fs installed",
                "",
                f"em = zarr.open_array({found.url!r}, mode='r', storage_options={{'anon': True}})",
                f"region = em[{found.slices}]  # ({names}), {_voxel_text(found.level)} nm voxels",
            ]
        )
    commands["manifest"] = f"curl -o crop{crop.number}_manifest.csv {shlex.quote(manifest_url)}"
    return commands


def _voxel_text(level: dict[str, Any]) -> str:
    size = level["voxel_size_nm"]
    return " x ".join(f"{size[axis]:g}" for axis in AXES)


def as_json(download: CropDownload, commands: dict[str, str]) -> dict[str, Any]:
    """The download plan as the API answers it."""
    found = download.em_region
    return {
        "crop": download.crop.number,
        "padding_nm": download.padding_nm,
        "labels": {
            "url": download.crop.labels_url,
            "voxels_per_class": download.label_voxels,
            "objects": download.label_objects,
            "bytes": download.label_bytes,
            "arrays": [
                {
                    "url": volume.url,
                    "label_class": volume.label_class.name if volume.label_class else None,
                    "levels": [size.__dict__ for size in sizes],
                }
                for volume, sizes in download.labels
            ],
        },
        "em": None
        if download.em is None
        else {
            "url": download.em.url,
            "level": None if found is None else found.level["path"],
            "level_url": None if found is None else found.url,
            "voxel_size_nm": None if found is None else found.level["voxel_size_nm"],
            "axes": None if found is None else found.axes,
            "start": None if found is None else found.start,
            "stop": None if found is None else found.stop,
            "chunk_start": None if found is None else found.chunk_start,
            "chunk_stop": None if found is None else found.chunk_stop,
            "voxels": None if found is None else found.voxels,
            "bytes": None if found is None else found.bytes,
            "objects": None if found is None else found.objects,
            "object_bytes": None if found is None else found.chunk_bytes,
            "keys": None if found is None else found.keys,
        },
        "commands": commands,
        "notes": download.notes,
    }
