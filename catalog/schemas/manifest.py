"""pydantic models of the catalog manifest format.

A catalog directory holds ``vocabulary.json`` (organisms and tissues), ``label-classes.json``,
``collections/<slug>.json`` and ``datasets/<slug>.json``. Every length is in nm and every
per-axis vector is an object keyed by axis name. The same models validate the payloads that
curators send to the REST API, so a record means the same thing whichever way it arrives.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any

import webcolors
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveFloat,
    field_validator,
    model_validator,
)

from catalog.models.base import (
    DOI_RE,
    ContentType,
    CropSplit,
    DoiGroup,
    Fixation,
    MeshFormat,
    Metric,
    Modality,
    SampleType,
    SoftwareAvailability,
    VolumeFormat,
    VolumeKind,
)
from catalog.models.crops import ContentSource
from catalog.untrusted_json import BLANKS, CONTROLS, text_problem

DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")


def normalise_doi(value: str) -> str:
    """Strip a resolver prefix and lower-case: DOIs are case-insensitive, stored one way."""
    text = value.strip()
    for prefix in DOI_PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
            break
    text = text.lower()
    if not DOI_RE.match(text) or not re.fullmatch(DOI_BODY, text):
        raise ValueError(f"{value!r} is not a DOI (expected 10.<registrant>/<suffix>)")
    return text


def normalise_colour(value: str) -> str:
    """Accept a CSS colour name or hex and store lower-case ``#rrggbb``; blank means none."""
    text = value.strip().lower()
    if not text:
        return ""
    try:
        if text.startswith("#"):
            return webcolors.normalize_hex(text)
        return webcolors.name_to_hex(text.replace(" ", ""))
    except ValueError as error:
        raise ValueError(f"{value!r} is not a CSS colour name or #rrggbb") from error


ORCID_PREFIXES = ("https://orcid.org/", "http://orcid.org/", "orcid.org/")
ORCID_RE = re.compile(r"^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$")


def normalise_orcid(value: str) -> str:
    """Store an ORCID iD as its 16 characters; the check digit (ISO 7064 11,2) catches typos."""
    text = value.strip()
    for prefix in ORCID_PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
            break
    if not text:
        return ""
    text = text.upper()
    if not ORCID_RE.match(text):
        raise ValueError(f"{value!r} is not an ORCID iD (expected 0000-0000-0000-000X)")
    total = 0
    for digit in text[:-1].replace("-", ""):
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    if text[-1] != ("X" if check == 10 else str(check)):
        raise ValueError(f"{value!r} is not an ORCID iD: its check digit is wrong")
    return text


