"""The conversion itself, without the catalog: stage a source, plan its parts, write a part,
finish the pyramid, validate the result.

A part is a slab of z aligned to the output shards, written by one task with every pyramid
level it owns (``writer.owned_levels``). After its data, a part writes a marker object
``.conversion/part-NNNNN.json``; a rerun checks for the marker (one HEAD request) and skips the
part, so a killed worker loses only the parts it had in flight. Memory per part is the slab
(raw and converted) plus its downsampled levels.
"""

from __future__ import annotations

import json
import math
import shutil
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import zarr

from catalog.conversion import writer
from catalog.conversion.errors import ConversionError
from catalog.conversion.labels import instance_ids, semantic_ids
from catalog.conversion.readers import SourceVolume, open_source
from catalog.conversion.store import S3Store
from catalog.s3 import S3Location, S3Reader, S3Writer, parse_s3_url

Encoding = Literal["image", "semantic", "instance", "labels"]
MARKER_PREFIX = ".conversion"
DOWNLOAD_CHUNK = 8 * 1024 * 1024


# --- sources ---------------------------------------------------------------------------------


def source_kind(source: str) -> str:
    """``s3``, ``https`` or ``local``; plain http and other schemes are refused."""
    if source.startswith("s3://"):
        return "s3"
    if source.startswith("https://"):
        return "https"
    if "://" in source:
        raise ConversionError(f"{source!r}: only local paths, s3:// and https:// sources can be converted")
    return "local"


def source_file_name(source: str) -> str:
    """The file name a source URL or path ends in (the folder name for a folder)."""
    return PurePosixPath(source.split("?", 1)[0].rstrip("/")).name


def stage(source: str, work_dir: Path, *, reader: S3Reader | None = None) -> Path:
    """A local path for the source: local paths as they are, remote files downloaded once into
    ``work_dir`` (kept for the other parts of the run, which may run on this machine)."""
    kind = source_kind(source)
    if kind == "local":
        path = Path(source).expanduser()
        if not path.exists():
            raise ConversionError(f"{source} does not exist")
        return path
    target = work_dir / (source_file_name(source) or "source")
    if target.exists():
        return target
    work_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if kind == "s3":
        location = parse_s3_url(source)
        (reader or S3Reader()).download(location, partial)
    else:
        try:
            with urllib.request.urlopen(source, timeout=60) as response, partial.open("wb") as output:
                shutil.copyfileobj(response, output, DOWNLOAD_CHUNK)
        except OSError as error:
            raise ConversionError(f"{source}: download failed ({error})") from error
    partial.rename(target)
    return target


