"""One django-filter FilterSet per resource, shared by the REST API and the HTML pages.

Both read the same querystring: ``?organism=homo-sapiens&organism=mus-musculus&organelle=mito``.
Several values of one filter match any of them (OR); different filters must all match (AND).
A value the FilterSet cannot use (an unknown organism or organelle, ``voxel_size_max=abc``) makes
the form invalid and names the parameter: the API answers 400, and the pages should show the
message (check ``filterset.is_valid()`` / ``filterset.errors`` before using ``filterset.qs``).
"""

from __future__ import annotations

import copy
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django_filters.filterset import FilterSetMetaclass

from catalog.models import (
    BenchmarkResult,
    Collection,
    Crop,
    CropContent,
    CuratedView,
    Dataset,
    LabelClass,
    Organism,
    Publication,
    SegmentLabel,
    Tissue,
    Volume,
)
from catalog.models.base import (
    ContentType,
    CropSplit,
    Fixation,
    Metric,
    Modality,
    VolumeFormat,
    VolumeKind,
    VolumeStatus,
)
from catalog.models.datasets import DatasetQuerySet
from catalog.search import corrected_query, search_datasets
from catalog.selectors import class_closure_ids

BOOLEAN_CHOICES = (("true", "Yes"), ("false", "No"))


class FilterCopies(dict):
    """A FilterSet class's filters. django-filter deep-copies them for every FilterSet it makes
    (every filtered request), copying each filter's querysets, choices and form field: about
    3 ms a request. Each FilterSet gets a shallow copy of every filter instead, with its own
    ``extra`` (django-filter writes the queryset there): what a FilterSet sets on its filters
    (``model``, ``parent``, the method binding) stays its own, and what they share is only read."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, filters.Filter]:
        copies = {}
        for name, original in self.items():
            copied = copies[name] = copy.copy(original)
            copied.extra = dict(original.extra)
            if original.method is not None:
                copied.method = original.method  # binds the copy's FilterMethod to the copy
        return copies


class CatalogFilterSetMetaclass(FilterSetMetaclass):
    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> type:
        new_class = super().__new__(mcs, name, bases, attrs)
        new_class.base_filters = FilterCopies(new_class.base_filters)
        return new_class


class SharedFields(dict):
    """A FilterSet form class's fields. Django deep-copies a form's fields for every instance, so
    that what one instance changes in them stays its own (about 2 ms for the dataset filters'
    querysets and choices); nothing changes these fields once made, so every form takes them
    as they are."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return dict(self)


class CatalogFilterSet(filters.FilterSet, metaclass=CatalogFilterSetMetaclass):
    """The base of the catalog's FilterSets (``FilterCopies``, ``SharedFields``). Each filter's
    form field is made once per process, by the first FilterSet, and kept on the class's own
    filter, whose copies share it: the catalog's filters read fixed querysets and choices, so
    their fields depend on no request (django-filter made 11 fields a request)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, original in type(self).base_filters.items():
            if not hasattr(original, "_field"):
                original._field = self.filters[name].field

    def get_form_class(self) -> type:
        form_class = super().get_form_class()
        form_class.base_fields = SharedFields(form_class.base_fields)
        return form_class


class StrictBooleanFilter(filters.ChoiceFilter):
    """``true`` or ``false``; anything else is an error instead of being ignored. Its method
    receives the string, so ``value == "true"``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", BOOLEAN_CHOICES)
        super().__init__(*args, **kwargs)


