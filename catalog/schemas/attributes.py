"""Pydantic models of the attribute documents that describe volumes in S3.

OME-NGFF 0.4 ``.zattrs`` and OME-Zarr 0.5 ``zarr.json`` multiscales, Zarr v2 ``.zarray``,
Zarr v3 array ``zarr.json``, N5 ``attributes.json`` (arrays and the n5-viewer, BigDataViewer
and Janelia/CellMap multiscale conventions), Neuroglancer precomputed ``info`` and CellMap's
``cellmap.annotation``. Unknown keys are kept (``extra="allow"``): producers add their own and
the documents are only read, never written back.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, field_validator


class AttributeModel(BaseModel):
    """Geometry (scales, offsets, resolutions) must be finite numbers: NaN or infinity is a broken document."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)


# --- OME-NGFF / OME-Zarr -------------------------------------------------------------


class OmeAxis(AttributeModel):
    name: str
    type: str | None = None
    unit: str | None = None


class ScaleTransformation(AttributeModel):
    type: Literal["scale"]
    scale: list[float] = Field(min_length=1)


class TranslationTransformation(AttributeModel):
    type: Literal["translation"]
    translation: list[float] = Field(min_length=1)


class IdentityTransformation(AttributeModel):
    type: Literal["identity"]


Transformation = Annotated[
    ScaleTransformation | TranslationTransformation | IdentityTransformation, Field(discriminator="type")
]


class OmeDataset(AttributeModel):
    path: str = Field(min_length=1)
    coordinate_transformations: list[Transformation] = Field(alias="coordinateTransformations", min_length=1)


class OmeMultiscale(AttributeModel):
    version: str | None = None
    name: str | None = None
    type: str | None = None
    axes: list[OmeAxis] = Field(min_length=2, max_length=5)
    datasets: list[OmeDataset] = Field(min_length=1)
    coordinate_transformations: list[Transformation] | None = Field(default=None, alias="coordinateTransformations")


class OmeZarr04Attributes(AttributeModel):
    """``.zattrs`` of an OME-NGFF 0.4 image group."""

    multiscales: list[OmeMultiscale] = Field(min_length=1)


class OmeMetadata05(AttributeModel):
    version: str
    multiscales: list[OmeMultiscale] = Field(min_length=1)


class OmeZarr05Attributes(AttributeModel):
    """``attributes`` of an OME-Zarr 0.5 group's ``zarr.json``."""

    ome: OmeMetadata05


# --- Zarr arrays -----------------------------------------------------------------------


class ZarrV2Array(AttributeModel):
    """A Zarr v2 ``.zarray`` document."""

    zarr_format: Literal[2]
    shape: list[int]
    chunks: list[int]
    dtype: str | list[Any]
    compressor: dict[str, Any] | None = None
    filters: list[dict[str, Any]] | None = None
    order: Literal["C", "F"] = "C"
    fill_value: Any = None
    dimension_separator: Literal[".", "/"] = "."


class ZarrV3ChunkGridConfiguration(AttributeModel):
    chunk_shape: list[int]


class ZarrV3ChunkGrid(AttributeModel):
    name: str
    configuration: ZarrV3ChunkGridConfiguration


class ZarrV3Node(AttributeModel):
    """A Zarr v3 ``zarr.json`` (array or group)."""

    zarr_format: Literal[3]
    node_type: Literal["array", "group"]
    attributes: dict[str, Any] = Field(default_factory=dict)
    shape: list[int] | None = None
    data_type: str | dict[str, Any] | None = None
    chunk_grid: ZarrV3ChunkGrid | None = None
    codecs: list[dict[str, Any]] | None = None
    dimension_names: list[str | None] | None = None


# --- N5 ------------------------------------------------------------------------------


class N5Compression(AttributeModel):
    type: str


class N5PixelResolution(AttributeModel):
    dimensions: list[float] = Field(min_length=1)
    unit: str | None = None


