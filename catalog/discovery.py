"""Find the volumes below an S3 prefix and describe each one from its attribute documents.

The walk lists one "directory" at a time with a delimiter listing (all directories of one
depth concurrently), fetches the attribute files it sees (``zarr.json``, ``.zarray``,
``.zattrs``, ``attributes.json``, ``info``) concurrently, and stops descending at anything
it recognises as a volume: an OME-Zarr 0.4/0.5 multiscale group, a plain Zarr v2/v3 array,
an N5 array or multiscale N5 group, or a Neuroglancer precomputed volume. The level
metadata of multiscale volumes is fetched by key (never by listing chunk directories).

Every volume comes back as a ``VolumeDescription`` with geometry in nanometres and the
axis order of the array as stored (C order, slowest axis first; N5 and precomputed
dimensions are reversed accordingly). Problems found in the documents become
``ValidationIssue``s on the description instead of exceptions, so one broken volume never
stops the rest of the prefix.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from catalog.models.base import AXES, ContentType, MeshFormat, VolumeFormat, VolumeKind
from catalog.s3 import DirectoryListing, S3Location, S3Reader
from catalog.schemas.attributes import (
    CellmapAnnotation,
    CellmapAttributes,
    N5Attributes,
    N5Transform,
    OmeMultiscale,
    OmeZarr04Attributes,
    OmeZarr05Attributes,
    PrecomputedInfo,
    ScaleTransformation,
    TranslationTransformation,
    ZarrV2Array,
    ZarrV3Node,
)

NANOMETRES_PER_UNIT: dict[str, float] = {
    "nanometer": 1.0,
    "nanometre": 1.0,
    "nm": 1.0,
    "micrometer": 1e3,
    "micrometre": 1e3,
    "micron": 1e3,
    "um": 1e3,
    "\u00b5m": 1e3,  # micro sign
    "\u03bcm": 1e3,  # Greek mu
    "angstrom": 0.1,
    "\u00e5": 0.1,  # Å, lower-cased
    "\u212b": 0.1,  # angstrom sign
    "picometer": 1e-3,
    "picometre": 1e-3,
    "pm": 1e-3,
    "millimeter": 1e6,
    "millimetre": 1e6,
    "mm": 1e6,
    "centimeter": 1e7,
    "centimetre": 1e7,
    "cm": 1e7,
    "decimeter": 1e8,
    "decimetre": 1e8,
    "meter": 1e9,
    "metre": 1e9,
    "m": 1e9,
}
ATTRIBUTE_FILES = ("zarr.json", ".zarray", ".zattrs", "attributes.json", "info")
FORMAT_OF_FILE = {
    "zarr.json": VolumeFormat.ZARR_V3,
    ".zarray": VolumeFormat.ZARR_V2,
    ".zattrs": VolumeFormat.OME_ZARR_04,
    "attributes.json": VolumeFormat.N5,
    "info": VolumeFormat.PRECOMPUTED,
}
MESH_FORMATS = {
    "neuroglancer_legacy_mesh": MeshFormat.LEGACY,
    "neuroglancer_multilod_draco": MeshFormat.MULTILOD_DRACO,
}
SCALE_LEVEL_RE = re.compile(r"^s(\d+)$")
CHUNK_OR_LEVEL_RE = re.compile(r"^(s?\d+|c)$")
CROP_RE = re.compile(r"^crop(\d+)$")
SEGMENTATION_DTYPES = frozenset({"uint32", "uint64", "int64"})
ModelT = TypeVar("ModelT", bound=BaseModel)
SUPPORTED_N5_COMPRESSION = frozenset({"raw", "gzip", "bzip2", "xz", "blosc", "zstd", "lz4"})


@dataclass(frozen=True)
class ValidationIssue:
    """One problem with a volume's metadata: which field, and what is wrong with it."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class ScaleLevel:
    """One resolution level: where its array lives and how to read it (C order).

    ``voxel_size`` and ``translation`` (nm, by axis name) are the level's own, where its
    metadata gives them per level (OME-Zarr); ``chunk_key`` is how a chunk's key is spelt
    below the level (Zarr: a prefix and the separator between chunk indices).
    """

    path: str
    location: S3Location
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    reader: str
    metadata: dict[str, Any] = field(default_factory=dict)
    voxel_size: dict[str, float] | None = None
    translation: dict[str, float] | None = None
    chunk_key: dict[str, str] | None = None

    def grid(self) -> dict[str, Any]:
        """What the catalog stores of the level (``Volume.levels``): its chunk grid and geometry."""
        return {
            "path": self.path,
            "shape": list(self.shape),
            "chunks": list(self.chunks),
            "voxel_size_nm": self.voxel_size,
            "translation_nm": self.translation,
            "chunk_key": self.chunk_key,
        }


@dataclass(frozen=True)
class MeshDescription:
    """Precomputed meshes that belong to a segmentation volume."""

    name: str
    location: S3Location
    format: str


