"""Read serializers of the catalog API. Writes go through catalog.services.records and the
manifest models; these only turn records (fetched by catalog.selectors) into JSON.

Every per-axis quantity is an object ``{"x": .., "y": .., "z": ..}`` in nm (null when unknown),
every DOI is given as its value and its https://doi.org/ link, and every record links to itself
(``api_url``) and, where it can be viewed, to Neuroglancer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from catalog import models, selectors
from catalog.downloads import level_sizes
from catalog.models.base import axis_vector
from catalog.models.crops import crop_class_contents
from catalog.neuroglancer.links import INLINE_URL_LIMIT, Kind, absolute_url, record_links

AXIS_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "Per-axis value in nm (voxels for shapes); null when unknown.",
    "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "z": {"type": "number"}},
    "required": ["x", "y", "z"],
}
LINK_DESCRIPTIONS = {
    "neuroglancer_url": "Opens the record in Neuroglancer: the viewer with #!<neuroglancer_state_url>. "
    "Null when the record cannot make a viewer state; `viewer_problem` then says why.",
    "neuroglancer_state_url": "The record's Neuroglancer state as JSON (CORS, ETag), for any Neuroglancer. "
    "Null when the record cannot make a viewer state; `viewer_problem` then says why.",
    "neuroglancer_inline_url": "Redirects to the viewer with the state inline (#!{json}), for copy and paste. "
    f"When that link would be longer than {INLINE_URL_LIMIT} characters (the redirect limit), this is the "
    "viewer link that fetches the state from its URL (as `neuroglancer_url`). Null when there is no state.",
}
VIEWER_PROBLEM_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "Why Neuroglancer cannot open the record (what its state URL answers with a 409): the field "
    "at fault and the message. Null when it can be opened.",
    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    "required": ["field", "message"],
}


@extend_schema_field(AXIS_SCHEMA)
class AxisField(serializers.Field):
    """Reads ``<prefix>_x/_y/_z`` off the record as one axis object."""

    def __init__(self, prefix: str, **kwargs: Any) -> None:
        self.prefix = prefix
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, float] | None:
        return axis_vector(value, self.prefix)


@extend_schema_field({"type": "string", "format": "uri", "nullable": True})
class NeuroglancerLinkField(serializers.Field):
    """One of the links that open the record in Neuroglancer, null when it has no state (no
    database query: ``record_links`` reads what the write paths stored on the record)."""

    def __init__(self, kind: Kind, link: str, **kwargs: Any) -> None:
        self.kind = kind
        self.link = link
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("help_text", LINK_DESCRIPTIONS[link])
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        return record_links(self.context.get("request"), self.kind, value)[self.link]


@extend_schema_field(VIEWER_PROBLEM_SCHEMA)
class ViewerProblemField(serializers.Field):
    """``{field, message}`` when the record cannot make a viewer state, else null."""

    def __init__(self, kind: Kind, **kwargs: Any) -> None:
        self.kind = kind
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, str] | None:
        return record_links(self.context.get("request"), self.kind, value)["viewer_problem"]


def filtered_list_url(request: Any, name: str, **params: str) -> str:
    return absolute_url(request, f"{reverse(name)}?{urlencode(params)}")


def doi_url(value: str | None) -> str | None:
    return f"https://doi.org/{value}" if value else None


class NamedRefSerializer(serializers.Serializer):
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class LabelClassRefField(serializers.SlugRelatedField):
    """A label class by its short name."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "name")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)