class ChoicesFilter(filters.MultipleChoiceFilter):
    """Values of a choice column, several combined with OR; a column never duplicates rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class ReferenceFilter(filters.ModelMultipleChoiceFilter):
    """Records named by slug or short name (``to_field_name``), several values combined with OR."""

    def get_filter_predicate(self, v: Any) -> dict[str, Any]:
        # Filter on the relation with the validated record, not on its slug through a join.
        return {self.field_name: v}


def _organelle_filter(**kwargs: Any) -> ReferenceFilter:
    return ReferenceFilter(
        queryset=LabelClass.objects.only("pk", "name"),
        to_field_name="name",
        help_text=(
            "Label class short name (e.g. `mito`). A group class also matches data annotated with any of its "
            "members, recursively. Repeat for any of several."
        ),
        **kwargs,
    )


class DatasetOrderingFilter(filters.OrderingFilter):
    """Ordering that adds the computed sort keys (counts, coarsest voxel) when the queryset lacks them."""

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        if value:
            computed = Dataset.objects.count_annotations()
            wanted = {self.param_map.get(item.lstrip("-")) for item in value}
            qs = qs.annotate(
                **{name: computed[name] for name in wanted if name in computed and name not in qs.query.annotations}
            )
        return super().filter(qs, value)


class DatasetFilterSet(CatalogFilterSet):
    """Filters of the dataset list (API ``/api/datasets/`` and the browse page)."""

    q = filters.CharFilter(
        method="filter_q",
        help_text=(
            "Full-text search over title and slug (strongest), description, and organism, tissue, cell type and "
            'organelle names. Web-search syntax: words, "quoted phrases", `or`, `-excluded`. When the words match '
            "nothing, unknown words are spelling-corrected against the catalog's vocabulary (trigram "
            "similarity). Results are ordered by relevance unless `ordering` is given."
        ),
    )
    organism = ReferenceFilter(
        field_name="organism",
        distinct=False,
        queryset=Organism.objects.only("pk", "slug"),
        to_field_name="slug",
        help_text="Organism slug (e.g. `homo-sapiens`). Repeat for any of several.",
    )
    tissue = ReferenceFilter(
        queryset=Tissue.objects.only("pk", "slug"),
        to_field_name="slug",
        method="filter_tissue",
        help_text="Tissue slug. Repeat for any of several.",
    )
    organelle = _organelle_filter(method="filter_organelle")
    modality = ChoicesFilter(choices=Modality.choices, help_text="Imaging modality. Repeat for any of several.")
    collection = ReferenceFilter(
        queryset=Collection.objects.only("pk", "slug"),
        to_field_name="slug",
        method="filter_collection",
        help_text="Collection slug (e.g. `cellmap-segmentation-challenge`). Repeat for any of several.",
    )
    has_crops = StrictBooleanFilter(
        method="filter_has_crops", help_text="`true`: only datasets with annotated crops; `false`: only without."
    )
    voxel_size_min = filters.NumberFilter(
        method="filter_voxel_size_min",
        min_value=0,
        help_text="Smallest voxel size in nm: every axis is at least this coarse. Datasets without a voxel size "
        "are left out.",
    )
    voxel_size_max = filters.NumberFilter(
        method="filter_voxel_size_max",
        min_value=0,
        help_text="Largest voxel size in nm: every axis is at most this coarse. Datasets without a voxel size "
        "are left out.",
    )
    fixation = ChoicesFilter(choices=Fixation.choices, help_text="Sample fixation. Repeat for any of several.")
    ordering = DatasetOrderingFilter(
        fields=(
            ("slug", "slug"),
            ("title", "title"),
            ("release_date", "release_date"),
            ("coarsest_voxel_nm", "voxel_size"),
            ("volume_count", "volume_count"),
            ("crop_count", "crop_count"),
        ),
        help_text="Sort by slug, title, release_date, voxel_size (the coarsest axis), volume_count or "
        "crop_count; prefix `-` for descending. Default: relevance with `q`, else slug.",
    )

    class Meta:
        model = Dataset
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._query_texts: dict[str, str] = {}

    def filter_q(self, queryset: QuerySet[Dataset], name: str, value: str) -> QuerySet[Dataset]:
        if not value.strip():
            return queryset
        return search_datasets(queryset, value, query_text=self.query_text(value))

    def query_text(self, value: str) -> str:
        """The words searched for ``value``: as written, or spelling-corrected; computed once."""
        if value not in self._query_texts:
            self._query_texts[value] = corrected_query(value)
        return self._query_texts[value]

    def filter_tissue(self, queryset: DatasetQuerySet, name: str, value: list[Tissue]) -> DatasetQuerySet:
        return queryset.in_tissues(value) if value else queryset

    def filter_organelle(self, queryset: DatasetQuerySet, name: str, value: list[LabelClass]) -> DatasetQuerySet:
        return queryset.annotated_with(value) if value else queryset

    def filter_collection(self, queryset: DatasetQuerySet, name: str, value: list[Collection]) -> DatasetQuerySet:
        return queryset.in_collections(value) if value else queryset

    def filter_has_crops(self, queryset: DatasetQuerySet, name: str, value: str) -> DatasetQuerySet:
        return queryset.with_crops(value == "true")

    def filter_voxel_size_min(self, queryset: DatasetQuerySet, name: str, value: float) -> DatasetQuerySet:
        return queryset.voxel_size_at_least(float(value))

    def filter_voxel_size_max(self, queryset: DatasetQuerySet, name: str, value: float) -> DatasetQuerySet:
        return queryset.voxel_size_at_most(float(value))


class VolumeFilterSet(CatalogFilterSet):
    """Filters of the volume list."""

    dataset = ReferenceFilter(
        field_name="dataset",
        distinct=False,
        queryset=Dataset.objects.only("pk", "slug"),
        to_field_name="slug",
        help_text="Dataset slug. Repeat for any of several.",
    )
    kind = ChoicesFilter(choices=VolumeKind.choices, help_text="Kind of layer.")
    content_type = ChoicesFilter(choices=ContentType.choices, help_text="What the data is.")
    format = ChoicesFilter(choices=VolumeFormat.choices, help_text="Storage format.")
    status = ChoicesFilter(choices=VolumeStatus.choices, help_text="Validation status of the stored data.")
    organelle = _organelle_filter(method="filter_organelle")
    ordering = filters.OrderingFilter(
        fields=(("id", "id"), ("name", "name"), ("dataset__slug", "dataset")),
        help_text="Sort by id, name or dataset; prefix `-` for descending. Default: dataset, then name.",
    )

    class Meta:
        model = Volume
        fields: list[str] = []

    def filter_organelle(self, queryset: QuerySet[Volume], name: str, value: list[LabelClass]) -> QuerySet[Volume]:
        if not value:
            return queryset
        ids = class_closure_ids(value)
        labelled = SegmentLabel.objects.filter(volume=OuterRef("pk"), label_class_id__in=ids)
        return queryset.filter(Q(label_class_id__in=ids) | Exists(labelled))


CONTENT_PARAMETERS = ("present", "min_share", "min_voxels")
"""Crop filters on what a crop holds of the ``organelle`` classes; they need ``organelle``."""


class CropFilterForm(forms.Form):
    """The crop filters' form: the content filters and share ordering name the class they read."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("organelle"):
            return data
        for name in CONTENT_PARAMETERS:
            if data.get(name) not in (None, "", []):
                self.add_error(name, "Needs organelle=<class>: which class's voxels to look at.")
        if any(item.lstrip("-") == "share" for item in data.get("ordering") or []):
            self.add_error("ordering", "Ordering by share needs organelle=<class>: whose share to sort by.")
        return data