@dataclass
class VolumeDescription:
    """What the bucket says about one volume, normalised to the catalog's vocabulary."""

    location: S3Location
    format: str
    dtype: str = ""
    axes: str = ""
    shape: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(AXES))
    voxel_size: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(AXES))
    translation: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(AXES))
    levels: list[ScaleLevel] = field(default_factory=list)
    kind: str = VolumeKind.IMAGE
    content_type: str = ContentType.EM
    label_class: str | None = None
    crop_number: int | None = None
    annotation: CellmapAnnotation | None = None
    meshes: list[MeshDescription] = field(default_factory=list)
    errors: list[ValidationIssue] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.location.url

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def scale_levels(self) -> int | None:
        return len(self.levels) or None

    @property
    def coarsest_level(self) -> ScaleLevel | None:
        return self.levels[-1] if self.levels else None

    def add_error(self, field_name: str, message: str) -> None:
        self.errors.append(ValidationIssue(field_name, message))


def nanometres_per(unit: str | None) -> float | None:
    """How many nanometres one ``unit`` is; None for units we do not know."""
    if unit is None:
        return None
    return NANOMETRES_PER_UNIT.get(unit.strip().lower()) or NANOMETRES_PER_UNIT.get(unit.strip())


def normalise_dtype(dtype: Any) -> str:
    """``<u2``, ``uint16`` and ``>u2`` all become ``uint16``; raises ValueError when unknown."""
    try:
        return np.dtype(dtype if not isinstance(dtype, list) else [tuple(item) for item in dtype]).name
    except TypeError as error:
        raise ValueError(f"unknown data type {dtype!r}") from error


def _pydantic_issues(error: ValidationError, root: str) -> list[ValidationIssue]:
    issues = []
    for item in error.errors():
        path = root
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        issues.append(ValidationIssue(path, item["msg"]))
    return issues


def _parse_json(raw: bytes, document: str) -> tuple[Any, list[ValidationIssue]]:
    try:
        return json.loads(raw), []
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [ValidationIssue(document, f"invalid JSON: {error}")]


def _parse_model(model: type[ModelT], data: Any, document: str) -> tuple[ModelT | None, list[ValidationIssue]]:
    try:
        return model.model_validate(data), []
    except ValidationError as error:
        return None, _pydantic_issues(error, document)


# --- path conventions -----------------------------------------------------------------


def dataset_from_layout(key: str) -> tuple[str | None, str]:
    """The dataset slug and volume name a key implies (``<slug>/<slug>.zarr/<name>``).

    Also understands ``<slug>/<slug>.n5/...`` and ``<slug>/neuroglancer/...``. Without such a
    layout the slug is None and the name is the whole key.
    """
    segments = key.strip("/").split("/")
    for index in range(len(segments) - 1):
        slug, following = segments[index], segments[index + 1]
        if following in {f"{slug}.zarr", f"{slug}.n5"}:
            return slug, "/".join(segments[index + 2 :]) or following
        if following == "neuroglancer" and index + 2 < len(segments):
            return slug, "/".join(segments[index + 1 :])
    return None, key.strip("/")


def classify(
    key: str, *, dtype: str, annotation: CellmapAnnotation | None = None, precomputed_type: str | None = None
) -> tuple[str, str, str | None, int | None]:
    """Kind, content type, label class and crop number that the path and attributes imply."""
    segments = [segment.lower() for segment in key.strip("/").split("/")]
    last = segments[-1].removesuffix(".precomputed") if segments else ""
    crop_number = None
    if "groundtruth" in segments:
        after = segments[segments.index("groundtruth") + 1 :]
        label_class = None
        if after and (match := CROP_RE.match(after[0])):
            crop_number = int(match.group(1))
            after = after[1:]
        if after and after[0] != "all":
            label_class = after[0]
        if annotation is not None:
            label_class = annotation.class_name.lower()
        return VolumeKind.SEGMENTATION, ContentType.GROUND_TRUTH, label_class, crop_number
    if annotation is not None:
        return VolumeKind.SEGMENTATION, ContentType.GROUND_TRUTH, annotation.class_name.lower(), None
    if last.endswith("_seg"):
        return VolumeKind.SEGMENTATION, ContentType.SEGMENTATION, last.removesuffix("_seg"), None
    if last.endswith("_pred"):
        return VolumeKind.IMAGE, ContentType.PREDICTION, last.removesuffix("_pred"), None
    if "em" in segments or "fibsem" in last:
        return VolumeKind.IMAGE, ContentType.EM, None, None
    if "lm" in segments:
        return VolumeKind.IMAGE, ContentType.LM, None, None
    if precomputed_type == "segmentation" or ("labels" in segments and dtype in SEGMENTATION_DTYPES):
        return VolumeKind.SEGMENTATION, ContentType.SEGMENTATION, None, None
    if precomputed_type is None and dtype in SEGMENTATION_DTYPES:
        return VolumeKind.SEGMENTATION, ContentType.SEGMENTATION, None, None
    return VolumeKind.IMAGE, ContentType.EM, None, None


# --- geometry -------------------------------------------------------------------------


