"""Neuroglancer viewer states from catalog data: pure functions, no database, no I/O.

Every state is built with the ``neuroglancer`` package's ``ViewerState`` and layer classes
and emitted with ``to_json()``, so each one is a state that package parses.

Coordinates, one convention for every state: the global coordinate space is a voxel grid
with axes x, y, z in metres. It is the dataset's voxel size (the crop's label voxel size in
a crop state; for a dataset without one, the first catalogued volume scale, else 1 nm).
Without a known extent a state is centred on the dataset's first crop, else Neuroglancer
centres it on the data. Positions, bounding boxes and zoom levels are expressed in those
voxels, so stepping through z moves one slice; a framed position sits on the centre of a
voxel of the data it frames. Neuroglancer scales every source to the global grid, so
anisotropic data (40 x 10 x 10 nm, 4 x 4 x 5.24 nm) keeps its true proportions.

Placement: the source's own metadata wins. Neuroglancer (2.41, ``src/datasource``) already
places a source by what its metadata says: OME-Zarr 0.4/0.5 by the multiscales scale and
translation, where the translation is the centre of voxel 0 (so voxel 0 spans translation
+- scale / 2); precomputed by its ``voxel_offset`` (voxel corners); N5 and plain Zarr at the
origin (it reads no offset from N5 attributes). Ingest records a volume's translation from
that same metadata (the ``voxel_offset`` of precomputed, the OME or CellMap N5 transform), so
a layer's transform adds the catalogued translation only where the metadata does not carry
it: for N5 and plain Zarr. A source whose voxel size the catalog knows gets an explicit
transform: its input dimensions are ``|scale|`` per axis and the matrix diagonal is the sign
of the scale. A negative scale (only OpenOrganelle's layer transforms have them) flips that
axis and is applied as OpenOrganelle's own viewer applies it: mirrored, then shifted by the
catalogued translation on top of the source's placement. A source without a catalogued scale
keeps the placement its metadata gives it. Crop labels are OME-Zarr too: a crop's box spans
``translation - voxel / 2`` to that plus ``shape * voxel``, the label voxels as drawn.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import neuroglancer
from neuroglancer.json_wrappers import JsonObjectWrapper

from catalog.errors import ConflictError, InvalidRequestError

AXES = ("x", "y", "z")
NANOMETRE = 1e-9
FALLBACK_VOXEL_NM: tuple[float, float, float] = (1.0, 1.0, 1.0)
PANEL_PIXELS = 400
"""On-screen size (pixels) that a fitted volume spans in one panel of the 4panel layout."""
PROJECTION_MARGIN = 1.5
"""The 3D panel shows this multiple of the volume's largest side."""
MAX_DEFAULT_VISIBLE_SEGMENTATIONS = 5
LAYER_BAR_CAPACITY = 12
"""With more layers than this, the hidden ones are archived: listed in the layer panel, one click
away, but out of the layer bar (a dataset such as jrc_hela-2 has 77 layers)."""

Vec3 = tuple[float, float, float]

SOURCE_PREFIXES = {
    "ome-zarr-0.4": "zarr",
    "zarr-v2": "zarr",
    "ome-zarr-0.5": "zarr3",
    "zarr-v3": "zarr3",
    "n5": "n5",
    "precomputed": "precomputed",
}
"""Catalog format -> Neuroglancer data source prefix."""
UNSTREAMABLE_FORMATS = {"tiff": "TIFF", "hdf5": "HDF5"}
OME_FORMATS = {"ome-zarr-0.4", "ome-zarr-0.5"}
OFFSET_IN_METADATA = OME_FORMATS | {"precomputed"}
"""Formats whose metadata Neuroglancer reads an offset from; their layers add no translation."""
CENTRED_FORMATS = OME_FORMATS
"""Formats whose translation is the centre of voxel 0, not its corner (OME-Zarr)."""
REMOTE_SCHEMES = {"s3", "gs", "http", "https"}
DTYPE_RANGES: dict[str, tuple[float, float]] = {
    "uint8": (0, 255),
    "int8": (-128, 127),
    "uint16": (0, 65535),
    "int16": (-32768, 32767),
    "uint32": (0, 4294967295),
    "int32": (-2147483648, 2147483647),
    "float32": (0.0, 1.0),
    "float64": (0.0, 1.0),
}
"""Contrast used when the catalog has none: the data type's range (uint16 is not 0..255)."""
INTEGER_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32"}
PRIMARY_IMAGE_CONTENT = ("em", "lm")
CROP_BOX_COLOUR = "#ffff00"
WHITE = "#ffffff"
"""A white image is plain greyscale: it gets Neuroglancer's default shader."""
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
URL_SAFE_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
"""What ``urllib.parse.quote(..., safe="")`` leaves as it is."""