class CropOrderingFilter(filters.OrderingFilter):
    """Adds ``share``: the crop's present-voxel share of the ``organelle`` classes (largest of
    them), unknown shares last whichever the direction."""

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        if not value or not any(item.lstrip("-") == "share" for item in value):
            return super().filter(qs, value)
        classes = self.parent.form.cleaned_data.get("organelle") or []
        shares = (
            CropContent.objects.filter(crop=OuterRef("pk"), label_class__in=classes, present_share__isnull=False)
            .order_by("-present_share")
            .values("present_share")[:1]
        )
        qs = qs.annotate(class_share=Subquery(shares))
        ordering = []
        for item in value:
            descending = item.startswith("-")
            name = item.lstrip("-")
            if name == "share":
                column = F("class_share")
                ordering.append(column.desc(nulls_last=True) if descending else column.asc(nulls_last=True))
            else:
                field = self.param_map.get(name, name)
                ordering.append(f"-{field}" if descending else field)
        return qs.order_by(*ordering, "number")


class CropFilterSet(CatalogFilterSet):
    """Filters of the crop list (API ``/api/crops/``, its manifests and facets, and the pages).

    ``organelle`` is what a crop is annotated with (a group matches its members); ``present``,
    ``min_share`` and ``min_voxels`` read what the crop's array of a named class holds
    (``CropContent``), known counts only: a crop whose counts are unknown matches neither
    ``present=true`` nor ``present=false``.
    """

    dataset = ReferenceFilter(
        field_name="dataset",
        distinct=False,
        queryset=Dataset.objects.only("pk", "slug"),
        to_field_name="slug",
        help_text="Dataset slug. Repeat for any of several.",
    )
    split = ChoicesFilter(choices=CropSplit.choices, help_text="Challenge split.")
    number = filters.NumberFilter(field_name="number", min_value=1, help_text="One crop, by its number.")
    organelle = _organelle_filter(method="filter_organelle")
    present = StrictBooleanFilter(
        method="filter_present",
        help_text="With `organelle`: `true`, crops whose label array of the class has voxels present (known "
        "counts); `false`, crops where it is known to have none. Crops with unknown counts match neither.",
    )
    min_share = filters.NumberFilter(
        method="filter_min_share",
        min_value=0,
        max_value=1,
        help_text="With `organelle`: the class's present voxels are at least this share (0 to 1) of the crop.",
    )
    min_voxels = filters.NumberFilter(
        method="filter_min_voxels",
        min_value=1,
        help_text="With `organelle`: the class has at least this many voxels present in the crop.",
    )
    ordering = CropOrderingFilter(
        fields=(("number", "number"), ("dataset__slug", "dataset"), ("share", "share")),
        help_text="Sort by number, dataset or share (the `organelle` class's share of the crop, unknown last); "
        "prefix `-` for descending. Default: number.",
    )

    class Meta:
        model = Crop
        fields: list[str] = []
        form = CropFilterForm

    def filter_organelle(self, queryset: QuerySet[Crop], name: str, value: list[LabelClass]) -> QuerySet[Crop]:
        if not value:
            return queryset
        through = Crop.label_classes.through.objects.filter(
            crop=OuterRef("pk"), labelclass_id__in=class_closure_ids(value)
        )
        return queryset.filter(Exists(through))

    def _contents(self, **condition: Any) -> Exists:
        classes = self.form.cleaned_data.get("organelle") or []
        return Exists(CropContent.objects.filter(crop=OuterRef("pk"), label_class__in=classes, **condition))

    def filter_present(self, queryset: QuerySet[Crop], name: str, value: str) -> QuerySet[Crop]:
        if value == "true":
            return queryset.filter(self._contents(present_voxels__gt=0))
        return queryset.filter(self._contents(present_voxels=0)).exclude(self._contents(present_voxels__gt=0))

    def filter_min_share(self, queryset: QuerySet[Crop], name: str, value: Any) -> QuerySet[Crop]:
        return queryset.filter(self._contents(present_share__gte=float(value), present_voxels__gt=0))

    def filter_min_voxels(self, queryset: QuerySet[Crop], name: str, value: Any) -> QuerySet[Crop]:
        return queryset.filter(self._contents(present_voxels__gte=int(value)))

    def queryset_without(self, *names: str) -> QuerySet[Crop]:
        """The crops matching every filter except ``names`` (what a crop facet counts over)."""
        if not self.is_valid():
            raise ValueError(f"queryset_without needs a valid filterset: {dict(self.errors)}")
        skipped = {*names, "ordering"}
        queryset = self.queryset.all()
        for name, value in self.form.cleaned_data.items():
            if name not in skipped:
                queryset = self.filters[name].filter(queryset, value)
        return queryset