def _any_case(text: str) -> str:
    """A regex matching ``text`` in any letter case (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


_URL_TAIL = f"[^{BLANKS}{CONTROLS}]*"
_HOST = f"[^/?#{BLANKS}{CONTROLS}]+"


def url_regex(*schemes: str, relative: bool = False) -> str:
    """The URLs a field takes: ``scheme://host...`` for each scheme (``doi:...`` for doi), and with
    ``relative`` a name with no scheme and no host (``50-images.tif``). No blank or control
    character anywhere, so what a browser would read is what was checked."""
    options = [
        f"{_any_case('doi')}:{_URL_TAIL}" if name == "doi" else f"{_any_case(name)}://{_HOST}{_URL_TAIL}"
        for name in schemes
    ]
    if relative:
        options.append(f"/?[^/:{BLANKS}{CONTROLS}][^:{BLANKS}{CONTROLS}]*|/")
    return "(?:" + "|".join(options) + ")"


def json_pattern(regex: str, *, blank: bool = True) -> dict[str, str]:
    """The JSON Schema ``pattern`` of a field checked with ``regex`` after whitespace is stripped
    (``str_strip_whitespace``): the value with optional blanks around it, or (``blank``) nothing."""
    optional = "?" if blank else ""
    return {"pattern": f"^[{BLANKS}]*(?:{regex}){optional}[{BLANKS}]*$"}


def url_type(*schemes: str, relative: bool = False, blank: bool = True) -> object:
    """A string type that is blank or a URL with one of ``schemes``: the pages put these values in
    ``href`` and ``src``, where ``javascript:`` or ``data:`` would run in a reader's browser. The
    same regex validates and documents it (the OpenAPI schema's ``pattern``)."""
    regex = url_regex(*schemes, relative=relative)
    allowed = " or ".join(f"{name}:" if name == "doi" else f"{name}://" for name in schemes)

    def check(value: str) -> str:
        if (value or not blank) and not re.fullmatch(regex, value):
            raise ValueError(f"{value[:80]!r} is not a URL starting with {allowed}")
        return value

    return Annotated[str, AfterValidator(check), Field(json_schema_extra=json_pattern(regex, blank=blank))]


WebUrl = url_type("http", "https")
"""A page or an image on the web."""
LinkUrl = url_type("http", "https", "doi")
"""A web page or a DOI (``doi:10.1234/abc``)."""
DataUrl = url_type("s3", "http", "https")
"""Data in a bucket or on a web server."""
RequiredDataUrl = url_type("s3", "http", "https", blank=False)
"""A ``DataUrl`` that must be given."""
VolumeUrl = url_type("s3", "http", "https", relative=True)
"""Where a volume's data is: a bucket or web URL, or the file name within a published archive."""
DOI_BODY = r"10\.[0-9]{4,9}/[!-~]+"
"""A DOI as the API takes it: the DOI syntax with a suffix of printable ASCII (no blank, no control)."""
DOI_REGEX = "(?:" + "|".join(_any_case(prefix) for prefix in DOI_PREFIXES) + f")?{DOI_BODY}"
Doi = Annotated[str, AfterValidator(normalise_doi), Field(json_schema_extra=json_pattern(DOI_REGEX, blank=False))]
ORCID_REGEX = (
    "(?:"
    + "|".join(_any_case(prefix) for prefix in ORCID_PREFIXES)
    + ")?(?:[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9Xx])?"
)
Orcid = Annotated[
    str,
    AfterValidator(normalise_orcid),
    Field(json_schema_extra={**json_pattern(ORCID_REGEX), "description": "ORCID iD; its check digit must be right."}),
]
SOURCE_REGEX = f"(?:{DOI_BODY}|{url_regex('http', 'https', 'doi')})"


def _doi_or_web_url(value: str) -> str:
    """A benchmark's source: a DOI as written (``10.1234/abc``) or a web URL."""
    if value and not re.fullmatch(SOURCE_REGEX, value):
        raise ValueError(f"{value[:80]!r} is neither a DOI (10.<registrant>/<suffix>) nor an http(s) or doi: URL")
    return value


COLOUR_REGEX = (
    "(?:#(?:[0-9A-Fa-f]{3}){1,2}|"
    + "|".join(" *".join(_any_case(letter) for letter in name) for name in sorted(webcolors.names("css3")))
    + ")"
)
"""What normalise_colour takes: #rgb or #rrggbb, or a CSS colour name in any case with any spaces."""


Colour = Annotated[str, AfterValidator(normalise_colour), Field(json_schema_extra=json_pattern(COLOUR_REGEX))]
# Integers as the database columns hold them (PostgreSQL's smallint, integer, bigint): a bigger
# number is a 400 naming the field, not a database error.
Int16 = Annotated[int, Field(ge=1, le=2**15 - 1)]
Int32 = Annotated[int, Field(ge=1, le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=1, le=2**63 - 1)]
Count32 = Annotated[int, Field(ge=0, le=2**31 - 1)]
Count64 = Annotated[int, Field(ge=0, le=2**63 - 1)]
SegmentId = Annotated[int, Field(ge=0, le=2**64 - 1)]
"""Neuroglancer segment ids are uint64."""
Name = Annotated[str, Field(min_length=1, max_length=200)]
ClassName = Annotated[str, Field(pattern=r"^[a-z0-9_]+$", max_length=100)]
Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=100)]


def _blank_to_none(value: object) -> object:
    return None if value == "" else value


OptionalDate = Annotated[datetime.date | None, BeforeValidator(_blank_to_none)]