@dataclass
class _AxisSpec:
    """One axis in C order, with the document fields to blame when it is wrong."""

    name: str
    unit: str | None
    scale: float
    translation: float
    unit_field: str
    scale_field: str


def _axis_letter(name: str, axis_type: str | None) -> str:
    if axis_type == "channel":
        return "c"
    if axis_type == "time":
        return "t"
    return name.lower()[:1] if name else "?"


def _apply_geometry(description: VolumeDescription, axes: Sequence[_AxisSpec], shape: Sequence[int]) -> None:
    """Fill voxel size, translation and shape (x/y/z) from the level-0 axes; record problems."""
    for index, axis in enumerate(axes):
        name = axis.name.lower()
        if name not in AXES:
            continue
        if index < len(shape):
            description.shape[name] = int(shape[index])
        factor = nanometres_per(axis.unit)
        if axis.unit is None:
            description.add_error(axis.unit_field, "no unit given, so the voxel size cannot be converted to nm")
            continue
        if factor is None:
            description.add_error(
                axis.unit_field, f"unknown unit {axis.unit!r}; expected a length such as nanometer or micrometer"
            )
            continue
        if not math.isfinite(axis.scale) or axis.scale <= 0:
            description.add_error(axis.scale_field, f"voxel size must be positive, got {axis.scale!r}")
        else:
            description.voxel_size[name] = axis.scale * factor
        if math.isfinite(axis.translation):
            description.translation[name] = axis.translation * factor
        else:
            description.add_error(axis.scale_field, f"translation must be finite, got {axis.translation!r}")


def _check_levels(description: VolumeDescription, expected_ndim: int, root: str) -> None:
    """Dimensions, chunks and data types must agree within and across levels."""
    previous: tuple[int, ...] | None = None
    for index, level in enumerate(description.levels):
        where = f"{root}[{index}] ({level.path})"
        if len(level.shape) != expected_ndim:
            description.add_error(where, f"array has {len(level.shape)} dimensions but there are {expected_ndim} axes")
        if len(level.chunks) != len(level.shape):
            description.add_error(
                where, f"chunk shape {list(level.chunks)} does not match array shape {list(level.shape)}"
            )
        if any(size <= 0 for size in level.chunks):
            description.add_error(where, f"chunk sizes must be positive, got {list(level.chunks)}")
        if any(size <= 0 for size in level.shape):
            description.add_error(where, f"array shape must be positive, got {list(level.shape)}")
        if level.dtype != description.levels[0].dtype:
            description.add_error(
                where, f"data type {level.dtype} differs from level 0 ({description.levels[0].dtype})"
            )
        comparable = previous is not None and len(previous) == len(level.shape)
        if comparable and any(now > before for now, before in zip(level.shape, previous, strict=True)):
            description.add_error(where, f"level is larger than the level before it ({list(previous)})")
        previous = level.shape


# --- OME-Zarr -------------------------------------------------------------------------


def _ome_transform(
    transformations: Sequence[Any], ndim: int, where: str, description: VolumeDescription
) -> tuple[list[float], list[float]] | None:
    scale = [1.0] * ndim
    translation = [0.0] * ndim
    for index, transformation in enumerate(transformations):
        if isinstance(transformation, ScaleTransformation):
            if len(transformation.scale) != ndim:
                description.add_error(
                    f"{where}[{index}].scale", f"has {len(transformation.scale)} values for {ndim} axes"
                )
                return None
            scale = [a * b for a, b in zip(scale, transformation.scale, strict=True)]
            translation = [a * b for a, b in zip(translation, transformation.scale, strict=True)]
        elif isinstance(transformation, TranslationTransformation):
            if len(transformation.translation) != ndim:
                description.add_error(
                    f"{where}[{index}].translation", f"has {len(transformation.translation)} values for {ndim} axes"
                )
                return None
            translation = [a + b for a, b in zip(translation, transformation.translation, strict=True)]
    return scale, translation


def _zarr_level(path: str, location: S3Location, document: Any, zarr_format: int) -> tuple[ScaleLevel | None, list]:
    metadata_file = ".zarray" if zarr_format == 2 else "zarr.json"
    where = f"{path}/{metadata_file}"
    if zarr_format == 2:
        array, issues = _parse_model(ZarrV2Array, document, where)
        if array is None:
            return None, issues
        raw_dtype, chunks = array.dtype, array.chunks
        chunk_key = {"prefix": "", "separator": array.dimension_separator}
    else:
        node, issues = _parse_model(ZarrV3Node, document, where)
        if node is None:
            return None, issues
        if node.node_type != "array" or node.shape is None or node.chunk_grid is None:
            return None, [ValidationIssue(where, "expected an array with shape and chunk_grid")]
        array, raw_dtype, chunks = node, node.data_type, node.chunk_grid.configuration.chunk_shape
        chunk_key = _v3_chunk_key(node)
    try:
        dtype = normalise_dtype(raw_dtype)
    except ValueError as error:
        return None, [ValidationIssue(f"{where}.dtype", str(error))]
    level = ScaleLevel(path, location, tuple(array.shape), tuple(chunks), dtype, reader="zarr", chunk_key=chunk_key)
    return level, []