class LabelClassFilterSet(CatalogFilterSet):
    """Filters of the label class list."""

    is_group = StrictBooleanFilter(
        method="filter_is_group", help_text="`true`: only group classes (with members); `false`: only leaves."
    )
    member_of = ReferenceFilter(
        field_name="member_of",
        queryset=LabelClass.objects.only("pk", "name"),
        to_field_name="name",
        distinct=True,
        help_text="Only direct members of this group class.",
    )

    class Meta:
        model = LabelClass
        fields: list[str] = []

    def filter_is_group(self, queryset: QuerySet[LabelClass], name: str, value: str) -> QuerySet[LabelClass]:
        members = LabelClass.members.through.objects.filter(from_labelclass=OuterRef("pk"))
        return queryset.filter(Exists(members) if value == "true" else ~Exists(members))


class PublicationFilterSet(CatalogFilterSet):
    """Filters of the publication list."""

    dataset = ReferenceFilter(
        field_name="datasets",
        queryset=Dataset.objects.only("pk", "slug"),
        to_field_name="slug",
        distinct=True,
        help_text="Publications about this dataset (slug).",
    )

    class Meta:
        model = Publication
        fields: list[str] = []


class ViewFilterSet(CatalogFilterSet):
    """Filters of the curated view list."""

    dataset = ReferenceFilter(
        field_name="dataset",
        distinct=False,
        queryset=Dataset.objects.only("pk", "slug"),
        to_field_name="slug",
        help_text="Dataset slug. Repeat for any of several.",
    )
    organelle = _organelle_filter(method="filter_organelle")

    class Meta:
        model = CuratedView
        fields: list[str] = []

    def filter_organelle(
        self, queryset: QuerySet[CuratedView], name: str, value: list[LabelClass]
    ) -> QuerySet[CuratedView]:
        if not value:
            return queryset
        through = CuratedView.organelles.through.objects.filter(
            view=OuterRef("pk"), labelclass_id__in=class_closure_ids(value)
        )
        return queryset.filter(Exists(through))


class BenchmarkResultFilterSet(CatalogFilterSet):
    """Filters of the benchmark result list."""

    dataset = ReferenceFilter(
        field_name="dataset",
        distinct=False,
        queryset=Dataset.objects.only("pk", "slug"),
        to_field_name="slug",
        help_text="Dataset slug. Repeat for any of several.",
    )
    method = filters.CharFilter(help_text="Method name, exactly.")
    metric = ChoicesFilter(choices=Metric.choices, help_text="Metric.")
    organelle = ReferenceFilter(
        field_name="label_class",
        distinct=False,
        queryset=LabelClass.objects.only("pk", "name"),
        to_field_name="name",
        help_text="Scores for this label class (short name).",
    )

    class Meta:
        model = BenchmarkResult
        fields: list[str] = []