class N5Transform(AttributeModel):
    """CellMap/COSEM spatial transform: per named axis a unit, a scale and a translation."""

    axes: list[str] = Field(min_length=1)
    units: list[str] = Field(min_length=1)
    scale: list[float] = Field(min_length=1)
    translate: list[float] = Field(min_length=1)
    order: Literal["C", "F"] | None = Field(default=None, alias="ordering")


class N5MultiscaleDataset(AttributeModel):
    path: str = Field(min_length=1)
    transform: N5Transform | None = None


class N5Multiscale(AttributeModel):
    name: str | None = None
    datasets: list[N5MultiscaleDataset] = Field(min_length=1)


class N5Attributes(AttributeModel):
    """``attributes.json`` of an N5 array or group; arrays carry ``dimensions`` (fastest axis first)."""

    dimensions: list[int] | None = None
    data_type: str | None = Field(default=None, alias="dataType")
    block_size: list[int] | None = Field(default=None, alias="blockSize")
    compression: N5Compression | None = None
    compression_type: str | None = Field(default=None, alias="compressionType")
    axes: list[str] | None = None
    units: list[str] | None = None
    resolution: list[float] | None = None
    pixel_resolution: N5PixelResolution | list[float] | None = Field(default=None, alias="pixelResolution")
    downsampling_factors: list[list[float]] | list[float] | None = Field(default=None, alias="downsamplingFactors")
    scales: list[list[float]] | None = None
    transform: N5Transform | None = None
    multiscales: list[N5Multiscale] | None = None

    @property
    def is_array(self) -> bool:
        return self.dimensions is not None

    @property
    def compression_name(self) -> str:
        if self.compression is not None:
            return self.compression.type
        return self.compression_type or "raw"


# --- Neuroglancer precomputed --------------------------------------------------------


class PrecomputedScale(AttributeModel):
    key: str = Field(min_length=1)
    size: list[int] = Field(min_length=3, max_length=3)
    resolution: list[float] = Field(min_length=3, max_length=3)
    voxel_offset: list[int] = Field(default_factory=lambda: [0, 0, 0], min_length=3, max_length=3)
    chunk_sizes: list[list[int]] = Field(min_length=1)
    encoding: str
    sharding: dict[str, Any] | None = None

    @field_validator("chunk_sizes")
    @classmethod
    def _three_dimensional_chunks(cls, value: list[list[int]]) -> list[list[int]]:
        if any(len(chunk) != 3 for chunk in value):
            raise ValueError("every chunk size has three values (x, y, z)")
        return value


class PrecomputedInfo(AttributeModel):
    """The ``info`` file of a precomputed volume (``@type`` neuroglancer_multiscale_volume)."""

    at_type: str | None = Field(default=None, alias="@type")
    type: Literal["image", "segmentation"]
    data_type: str
    num_channels: int = Field(ge=1)
    scales: list[PrecomputedScale] = Field(min_length=1)
    mesh: str | None = None


# --- CellMap annotations --------------------------------------------------------------


class CellmapAnnotationType(AttributeModel):
    type: str
    encoding: dict[str, int] = Field(default_factory=dict)


class CellmapComplementCounts(AttributeModel):
    """Voxels of a label array that are *not* the class: labelled absent, and not labelled.

    The array's present voxels are its voxel count minus both. A document missing
    ``unknown`` leaves it None (zero only when the encoding has no unknown value at all).
    """

    absent: NonNegativeInt
    unknown: NonNegativeInt | None = None


class CellmapAnnotation(AttributeModel):
    annotation_type: CellmapAnnotationType
    class_name: str
    complement_counts: CellmapComplementCounts | dict[str, Any] | None = None
    """A malformed document is kept as a plain dict, so the class name survives and ingest
    can say why the counts are unknown."""

    @property
    def is_instance(self) -> bool:
        return self.annotation_type.type == "instance_segmentation"


class CellmapNamespace(AttributeModel):
    annotation: CellmapAnnotation


class CellmapAttributes(AttributeModel):
    """Array attributes of a CellMap ground-truth label array."""

    cellmap: CellmapNamespace