def _v3_chunk_key(node: ZarrV3Node) -> dict[str, str]:
    """Zarr v3 chunk keys: ``c/0/1/2`` by default, ``0.1.2`` with the ``v2`` encoding."""
    encoding = (node.model_extra or {}).get("chunk_key_encoding") or {}
    name = encoding.get("name", "default") if isinstance(encoding, dict) else "default"
    configuration = encoding.get("configuration") or {} if isinstance(encoding, dict) else {}
    if name == "v2":
        return {"prefix": "", "separator": str(configuration.get("separator", "."))}
    return {"prefix": "c/", "separator": str(configuration.get("separator", "/"))}


def _describe_ome(
    description: VolumeDescription,
    multiscale: OmeMultiscale,
    level_documents: dict[str, bytes | None],
    zarr_format: int,
    root: str,
) -> None:
    ndim = len(multiscale.axes)
    names = [axis.name for axis in multiscale.axes]
    if len(set(names)) != len(names):
        description.add_error(f"{root}.axes", f"axis names repeat: {names}")
    description.axes = "".join(_axis_letter(axis.name, axis.type) for axis in multiscale.axes)
    metadata_file = ".zarray" if zarr_format == 2 else "zarr.json"
    for index, dataset in enumerate(multiscale.datasets):
        raw = level_documents.get(dataset.path)
        if raw is None:
            description.add_error(
                f"{root}.datasets[{index}].path", f"scale level {dataset.path!r} has no {metadata_file}"
            )
            continue
        document, issues = _parse_json(raw, f"{dataset.path}/{metadata_file}")
        level, more = (
            (None, [])
            if document is None
            else _zarr_level(dataset.path, description.location.child(dataset.path), document, zarr_format)
        )
        description.errors.extend(issues + more)
        if level is not None:
            description.levels.append(level)
    _check_levels(description, ndim, f"{root}.datasets")
    base = multiscale.datasets[0]
    where = f"{root}.datasets[0].coordinateTransformations"
    transform = _ome_transform(base.coordinate_transformations, ndim, where, description)
    if transform is None:
        return
    scale, translation = transform
    if multiscale.coordinate_transformations:
        outer = _ome_transform(
            multiscale.coordinate_transformations, ndim, f"{root}.coordinateTransformations", description
        )
        if outer is None:
            return
        scale = [a * b for a, b in zip(scale, outer[0], strict=True)]
        translation = [a * b + c for a, b, c in zip(translation, outer[0], outer[1], strict=True)]
    axes = [
        _AxisSpec(
            axis.name if axis.type in (None, "space") else _axis_letter(axis.name, axis.type),
            axis.unit,
            scale[index],
            translation[index],
            unit_field=f"{root}.axes[{index}].unit",
            scale_field=f"{where}.scale[{index}]",
        )
        for index, axis in enumerate(multiscale.axes)
    ]
    base_level = description.levels[0] if description.levels and description.levels[0].path == base.path else None
    _apply_geometry(description, axes, base_level.shape if base_level else ())
    _level_geometry(description, multiscale)


def _level_geometry(description: VolumeDescription, multiscale: OmeMultiscale) -> None:
    """Each level's own voxel size and translation (nm), from its coordinate transformations;
    left unset where a unit or transform is unusable (the volume's errors already say why)."""
    ndim = len(multiscale.axes)
    factors = [nanometres_per(axis.unit) for axis in multiscale.axes]
    names = [axis.name.lower() for axis in multiscale.axes]
    scratch = VolumeDescription(location=description.location, format=description.format)
    by_path = {dataset.path: dataset for dataset in multiscale.datasets}
    for level in description.levels:
        dataset = by_path.get(level.path)
        transform = _ome_transform(dataset.coordinate_transformations, ndim, "", scratch) if dataset else None
        if transform is not None and multiscale.coordinate_transformations:
            outer = _ome_transform(multiscale.coordinate_transformations, ndim, "", scratch)
            transform = (
                None
                if outer is None
                else (
                    [a * b for a, b in zip(transform[0], outer[0], strict=True)],
                    [a * b + c for a, b, c in zip(transform[1], outer[0], outer[1], strict=True)],
                )
            )
        if transform is None:
            continue
        scale, translation = transform
        spatial = [i for i, name in enumerate(names) if name in AXES and factors[i] is not None]
        if {names[i] for i in spatial} != set(AXES):
            continue
        level.voxel_size = {names[i]: scale[i] * factors[i] for i in spatial}
        level.translation = {names[i]: translation[i] * factors[i] for i in spatial}


# --- N5 -------------------------------------------------------------------------------


