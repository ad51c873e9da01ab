"""Datasets, their DOIs and publications, and the collections that group them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Greatest, Least, Lower

from catalog.models.base import (
    DOI_PATTERN,
    ContentType,
    DoiGroup,
    Fixation,
    Modality,
    SampleType,
    SoftwareAvailability,
    VolumeKind,
    axis_fields,
    choices_constraint,
    count_of,
    doi_validator,
    finite_constraint,
    positive_axes_constraint,
)
from catalog.models.crops import Crop
from catalog.models.curated_views import CuratedView
from catalog.models.derived import DatasetClass
from catalog.models.ingest import VolumeStatistics
from catalog.models.vocabulary import LabelClass, Tissue
from catalog.models.volumes import Volume


class DOI(models.Model):
    """A Digital Object Identifier, stored lower-case without the resolver prefix."""

    value = models.CharField(max_length=255, unique=True, validators=[doi_validator])

    class Meta:
        ordering = ["value"]
        verbose_name = "DOI"
        constraints = [
            models.CheckConstraint(condition=Q(value__regex=DOI_PATTERN), name="doi_format"),
            models.CheckConstraint(condition=Q(value=Lower("value")), name="doi_lowercase"),
        ]

    def __str__(self) -> str:
        return self.value

    @property
    def url(self) -> str:
        return f"https://doi.org/{self.value}"


class Publication(models.Model):
    """A paper or preprint that describes or uses datasets."""

    title = models.TextField(help_text="Title or citation text as the source gives it.")
    authors = models.CharField(max_length=500, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    doi = models.OneToOneField(DOI, null=True, blank=True, on_delete=models.PROTECT, related_name="publication")
    url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["-year", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(year__isnull=True) | Q(year__gte=1900, year__lte=2100), name="publication_year_range"
            ),
            models.UniqueConstraint(fields=["title"], condition=Q(doi__isnull=True), name="publication_title_no_doi"),
        ]

    def __str__(self) -> str:
        return self.title


LIST_FIELDS = (
    "id",
    "slug",
    "title",
    "organism__slug",
    "organism__name",
    "modality",
    "fixation",
    "voxel_size_x",
    "voxel_size_y",
    "voxel_size_z",
    "release_date",
    "thumbnail_url",
    "viewer_problem",
    "viewer_problem_field",
    "inline_state_length",
)
"""The columns a dataset list shows (with its viewer links, which need the last three)."""


def _voxel_columns() -> list[F]:
    return [F("voxel_size_x"), F("voxel_size_y"), F("voxel_size_z")]


class DatasetQuerySet(models.QuerySet):
    """Chainable reads of datasets: what each page and endpoint fetches, and the filters they share."""

    def with_counts(self) -> DatasetQuerySet:
        """Computed columns that lists show and sort by (volume and crop counts, coarsest voxel)."""
        return self.annotate(**self.count_annotations())

    @staticmethod
    def count_annotations() -> dict[str, Any]:
        return {
            "volume_count": count_of(Volume, "dataset"),
            "crop_count": count_of(Crop, "dataset"),
            "coarsest_voxel_nm": Greatest(*_voxel_columns()),
        }

    def with_image_thumbnail(self) -> DatasetQuerySet:
        """The thumbnail ingest rendered from one of the dataset's images (for records without
        a thumbnail URL of their own), as ``image_thumbnail``."""
        thumbnails = (
            VolumeStatistics.objects.filter(
                volume__dataset=OuterRef("pk"),
                volume__kind=VolumeKind.IMAGE,
                volume__content_type__in=[ContentType.EM, ContentType.LM],
            )
            .exclude(thumbnail="")
            .order_by("volume__name")
            .values("thumbnail")[:1]
        )
        return self.annotate(image_thumbnail=Subquery(thumbnails))

    def for_list(self) -> DatasetQuerySet:
        """Datasets as lists show them: one query for the rows, one for their tissues."""
        return (
            self.select_related("organism")
            .only(*LIST_FIELDS)
            .prefetch_related(Prefetch("tissues", queryset=Tissue.objects.only("id", "slug", "name")))
            .with_counts()
            .with_image_thumbnail()
        )

    def for_citation(self) -> DatasetQuerySet:
        """Datasets with what their citations and linked data read."""
        return self.select_related("organism").prefetch_related(
            "tissues",
            "institutions",
            Prefetch("dataset_dois", queryset=DatasetDOI.objects.select_related("doi")),
            Prefetch("publications", queryset=Publication.objects.select_related("doi")),
            Prefetch("collections", queryset=Collection.objects.select_related("doi")),
        )

    def for_record(self) -> DatasetQuerySet:
        """Datasets with their organism and counts, in one query: the API's record reads every
        relation it lists in one more (``catalog.selectors.dataset_relations``)."""
        return (
            self.select_related("organism")
            .with_counts()
            .annotate(view_count=count_of(CuratedView, "dataset"))
            .with_image_thumbnail()
        )

    def for_detail(self) -> DatasetQuerySet:
        """Datasets with everything a detail record shows, in a fixed number of queries."""
        return self.for_record().prefetch_related(
            "tissues",
            "cell_types",
            "treatments",
            "institutions",
            Prefetch("dataset_dois", queryset=DatasetDOI.objects.select_related("doi")),
            Prefetch("publications", queryset=Publication.objects.select_related("doi")),
            Prefetch("collections", queryset=Collection.objects.only("id", "slug", "title")),
            Prefetch(
                "views",
                queryset=CuratedView.objects.only(
                    "id", "dataset_id", "name", "viewer_problem", "viewer_problem_field", "inline_state_length"
                ),
            ),
        )

    def annotated_with(self, classes: Iterable[LabelClass | int]) -> DatasetQuerySet:
        """Datasets annotated with any of ``classes``: a group class matches data annotated with
        any of its members, recursively (the ``DatasetClass`` closure)."""
        ids = [item if isinstance(item, int) else item.pk for item in classes]
        return self.filter(Exists(DatasetClass.objects.filter(dataset=OuterRef("pk"), label_class_id__in=ids)))

    def in_tissues(self, tissues: Iterable[Tissue]) -> DatasetQuerySet:
        through = Dataset.tissues.through.objects.filter(dataset=OuterRef("pk"), tissue__in=list(tissues))
        return self.filter(Exists(through))

    def in_collections(self, collections: Iterable[Collection]) -> DatasetQuerySet:
        through = Collection.datasets.through.objects.filter(dataset=OuterRef("pk"), collection__in=list(collections))
        return self.filter(Exists(through))

    def with_crops(self, present: bool = True) -> DatasetQuerySet:
        has_crops = Exists(Crop.objects.filter(dataset=OuterRef("pk")))
        return self.filter(has_crops if present else ~has_crops)

    def voxel_size_at_least(self, nm: float) -> DatasetQuerySet:
        """Every axis at least this coarse; datasets without a voxel size are left out."""
        return self.alias(finest_voxel_nm=Least(*_voxel_columns())).filter(finest_voxel_nm__gte=nm)

    def voxel_size_at_most(self, nm: float) -> DatasetQuerySet:
        """Every axis at most this coarse; datasets without a voxel size are left out."""
        return self.alias(coarsest_voxel_check_nm=Greatest(*_voxel_columns())).filter(coarsest_voxel_check_nm__lte=nm)


def validate_creators(value: object) -> None:
    """Creators edited in the admin obey the manifest's rules, so an export always loads again."""
    from pydantic import TypeAdapter
    from pydantic import ValidationError as SchemaError

    from catalog.schemas.manifest import CreatorManifest

    try:
        creators = TypeAdapter(list[CreatorManifest]).validate_python(value)
    except SchemaError as error:
        messages = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        raise ValidationError("; ".join(messages)) from error
    if [creator.model_dump() for creator in creators] != value:
        raise ValidationError(
            "Give every creator as {name, given_name, family_name, orcid} (blank strings where unknown), "
            "the ORCID iD as 0000-0000-0000-000X."
        )