def zip_members(path: Path) -> list[str]:
    """The data files of a zip archive (folders and macOS metadata left out)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [
                info.filename
                for info in archive.infolist()
                if not info.is_dir() and "__MACOSX" not in info.filename and not info.filename.startswith(".")
            ]
    except zipfile.BadZipFile as error:
        raise ConversionError(f"{path.name}: not a readable zip archive ({error})") from error


def extract_member(path: Path, member: str, work_dir: Path) -> Path:
    """One member of a zip archive as a local file (extracted once; a folder member whole)."""
    members = zip_members(path)
    wanted = [name for name in members if name == member or name.startswith(member.rstrip("/") + "/")]
    if not wanted:
        raise ConversionError(f"{path.name} has no member {member!r}; it holds {', '.join(members[:20])}")
    target = work_dir / "extracted"
    done = target / (member.rstrip("/") + ".extracted")
    if not done.exists():
        with zipfile.ZipFile(path) as archive:
            for name in wanted:
                destination = (target / name).resolve()
                if not destination.is_relative_to(target.resolve()):
                    raise ConversionError(f"{path.name}: member {name!r} points outside the archive")
                destination.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with archive.open(name) as data, destination.open("wb") as output:
                        shutil.copyfileobj(data, output, DOWNLOAD_CHUNK)
                except (zipfile.BadZipFile, OSError, EOFError) as error:
                    raise ConversionError(f"{path.name}: cannot extract {name!r} ({error})") from error
        done.parent.mkdir(parents=True, exist_ok=True)
        done.touch()
    return target / member.rstrip("/")


def open_staged(source: str, work_dir: Path, *, member: str = "", axes: str = "") -> SourceVolume:
    """Stage the source and open it; ``member`` names a zip member or an HDF5 dataset."""
    path = stage(source, work_dir)
    if path.suffix.lower() == ".zip":
        if not member:
            raise ConversionError(f"{path.name} is a zip archive: name the member to convert")
        inner, _, dataset = member.partition("#")
        return open_source(extract_member(path, inner, work_dir), member=dataset, axes=axes)
    return open_source(path, member=member, axes=axes)


# --- plans -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """Level-0 slices ``z0`` to ``z1`` of the output."""

    index: int
    z0: int
    z1: int


@dataclass
class Plan:
    """How a source becomes an OME-Zarr: the layout, the encoding and the parts."""

    layout: writer.Layout
    encoding: Encoding
    height: int
    parts: list[Part]
    owned: list[int]
    table: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "layout": json.loads(writer.layout_to_json(self.layout)),
            "encoding": self.encoding,
            "height": self.height,
            "owned": self.owned,
            "table": [[*colour, value] for colour, value in sorted(self.table.items(), key=lambda item: item[1])],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        layout = writer.layout_from_json(data["layout"])
        height = int(data["height"])
        z_size = layout.levels[0].z_size
        parts = [Part(i, z0, min(z0 + height, z_size)) for i, z0 in enumerate(range(0, z_size, height))]
        table = {(int(r), int(g), int(b)): int(v) for r, g, b, v in data.get("table", [])}
        return cls(layout, data["encoding"], height, parts, list(data["owned"]), table)


def choose_encoding(source: SourceVolume, *, kind: str, table: dict[tuple[int, int, int], int]) -> Encoding:
    """Images stay as they are (channels included); segmentations become integer ids."""
    samples = source.shape[3]
    if kind != "segmentation":
        return "image"
    if samples == 1:
        if not np.issubdtype(source.dtype, np.integer):
            raise ConversionError(f"{source.description}: a segmentation must hold integers, not {source.dtype}")
        return "labels"
    if samples in (3, 4):
        return "semantic" if table else "instance"
    raise ConversionError(f"{source.description}: a segmentation with {samples} samples per voxel is not a label stack")


def output_dtype(source: SourceVolume, encoding: Encoding, table: dict[tuple[int, int, int], int]) -> str:
    if encoding == "semantic":
        return "uint8" if max(table.values(), default=0) < 256 else "uint32"
    if encoding == "instance":
        return "uint32"
    return str(source.dtype)


def plan(
    source: SourceVolume,
    *,
    kind: str,
    voxel_size_nm: tuple[float, float, float],
    translation_nm: tuple[float, float, float],
    table: dict[tuple[int, int, int], int],
    version: writer.NgffVersion = "0.5",
    part_bytes: int = 128 * 1024 * 1024,
    name: str = "",
) -> Plan:
    """Layout and parts: each part at most ``part_bytes`` of source data where shards allow."""
    encoding = choose_encoding(source, kind=kind, table=table)
    z, y, x, samples = source.shape
    channels = samples if encoding == "image" else 1
    layout = writer.plan_layout(
        shape_zyx=(z, y, x),
        channels=channels,
        dtype=output_dtype(source, encoding, table),
        voxel_size_nm=voxel_size_nm,
        translation_nm=translation_nm,
        version=version,
        method="mean" if encoding == "image" else "mode",
        name=name,
    )
    slice_bytes = y * x * samples * np.dtype(source.dtype).itemsize
    shard = layout.levels[0].shard_z
    shards_per_part = max(1, 2 ** int(math.log2(max(1, part_bytes // max(1, slice_bytes * shard)))))
    height = writer.slab_height(layout, max_height=shard * shards_per_part)
    parts = [Part(i, z0, min(z0 + height, z)) for i, z0 in enumerate(range(0, z, height))]
    owned = writer.owned_levels(layout, height, len(parts))
    return Plan(layout, encoding, height, parts, owned, dict(table))


# --- parts -----------------------------------------------------------------------------------


def marker(output: S3Location, index: int) -> S3Location:
    return output.child(f"{MARKER_PREFIX}/part-{index:05d}.json")


def part_written(client: S3Reader, output: S3Location, index: int) -> dict[str, Any] | None:
    """The marker of a part whose data is complete, or None (checked in S3, never assumed)."""
    raw = client.get(marker(output, index))
    return json.loads(raw) if raw else None


def encode(slab: np.ndarray, the_plan: Plan, z0: int) -> np.ndarray:
    """Raw ``(z, y, x, c)`` slab -> the values to store. Colour labels are decoded one slice at
    a time: the packed colours and lookups would otherwise take several times the slab."""
    if the_plan.encoding not in ("semantic", "instance"):
        return slab
    dtype = np.uint32 if the_plan.encoding == "instance" else np.dtype(the_plan.layout.dtype)
    ids = np.empty((*slab.shape[:3], 1), dtype=dtype)
    for index in range(slab.shape[0]):
        plane = slab[index : index + 1]
        if the_plan.encoding == "semantic":
            ids[index, ..., 0] = semantic_ids(plane, the_plan.table, z_offset=z0 + index)[0]
        else:
            ids[index, ..., 0] = instance_ids(plane)[0]
    return ids


def write_part(client: S3Writer, output: S3Location, the_plan: Plan, source: SourceVolume, part: Part) -> int:
    """Convert one part and write its levels, then its marker; the bytes written (compressed
    size is S3's business: this counts array bytes)."""
    store = S3Store(client, output)
    data = writer.to_level_array(encode(source.read(part.z0, part.z1), the_plan, part.z0), the_plan.layout)
    written = writer.write_pyramid_part(store, the_plan.layout, data, part.z0, owned=the_plan.owned)
    client.put(
        marker(output, part.index),
        json.dumps({"z0": part.z0, "z1": part.z1, "bytes": written}).encode(),
        content_type="application/json",
    )
    return written


def start(client: S3Writer, output: S3Location, the_plan: Plan, display: writer.Display) -> None:
    """Write the group and array metadata (a rerun keeps data already written)."""
    store = S3Store(client, output)
    if client.exists(output.child("zarr.json")) or client.exists(output.child(".zattrs")):
        return
    writer.create_multiscale(store, the_plan.layout, display)


def finish(client: S3Writer, output: S3Location, the_plan: Plan, display: writer.Display) -> int:
    """Levels no part owned, then the final metadata (windows from the coarsest level)."""
    store = S3Store(client, output)
    written = 0
    if len(the_plan.owned) < len(the_plan.layout.levels):
        written = writer.finish_levels(store, the_plan.layout, len(the_plan.owned))
    if the_plan.encoding == "image":
        coarsest = writer.read_level(store, the_plan.layout, len(the_plan.layout.levels) - 1)
        for channel, window in zip(display.channels, writer.channel_windows(coarsest, the_plan.layout), strict=False):
            channel["window"] = window
    writer.update_display(store, the_plan.layout, display)
    validate(store, the_plan.layout, is_label=the_plan.encoding != "image")
    return written


def validate(store: S3Store, layout: writer.Layout, *, is_label: bool) -> None:
    """The output's metadata against the OME-NGFF models (ome-zarr-models); ConversionError if not."""
    from pydantic import ValidationError

    try:
        if layout.version == "0.5":
            from ome_zarr_models import v05

            group = zarr.open_group(store=store, mode="r", zarr_format=3)
            (v05.ImageLabel if is_label else v05.Image).from_zarr(group)
        else:
            import pydantic_zarr.v2
            from ome_zarr_models import v04

            model = v04.ImageLabel if is_label else v04.Image
            model.model_rebuild(_types_namespace={"ArraySpec": pydantic_zarr.v2.ArraySpec})
            model.from_zarr(zarr.open_group(store=store, mode="r", zarr_format=2))
    except (ValidationError, ValueError, KeyError) as error:
        raise ConversionError(f"the written OME-Zarr does not validate: {error}") from error