class NotViewableError(ConflictError):
    """A volume's metadata cannot make a valid layer (409); ``field`` names what is wrong.

    ``invalid`` separates broken metadata (unknown format, zero scale) from data that is
    fine but not streamable by Neuroglancer (TIFF, HDF5, a local path).
    """

    def __init__(self, field: str, message: str, *, invalid: bool = False) -> None:
        super().__init__(message, [{"field": field, "message": message}])
        self.field = field
        self.message = message
        self.invalid = invalid

    def as_error(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class NothingToShowError(ConflictError):
    """A state of several volumes would have no layer (409): each left-out volume is listed in
    ``errors`` with its reason, and the detail groups the reasons so a page can show it."""

    field = "volumes"

    def __init__(self, what: str, skipped: Sequence[tuple[VolumeInfo, NotViewableError]]) -> None:
        if not skipped:
            super().__init__(f"This {what} has no volumes to show.")
            return
        by_reason: dict[str, list[str]] = {}
        for volume, error in skipped:
            by_reason.setdefault(error.message, []).append(volume.name)
        reasons = " ".join(
            f"{', '.join(names) if len(names) <= 3 else f'{len(names)} volumes'}: {message}"
            for message, names in by_reason.items()
        )
        super().__init__(
            f"None of the volumes of this {what} can be shown in Neuroglancer. {reasons}",
            [{"volume": info.id, "name": info.name, **error.as_error()} for info, error in skipped],
        )


@dataclass(frozen=True)
class ChannelInfo:
    index: int
    name: str = ""
    colour: str = ""


@dataclass(frozen=True)
class SegmentLabelInfo:
    value: int
    name: str
    colour: str = ""


@dataclass(frozen=True)
class MeshInfo:
    name: str
    url: str
    format: str
    scale: Vec3 = (1.0, 1.0, 1.0)
    translation: Vec3 = (0.0, 0.0, 0.0)
    segment_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class VolumeInfo:
    """What a layer needs to know about one volume (nm per axis, x/y/z order)."""

    id: int
    name: str
    url: str
    format: str
    kind: str
    content_type: str
    dtype: str = ""
    axes: str = ""
    shape: Vec3 | None = None
    scale: Vec3 | None = None
    translation: Vec3 | None = None
    contrast_min: float | None = None
    contrast_max: float | None = None
    contrast_start: float | None = None
    contrast_end: float | None = None
    display_colour: str = ""
    invert_lut: bool = False
    label_class: str = ""
    label_class_colour: str = ""
    catalog_problem: tuple[str, str] | None = None
    """(field, message) the catalog already knows keeps the volume out (broken or missing data)."""
    channels: tuple[ChannelInfo, ...] = ()
    segment_labels: tuple[SegmentLabelInfo, ...] = ()
    meshes: tuple[MeshInfo, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    slug: str
    title: str = ""
    voxel_size: Vec3 | None = None
    extent: Vec3 | None = None
    focus: tuple[Vec3, Vec3] | None = None
    """A box (lower corner, size in nm) to show when the extent is unknown: the first crop."""


@dataclass(frozen=True)
class LabelClassInfo:
    name: str
    label_id: int | None = None
    colour: str = ""


@dataclass(frozen=True)
class CropInfo:
    number: int
    voxel_size: Vec3
    translation: Vec3
    shape: Vec3
    labels_url: str
    format: str = "ome-zarr-0.4"
    label_classes: tuple[LabelClassInfo, ...] = ()

    def label_url(self, class_name: str) -> str:
        return f"{self.labels_url.rstrip('/')}/{class_name}"


@dataclass(frozen=True)
class CuratedViewInfo:
    name: str
    position: Vec3 | None = None
    scale: float | None = None
    orientation: Sequence[float] | None = None


@dataclass
class StateResult:
    """A state plus the volumes left out of it, each with the reason."""

    state: dict
    skipped: list[tuple[VolumeInfo, NotViewableError]] = field(default_factory=list)

    def shown(self, what: str) -> dict:
        """The state, unless it has no layer at all: then ``NothingToShowError`` with every reason.
        The one test of "can this record make a state" that endpoints, pages and the API share."""
        if not self.state.get("layers"):
            raise NothingToShowError(what, self.skipped)
        return self.state


def _number(value: float) -> float:
    """Round away float noise (4 * 1e-9) so states are stable and comparable."""
    return float(f"{value:.12g}")


def _voxel_centre(coordinate: float, origin: float = 0.0) -> float:
    """Snap a position to the centre of the voxel holding it, on a grid whose voxel corners sit
    at ``origin`` + whole voxels (0 for the global grid itself)."""
    return origin + math.floor(coordinate - origin) + 0.5


def _finite(values: Iterable[float | None]) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def storage_url(url: str, s3_endpoint: str = "") -> str:
    """The URL a browser reads ``url`` from.

    ``s3://bucket/key`` stays as is for AWS (Neuroglancer maps it to the public endpoint);
    with an S3-compatible ``s3_endpoint`` it becomes ``<endpoint>/bucket/key`` (path style).
    """
    url = (url or "").strip()
    if not url:
        raise NotViewableError("url", "The volume has no storage location.")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in REMOTE_SCHEMES or not parts.netloc:
        raise NotViewableError(
            "url",
            f"{url!r} is not a remote storage URL (s3://, gs://, http(s)://); Neuroglancer cannot read local files.",
        )
    url = url.rstrip("/")
    if scheme == "s3" and s3_endpoint:
        return f"{s3_endpoint.rstrip('/')}/{parts.netloc}{parts.path.rstrip('/')}"
    return url


def volume_source(url: str, format: str, s3_endpoint: str = "") -> str:
    """The Neuroglancer data source for a volume: format prefix plus storage URL.

    The one place that turns a catalogued location into a viewer source, so the storage
    path shown on the pages and the layer source can never drift apart.
    """
    if not format:
        raise NotViewableError("format", "The volume's format is not known.", invalid=True)
    if format in UNSTREAMABLE_FORMATS:
        raise NotViewableError(
            "format",
            f"{UNSTREAMABLE_FORMATS[format]} volumes cannot be streamed by Neuroglancer; "
            "convert them to OME-Zarr to view them.",
        )
    prefix = SOURCE_PREFIXES.get(format)
    if prefix is None:
        raise NotViewableError("format", f"Unknown volume format {format!r}.", invalid=True)
    return f"{prefix}://{storage_url(url, s3_endpoint)}"


def mesh_source(url: str, s3_endpoint: str = "") -> str:
    """Precomputed meshes (legacy or multi-LOD Draco) are both read by the precomputed source."""
    return f"precomputed://{storage_url(url, s3_endpoint)}"


def check_volume(volume: VolumeInfo, s3_endpoint: str = "") -> str:
    """Raise ``NotViewableError`` when the volume cannot make a layer; else return its source."""
    if volume.catalog_problem is not None:
        field_name, message = volume.catalog_problem
        raise NotViewableError(field_name, message, invalid=True)
    if not (volume.url or "").strip():
        raise NotViewableError("url", "The volume has no storage location.")
    source = volume_source(volume.url, volume.format, s3_endpoint)
    for name, vector in (("scale", volume.scale), ("translation", volume.translation), ("shape", volume.shape)):
        if vector is not None and not _finite(vector):
            raise NotViewableError(name, f"The volume's {name} is not a finite number per axis.", invalid=True)
    if volume.scale is not None and any(v == 0 for v in volume.scale):
        raise NotViewableError("scale", "A voxel size of zero cannot be displayed.", invalid=True)
    if volume.shape is not None and any(v <= 0 for v in volume.shape):
        raise NotViewableError("shape", "Every axis of the shape must be positive.", invalid=True)
    contrast = (volume.contrast_min, volume.contrast_max, volume.contrast_start, volume.contrast_end)
    if not all(v is None or math.isfinite(v) for v in contrast):
        raise NotViewableError("contrast", "The display contrast is not a finite number.", invalid=True)
    return source


def global_voxel_size(dataset: DatasetInfo, volumes: Sequence[VolumeInfo] = ()) -> Vec3:
    """The voxel grid of a state (nm): the dataset's, else the first catalogued volume scale, else 1 nm.

    A grid is always named, even a guessed one: without ``dimensions`` Neuroglancer takes
    them from the first source in array order (z, y, x), and its "xy" panel would show z-y.
    """
    candidates = [dataset.voxel_size]
    candidates += [tuple(abs(v) for v in volume.scale) for volume in _order(volumes) if _finite(volume.scale or [None])]
    for candidate in candidates:
        if candidate is not None and _finite(candidate) and all(v > 0 for v in candidate):
            return candidate  # type: ignore[return-value]
    return FALLBACK_VOXEL_NM


def coordinate_space(voxel_nm: Vec3) -> neuroglancer.CoordinateSpace:
    return neuroglancer.CoordinateSpace(names=list(AXES), units="m", scales=[_number(v * NANOMETRE) for v in voxel_nm])


def _rgb_channels(volume: VolumeInfo) -> bool:
    """Shown as RGB in one layer: several channels along an OME channel axis ``c``."""
    return len(volume.channels) >= 2 and "c" in volume.axes and volume.format in OME_FORMATS


def added_offset(volume: VolumeInfo, axis: int) -> float:
    """What a layer's transform adds to the source's own placement on one axis (nm).

    The catalogued translation where Neuroglancer reads no offset from the metadata (N5, plain
    Zarr) or where the axis is flipped (OpenOrganelle's layer transform); nothing where the
    metadata already carries it (OME-Zarr, precomputed): adding it there would shift twice.
    """
    translation = (volume.translation or (0.0, 0.0, 0.0))[axis]
    flipped = volume.scale is not None and volume.scale[axis] < 0
    if flipped or volume.format not in OFFSET_IN_METADATA:
        return translation
    return 0.0


def source_transform(volume: VolumeInfo, voxel_nm: Vec3) -> neuroglancer.CoordinateSpaceTransform | None:
    """Place a volume on the global grid: its catalogued scale and flips, and the offset its
    metadata lacks (``added_offset``).

    None when the catalog has no scale: the source's own metadata then places it. A
    multichannel OME-Zarr also has its channel axis (``c'`` in Neuroglancer) turned into a
    channel dimension ``c^`` so that one shader sees every channel.
    """
    rgb = _rgb_channels(volume)
    if volume.scale is None:
        if not rgb:
            return None
        if any(axis not in (*AXES, "c") for axis in volume.axes):
            return None
        # Without inputDimensions the output dimensions pair up with the source's own, in
        # array order: rename c' to c^ and keep the metadata's placement.
        dims = [
            ("c^", "", 1.0) if a == "c" else (a, "m", _number(voxel_nm[AXES.index(a)] * NANOMETRE)) for a in volume.axes
        ]
        return neuroglancer.CoordinateSpaceTransform(
            output_dimensions=neuroglancer.CoordinateSpace(
                names=[d[0] for d in dims], units=[d[1] for d in dims], scales=[d[2] for d in dims]
            )
        )
    output = coordinate_space(voxel_nm)
    rank = 4 if rgb else 3
    matrix = []
    for i in range(3):
        row = [0.0] * (rank + 1)
        row[i] = -1.0 if volume.scale[i] < 0 else 1.0
        row[rank] = _number(added_offset(volume, i) / voxel_nm[i])
        matrix.append(row)
    inputs = neuroglancer.CoordinateSpace(
        names=list(AXES), units="m", scales=[_number(abs(v) * NANOMETRE) for v in volume.scale]
    )
    if rgb:
        matrix.append([0.0, 0.0, 0.0, 1.0, 0.0])
        inputs = neuroglancer.CoordinateSpace(
            names=[*AXES, "c'"], units=["m", "m", "m", ""], scales=[*inputs.scales, 1.0]
        )
        output = neuroglancer.CoordinateSpace(
            names=[*AXES, "c^"], units=["m", "m", "m", ""], scales=[*output.scales, 1.0]
        )
    return neuroglancer.CoordinateSpaceTransform(input_dimensions=inputs, output_dimensions=output, matrix=matrix)


def _mesh_transform(mesh: MeshInfo, voxel_nm: Vec3) -> neuroglancer.CoordinateSpaceTransform | None:
    if tuple(mesh.scale) == (1.0, 1.0, 1.0) and tuple(mesh.translation) == (0.0, 0.0, 0.0):
        return None
    matrix = []
    for i in range(3):
        row = [0.0, 0.0, 0.0, _number(mesh.translation[i] / voxel_nm[i])]
        row[i] = -1.0 if mesh.scale[i] < 0 else 1.0
        matrix.append(row)
    return neuroglancer.CoordinateSpaceTransform(
        input_dimensions=neuroglancer.CoordinateSpace(
            names=list(AXES), units="m", scales=[_number(abs(v) * NANOMETRE) for v in mesh.scale]
        ),
        output_dimensions=coordinate_space(voxel_nm),
        matrix=matrix,
    )


def _contrast(volume: VolumeInfo) -> tuple[list[float], list[float]] | None:
    """(range, window) for the invlerp control, from the display settings or the data type."""
    default = DTYPE_RANGES.get(volume.dtype)
    start = volume.contrast_start if volume.contrast_start is not None else volume.contrast_min
    end = volume.contrast_end if volume.contrast_end is not None else volume.contrast_max
    if start is None or end is None:
        if default is None:
            return None
        start, end = start if start is not None else default[0], end if end is not None else default[1]
    low = volume.contrast_min if volume.contrast_min is not None else min(start, end)
    high = volume.contrast_max if volume.contrast_max is not None else max(start, end)
    low, high = min(low, start, end), max(high, start, end)
    integral = volume.dtype in INTEGER_DTYPES or all(float(v).is_integer() for v in (start, end, low, high))
    values = [round(v) if integral else _number(v) for v in (start, end, low, high)]
    start, end, low, high = values
    if start == end:
        end = start + 1
        high = max(high, end)
    return [start, end], [low, high]


def _hex_colour(value: str, default: str = "") -> str:
    """A ``#rrggbb`` colour, or ``default``: anything else must never reach shader code."""
    return value.lower() if HEX_COLOUR.fullmatch(value or "") else default


def _colour_shader(colour: str, invert: bool) -> str:
    value = "1.0 - normalized()" if invert else "normalized()"
    lines = ["#uicontrol invlerp normalized"]
    if colour:
        lines.append(f'#uicontrol vec3 color color(default="{colour}")')
        emit = "emitRGB(color * v);"
    else:
        emit = "emitGrayscale(v);"
    return "\n".join([*lines, "void main() {", f"  float v = {value};", f"  {emit}", "}", ""])


def _rgb_shader(channels: Sequence[ChannelInfo], invert: bool) -> str:
    """One invlerp control per channel, each tinted with its catalogued colour."""
    default_colours = ("#ff0000", "#00ff00", "#0000ff")
    lines = []
    body = ["void main() {", "  vec3 rgb = vec3(0.0);"]
    for position, channel in enumerate(channels):
        colour = _hex_colour(channel.colour, default_colours[position % 3])
        lines.append(f"#uicontrol invlerp ch{channel.index}(channel={channel.index})")
        lines.append(f'#uicontrol vec3 color{channel.index} color(default="{colour}")')
        value = f"1.0 - ch{channel.index}()" if invert else f"ch{channel.index}()"
        body.append(f"  rgb += color{channel.index} * ({value});")
    body += ["  emitRGB(min(rgb, vec3(1.0)));", "}", ""]
    return "\n".join(lines + body)


def image_layer(
    volume: VolumeInfo, voxel_nm: Vec3, s3_endpoint: str = "", *, primary: bool = True
) -> neuroglancer.ImageLayer:
    """An image layer with invlerp contrast, inverted LUT, colour or RGB channels.

    A secondary image (a prediction, an extra channel) blends additively over the primary one.
    """
    source = neuroglancer.LayerDataSource(
        url=check_volume(volume, s3_endpoint), transform=source_transform(volume, voxel_nm)
    )
    layer = neuroglancer.ImageLayer(source=[source], opacity=1.0)
    contrast = _contrast(volume)
    if _rgb_channels(volume):
        layer.shader = _rgb_shader(sorted(volume.channels, key=lambda c: c.index), volume.invert_lut)
        if contrast is not None:
            layer.shader_controls = {
                f"ch{c.index}": {"range": contrast[0], "window": contrast[1]} for c in volume.channels
            }
    else:
        colour = _hex_colour(volume.display_colour)
        colour = "" if colour == WHITE else colour
        if colour or volume.invert_lut:
            layer.shader = _colour_shader(colour, volume.invert_lut)
        if contrast is not None:
            layer.shader_controls = {"normalized": {"range": contrast[0], "window": contrast[1]}}
    if not primary:
        layer.blend = "additive"
    return layer


def segmentation_layer(volume: VolumeInfo, voxel_nm: Vec3, s3_endpoint: str = "") -> neuroglancer.SegmentationLayer:
    """A segmentation coloured by its label class, with its meshes as a second source.

    Semantic labels (``SegmentLabel`` rows) get one colour per value and are all listed.
    """
    sources = [
        neuroglancer.LayerDataSource(
            url=check_volume(volume, s3_endpoint), transform=source_transform(volume, voxel_nm)
        )
    ]
    segments: list[int] = []
    for mesh in volume.meshes:
        sources.append(
            neuroglancer.LayerDataSource(
                url=mesh_source(mesh.url, s3_endpoint), transform=_mesh_transform(mesh, voxel_nm)
            )
        )
        segments.extend(mesh.segment_ids)
    layer = neuroglancer.SegmentationLayer(source=sources)
    default_colour = volume.label_class_colour or volume.display_colour
    if default_colour:
        layer.segment_default_color = default_colour
    if volume.segment_labels:
        layer.segment_colors = {label.value: label.colour for label in volume.segment_labels if label.colour}
        segments.extend(label.value for label in volume.segment_labels if label.value != 0)
    if segments:
        layer.segments = sorted(set(segments))
    return layer


def volume_layer(
    volume: VolumeInfo, voxel_nm: Vec3, s3_endpoint: str = "", *, primary: bool = True
) -> neuroglancer.Layer:
    """The layer for one volume, by kind; raises ``NotViewableError`` when there is none."""
    if volume.kind == "image":
        return image_layer(volume, voxel_nm, s3_endpoint, primary=primary)
    if volume.kind in ("segmentation", "mesh"):
        if volume.kind == "mesh":
            check_volume(volume, s3_endpoint)
            return neuroglancer.SegmentationLayer(source=[mesh_source(volume.url, s3_endpoint)])
        return segmentation_layer(volume, voxel_nm, s3_endpoint)
    if volume.kind == "annotation":
        return neuroglancer.AnnotationLayer(source=[check_volume(volume, s3_endpoint)])
    raise NotViewableError("kind", f"Unknown volume kind {volume.kind!r}.", invalid=True)


def volume_extent(volume: VolumeInfo) -> tuple[Vec3, Vec3] | None:
    """(lower corner, size) in nm of the voxels as Neuroglancer draws them (see the module's
    placement rules), when shape and scale are both known."""
    translation = volume.translation or (0.0, 0.0, 0.0)
    if volume.shape is None or volume.scale is None or not _finite((*volume.shape, *volume.scale, *translation)):
        return None
    starts = [
        translation[i] - volume.scale[i] / 2
        if volume.scale[i] > 0 and volume.format in CENTRED_FORMATS
        else translation[i]
        for i in range(3)
    ]
    ends = [starts[i] + volume.shape[i] * volume.scale[i] for i in range(3)]
    lower = tuple(min(starts[i], ends[i]) for i in range(3))
    size = tuple(abs(volume.shape[i] * volume.scale[i]) for i in range(3))
    return lower, size  # type: ignore[return-value]


def _frame(state: neuroglancer.ViewerState, box: tuple[Vec3, Vec3] | None, voxel_nm: Vec3) -> None:
    """Centre the view on a box (lower corner, size in nm) and zoom so it fills a panel.

    The position is the centre of the box's middle voxel, counted from the box's own corner,
    so a slice shows whole voxels of the framed data, not the seam between two of them.
    """
    if box is None:
        return
    lower, size = box
    state.position = [
        _number(_voxel_centre((lower[i] + size[i] / 2) / voxel_nm[i], origin=(lower[i] / voxel_nm[i]) % 1.0))
        for i in range(3)
    ]
    largest = max(size)
    if largest > 0:
        canonical = min(voxel_nm)
        state.cross_section_scale = _number(largest / canonical / PANEL_PIXELS)
        state.projection_scale = _number(largest / canonical * PROJECTION_MARGIN)


def _new_state(voxel_nm: Vec3) -> neuroglancer.ViewerState:
    state = neuroglancer.ViewerState()
    state.dimensions = coordinate_space(voxel_nm)
    state.layout = "4panel"
    return state


def _archive_hidden_when_crowded(state: neuroglancer.ViewerState) -> None:
    """Above ``LAYER_BAR_CAPACITY`` layers, archive the hidden ones (Neuroglancer's ``archived``
    flag): the layer bar then shows what is on screen and the rest waits in the layer list."""
    if len(state.layers) <= LAYER_BAR_CAPACITY:
        return
    for layer in state.layers:
        if not layer.visible:
            layer.archived = True


def _emit(state: neuroglancer.ViewerState, checked: bool = True) -> dict:
    """The state as JSON, round-tripped through ``ViewerState`` so only parseable states leave.

    ``checked=False`` skips that round trip (two thirds of the cost) for callers that only
    measure the state: parsing returns the JSON unchanged, so the measure is the same.
    """
    _archive_hidden_when_crowded(state)
    data = json.loads(json.dumps(state.to_json()))
    return parse_state(data) if checked else data


@functools.cache
def _wrapped_properties(cls: type) -> tuple[str, ...]:
    return tuple(
        name
        for name in dir(cls)
        if not name.startswith("_") and isinstance(inspect.getattr_static(cls, name), property)
    )


def _read_fully(value: object, depth: int = 0) -> None:
    """Touch every property so the package converts (and so validates) the whole state;
    ``ViewerState`` itself only converts what is read."""
    if depth > 32 or isinstance(value, str | bytes | int | float | type(None)):
        return
    if isinstance(value, neuroglancer.ManagedLayer):
        _read_fully(value.layer, depth + 1)
        _read_fully(value.visible, depth + 1)
        return
    if isinstance(value, JsonObjectWrapper):
        for name in _wrapped_properties(type(value)):
            _read_fully(getattr(value, name), depth + 1)
        return
    if isinstance(value, dict):
        children: Iterable = value.values()
    elif hasattr(value, "values") and callable(value.values):
        children = value.values()
    elif hasattr(value, "__iter__"):
        children = list(value)  # type: ignore[call-overload]
    else:
        return
    for child in children:
        _read_fully(child, depth + 1)


def parse_state(data: dict) -> dict:
    """Check that the ``neuroglancer`` package reads all of ``data``; return it unchanged.

    Raises whatever the package raises for a state it cannot read.
    """
    if not isinstance(data, dict):
        raise TypeError("A viewer state is a JSON object.")
    _read_fully(neuroglancer.ViewerState(data))
    return data


def _dataset_box(dataset: DatasetInfo) -> tuple[Vec3, Vec3] | None:
    if dataset.extent is None or not _finite(dataset.extent) or not all(v > 0 for v in dataset.extent):
        return None
    return (0.0, 0.0, 0.0), dataset.extent


def _is_primary_image(volume: VolumeInfo) -> bool:
    return volume.kind == "image" and volume.content_type in PRIMARY_IMAGE_CONTENT


def _order(volumes: Iterable[VolumeInfo]) -> list[VolumeInfo]:
    """Draw order: EM/LM images first (underneath), then everything else in the given order."""
    volumes = list(volumes)
    return [v for v in volumes if _is_primary_image(v)] + [v for v in volumes if not _is_primary_image(v)]


def _add_layers(
    state: neuroglancer.ViewerState,
    volumes: Sequence[VolumeInfo],
    voxel_nm: Vec3,
    s3_endpoint: str,
    visible: set[int] | None,
) -> list[tuple[VolumeInfo, NotViewableError]]:
    skipped = []
    primary_seen = False
    for volume in _order(volumes):
        try:
            primary = _is_primary_image(volume) and not primary_seen
            layer = volume_layer(volume, voxel_nm, s3_endpoint, primary=primary)
        except NotViewableError as error:
            skipped.append((volume, error))
            continue
        primary_seen = primary_seen or primary
        shown = visible is None or volume.id in visible
        state.layers.append(name=volume.name, layer=layer, visible=shown)
    if len(state.layers):
        state.selected_layer.layer = state.layers[0].name
    return skipped


def default_visible(volumes: Sequence[VolumeInfo], s3_endpoint: str = "") -> set[int]:
    """Volumes shown when a dataset opens: its first viewable EM/LM image and a few segmentations.

    Organelle segmentations with meshes (the curated, rendered ones) come first, then other
    segmentations, then analyses (contact sites); predictions and further images are listed
    but hidden.
    """
    viewable = []
    for volume in volumes:
        try:
            check_volume(volume, s3_endpoint)
        except NotViewableError:
            continue
        viewable.append(volume)
    shown: set[int] = set()
    images = [v for v in viewable if _is_primary_image(v)]
    if images:
        shown.add(images[0].id)
    segmentations = [v for v in viewable if v.kind == "segmentation" and v.content_type != "prediction"]
    segmentations.sort(key=lambda v: (v.content_type != "segmentation", not v.meshes))
    shown.update(v.id for v in segmentations[:MAX_DEFAULT_VISIBLE_SEGMENTATIONS])
    if not shown and viewable:
        shown.add(viewable[0].id)
    return shown


def volume_state(dataset: DatasetInfo, volume: VolumeInfo, s3_endpoint: str = "", *, checked: bool = True) -> dict:
    """One volume, centred on itself (or on the dataset when its size is unknown)."""
    voxel_nm = global_voxel_size(dataset, [volume])
    state = _new_state(voxel_nm)
    layer = volume_layer(volume, voxel_nm, s3_endpoint)
    state.layers.append(name=volume.name, layer=layer)
    state.selected_layer.layer = volume.name
    _frame(state, volume_extent(volume) or _dataset_box(dataset) or dataset.focus, voxel_nm)
    return _emit(state, checked)


def _combined_box(dataset: DatasetInfo, volumes: Sequence[VolumeInfo]) -> tuple[Vec3, Vec3] | None:
    """What to frame: the dataset's extent, else the first volume of known size, else its focus."""
    box = _dataset_box(dataset)
    if box is not None:
        return box
    for volume in _order(volumes):
        extent = volume_extent(volume)
        if extent is not None:
            return extent
    return dataset.focus


def dataset_state(
    dataset: DatasetInfo,
    volumes: Sequence[VolumeInfo],
    s3_endpoint: str = "",
    crops: Sequence[CropInfo] = (),
    *,
    checked: bool = True,
) -> StateResult:
    """The dataset's image plus every segmentation, prediction and mesh; a default subset visible.

    With ``crops``, a last layer outlines every annotated crop (labelled ``crop<N>``), so the
    ground truth can be found in the whole volume.
    """
    voxel_nm = global_voxel_size(dataset, volumes)
    state = _new_state(voxel_nm)
    skipped = _add_layers(state, volumes, voxel_nm, s3_endpoint, default_visible(volumes, s3_endpoint))
    if state.layers and crops:
        boxes = []
        for crop in crops:
            lower, size = crop_box(crop)
            boxes.append(
                neuroglancer.AxisAlignedBoundingBoxAnnotation(
                    id=f"crop{crop.number}",
                    point_a=[_number(lower[i] / voxel_nm[i]) for i in range(3)],
                    point_b=[_number((lower[i] + size[i]) / voxel_nm[i]) for i in range(3)],
                    description=f"crop{crop.number}",
                )
            )
        state.layers.append(
            name="crops",
            layer=neuroglancer.LocalAnnotationLayer(
                dimensions=coordinate_space(voxel_nm), annotation_color=CROP_BOX_COLOUR, annotations=boxes
            ),
        )
    _frame(state, _combined_box(dataset, volumes), voxel_nm)
    return StateResult(_emit(state, checked), skipped)


def custom_state(dataset: DatasetInfo, volumes: Sequence[VolumeInfo], s3_endpoint: str = "") -> StateResult:
    """Any chosen volumes of one dataset, all visible (the layer picker's state)."""
    voxel_nm = global_voxel_size(dataset, volumes)
    state = _new_state(voxel_nm)
    skipped = _add_layers(state, volumes, voxel_nm, s3_endpoint, None)
    _frame(state, _combined_box(dataset, volumes), voxel_nm)
    return StateResult(_emit(state), skipped)


def _quaternion(orientation: Sequence[float] | None) -> list[float] | None:
    """A unit quaternion [x, y, z, w], or None when the value is not a usable rotation."""
    if orientation is None or len(orientation) != 4:
        return None
    try:
        values = [float(v) for v in orientation]
    except (TypeError, ValueError):
        return None
    norm = math.sqrt(sum(v * v for v in values))
    if not math.isfinite(norm) or norm == 0:
        return None
    return [_number(v / norm) for v in values]


def curated_view_state(
    dataset: DatasetInfo,
    view: CuratedViewInfo,
    volumes: Sequence[VolumeInfo],
    s3_endpoint: str = "",
    *,
    checked: bool = True,
) -> StateResult:
    """A curated view: its layers (images drawn first), position, zoom and orientation."""
    voxel_nm = global_voxel_size(dataset, volumes)
    state = _new_state(voxel_nm)
    skipped = _add_layers(state, volumes, voxel_nm, s3_endpoint, None)
    _frame(state, _combined_box(dataset, volumes), voxel_nm)
    if view.position is not None and _finite(view.position):
        state.position = [_voxel_centre(view.position[i] / voxel_nm[i]) for i in range(3)]
    if view.scale is not None and math.isfinite(view.scale) and view.scale > 0:
        state.cross_section_scale = _number(view.scale / min(voxel_nm))
    orientation = _quaternion(view.orientation)
    if orientation is not None:
        state.cross_section_orientation = orientation
    return StateResult(_emit(state, checked), skipped)


def crop_label_layers(
    crop: CropInfo, voxel_nm: Vec3, s3_endpoint: str = ""
) -> list[tuple[str, neuroglancer.SegmentationLayer, bool]]:
    """The crop's ``all`` array first (every class in its colour), then one layer per class.

    The label arrays carry their own OME-Zarr placement, so they get no transform. A test
    crop (ground truth withheld) has no labels location and so no label layers.
    """
    if not crop.labels_url.strip():
        return []
    prefix = SOURCE_PREFIXES[crop.format]
    coloured = {c.label_id: c.colour for c in crop.label_classes if c.label_id is not None and c.colour}
    all_layer = neuroglancer.SegmentationLayer(source=[f"{prefix}://{storage_url(crop.label_url('all'), s3_endpoint)}"])
    if coloured:
        all_layer.segment_colors = coloured
        all_layer.segments = sorted(coloured)
    layers = [(f"crop{crop.number}/all", all_layer, True)]
    for label_class in crop.label_classes:
        layer = neuroglancer.SegmentationLayer(
            source=[f"{prefix}://{storage_url(crop.label_url(label_class.name), s3_endpoint)}"]
        )
        if label_class.colour:
            layer.segment_default_color = label_class.colour
        layers.append((f"crop{crop.number}/{label_class.name}", layer, False))
    return layers


PREDICTION_SCHEMES = ("s3", "gs", "https", "http")
"""Where a user's prediction may live: storage the viewer reads itself (never the server)."""
PREDICTION_URL_MAX = 2000
PREDICTION_PREFIXES = ("zarr", "zarr2", "zarr3")
PREDICTION_KINDS = ("segmentation", "image")


@dataclass(frozen=True)
class PredictionInfo:
    """A user's prediction array to overlay: an OME-Zarr URL and how to show it."""

    url: str
    kind: str = "segmentation"
    prefix: str = "zarr"


def parse_prediction(url: str, kind: str | None = None) -> PredictionInfo:
    """Check a prediction URL from a request: an OME-Zarr on s3://, gs:// or http(s)://, at most
    ``PREDICTION_URL_MAX`` characters, optionally with a ``zarr://``, ``zarr2://`` or ``zarr3://``
    prefix (default ``zarr://``: Neuroglancer detects the Zarr version). Only text is checked:
    the viewer reads the array, never the server."""
    text = (url or "").strip()
    if not text:
        raise InvalidRequestError.on(
            "prediction", "Give the prediction's OME-Zarr URL, e.g. s3://bucket/pred.zarr/nuc."
        )
    if len(text) > PREDICTION_URL_MAX:
        raise InvalidRequestError.on(
            "prediction", f"The prediction URL has {len(text)} characters; at most {PREDICTION_URL_MAX} are accepted."
        )
    if any(ord(character) < 33 or ord(character) == 127 for character in text):
        raise InvalidRequestError.on("prediction", "The prediction URL contains spaces or control characters.")
    prefix = "zarr"
    head, marker, rest = text.partition("://")
    if marker and head.lower() in PREDICTION_PREFIXES and "://" in rest:
        prefix, text = head.lower(), rest
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in PREDICTION_SCHEMES or not parts.netloc:
        raise InvalidRequestError.on(
            "prediction",
            f"The prediction must be an OME-Zarr at an {', '.join(f'{s}://' for s in PREDICTION_SCHEMES)} URL "
            "that the viewer can read.",
        )
    chosen = kind or "segmentation"
    if chosen not in PREDICTION_KINDS:
        raise InvalidRequestError.on("prediction_type", f"prediction_type is one of {', '.join(PREDICTION_KINDS)}.")
    return PredictionInfo(url=text, kind=chosen, prefix=prefix)


def prediction_layer(
    prediction: PredictionInfo, s3_endpoint: str = ""
) -> neuroglancer.SegmentationLayer | neuroglancer.ImageLayer:
    """The prediction as a layer placed by its own OME metadata (no transform added)."""
    source = f"{prediction.prefix}://{storage_url(prediction.url, s3_endpoint)}"
    if prediction.kind == "image":
        return neuroglancer.ImageLayer(source=[source])
    return neuroglancer.SegmentationLayer(source=[source])


def crop_box(crop: CropInfo) -> tuple[Vec3, Vec3]:
    """(lower corner, size) in nm of the crop's label voxels as Neuroglancer draws them: an
    OME-Zarr translation is the centre of voxel 0, so the box starts half a voxel before it."""
    centred = crop.format in CENTRED_FORMATS
    lower = tuple(crop.translation[i] - (crop.voxel_size[i] / 2 if centred else 0.0) for i in range(3))
    return lower, tuple(crop.shape[i] * crop.voxel_size[i] for i in range(3))  # type: ignore[return-value]


def crop_state(
    dataset: DatasetInfo,
    crop: CropInfo,
    images: Sequence[VolumeInfo],
    s3_endpoint: str = "",
    *,
    checked: bool = True,
    prediction: PredictionInfo | None = None,
) -> StateResult:
    """The dataset's EM/LM, the crop's labels and its bounding box, centred on the crop
    on a grid of the crop's label voxels; with ``prediction``, the user's array over them
    (visible and selected, beside the ground truth to compare)."""
    if not (_finite(crop.voxel_size) and all(v > 0 for v in crop.voxel_size)):
        raise NotViewableError("voxel_size", "The crop's voxel size must be positive.", invalid=True)
    if not (_finite(crop.translation) and _finite(crop.shape)):
        raise NotViewableError("translation", "The crop's geometry is not finite.", invalid=True)
    voxel_nm = crop.voxel_size
    state = _new_state(voxel_nm)
    skipped = _add_layers(state, [v for v in images if _is_primary_image(v)][:1], voxel_nm, s3_endpoint, None)
    for name, layer, visible in crop_label_layers(crop, voxel_nm, s3_endpoint):
        state.layers.append(name=name, layer=layer, visible=visible)
    if not state.layers:
        raise NotViewableError(
            "labels_url",
            "The crop's labels are withheld and none of its dataset's EM or LM images can be shown in Neuroglancer.",
        )
    lower, size = crop_box(crop)
    upper = [lower[i] + size[i] for i in range(3)]
    state.layers.append(
        name=f"crop{crop.number} box",
        layer=neuroglancer.LocalAnnotationLayer(
            dimensions=coordinate_space(voxel_nm),
            annotation_color=CROP_BOX_COLOUR,
            annotations=[
                neuroglancer.AxisAlignedBoundingBoxAnnotation(
                    id=f"crop{crop.number}",
                    point_a=[_number(lower[i] / voxel_nm[i]) for i in range(3)],
                    point_b=[_number(upper[i] / voxel_nm[i]) for i in range(3)],
                    description=f"crop{crop.number}",
                )
            ],
        ),
    )
    if prediction is not None:
        state.layers.append(name="prediction", layer=prediction_layer(prediction, s3_endpoint), visible=True)
        state.selected_layer.layer = "prediction"
    elif any(layer.name == f"crop{crop.number}/all" for layer in state.layers):
        state.selected_layer.layer = f"crop{crop.number}/all"
    _frame(state, (lower, size), voxel_nm)
    return StateResult(_emit(state, checked), skipped)


def viewer_url(viewer_base: str, state_url: str) -> str:
    """``<viewer>#!<state URL>``: Neuroglancer fetches the state from the URL."""
    return f"{viewer_base}#!{state_url}"


def inline_fragment(state: dict) -> str:
    """The URL-encoded compact JSON of a state: what follows ``#!`` in an inline link."""
    return urllib.parse.quote(json.dumps(state, separators=(",", ":")), safe="")


def inline_fragment_length(state: dict) -> int:
    """``len(inline_fragment(state))`` without building it: the JSON is ASCII and every byte
    outside ``quote``'s always-safe set becomes three characters (``%XX``)."""
    data = json.dumps(state, separators=(",", ":")).encode("ascii")
    return len(data) + 2 * len(data.translate(None, URL_SAFE_BYTES))


def inline_url_length(viewer_base: str, fragment_length: int) -> int:
    """Characters of ``<viewer>#!<fragment>``, from the fragment's length alone."""
    return len(viewer_base) + len("#!") + fragment_length


def inline_neuroglancer_url(viewer_base: str, state: dict) -> str:
    """``<viewer>#!<url-encoded JSON>``: the whole state in the link, for copy and paste."""
    return f"{viewer_base}#!{inline_fragment(state)}"