def _n5_level(path: str, location: S3Location, attributes: N5Attributes, where: str) -> tuple[ScaleLevel | None, list]:
    issues = []
    if attributes.dimensions is None or attributes.block_size is None or attributes.data_type is None:
        return None, [ValidationIssue(where, "an N5 array needs dimensions, blockSize and dataType")]
    try:
        dtype = normalise_dtype(attributes.data_type)
    except ValueError as error:
        return None, [ValidationIssue(f"{where}.dataType", str(error))]
    if attributes.compression_name not in SUPPORTED_N5_COMPRESSION:
        issues.append(
            ValidationIssue(f"{where}.compression.type", f"unsupported compression {attributes.compression_name!r}")
        )
    compression = (
        attributes.compression.model_dump() if attributes.compression else {"type": attributes.compression_name}
    )
    level = ScaleLevel(
        path,
        location,
        tuple(reversed(attributes.dimensions)),
        tuple(reversed(attributes.block_size)),
        dtype,
        reader="n5",
        metadata={"compression": compression},
    )
    return level, issues


def _n5_axes_from_transform(transform: N5Transform, where: str) -> tuple[list[_AxisSpec], list[ValidationIssue]]:
    lengths = {len(transform.axes), len(transform.units), len(transform.scale), len(transform.translate)}
    if len(lengths) != 1:
        return [], [ValidationIssue(where, "axes, units, scale and translate must have the same length")]
    order = list(range(len(transform.axes)))
    if transform.order == "F":
        order.reverse()
    return [
        _AxisSpec(
            transform.axes[i],
            transform.units[i],
            transform.scale[i],
            transform.translate[i],
            unit_field=f"{where}.units[{i}]",
            scale_field=f"{where}.scale[{i}]",
        )
        for i in order
    ], []


def _n5_axes_from_resolution(
    attributes: N5Attributes, factors: Sequence[float] | None, ndim: int, where: str
) -> list[_AxisSpec] | None:
    """Axes (C order) from ``pixelResolution`` or ``resolution``/``units``, both fastest-axis first."""
    names = attributes.axes or ["x", "y", "z", "c", "t"][:ndim]
    if isinstance(attributes.pixel_resolution, list):
        values, units, field_name = attributes.pixel_resolution, ["nm"] * ndim, "pixelResolution"
    elif attributes.pixel_resolution is not None:
        pixel = attributes.pixel_resolution
        values, units, field_name = pixel.dimensions, [pixel.unit or "nm"] * ndim, "pixelResolution.dimensions"
    elif attributes.resolution is not None:
        values, units, field_name = attributes.resolution, attributes.units or ["nm"] * ndim, "resolution"
    else:
        return None
    factors = list(factors or [1.0] * len(values))
    specs = [
        _AxisSpec(
            names[i] if i < len(names) else "?",
            units[i] if i < len(units) else None,
            values[i] * (factors[i] if i < len(factors) else 1.0),
            0.0,
            unit_field=f"{where}.{'units' if field_name == 'resolution' else 'pixelResolution.unit'}",
            scale_field=f"{where}.{field_name}[{i}]",
        )
        for i in range(len(values))
    ]
    return list(reversed(specs))


def _n5_level_paths(group: N5Attributes, listing: DirectoryListing) -> list[str]:
    if group.multiscales:
        return [dataset.path for dataset in group.multiscales[0].datasets]
    factors = group.scales or group.downsampling_factors
    if factors and isinstance(factors[0], list):
        return [f"s{index}" for index in range(len(factors))]
    levels = [name for name in listing.subdirectory_names() if SCALE_LEVEL_RE.match(name)]
    return sorted(levels, key=lambda name: int(name[1:]))


def _describe_n5(
    description: VolumeDescription,
    group: N5Attributes | None,
    level_paths: list[str],
    level_documents: dict[str, bytes | None],
) -> N5Attributes | None:
    """Levels and geometry of an N5 array (``group`` None) or multiscale group; returns level 0's attributes."""
    base_attributes: N5Attributes | None = None
    for index, path in enumerate(level_paths):
        raw = level_documents.get(path)
        where = f"{path}/attributes.json" if path else "attributes.json"
        if raw is None:
            description.add_error(f"levels[{index}]", f"scale level {path!r} has no attributes.json")
            continue
        document, issues = _parse_json(raw, where)
        attributes, more = (None, []) if document is None else _parse_model(N5Attributes, document, where)
        description.errors.extend(issues + more)
        if attributes is None:
            continue
        level, more = _n5_level(
            path, description.location.child(path) if path else description.location, attributes, where
        )
        description.errors.extend(more)
        if level is not None:
            description.levels.append(level)
            if base_attributes is None and index == 0:
                base_attributes = attributes
    if not description.levels:
        return base_attributes
    ndim = len(description.levels[0].shape)
    _check_levels(description, ndim, "levels")
    axes: list[_AxisSpec] | None = None
    issues: list[ValidationIssue] = []
    first_transform = group.multiscales[0].datasets[0].transform if group and group.multiscales else None
    if first_transform is not None:
        axes, issues = _n5_axes_from_transform(first_transform, "attributes.json.multiscales[0].datasets[0].transform")
    elif base_attributes is not None and base_attributes.transform is not None:
        axes, issues = _n5_axes_from_transform(base_attributes.transform, f"{level_paths[0]}/attributes.json.transform")
    else:
        factors_list = (group.scales or group.downsampling_factors) if group else None
        factors = factors_list[0] if factors_list and isinstance(factors_list[0], list) else None
        if group is not None:
            axes = _n5_axes_from_resolution(group, factors, ndim, "attributes.json")
        if axes is None and base_attributes is not None:
            axes = _n5_axes_from_resolution(base_attributes, None, ndim, f"{level_paths[0] or '.'}/attributes.json")
    description.errors.extend(issues)
    if axes is None:
        description.add_error("attributes.json", "no voxel size: expected transform, pixelResolution or resolution")
        axes = [_AxisSpec(name, "nm", 1.0, 0.0, "", "") for name in ["z", "y", "x"][-ndim:]]
        description.axes = "".join(spec.name[:1].lower() for spec in axes)
        for index, spec in enumerate(axes):
            if spec.name in AXES and index < ndim:
                description.shape[spec.name] = description.levels[0].shape[index]
        return base_attributes
    if len(axes) != ndim:
        description.add_error("attributes.json", f"{len(axes)} axes described for an array of {ndim} dimensions")
    description.axes = "".join(_axis_letter(spec.name, None) for spec in axes)
    _apply_geometry(description, axes, description.levels[0].shape)
    return base_attributes