def _stripped_patterns(schema: dict[str, Any]) -> None:
    """Say in the JSON schema what ``str_strip_whitespace`` does: a pattern is checked after blanks
    around the value are removed, so the value may carry them (``^X$`` -> ``^ *(?:X) *$``)."""
    stack: list[Any] = [schema]
    blanks = f"[{BLANKS}]*"
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            pattern = node.get("pattern")
            anchored = isinstance(pattern, str) and pattern.startswith("^") and pattern.endswith("$")
            if anchored and not pattern.startswith(f"^{blanks}"):
                node["pattern"] = f"^{blanks}(?:{pattern[1:-1]}){blanks}$"
            stack.extend(value for key, value in node.items() if key != "pattern")


class Strict(BaseModel):
    """Base for every manifest model: unknown keys are errors, not silently dropped, and every
    number is finite (NaN and infinities mean nothing here and JSON cannot carry them)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        allow_inf_nan=False,
        json_schema_extra=lambda schema, model: _stripped_patterns(schema),
    )

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        """No NUL characters or lone surrogates: the database cannot store them as text."""
        for text in _strings(value):
            problem = text_problem(text)
            if problem:
                raise ValueError(problem)
        return value


def _strings(value: object) -> list[str]:
    """The strings a field holds directly (nested models check their own fields)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


class Issue(Strict):
    """A problem with a record: which field, and what is wrong with it."""

    field: str
    message: str


class AxisVector(Strict):
    x: float
    y: float
    z: float


class PositiveVector(Strict):
    x: PositiveFloat
    y: PositiveFloat
    z: PositiveFloat


NonZeroFloat = Annotated[float, Field(json_schema_extra={"not": {"enum": [0]}})]


class ScaleVector(Strict):
    """Per-axis voxel size in nm; negative flips the axis, zero is never valid."""

    x: NonZeroFloat
    y: NonZeroFloat
    z: NonZeroFloat

    @field_validator("x", "y", "z")
    @classmethod
    def _non_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("must not be zero (a negative value flips the axis)")
        return value


class ShapeVector(Strict):
    """A volume's shape in voxels (bigint columns)."""

    x: Int64
    y: Int64
    z: Int64


class CropShapeVector(Strict):
    """A crop's shape in voxels (integer columns)."""

    x: Int32
    y: Int32
    z: Int32


class OrganismManifest(Strict):
    name: Name
    slug: Slug
    common_name: str = ""
    ncbi_taxonomy_id: Int32 | None = None


class TissueManifest(Strict):
    name: Name
    slug: Slug
    uberon_id: Annotated[str, Field(pattern=r"^(UBERON:[0-9]{7})?$")] = ""


class VocabularyManifest(Strict):
    organisms: list[OrganismManifest] = []
    tissues: list[TissueManifest] = []


class LabelClassManifest(Strict):
    name: ClassName
    label_id: Int16 | None = None
    long_name: str = ""
    description: str = ""
    colour: Colour = ""
    members: list[ClassName] = []
    instance_scored: bool = False
    semantic_scored: bool = False
    aliases: list[str] = []


class LabelClassesManifest(Strict):
    classes: list[LabelClassManifest]

    @model_validator(mode="after")
    def _unique(self) -> LabelClassesManifest:
        _require_unique([c.name for c in self.classes], "classes", "name")
        _require_unique([c.label_id for c in self.classes if c.label_id is not None], "classes", "label_id")
        return self


class ContrastLimits(Strict):
    """The slider's range (min..max) and the values shown black and white (start..end)."""

    min: float
    max: float
    start: float
    end: float

    @model_validator(mode="after")
    def _ordered(self) -> ContrastLimits:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class DisplaySettings(Strict):
    contrast: ContrastLimits | None = None
    colour: Colour = ""
    invert_lut: bool = False


class ChannelManifest(Strict):
    name: str = ""
    colour: Colour = ""


class SegmentLabelManifest(Strict):
    value: Count32
    name: Name
    colour: Colour = ""
    label_class: ClassName | None = None


class MeshManifest(Strict):
    name: Name
    description: str = ""
    url: Annotated[RequiredDataUrl, Field(max_length=1000)]
    format: MeshFormat
    scale_nm: ScaleVector = ScaleVector(x=1.0, y=1.0, z=1.0)
    translation_nm: AxisVector = AxisVector(x=0.0, y=0.0, z=0.0)
    segment_ids: list[SegmentId] = []