class DatasetRefField(serializers.SlugRelatedField):
    """A dataset by its slug."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "slug")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)


# Vocabulary ----------------------------------------------------------------------------------------


class OrganismSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="organism-detail", lookup_field="slug")
    taxonomy_url = serializers.SerializerMethodField(help_text="NCBI Taxonomy page, when the id is known.")
    dataset_count = serializers.IntegerField(read_only=True, help_text="Datasets of this organism.")
    datasets_url = serializers.SerializerMethodField(help_text="The dataset list filtered to this organism.")

    class Meta:
        model = models.Organism
        fields = ["slug", "api_url", "name", "common_name", "ncbi_taxonomy_id", "taxonomy_url", "dataset_count"]
        fields += ["datasets_url"]

    def get_taxonomy_url(self, organism: models.Organism) -> str | None:
        if organism.ncbi_taxonomy_id is None:
            return None
        return f"https://www.ncbi.nlm.nih.gov/Taxonomy/Browser/wwwtax.cgi?id={organism.ncbi_taxonomy_id}"

    def get_datasets_url(self, organism: models.Organism) -> str:
        return filtered_list_url(self.context.get("request"), "dataset-list", organism=organism.slug)


class TissueSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="tissue-detail", lookup_field="slug")
    uberon_url = serializers.SerializerMethodField(help_text="The UBERON term, when known.")
    dataset_count = serializers.IntegerField(read_only=True, help_text="Datasets of this tissue.")
    datasets_url = serializers.SerializerMethodField(help_text="The dataset list filtered to this tissue.")

    class Meta:
        model = models.Tissue
        fields = ["slug", "api_url", "name", "uberon_id", "uberon_url", "dataset_count", "datasets_url"]

    def get_uberon_url(self, tissue: models.Tissue) -> str | None:
        if not tissue.uberon_id:
            return None
        return f"http://purl.obolibrary.org/obo/{tissue.uberon_id.replace(':', '_')}"

    def get_datasets_url(self, tissue: models.Tissue) -> str:
        return filtered_list_url(self.context.get("request"), "dataset-list", tissue=tissue.slug)


class LabelClassSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="labelclass-detail", lookup_field="name")
    members = LabelClassRefField(many=True, help_text="Classes this group is made of (short names).")
    member_of = LabelClassRefField(many=True, help_text="Groups this class belongs to (short names).")
    crop_count = serializers.IntegerField(read_only=True, help_text="Crops annotated with exactly this class.")
    datasets_url = serializers.SerializerMethodField(
        help_text="The dataset list filtered to this class (groups include their members)."
    )

    class Meta:
        model = models.LabelClass
        fields = [
            "name",
            "api_url",
            "label_id",
            "long_name",
            "description",
            "colour",
            "members",
            "member_of",
            "instance_scored",
            "semantic_scored",
            "aliases",
            "crop_count",
            "datasets_url",
        ]

    def get_datasets_url(self, label_class: models.LabelClass) -> str:
        return filtered_list_url(self.context.get("request"), "dataset-list", organelle=label_class.name)


# Datasets ------------------------------------------------------------------------------------------


class DatasetListSerializer(serializers.ModelSerializer):
    """What a list row shows; the list queryset fetches only these columns."""

    api_url = serializers.HyperlinkedIdentityField(view_name="dataset-detail", lookup_field="slug")
    organism = NamedRefSerializer(read_only=True, allow_null=True)
    tissues = NamedRefSerializer(many=True, read_only=True)
    voxel_size = AxisField("voxel_size", help_text="Voxel size of the imaging (nm).")
    volume_count = serializers.IntegerField(read_only=True)
    crop_count = serializers.IntegerField(read_only=True)
    search_rank = serializers.SerializerMethodField(help_text="Relevance of the match to `q`; null without `q`.")
    neuroglancer_url = NeuroglancerLinkField("dataset", "neuroglancer_url")
    neuroglancer_state_url = NeuroglancerLinkField("dataset", "neuroglancer_state_url")
    neuroglancer_inline_url = NeuroglancerLinkField("dataset", "neuroglancer_inline_url")
    viewer_problem = ViewerProblemField("dataset")

    class Meta:
        model = models.Dataset
        fields = [
            "slug",
            "api_url",
            "title",
            "organism",
            "tissues",
            "modality",
            "fixation",
            "voxel_size",
            "release_date",
            "thumbnail_url",
            "volume_count",
            "crop_count",
            "search_rank",
            "neuroglancer_url",
            "neuroglancer_state_url",
            "neuroglancer_inline_url",
            "viewer_problem",
        ]

    def get_search_rank(self, dataset: models.Dataset) -> float | None:
        return getattr(dataset, "search_rank", None)


class OrganismDetailRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = models.Organism
        fields = ["slug", "name", "common_name", "ncbi_taxonomy_id"]


class TissueRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = models.Tissue
        fields = ["slug", "name", "uberon_id"]


class DatasetDOISerializer(serializers.ModelSerializer):
    doi = serializers.CharField(source="doi.value", read_only=True)
    url = serializers.CharField(source="doi.url", read_only=True, help_text="https://doi.org/ link.")

    class Meta:
        model = models.DatasetDOI
        fields = ["doi", "url", "group"]


class PublicationRefSerializer(serializers.ModelSerializer):
    doi = serializers.CharField(source="doi.value", read_only=True, allow_null=True, default=None)
    doi_url = serializers.SerializerMethodField()

    class Meta:
        model = models.Publication
        fields = ["id", "title", "authors", "year", "doi", "doi_url", "url"]

    def get_doi_url(self, publication: models.Publication) -> str | None:
        return doi_url(publication.doi.value if publication.doi else None)


class CollectionRefSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="collection-detail", lookup_field="slug")

    class Meta:
        model = models.Collection
        fields = ["slug", "title", "api_url"]


class ViewRefSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="view-detail")
    neuroglancer_url = NeuroglancerLinkField("view", "neuroglancer_url")
    neuroglancer_state_url = NeuroglancerLinkField("view", "neuroglancer_state_url")
    neuroglancer_inline_url = NeuroglancerLinkField("view", "neuroglancer_inline_url")
    viewer_problem = ViewerProblemField("view")

    class Meta:
        model = models.CuratedView
        fields = ["id", "name", "api_url", "neuroglancer_url", "neuroglancer_state_url", "neuroglancer_inline_url"]
        fields += ["viewer_problem"]


class DatasetDetailSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="dataset-detail", lookup_field="slug")
    organism = OrganismDetailRefSerializer(read_only=True, allow_null=True)
    tissues = TissueRefSerializer(many=True, read_only=True)
    cell_types = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    treatments = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    institutions = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    voxel_size = AxisField("voxel_size", help_text="Voxel size of the imaging (nm).")
    extent = AxisField("extent", help_text="Size of the imaged volume (nm).")
    dois = DatasetDOISerializer(source="dataset_dois", many=True, read_only=True)
    publications = PublicationRefSerializer(many=True, read_only=True)
    collections = CollectionRefSerializer(many=True, read_only=True)
    views = ViewRefSerializer(many=True, read_only=True)
    volume_count = serializers.IntegerField(read_only=True)
    crop_count = serializers.IntegerField(read_only=True)
    view_count = serializers.IntegerField(read_only=True)
    organelles = serializers.SerializerMethodField(
        help_text="Label classes annotated in the dataset (by a volume, a crop or a segment label), short names."
    )
    links = serializers.SerializerMethodField(help_text="The dataset's volumes, crops and views, and its citations.")
    neuroglancer_url = NeuroglancerLinkField("dataset", "neuroglancer_url")
    neuroglancer_state_url = NeuroglancerLinkField("dataset", "neuroglancer_state_url")
    neuroglancer_inline_url = NeuroglancerLinkField("dataset", "neuroglancer_inline_url")
    viewer_problem = ViewerProblemField("dataset")

    class Meta:
        model = models.Dataset
        exclude = ["id", "voxel_size_x", "voxel_size_y", "voxel_size_z"]
        exclude += ["extent_x", "extent_y", "extent_z", "viewer_problem_field", "inline_state_length"]

    def get_organelles(self, dataset: models.Dataset) -> list[str]:
        return [label_class.name for label_class in selectors.annotated_classes(dataset)]

    @extend_schema_field(
        inline_serializer(
            "DatasetLinks",
            {
                name: serializers.URLField()
                for name in ("volumes", "crops", "views", "benchmark_results", "citation", "jsonld", "datacite")
            },
        )
    )
    def get_links(self, dataset: models.Dataset) -> dict[str, str]:
        request = self.context.get("request")
        return {
            "volumes": filtered_list_url(request, "volume-list", dataset=dataset.slug),
            "crops": filtered_list_url(request, "crop-list", dataset=dataset.slug),
            "views": filtered_list_url(request, "view-list", dataset=dataset.slug),
            "benchmark_results": filtered_list_url(request, "benchmarkresult-list", dataset=dataset.slug),
            "citation": absolute_url(request, reverse("dataset-citation", args=[dataset.slug])),
            "jsonld": absolute_url(request, reverse("dataset-jsonld", args=[dataset.slug])),
            "datacite": absolute_url(request, reverse("dataset-datacite", args=[dataset.slug])),
        }


# Volumes -------------------------------------------------------------------------------------------


class ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = models.VolumeChannel
        fields = ["index", "name", "colour"]


class SegmentLabelSerializer(serializers.ModelSerializer):
    label_class = LabelClassRefField(allow_null=True)

    class Meta:
        model = models.SegmentLabel
        fields = ["value", "name", "colour", "label_class"]


class MeshSerializer(serializers.ModelSerializer):
    scale = AxisField("scale", help_text="nm per mesh unit")
    translation = AxisField("translation", help_text="nm")

    class Meta:
        model = models.Mesh
        fields = ["name", "description", "url", "format", "scale", "translation", "segment_ids"]


class DisplaySerializer(serializers.Serializer):
    contrast_min = serializers.FloatField(allow_null=True, help_text="Lowest value the contrast slider offers.")
    contrast_max = serializers.FloatField(allow_null=True, help_text="Highest value the contrast slider offers.")
    contrast_start = serializers.FloatField(allow_null=True, help_text="Value shown black.")
    contrast_end = serializers.FloatField(allow_null=True, help_text="Value shown white.")
    colour = serializers.CharField(source="display_colour")
    invert_lut = serializers.BooleanField()
    set_by_curator = serializers.BooleanField(source="display_set_by_curator")


class ValidationIssueSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()


class VolumeSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="volume-detail")
    dataset = DatasetRefField(help_text="Slug of the dataset.")
    url = serializers.CharField(read_only=True, help_text="Where the data lives (s3://bucket/key); blank if unknown.")
    source_url = serializers.CharField(
        read_only=True,
        help_text="The original file a conversion to OME-Zarr started from, kept as the download source; "
        "blank when url is the original.",
    )
    label_class = LabelClassRefField(allow_null=True, help_text="The class a single-class volume shows.")
    shape = AxisField("shape", help_text="Array shape in voxels.")
    voxel_size = AxisField("scale", help_text="nm per voxel at full resolution; negative flips the axis.")
    translation = AxisField("translation", help_text="Offset of the first voxel (nm).")
    display = DisplaySerializer(source="*", read_only=True)
    validation_errors = ValidationIssueSerializer(many=True, read_only=True)
    thumbnail_url = serializers.SerializerMethodField(
        help_text="PNG of the middle slice of the coarsest level, rendered by ingest; null until then."
    )
    neuroglancer_url = NeuroglancerLinkField("volume", "neuroglancer_url")
    neuroglancer_state_url = NeuroglancerLinkField("volume", "neuroglancer_state_url")
    neuroglancer_inline_url = NeuroglancerLinkField("volume", "neuroglancer_inline_url")
    viewer_problem = ViewerProblemField("volume")

    class Meta:
        model = models.Volume
        fields = [
            "id",
            "api_url",
            "dataset",
            "name",
            "description",
            "url",
            "source_url",
            "format",
            "kind",
            "content_type",
            "label_class",
            "dtype",
            "axes",
            "shape",
            "voxel_size",
            "translation",
            "scale_levels",
            "display",
            "provenance",
            "status",
            "validation_errors",
            "thumbnail_url",
            "neuroglancer_url",
            "neuroglancer_state_url",
            "neuroglancer_inline_url",
            "viewer_problem",
            "created_at",
            "updated_at",
        ]

    def get_thumbnail_url(self, volume: models.Volume) -> str | None:
        statistics = getattr(volume, "statistics", None)
        if statistics is None or not statistics.thumbnail:
            return None
        return absolute_url(self.context.get("request"), statistics.thumbnail.url)


class LevelSizeSerializer(serializers.Serializer):
    path = serializers.CharField()
    url = serializers.CharField(help_text="The level's location (its chunk keys are below it).")
    shape = serializers.ListField(child=serializers.IntegerField(), help_text="In the array's axis order.")
    voxel_size_nm = serializers.DictField(child=serializers.FloatField(), allow_null=True)
    objects = serializers.IntegerField(help_text="Chunk (or shard) files in the level's grid.")
    bytes = serializers.IntegerField(allow_null=True, help_text="Uncompressed; null when the data type is unknown.")


class VolumeDetailSerializer(VolumeSerializer):
    channels = ChannelSerializer(many=True, read_only=True)
    segment_labels = SegmentLabelSerializer(many=True, read_only=True)
    meshes = MeshSerializer(many=True, read_only=True)
    levels = serializers.SerializerMethodField(
        help_text="Every stored resolution level with its objects and bytes, from the chunk grid ingest stored; "
        "empty until the volume is ingested (sizes unknown, never estimated)."
    )

    class Meta(VolumeSerializer.Meta):
        fields = [*VolumeSerializer.Meta.fields, "channels", "segment_labels", "meshes", "levels"]

    @extend_schema_field(LevelSizeSerializer(many=True))
    def get_levels(self, volume: models.Volume) -> list[dict[str, Any]]:
        return LevelSizeSerializer(level_sizes(volume), many=True).data


# Crops ---------------------------------------------------------------------------------------------


class CropContentSerializer(serializers.Serializer):
    """What a crop holds of one annotated class; counts are null when unknown."""

    label_class = serializers.CharField(source="label_class.name", help_text="Short name of the class.")
    state = serializers.ChoiceField(
        choices=["present", "absent", "unknown"],
        help_text="`present`: the class's label array has voxels of it; `absent`: known to have none; "
        "`unknown`: not counted (see `note`).",
    )
    share = serializers.FloatField(
        source="row.present_share", allow_null=True, default=None, help_text="Present voxels / crop voxels."
    )
    present_voxels = serializers.IntegerField(source="row.present_voxels", allow_null=True, default=None)
    absent_voxels = serializers.IntegerField(source="row.absent_voxels", allow_null=True, default=None)
    unknown_voxels = serializers.IntegerField(
        source="row.unknown_voxels", allow_null=True, default=None, help_text="Voxels not labelled either way."
    )
    total_voxels = serializers.IntegerField(source="row.total_voxels", allow_null=True, default=None)
    object_count = serializers.IntegerField(
        source="row.object_count", allow_null=True, default=None, help_text="Instance classes, when counted."
    )
    source = serializers.CharField(
        source="row.source",
        allow_null=True,
        default=None,
        help_text="`attributes` (cellmap.annotation.complement_counts), `counted` (from the s0 voxels), "
        "`unknown`; null when ingest has not looked.",
    )
    note = serializers.CharField(help_text="Why the counts are unknown; blank when known.")


class CropSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="crop-detail", lookup_field="number")
    dataset = DatasetRefField(help_text="Slug of the dataset.")
    voxel_size = AxisField("voxel_size", help_text="Label voxel size (nm).")
    translation = AxisField("translation", help_text="Offset of the crop's first voxel (nm).")
    shape = AxisField("shape", help_text="Crop shape in label voxels.")
    label_classes = LabelClassRefField(many=True, help_text="Classes annotated in the crop (short names).")
    url = serializers.CharField(
        source="labels_url", read_only=True, help_text="S3 group with one label array per class (and `all`)."
    )
    neuroglancer_url = NeuroglancerLinkField("crop", "neuroglancer_url")
    neuroglancer_state_url = NeuroglancerLinkField("crop", "neuroglancer_state_url")
    neuroglancer_inline_url = NeuroglancerLinkField("crop", "neuroglancer_inline_url")
    viewer_problem = ViewerProblemField("crop")
    contents = serializers.SerializerMethodField(
        help_text="Every annotated class with what the crop holds of it: present classes first (largest share "
        "first), then absent ones, then unknown ones."
    )

    class Meta:
        model = models.Crop
        fields = [
            "number",
            "api_url",
            "dataset",
            "split",
            "voxel_size",
            "translation",
            "shape",
            "label_classes",
            "contents",
            "url",
            "published_state_url",
            "neuroglancer_url",
            "neuroglancer_state_url",
            "neuroglancer_inline_url",
            "viewer_problem",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(CropContentSerializer(many=True))
    def get_contents(self, crop: models.Crop) -> list[dict[str, Any]]:
        return CropContentSerializer(crop_class_contents(crop), many=True).data


# Collections, publications, views, benchmarks ----------------------------------------------------


class CollectionDownloadSerializer(serializers.ModelSerializer):
    class Meta:
        model = models.CollectionDownload
        fields = ["name", "url", "all_resolutions", "raw_padding"]


class CollectionSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="collection-detail", lookup_field="slug")
    doi = serializers.CharField(source="doi.value", read_only=True, allow_null=True, default=None)
    doi_url = serializers.SerializerMethodField()
    dataset_count = serializers.IntegerField(read_only=True)
    datasets_url = serializers.SerializerMethodField(help_text="The dataset list filtered to this collection.")

    class Meta:
        model = models.Collection
        fields = [
            "slug",
            "api_url",
            "title",
            "summary",
            "doi",
            "doi_url",
            "url",
            "thumbnail_url",
            "tags",
            "authors",
            "release_date",
            "dataset_count",
            "datasets_url",
        ]

    def get_doi_url(self, collection: models.Collection) -> str | None:
        return doi_url(collection.doi.value if collection.doi else None)

    def get_datasets_url(self, collection: models.Collection) -> str:
        return filtered_list_url(self.context.get("request"), "dataset-list", collection=collection.slug)


class CollectionDatasetSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="dataset-detail", lookup_field="slug")

    class Meta:
        model = models.Dataset
        fields = ["slug", "title", "api_url"]


class CollectionDetailSerializer(CollectionSerializer):
    datasets = CollectionDatasetSerializer(many=True, read_only=True)
    downloads = CollectionDownloadSerializer(many=True, read_only=True)
    links = serializers.SerializerMethodField()

    class Meta(CollectionSerializer.Meta):
        fields = [*CollectionSerializer.Meta.fields, "description", "datasets", "downloads", "links"]

    @extend_schema_field(
        inline_serializer(
            "CollectionLinks", {name: serializers.URLField() for name in ("citation", "jsonld", "datacite")}
        )
    )
    def get_links(self, collection: models.Collection) -> dict[str, str]:
        request = self.context.get("request")
        return {
            "citation": absolute_url(request, reverse("collection-citation", args=[collection.slug])),
            "jsonld": absolute_url(request, reverse("collection-jsonld", args=[collection.slug])),
            "datacite": absolute_url(request, reverse("collection-datacite", args=[collection.slug])),
        }


class PublicationSerializer(PublicationRefSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="publication-detail")
    datasets = DatasetRefField(many=True, help_text="Slugs of the datasets it describes or uses.")

    class Meta(PublicationRefSerializer.Meta):
        fields = [*PublicationRefSerializer.Meta.fields, "api_url", "datasets"]


class CuratedViewLayerSerializer(serializers.ModelSerializer):
    volume = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The volume shown, null when the name matches none."
    )

    class Meta:
        model = models.CuratedViewLayer
        fields = ["position", "name", "volume"]


class ViewSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="view-detail")
    dataset = DatasetRefField(help_text="Slug of the dataset.")
    position = AxisField("position", help_text="Camera position (nm).")
    orientation = serializers.JSONField(
        read_only=True, allow_null=True, help_text="Cross-section orientation quaternion [x, y, z, w]."
    )
    organelles = LabelClassRefField(many=True, help_text="Classes the view shows (short names).")
    layers = CuratedViewLayerSerializer(many=True, read_only=True)
    validation_errors = ValidationIssueSerializer(many=True, read_only=True)
    neuroglancer_url = NeuroglancerLinkField("view", "neuroglancer_url")
    neuroglancer_state_url = NeuroglancerLinkField("view", "neuroglancer_state_url")
    neuroglancer_inline_url = NeuroglancerLinkField("view", "neuroglancer_inline_url")
    viewer_problem = ViewerProblemField("view")

    class Meta:
        model = models.CuratedView
        fields = [
            "id",
            "api_url",
            "dataset",
            "name",
            "description",
            "position",
            "scale",
            "orientation",
            "organelles",
            "layers",
            "validation_errors",
            "neuroglancer_url",
            "neuroglancer_state_url",
            "neuroglancer_inline_url",
            "viewer_problem",
        ]


class BenchmarkResultSerializer(serializers.ModelSerializer):
    api_url = serializers.HyperlinkedIdentityField(view_name="benchmarkresult-detail")
    dataset = DatasetRefField(help_text="Slug of the dataset.")
    label_class = LabelClassRefField(allow_null=True, help_text="Class scored; null for an overall score.")

    class Meta:
        model = models.BenchmarkResult
        fields = ["id", "api_url", "dataset", "method", "metric", "label_class", "value", "source"]


# Facets --------------------------------------------------------------------------------------------


class FacetValueSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="The query parameter value that selects this facet value.")
    label = serializers.CharField()
    count = serializers.IntegerField(help_text="Datasets the list would hold with this value chosen.")
    selected = serializers.BooleanField()


class ClassFacetValueSerializer(FacetValueSerializer):
    crops_present = serializers.IntegerField(
        help_text="Crops (of the records counted) where the class is present: known counts of its own label "
        "array. 0 also where nothing is counted yet."
    )


class DatasetFacetsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Datasets matching every filter.")
    organism = FacetValueSerializer(many=True)
    tissue = FacetValueSerializer(many=True)
    modality = FacetValueSerializer(many=True)
    organelle = ClassFacetValueSerializer(many=True)
    collection = FacetValueSerializer(many=True)
    has_crops = FacetValueSerializer(many=True)
    fixation = FacetValueSerializer(many=True)
    voxel_size = FacetValueSerializer(many=True, help_text="Cumulative: value is a `voxel_size_max` in nm.")


class CropFacetValueSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True, help_text="The query parameter value that selects it.")
    label = serializers.CharField()
    count = serializers.IntegerField(help_text="Crops the list would hold with this value chosen.")
    selected = serializers.BooleanField()


class CropDatasetFacetValueSerializer(CropFacetValueSerializer):
    crops_present = serializers.IntegerField(
        allow_null=True, help_text="Of those crops, how many have the chosen `organelle` present; null without one."
    )


class CropClassFacetValueSerializer(CropFacetValueSerializer):
    crops_present = serializers.IntegerField(help_text="Of those crops, how many have the class present.")


class CropFacetsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Crops matching every filter.")
    dataset = CropDatasetFacetValueSerializer(many=True)
    split = CropFacetValueSerializer(many=True)
    organelle = CropClassFacetValueSerializer(many=True, help_text="`count`: crops annotated with the class.")
    present = CropFacetValueSerializer(
        many=True, help_text="With `organelle`: crops where it is present, absent, and not counted."
    )