# --- precomputed ----------------------------------------------------------------------


def _describe_precomputed(description: VolumeDescription, info: PrecomputedInfo, listing: DirectoryListing) -> None:
    try:
        dtype = normalise_dtype(info.data_type)
    except ValueError as error:
        description.add_error("info.data_type", str(error))
        dtype = ""
    description.dtype = dtype
    present = listing.subdirectory_names()
    channels = (info.num_channels,) if info.num_channels > 1 else ()
    for index, scale in enumerate(info.scales):
        if scale.key.split("/")[0] not in present:
            description.add_error(f"info.scales[{index}].key", f"scale level {scale.key!r} has no data")
            continue
        description.levels.append(
            ScaleLevel(
                scale.key,
                description.location.child(scale.key),
                channels + tuple(reversed(scale.size)),
                channels + tuple(reversed(scale.chunk_sizes[0])),
                dtype,
                reader="precomputed",
                metadata={
                    "encoding": scale.encoding,
                    "voxel_offset": scale.voxel_offset,
                    "size": scale.size,
                    "sharded": scale.sharding is not None,
                    "num_channels": info.num_channels,
                },
            )
        )
    _check_levels(description, len(channels) + 3, "info.scales")
    base = info.scales[0]
    description.axes = ("c" if channels else "") + "zyx"
    axes = [
        _AxisSpec(
            name,
            "nm",
            base.resolution[i],
            base.voxel_offset[i] * base.resolution[i],
            unit_field="info",
            scale_field=f"info.scales[0].resolution[{i}]",
        )
        for i, name in enumerate("xyz")
    ]
    _apply_geometry(description, list(reversed(axes)), tuple(reversed(base.size)))


# --- the walk -------------------------------------------------------------------------


@dataclass
class _Candidate:
    """A recognised volume waiting for its level metadata."""

    description: VolumeDescription
    level_keys: dict[str, S3Location]
    finish: Callable[[dict[str, bytes | None]], None]


def _new_description(location: S3Location, volume_format: str, dtype: str = "") -> VolumeDescription:
    kind, content_type, label_class, crop = classify(location.key, dtype=dtype)
    return VolumeDescription(
        location=location,
        format=volume_format,
        kind=kind,
        content_type=content_type,
        label_class=label_class,
        crop_number=crop,
    )


def _reclassify(
    description: VolumeDescription, annotation: CellmapAnnotation | None = None, precomputed_type: str | None = None
) -> None:
    if description.levels:
        description.dtype = description.levels[0].dtype
    dtype = description.dtype
    kind, content_type, label_class, crop = classify(
        description.location.key, dtype=dtype, annotation=annotation, precomputed_type=precomputed_type
    )
    description.kind, description.content_type = kind, content_type
    description.label_class, description.crop_number = label_class, crop
    description.annotation = annotation


def _annotation(attributes: dict[str, Any] | None) -> CellmapAnnotation | None:
    if not isinstance(attributes, dict) or "cellmap" not in attributes:
        return None
    parsed, _ = _parse_model(CellmapAttributes, attributes, "cellmap")
    return parsed.cellmap.annotation if parsed else None


def _looks_like_volume(file_name: str, listing: DirectoryListing) -> bool:
    """Whether a directory whose attribute file is unreadable still holds array data.

    Array metadata files, and scale-level or chunk directories (``s0``, ``0``, ``c``) next to
    a group's file, mean a volume; otherwise it is an intermediate group worth walking into.
    """
    if file_name in {".zarray", "info"}:
        return True
    return any(CHUNK_OR_LEVEL_RE.match(name) for name in listing.subdirectory_names())