class VolumeManifest(Strict):
    name: Name
    description: str = ""
    url: Annotated[VolumeUrl, Field(max_length=1000)] = ""
    format: VolumeFormat | None = None
    kind: VolumeKind
    content_type: ContentType
    label_class: ClassName | None = None
    dtype: str = ""
    axes: Annotated[str, Field(pattern=r"^[a-z]*$", max_length=10)] = ""
    shape: ShapeVector | None = None
    channels: list[ChannelManifest] = []
    scale_nm: ScaleVector | None = None
    translation_nm: AxisVector | None = None
    scale_levels: Int16 | None = None
    display: DisplaySettings | None = None
    provenance: str = ""
    segment_labels: list[SegmentLabelManifest] = []
    meshes: list[MeshManifest] = []

    @model_validator(mode="after")
    def _unique_children(self) -> VolumeManifest:
        _require_unique([s.value for s in self.segment_labels], "segment_labels", "value")
        _require_unique([m.url for m in self.meshes], "meshes", "url")
        return self


class CropContentManifest(Strict):
    """What a crop holds of one class (voxels of its full-resolution label array).

    Known counts add up (present + absent + unknown = total); ``source: unknown`` carries no
    numbers at all, only the reason in ``note``.
    """

    label_class: ClassName
    source: ContentSource
    total_voxels: Int64 | None = None
    present_voxels: Count64 | None = None
    absent_voxels: Count64 | None = None
    unknown_voxels: Count64 | None = None
    object_count: Count64 | None = None
    note: Annotated[str, Field(max_length=500)] = ""

    @model_validator(mode="after")
    def _counts_add_up(self) -> CropContentManifest:
        counts = (self.total_voxels, self.present_voxels, self.absent_voxels, self.unknown_voxels)
        if self.source == ContentSource.UNKNOWN:
            if any(value is not None for value in (*counts, self.object_count)):
                raise ValueError("unknown contents carry no counts")
            return self
        if any(value is None for value in counts):
            raise ValueError("known contents need total_voxels, present_voxels, absent_voxels and unknown_voxels")
        if self.present_voxels + self.absent_voxels + self.unknown_voxels != self.total_voxels:
            raise ValueError("present_voxels + absent_voxels + unknown_voxels must equal total_voxels")
        return self


class CropManifest(Strict):
    number: Int32
    split: CropSplit
    voxel_size_nm: PositiveVector
    translation_nm: AxisVector
    shape: CropShapeVector
    label_classes: list[ClassName] = []
    labels_url: Annotated[DataUrl, Field(max_length=1000)] = ""
    published_state_url: DataUrl = ""
    contents: list[CropContentManifest] | None = None
    """None leaves the stored contents as they are (ingest found them); a list is exactly them."""

    @model_validator(mode="after")
    def _labels_where_published(self) -> CropManifest:
        if self.split == CropSplit.TRAIN and not self.labels_url:
            raise ValueError("a training crop needs labels_url")
        return self

    @model_validator(mode="after")
    def _contents_of_annotated_classes(self) -> CropManifest:
        names = [content.label_class for content in self.contents or []]
        _require_unique(names, "contents", "label_class")
        stray = [name for name in names if name not in self.label_classes]
        if stray:
            raise ValueError(f"contents: {', '.join(map(repr, stray))} not in label_classes")
        return self


class ViewManifest(Strict):
    name: Name
    description: str = ""
    position_nm: AxisVector | None = None
    scale: PositiveFloat | None = None
    orientation: Annotated[list[float], Field(min_length=4, max_length=4)] | None = None
    layers: list[Name] = []
    organelles: list[ClassName] = []


class DoiManifest(Strict):
    doi: Doi
    group: DoiGroup = DoiGroup.DATASET


class CreatorManifest(Strict):
    """A person (given and family name) or, with no family name, an organisation or team."""

    name: Name
    given_name: str = ""
    family_name: str = ""
    orcid: Orcid = ""

    @model_validator(mode="after")
    def _person_or_organisation(self) -> CreatorManifest:
        if self.given_name and not self.family_name:
            raise ValueError("a given name needs a family name (an organisation has neither)")
        if self.orcid and not self.family_name:
            raise ValueError("an ORCID iD identifies a person: give the family name too")
        return self