class Dataset(models.Model):
    """One imaged sample: its metadata, acquisition and the volumes, crops and views made from it."""

    slug = models.SlugField(max_length=100, unique=True, help_text="Stable identifier used in every URL.")
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)

    organism = models.ForeignKey(
        "catalog.Organism", null=True, blank=True, on_delete=models.PROTECT, related_name="datasets"
    )
    tissues = models.ManyToManyField("catalog.Tissue", blank=True, related_name="datasets")
    cell_types = models.ManyToManyField("catalog.CellType", blank=True, related_name="datasets")
    treatments = models.ManyToManyField("catalog.Treatment", blank=True, related_name="datasets")
    sample_type = models.CharField(max_length=20, choices=SampleType.choices, blank=True)

    sample_protocol = models.TextField(blank=True)
    fixation = models.CharField(max_length=10, choices=Fixation.choices, blank=True)
    embedding = models.CharField(max_length=200, blank=True)
    contributions = models.TextField(blank=True)
    acknowledgements = models.TextField(blank=True)
    institutions = models.ManyToManyField("catalog.Institution", blank=True, related_name="datasets")
    creators = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_creators],
        help_text="People and teams credited for the data, in citation order: [{name, given_name, family_name, "
        "orcid}]; a creator without a family name is an organisation. Citations fall back to the institutions.",
    )

    modality = models.CharField(max_length=20, choices=Modality.choices, blank=True)
    instrument = models.CharField(max_length=200, blank=True)
    acquisition_id = models.CharField(max_length=200, blank=True)
    acquisition_institution = models.CharField(max_length=200, blank=True)
    start_date = models.DateField(null=True, blank=True)
    duration_days = models.PositiveIntegerField(null=True, blank=True)
    bias_voltage_v = models.FloatField(null=True, blank=True, help_text="FIB-SEM bias voltage (V).")
    scan_rate_mhz = models.FloatField(null=True, blank=True, help_text="FIB-SEM scan rate (MHz).")
    current_na = models.FloatField(null=True, blank=True, help_text="FIB-SEM beam current (nA).")
    primary_energy_ev = models.FloatField(null=True, blank=True, help_text="FIB-SEM primary energy (eV).")

    voxel_size_x = models.FloatField(null=True, blank=True, help_text="nm")
    voxel_size_y = models.FloatField(null=True, blank=True, help_text="nm")
    voxel_size_z = models.FloatField(null=True, blank=True, help_text="nm")
    extent_x = models.FloatField(null=True, blank=True, help_text="nm")
    extent_y = models.FloatField(null=True, blank=True, help_text="nm")
    extent_z = models.FloatField(null=True, blank=True, help_text="nm")

    licence = models.CharField(max_length=200, blank=True)
    licence_url = models.URLField(max_length=500, blank=True)
    contact = models.CharField(max_length=300, blank=True)
    thumbnail_url = models.URLField(max_length=500, blank=True)
    release_date = models.DateField(null=True, blank=True)
    version = models.CharField(max_length=50, blank=True)
    tags = models.JSONField(default=list, blank=True)
    software_availability = models.CharField(max_length=20, choices=SoftwareAvailability.choices, blank=True)
    download_url = models.URLField(max_length=500, blank=True)
    data_formats = models.JSONField(default=list, blank=True, help_text="File formats the data is published in.")
    data_size = models.CharField(max_length=200, blank=True)
    atlas = models.CharField(max_length=200, blank=True, help_text="Reference atlas the data is registered to.")
    metrics = models.JSONField(default=list, blank=True, help_text="Evaluation metrics the source defines.")
    published_state_url = models.CharField(
        max_length=500, blank=True, help_text="Viewer state published upstream for this dataset."
    )
    provenance = models.TextField(blank=True, help_text="Where this record's facts come from.")

    dois = models.ManyToManyField(DOI, through="catalog.DatasetDOI", blank=True, related_name="datasets")
    publications = models.ManyToManyField(Publication, blank=True, related_name="datasets")

    known_issues = models.JSONField(
        default=list, blank=True, help_text="Upstream defects recorded by the manifest: [{field, message}]."
    )
    validation_errors = models.JSONField(
        default=list, blank=True, help_text="Problems found when the record was loaded: [{field, message}]."
    )
    viewer_problem = models.TextField(
        blank=True, editable=False, help_text="Why Neuroglancer cannot open the dataset; blank when it can (derived)."
    )
    viewer_problem_field = models.CharField(max_length=40, blank=True, editable=False)
    inline_state_length = models.PositiveIntegerField(
        null=True,
        editable=False,
        help_text="Characters of the state's inline link fragment; null without a state (derived).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Searched through its own narrow index table (catalog.models.derived.DatasetSearch), filled
    # by catalog.indexing: no search text widens the rows every list reads.

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=~Q(slug=""), name="dataset_slug_not_blank"),
            choices_constraint("sample_type", SampleType, "dataset_sample_type_valid"),
            choices_constraint("fixation", Fixation, "dataset_fixation_valid"),
            choices_constraint("modality", Modality, "dataset_modality_valid"),
            choices_constraint("software_availability", SoftwareAvailability, "dataset_software_valid"),
            positive_axes_constraint("voxel_size", "dataset_voxel_size_positive"),
            positive_axes_constraint("extent", "dataset_extent_positive"),
            models.CheckConstraint(
                condition=Q(scan_rate_mhz__isnull=True) | Q(scan_rate_mhz__gt=0), name="dataset_scan_rate_positive"
            ),
            models.CheckConstraint(
                condition=Q(current_na__isnull=True) | Q(current_na__gt=0), name="dataset_current_positive"
            ),
            models.CheckConstraint(
                condition=Q(primary_energy_ev__isnull=True) | Q(primary_energy_ev__gt=0),
                name="dataset_primary_energy_positive",
            ),
            finite_constraint(
                [
                    "bias_voltage_v",
                    "scan_rate_mhz",
                    "current_na",
                    "primary_energy_ev",
                    *axis_fields("voxel_size", "extent"),
                ],
                "dataset_numbers_finite",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def display_title(self) -> str:
        return self.title or self.slug


class DatasetDOI(models.Model):
    """A DOI attached to a dataset, for the whole dataset or one group of its volumes."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="dataset_dois")
    doi = models.ForeignKey(DOI, on_delete=models.PROTECT, related_name="dataset_links")
    group = models.CharField(max_length=20, choices=DoiGroup.choices, default=DoiGroup.DATASET)

    class Meta:
        ordering = ["dataset", "group", "doi"]
        verbose_name = "dataset DOI"
        constraints = [
            models.UniqueConstraint(fields=["dataset", "doi"], name="datasetdoi_unique"),
            choices_constraint("group", DoiGroup, "datasetdoi_group_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset}: {self.doi} ({self.get_group_display()})"


class Collection(models.Model):
    """A curated group of datasets with its own description and DOI (a release, a challenge)."""

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=300)
    summary = models.TextField(blank=True)
    description = models.TextField(blank=True, help_text="Markdown.")
    doi = models.ForeignKey(DOI, null=True, blank=True, on_delete=models.PROTECT, related_name="collections")
    url = models.URLField(max_length=500, blank=True)
    thumbnail_url = models.URLField(max_length=500, blank=True)
    tags = models.JSONField(default=list, blank=True)
    authors = models.JSONField(default=list, blank=True)
    release_date = models.DateField(null=True, blank=True)
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="collections")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [models.CheckConstraint(condition=~Q(title=""), name="collection_title_not_blank")]

    def __str__(self) -> str:
        return self.title


class CollectionDownload(models.Model):
    """A pre-packaged download bundle of a collection."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="downloads")
    name = models.CharField(max_length=200)
    url = models.CharField(max_length=500)
    all_resolutions = models.BooleanField(default=False)
    raw_padding = models.PositiveIntegerField(default=0, help_text="EM padding around each crop (voxels).")

    class Meta:
        ordering = ["collection", "name"]
        constraints = [models.UniqueConstraint(fields=["collection", "name"], name="collectiondownload_unique")]

    def __str__(self) -> str:
        return self.name