def _broken(location: S3Location, file_name: str, issues: list[ValidationIssue]) -> VolumeDescription:
    description = _new_description(location, FORMAT_OF_FILE[file_name])
    description.errors.extend(issues)
    return description


class _Walker:
    def __init__(self, reader: S3Reader) -> None:
        self.reader = reader
        self.volumes: list[VolumeDescription] = []
        self.warnings: list[str] = []
        self.candidates: list[_Candidate] = []

    def walk(self, root: S3Location) -> list[VolumeDescription]:
        frontier = [root]
        while frontier:
            listings = self.reader.map(self.reader.list_directory, frontier)
            wanted = [
                location.child(name)
                for location, listing in zip(frontier, listings, strict=True)
                for name in ATTRIBUTE_FILES
                if name in listing.names()
            ]
            documents = self.reader.get_many(wanted)
            next_frontier: list[S3Location] = []
            for location, listing in zip(frontier, listings, strict=True):
                next_frontier.extend(self._visit(location, listing, documents))
            self._finish_candidates()
            frontier = next_frontier
        return sorted(self.volumes, key=lambda volume: volume.url)

    def _finish_candidates(self) -> None:
        keys = [key for candidate in self.candidates for key in candidate.level_keys.values()]
        documents = self.reader.get_many(keys)
        for candidate in self.candidates:
            candidate.finish({path: documents.get(key) for path, key in candidate.level_keys.items()})
            self.volumes.append(candidate.description)
        self.candidates = []

    def _visit(
        self, location: S3Location, listing: DirectoryListing, documents: dict[S3Location, bytes | None]
    ) -> list[S3Location]:
        """Recognise ``location``; return the sub-directories still to walk."""
        names = listing.names()
        subdirectories = [S3Location(location.bucket, prefix.rstrip("/")) for prefix in listing.prefixes]
        parsed: dict[str, Any] = {}
        for name in ATTRIBUTE_FILES:
            if name in names:
                raw = documents.get(location.child(name))
                if raw is None:
                    continue
                document, issues = _parse_json(raw, name)
                if issues and _looks_like_volume(name, listing):
                    self.volumes.append(_broken(location, name, issues))
                    return []
                if issues:
                    self.warnings.append(f"{location.child(name).url}: {issues[0].message}; walked on as a group")
                    continue
                parsed[name] = document
        if "zarr.json" in parsed:
            return self._visit_zarr_v3(location, parsed["zarr.json"], subdirectories)
        if ".zarray" in parsed:
            self._add_zarr_v2_array(location, parsed[".zarray"], parsed.get(".zattrs"))
            return []
        if isinstance(parsed.get(".zattrs"), dict) and "multiscales" in parsed[".zattrs"]:
            self._add_ome(location, parsed[".zattrs"], zarr_format=2)
            return []
        if "attributes.json" in parsed:
            return self._visit_n5(location, parsed["attributes.json"], listing, subdirectories)
        if "info" in parsed:
            self._visit_precomputed(location, parsed["info"], listing)
            return []
        return subdirectories

    def _visit_zarr_v3(self, location: S3Location, document: Any, subdirectories: list[S3Location]) -> list:
        node, issues = _parse_model(ZarrV3Node, document, "zarr.json")
        if node is None:
            self.volumes.append(_broken(location, "zarr.json", issues))
            return []
        if node.node_type == "array":
            description = _new_description(location, VolumeFormat.ZARR_V3)
            level, issues = _zarr_level("", location, document, 3)
            self._add_single_array(description, level, issues, node.dimension_names, node.attributes)
            return []
        ome = node.attributes.get("ome")
        if isinstance(ome, dict) and "multiscales" in ome:
            self._add_ome(location, node.attributes, zarr_format=3)
            return []
        return subdirectories

    def _add_zarr_v2_array(self, location: S3Location, document: Any, attributes: Any) -> None:
        description = _new_description(location, VolumeFormat.ZARR_V2)
        level, issues = _zarr_level("", location, document, 2)
        self._add_single_array(description, level, issues, None, attributes if isinstance(attributes, dict) else {})

    def _add_single_array(
        self,
        description: VolumeDescription,
        level: ScaleLevel | None,
        issues: list[ValidationIssue],
        dimension_names: Sequence[str | None] | None,
        attributes: dict[str, Any],
    ) -> None:
        """A plain Zarr array: geometry in voxels unless it carries no spatial metadata at all."""
        description.errors.extend(issues)
        if level is not None:
            description.levels.append(level)
            ndim = len(level.shape)
            names = [name or "" for name in dimension_names] if dimension_names else ["z", "y", "x"][-ndim:]
            if len(names) != ndim:
                description.add_error("dimension_names", f"{len(names)} names for {ndim} dimensions")
            _check_levels(description, ndim, "levels")
            description.axes = "".join(_axis_letter(name, None) for name in names)
            for index, name in enumerate(names[:ndim]):
                if name in AXES:
                    description.shape[name] = level.shape[index]
            description.add_error(
                "attributes", "a plain Zarr array has no voxel size or units; wrap it in an OME-Zarr multiscale group"
            )
        _reclassify(description, annotation=_annotation(attributes))
        self.volumes.append(description)

    def _add_ome(self, location: S3Location, attributes: dict[str, Any], zarr_format: int) -> None:
        volume_format = VolumeFormat.OME_ZARR_04 if zarr_format == 2 else VolumeFormat.OME_ZARR_05
        document = ".zattrs" if zarr_format == 2 else "zarr.json.attributes.ome"
        model = OmeZarr04Attributes if zarr_format == 2 else OmeZarr05Attributes
        parsed, issues = _parse_model(model, attributes, ".zattrs" if zarr_format == 2 else "zarr.json.attributes")
        if parsed is None:
            self.volumes.append(_broken(location, ".zattrs" if zarr_format == 2 else "zarr.json", issues))
            return
        multiscale = parsed.multiscales[0] if zarr_format == 2 else parsed.ome.multiscales[0]
        description = _new_description(location, volume_format)
        metadata_file = ".zarray" if zarr_format == 2 else "zarr.json"
        level_keys = {
            dataset.path: location.child(f"{dataset.path}/{metadata_file}") for dataset in multiscale.datasets
        }
        base_attributes_key = "__base_attributes__"
        if zarr_format == 2:
            level_keys[base_attributes_key] = location.child(f"{multiscale.datasets[0].path}/.zattrs")

        def finish(documents: dict[str, bytes | None]) -> None:
            base_raw = documents.pop(base_attributes_key, None)
            _describe_ome(description, multiscale, documents, zarr_format, f"{document}.multiscales[0]")
            annotation = _annotation(attributes)
            if annotation is None and zarr_format == 3 and description.levels:
                level_document, _ = _parse_json(documents.get(multiscale.datasets[0].path) or b"{}", "zarr.json")
                if isinstance(level_document, dict):
                    annotation = _annotation(level_document.get("attributes"))
            if annotation is None and base_raw is not None:
                base_attributes, _ = _parse_json(base_raw, ".zattrs")
                annotation = _annotation(base_attributes)
            _reclassify(description, annotation=annotation)

        self.candidates.append(_Candidate(description, level_keys, finish))

    def _visit_n5(
        self, location: S3Location, document: Any, listing: DirectoryListing, subdirectories: list[S3Location]
    ) -> list[S3Location]:
        attributes, issues = _parse_model(N5Attributes, document, "attributes.json")
        if attributes is None:
            self.volumes.append(_broken(location, "attributes.json", issues))
            return []
        description = _new_description(location, VolumeFormat.N5)
        if attributes.is_array:
            _describe_n5(description, None, [""], {"": json.dumps(document).encode()})
            _reclassify(description, annotation=_annotation(document))
            self.volumes.append(description)
            return []
        paths = _n5_level_paths(attributes, listing)
        is_multiscale = bool(attributes.multiscales or attributes.scales or attributes.downsampling_factors)
        if not is_multiscale and not (paths and paths[0] == "s0"):
            return subdirectories
        level_keys = {path: location.child(f"{path}/attributes.json") for path in paths}

        def finish(documents: dict[str, bytes | None]) -> None:
            base = _describe_n5(description, attributes, paths, documents)
            base_annotation = _annotation(base.model_extra if base is not None else None)
            _reclassify(description, annotation=_annotation(document) or base_annotation)

        self.candidates.append(_Candidate(description, level_keys, finish))
        return []

    def _visit_precomputed(self, location: S3Location, document: Any, listing: DirectoryListing) -> None:
        if isinstance(document, dict) and ("scales" not in document or document.get("@type", "").endswith("mesh")):
            return
        info, issues = _parse_model(PrecomputedInfo, document, "info")
        if info is None:
            self.volumes.append(_broken(location, "info", issues))
            return
        description = _new_description(location, VolumeFormat.PRECOMPUTED)
        _describe_precomputed(description, info, listing)
        _reclassify(description, precomputed_type=info.type)
        if not info.mesh:
            self.volumes.append(description)
            return
        mesh_location = location.child(info.mesh)

        def finish(documents: dict[str, bytes | None]) -> None:
            mesh_info, _ = _parse_json(documents.get("mesh") or b"{}", "mesh info")
            mesh_type = mesh_info.get("@type") if isinstance(mesh_info, dict) else None
            mesh_format = MESH_FORMATS.get(mesh_type or "neuroglancer_legacy_mesh")
            if mesh_format is None:
                description.add_error("info.mesh", f"unknown mesh type {mesh_type!r}")
                return
            description.meshes.append(MeshDescription(info.mesh, mesh_location, mesh_format))

        self.candidates.append(_Candidate(description, {"mesh": mesh_location.child("info")}, finish))


def discover(reader: S3Reader, root: S3Location, warnings: list[str] | None = None) -> list[VolumeDescription]:
    """Every volume at or below ``root``, sorted by URL; problems that are not a volume's go to ``warnings``."""
    walker = _Walker(reader)
    volumes = walker.walk(root)
    if warnings is not None:
        warnings.extend(walker.warnings)
    return volumes