class PublicationManifest(Strict):
    title: Annotated[str, Field(min_length=1)]
    authors: str = ""
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    doi: Doi | None = None
    url: LinkUrl = ""


class BenchmarkManifest(Strict):
    method: Name
    metric: Metric
    label_class: ClassName | None = None
    value: Annotated[float, Field(ge=0)]
    source: Annotated[str, AfterValidator(_doi_or_web_url), Field(json_schema_extra=json_pattern(SOURCE_REGEX))] = ""

    @model_validator(mode="after")
    def _ratio_metrics_at_most_one(self) -> BenchmarkManifest:
        if self.metric != Metric.HAUSDORFF and self.value > 1:
            raise ValueError(f"{self.metric} is a ratio between 0 and 1, got {self.value}")
        return self


class SampleManifest(Strict):
    type: SampleType | None = None
    protocol: str = ""
    fixation: Fixation | None = None
    embedding: str = ""
    contributions: str = ""
    cell_types: list[Name] = []
    treatments: list[Name] = []


class ImagingManifest(Strict):
    modality: Modality | None = None
    instrument: str = ""
    acquisition_id: str = ""
    institution: str = ""
    start_date: OptionalDate = None
    duration_days: Count32 | None = None
    bias_voltage_v: float | None = None
    scan_rate_mhz: PositiveFloat | None = None
    current_na: PositiveFloat | None = None
    primary_energy_ev: PositiveFloat | None = None
    voxel_size_nm: PositiveVector | None = None
    extent_nm: PositiveVector | None = None


class DatasetManifest(Strict):
    slug: Slug
    title: str = ""
    description: str = ""
    organism: Name | None = None
    tissues: list[Name] = []
    sample: SampleManifest = SampleManifest()
    imaging: ImagingManifest = ImagingManifest()
    institutions: list[Name] = []
    creators: list[CreatorManifest] = []
    acknowledgements: str = ""
    licence: str = ""
    licence_url: WebUrl = ""
    contact: str = ""
    thumbnail_url: WebUrl = ""
    release_date: OptionalDate = None
    version: str = ""
    tags: list[str] = []
    software_availability: SoftwareAvailability | None = None
    download_url: DataUrl = ""
    data_formats: list[str] = []
    data_size: str = ""
    atlas: str = ""
    metrics: list[Metric] = []
    published_state_url: DataUrl = ""
    provenance: str = ""
    known_issues: list[Issue] = []
    dois: list[DoiManifest] = []
    publications: list[PublicationManifest] = []
    volumes: list[VolumeManifest] = []
    crops: list[CropManifest] = []
    views: list[ViewManifest] = []
    benchmarks: list[BenchmarkManifest] = []

    @model_validator(mode="after")
    def _unique_children(self) -> DatasetManifest:
        _require_unique([d.doi for d in self.dois], "dois", "doi")
        _require_unique([c.name for c in self.creators], "creators", "name")
        _require_unique([v.name for v in self.volumes], "volumes", "name")
        _require_unique([v.url for v in self.volumes if v.url], "volumes", "url")
        _require_unique([c.number for c in self.crops], "crops", "number")
        _require_unique([v.name for v in self.views], "views", "name")
        return self


class DownloadManifest(Strict):
    name: Name
    url: RequiredDataUrl
    all_resolutions: bool = False
    raw_padding: Count32 = 0


class CollectionManifest(Strict):
    slug: Slug
    title: Annotated[str, Field(min_length=1, max_length=300)]
    summary: str = ""
    description: str = ""
    doi: Doi | None = None
    url: WebUrl = ""
    thumbnail_url: WebUrl = ""
    tags: list[str] = []
    authors: list[str] = []
    release_date: OptionalDate = None
    datasets: list[Slug] = []
    downloads: list[DownloadManifest] = []

    @model_validator(mode="after")
    def _unique_children(self) -> CollectionManifest:
        _require_unique(self.datasets, "datasets", "slug")
        _require_unique([d.name for d in self.downloads], "downloads", "name")
        return self


def _require_unique(values: list, collection: str, key: str) -> None:
    seen: set = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{collection}: {key} {value!r} appears more than once")
        seen.add(value)
