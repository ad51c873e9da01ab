"""Viewsets of the catalog API: read for everyone, write for curators (staff).

Reads come from ``Dataset.objects`` and catalog.selectors (a fixed number of queries per
request), filters from catalog.filters (shared with the pages), facets from catalog.facets, and
writes go through catalog.services.records, whose errors the API's handler answers as 400s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, routers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from catalog import citations, crop_index, downloads, facets, filters, freshness, selectors
from catalog.api import payloads, serializers
from catalog.api.filtering import (
    FormatIsAFilterNegotiation,
    StrictFilterBackend,
    filterset_error,
    format_parameter,
    reject_unknown_parameters,
)
from catalog.api.pagination import CatalogPagination
from catalog.api.permissions import StaffWriteOrReadOnly
from catalog.api.schema import ERROR_SCHEMA, CatalogAutoSchema
from catalog.models import Collection, Crop, Dataset, Volume
from catalog.schemas.manifest import DatasetManifest
from catalog.services import records

READ_ERRORS = {
    400: OpenApiResponse(ERROR_SCHEMA, description="A bad parameter, named in `errors`."),
    404: OpenApiResponse(ERROR_SCHEMA, description="No such record or page."),
    429: OpenApiResponse(ERROR_SCHEMA, description="Too many anonymous requests; see Retry-After."),
}
WRITE_ERRORS = {
    400: OpenApiResponse(ERROR_SCHEMA, description="The payload is invalid; each problem is in `errors`."),
    401: OpenApiResponse(ERROR_SCHEMA, description="Not authenticated."),
    403: OpenApiResponse(ERROR_SCHEMA, description="Not a curator (staff)."),
    404: OpenApiResponse(ERROR_SCHEMA, description="No such record."),
}
STYLE_PARAMETER = OpenApiParameter(
    "style",
    str,
    enum=list(citations.STYLES),
    default="bibtex",
    description="Citation format: BibTeX, RIS or CSL-JSON.",
)
CITATION_RESPONSES = {
    (200, "application/x-bibtex"): OpenApiResponse(OpenApiTypes.STR, description="BibTeX (style=bibtex)."),
    (200, "application/x-research-info-systems"): OpenApiResponse(OpenApiTypes.STR, description="RIS (style=ris)."),
    (200, "application/vnd.citationstyles.csl+json"): OpenApiResponse(
        {"type": "array", "items": {"type": "object"}}, description="CSL-JSON (style=csl)."
    ),
    (400, "application/json"): READ_ERRORS[400],
    (404, "application/json"): READ_ERRORS[404],
    (429, "application/json"): READ_ERRORS[429],
}
JSONLD_RESPONSES = {
    (200, "application/ld+json"): OpenApiResponse(OpenApiTypes.OBJECT, description="schema.org Dataset."),
    (400, "application/json"): READ_ERRORS[400],
    (404, "application/json"): READ_ERRORS[404],
    (429, "application/json"): READ_ERRORS[429],
}
DATACITE_RESPONSES = {
    (200, "application/vnd.datacite.datacite+json"): OpenApiResponse(
        OpenApiTypes.OBJECT, description="DataCite Metadata Schema 4.x, as DataCite's REST API takes it."
    ),
    (400, "application/json"): READ_ERRORS[400],
    (404, "application/json"): OpenApiResponse(ERROR_SCHEMA, description="No such record, or it has no DOI."),
    (429, "application/json"): READ_ERRORS[429],
}


class CatalogViewSet(viewsets.GenericViewSet):
    """Shared behaviour: strict filtering on lists, pagination, staff-only writes."""

    pagination_class = CatalogPagination
    filter_backends = [StrictFilterBackend]
    permission_classes = [StaffWriteOrReadOnly]
    schema = CatalogAutoSchema()
    # Query parameters a detail route reads (actions set them); anything else is a 400.
    detail_query_parameters: tuple[str, ...] = ()

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """Filters apply to lists; a detail URL names its record whatever the querystring says."""
        if self.action in ("list", "facets"):
            return super().filter_queryset(queryset)
        self.reject_detail_parameters()
        return queryset

    def reject_detail_parameters(self) -> None:
        """A 400 for any query parameter the detail route does not read."""
        reject_unknown_parameters(self.request, set(self.detail_query_parameters) | format_parameter(self))


@dataclass(frozen=True)
class RenderedBody:
    """A read's response as sent: what a cache hit answers without rendering it again."""

    content: bytes
    content_type: str


class CachedReadsMixin:
    """List and detail payloads are cached per catalog version, which every committed write
    bumps. The cache is consulted inside the handler, so authentication, permissions,
    throttling and parameter checks have all run; only 200 payloads are stored, answers to a
    query string (searches, filters, pages) for a short time. JSON is stored as the bytes
    sent, so a hit neither serialises nor renders; other renderers (the browsable API) get
    the data."""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._cached_read(super().list, request, *args, **kwargs)  # type: ignore[misc]

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._cached_read(super().retrieve, request, *args, **kwargs)  # type: ignore[misc]

    def _cached_read(self, read: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        renderer = request.accepted_renderer
        identity = f"{request.build_absolute_uri()}|{renderer.format}|{request.accepted_media_type}"
        found = freshness.cache_get("api", identity)
        if isinstance(found, RenderedBody):
            return HttpResponse(found.content, content_type=found.content_type)
        if found is not freshness.MISSING:
            return Response(found)
        response = read(request, *args, **kwargs)
        if response.status_code != status.HTTP_200_OK:
            return response
        query = bool(request.query_params)
        if not isinstance(renderer, JSONRenderer):
            freshness.cache_set("api", identity, response.data, query=query)
            return response
        body = RenderedBody(
            renderer.render(response.data, request.accepted_media_type, self.get_renderer_context()),
            renderer.media_type,
        )
        freshness.cache_set("api", identity, body, query=query)
        return HttpResponse(body.content, content_type=body.content_type)


class ReadOnlyCatalogViewSet(CachedReadsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, CatalogViewSet):
    pass


class WritableCatalogViewSet(
    CachedReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    CatalogViewSet,
):
    """Read for everyone, create, replace and delete for curators."""


def _write_response(serializer: BaseSerializer, created: bool, location: str) -> Response:
    headers = {"Location": location} if created else {}
    return Response(serializer.data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK, headers=headers)


def _publisher() -> str:
    return settings.CITATION_PUBLISHER


def _citation_response(record: citations.CitationRecord, request: Request) -> HttpResponse:
    reject_unknown_parameters(request, {"style"})
    style = request.query_params.get("style", "bibtex")
    if style not in citations.STYLES:
        raise ValidationError({"style": [f"Unknown style {style!r}; use one of {', '.join(citations.STYLES)}."]})
    return HttpResponse(citations.render(record, style), content_type=citations.STYLES[style])


def _datacite_response(record: citations.CitationRecord, request: Request) -> JsonResponse:
    reject_unknown_parameters(request, set())
    if not record.doi:
        raise NotFound(f"{record.key} has no DOI, so it has no DataCite metadata.")
    return JsonResponse(citations.datacite(record), content_type="application/vnd.datacite.datacite+json")


def _jsonld_response(document: dict[str, Any], request: Request) -> JsonResponse:
    reject_unknown_parameters(request, set())
    return JsonResponse(document, content_type="application/ld+json")


@extend_schema_view(
    list=extend_schema(
        summary="List and search datasets",
        description="Filter with the shared dataset filters; `q` searches and orders by relevance.",
        responses={200: serializers.DatasetListSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(summary="One dataset", responses={200: serializers.DatasetDetailSerializer, **READ_ERRORS}),
    create=extend_schema(
        summary="Create a dataset (curators)",
        description="The payload is a dataset manifest (the catalog file format); it may list volumes, crops and "
        "views.",
        request=DatasetManifest,
        responses={201: serializers.DatasetDetailSerializer, **WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Replace a dataset (curators)",
        description="A full dataset manifest with the same slug. Volumes, crops and views it lists are created or "
        "updated; those it does not list are kept (delete them through their own endpoints).",
        request=DatasetManifest,
        responses={200: serializers.DatasetDetailSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a dataset with its volumes, crops and views (curators)", responses={204: None, **WRITE_ERRORS}
    ),
)
class DatasetViewSet(WritableCatalogViewSet):
    """Datasets, looked up by slug."""

    lookup_field = "slug"
    lookup_value_regex = "[A-Za-z0-9][A-Za-z0-9_-]*"
    filterset_class = filters.DatasetFilterSet
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Dataset]:
        if self.action == "list":  # rows are read by selectors.dataset_list_rows
            return Dataset.objects.all()
        if self.action == "facets":
            return Dataset.objects.for_list()
        if self.action in ("citation", "jsonld", "datacite"):
            return Dataset.objects.for_citation()
        return Dataset.objects.for_detail()

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "list":
            return serializers.DatasetListSerializer
        return serializers.DatasetDetailSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._cached_read(self._list, request, *args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._cached_read(self._retrieve, request, *args, **kwargs)

    def _list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The list, its rows read as values and written by plain functions
        (``selectors.dataset_list_rows``, ``catalog.api.payloads``), not DRF's."""
        filterset = StrictFilterBackend().validated_filterset(request, self.get_queryset(), self)
        # Filters and orders the facet index knows are counted and paged there, not in SQL.
        indexed = facets.indexed_list(filterset, selectors.dataset_list_rows)
        if indexed is not None:
            return self.get_paginated_response(payloads.dataset_rows(request, self.paginate_queryset(indexed)))
        ordered = filterset.filter_queryset(Dataset.objects.with_counts())  # the counts are sort keys
        ranked = "search_rank" in ordered.query.annotations  # a search in an order of its own
        page = self.paginate_queryset(ordered.values_list("pk", "search_rank" if ranked else "slug"))
        found = {row.pk: row for row in selectors.dataset_list_rows([pk for pk, _ in page])}
        for pk, rank in page:
            found[pk].search_rank = rank if ranked else None
        return self.get_paginated_response(payloads.dataset_rows(request, [found[pk] for pk, _ in page]))

    def _retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The record, its row read by SQL written once per process (``selectors.dataset_for_record``)
        and its relations in one query; DRF's ``get_object`` built and compiled an ORM query each time."""
        self.reject_detail_parameters()
        dataset = selectors.dataset_for_record(kwargs[self.lookup_field])
        if dataset is None:
            raise Http404
        self.check_object_permissions(request, dataset)
        return Response(payloads.dataset_record(request, dataset))

    def _detail(self, slug: str, created: bool) -> Response:
        dataset = Dataset.objects.for_detail().get(slug=slug)
        serializer = serializers.DatasetDetailSerializer(dataset, context=self.get_serializer_context())
        return _write_response(serializer, created, reverse("dataset-detail", args=[slug]))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        dataset = records.create_dataset(payload=request.data)
        return self._detail(dataset.slug, created=True)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        dataset = records.update_dataset(dataset=self.get_object(), payload=request.data)
        return self._detail(dataset.slug, created=False)

    def perform_destroy(self, instance: Dataset) -> None:
        records.delete_dataset(dataset=instance)

    @extend_schema(
        summary="Facet counts of the dataset list",
        description=(
            "Takes the dataset list's filters. For each facet, its values with labels and the number of datasets "
            "the list would hold with that value chosen. Counts are disjunctive: a facet's counts apply every "
            "OTHER filter (values of one facet combine with OR). `voxel_size` is cumulative: each value is a "
            "`voxel_size_max` in nm. Computed in the database; cached until the catalog changes."
        ),
        responses={200: serializers.DatasetFacetsSerializer, **READ_ERRORS},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def facets(self, request: Request) -> Response:
        filterset = filters.DatasetFilterSet(request.query_params, queryset=Dataset.objects.all(), request=request)
        reject_unknown_parameters(request, set(filterset.filters) | format_parameter(self))
        if not filterset.is_valid():
            raise filterset_error(filterset)
        return Response(facets.dataset_facets(filterset))

    def _record(self) -> tuple[Dataset, citations.CitationRecord]:
        dataset = self.get_object()
        url = citations.canonical_url(reverse("catalog:dataset-detail", args=[dataset.slug]))
        return dataset, citations.dataset_record(dataset, url=url, publisher=_publisher())

    @extend_schema(summary="How to cite a dataset", parameters=[STYLE_PARAMETER], responses=CITATION_RESPONSES)
    @action(detail=True, methods=["get"], detail_query_parameters=("style",))
    def citation(self, request: Request, slug: str) -> HttpResponse:
        return _citation_response(self._record()[1], request)

    @extend_schema(summary="schema.org Dataset JSON-LD of a dataset", responses=JSONLD_RESPONSES)
    @action(detail=True, methods=["get"])
    def jsonld(self, request: Request, slug: str) -> JsonResponse:
        dataset, record = self._record()
        return _jsonld_response(citations.dataset_jsonld(dataset, record), request)

    @extend_schema(summary="DataCite metadata of a dataset with a DOI", responses=DATACITE_RESPONSES)
    @action(detail=True, methods=["get"])
    def datacite(self, request: Request, slug: str) -> JsonResponse:
        return _datacite_response(self._record()[1], request)


@extend_schema_view(
    list=extend_schema(summary="List volumes", responses={200: serializers.VolumeSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(summary="One volume", responses={200: serializers.VolumeDetailSerializer, **READ_ERRORS}),
    create=extend_schema(
        summary="Create a volume (curators)",
        description="A volume manifest plus `dataset` (slug).",
        request=records.VolumePayload,
        responses={201: serializers.VolumeDetailSerializer, **WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Replace a volume (curators)",
        description="A full volume manifest plus `dataset` (slug); renames and moves are allowed.",
        request=records.VolumePayload,
        responses={200: serializers.VolumeDetailSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(summary="Delete a volume (curators)", responses={204: None, **WRITE_ERRORS}),
)
class VolumeViewSet(WritableCatalogViewSet):
    """Volumes, looked up by id. ``?format=`` filters by storage format here (not a renderer choice)."""

    filterset_class = filters.VolumeFilterSet
    content_negotiation_class = FormatIsAFilterNegotiation
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Volume]:
        return selectors.volume_queryset(detail=self.action != "list")

    def get_serializer_class(self) -> type[BaseSerializer]:
        return serializers.VolumeSerializer if self.action == "list" else serializers.VolumeDetailSerializer

    def _detail(self, pk: int, created: bool) -> Response:
        volume = selectors.volume_queryset(detail=True).get(pk=pk)
        serializer = serializers.VolumeDetailSerializer(volume, context=self.get_serializer_context())
        return _write_response(serializer, created, reverse("volume-detail", args=[pk]))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._detail(records.create_volume(payload=request.data).pk, created=True)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        volume = records.update_volume(volume=self.get_object(), payload=request.data)
        return self._detail(volume.pk, created=False)

    def perform_destroy(self, instance: Volume) -> None:
        records.delete_volume(volume=instance)


@extend_schema_view(
    list=extend_schema(summary="List crops", responses={200: serializers.CropSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(summary="One crop", responses={200: serializers.CropSerializer, **READ_ERRORS}),
    create=extend_schema(
        summary="Create a crop (curators)",
        description="A crop manifest plus `dataset` (slug). Crop numbers are unique in the catalog.",
        request=records.CropPayload,
        responses={201: serializers.CropSerializer, **WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Replace a crop (curators)",
        description="A full crop manifest with the same number, plus `dataset` (slug).",
        request=records.CropPayload,
        responses={200: serializers.CropSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(summary="Delete a crop (curators)", responses={204: None, **WRITE_ERRORS}),
)
class CropViewSet(WritableCatalogViewSet):
    """Annotated crops, looked up by number."""

    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    filterset_class = filters.CropFilterSet
    serializer_class = serializers.CropSerializer
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Crop]:
        if self.action in ("list", "retrieve"):  # payloads.crop_rows reads classes and contents itself
            return selectors.crop_row_queryset()
        return selectors.crop_queryset()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._cached_read(self._list, request, *args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._cached_read(self._retrieve, request, *args, **kwargs)

    def _list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The list, counted and paged on the crop index where its filters allow, its rows (each
        with a content row per class) written by ``catalog.api.payloads``."""
        queryset = self.get_queryset()
        filterset = StrictFilterBackend().validated_filterset(request, queryset, self)
        page = self.paginate_queryset(crop_index.indexed_crop_list(filterset, queryset) or filterset.qs)
        return self.get_paginated_response(payloads.crop_rows(request, page))

    def _retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(payloads.crop_rows(request, [self.get_object()])[0])

    def _detail(self, number: int, created: bool) -> Response:
        crop = selectors.crop_queryset().get(number=number)
        serializer = serializers.CropSerializer(crop, context=self.get_serializer_context())
        return _write_response(serializer, created, reverse("crop-detail", args=[number]))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._detail(records.create_crop(payload=request.data).number, created=True)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        crop = records.update_crop(crop=self.get_object(), payload=request.data)
        return self._detail(crop.number, created=False)

    def perform_destroy(self, instance: Crop) -> None:
        records.delete_crop(crop=instance)

    @extend_schema(
        summary="What getting a crop's data takes",
        description="The exact S3 locations of the crop's label arrays at each stored resolution and of the EM "
        "region under it (at the EM level nearest the label voxel size, padded by `padding_nm`), with the number "
        "of objects and the uncompressed bytes computed from the chunk grid ingest stored (never by listing S3), "
        "and ready commands (aws s3 cp, Python with zarr, curl of the manifest). Unknown sizes are null, with "
        "the reason in `notes`.",
        parameters=[
            OpenApiParameter(
                "padding_nm", float, description="Margin around the crop for the EM region, in nm (0 to 100000)."
            )
        ],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **READ_ERRORS},
    )
    @action(detail=True, methods=["get"], detail_query_parameters=("padding_nm",))
    def download(self, request: Request, number: str) -> Response:
        padding = downloads.parse_padding(request.query_params.get("padding_nm"))
        plan = downloads.plan_crop(self.get_object(), padding)
        manifest = citations.canonical_url(reverse("crop-manifest-csv")) + f"?number={plan.crop.number}"
        return Response(downloads.as_json(plan, downloads.crop_commands(plan, manifest)))

    @extend_schema(
        summary="Facet counts of the crop list",
        description="Takes the crop list's filters. Per dataset, split and class: how many crops the list would "
        "hold with that value chosen, and how many have the class present (known counts only). Disjunctive "
        "like the dataset facets; computed in the database; cached until the catalog changes.",
        responses={200: serializers.CropFacetsSerializer, **READ_ERRORS},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def facets(self, request: Request) -> Response:
        filterset = filters.CropFilterSet(request.query_params, queryset=Crop.objects.all(), request=request)
        reject_unknown_parameters(request, set(filterset.filters) | format_parameter(self))
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return Response(facets.crop_facets(filterset))


def _read_only_schema(name: str, serializer: type[BaseSerializer]) -> Any:
    return extend_schema_view(
        list=extend_schema(summary=f"List {name}", responses={200: serializer(many=True), **READ_ERRORS}),
        retrieve=extend_schema(summary=f"One of the {name}", responses={200: serializer, **READ_ERRORS}),
    )


@_read_only_schema("label classes", serializers.LabelClassSerializer)
class LabelClassViewSet(ReadOnlyCatalogViewSet):
    """Organelle and structure classes, looked up by short name; groups list their members."""

    lookup_field = "name"
    lookup_value_regex = "[a-z0-9_]+"
    filterset_class = filters.LabelClassFilterSet
    serializer_class = serializers.LabelClassSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.label_class_queryset()


@_read_only_schema("organisms", serializers.OrganismSerializer)
class OrganismViewSet(ReadOnlyCatalogViewSet):
    lookup_field = "slug"
    lookup_value_regex = "[A-Za-z0-9][A-Za-z0-9_-]*"
    serializer_class = serializers.OrganismSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.organism_queryset()


@_read_only_schema("tissues", serializers.TissueSerializer)
class TissueViewSet(ReadOnlyCatalogViewSet):
    lookup_field = "slug"
    lookup_value_regex = "[A-Za-z0-9][A-Za-z0-9_-]*"
    serializer_class = serializers.TissueSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.tissue_queryset()


@extend_schema_view(
    list=extend_schema(
        summary="List collections", responses={200: serializers.CollectionSerializer(many=True), **READ_ERRORS}
    ),
    retrieve=extend_schema(
        summary="One collection", responses={200: serializers.CollectionDetailSerializer, **READ_ERRORS}
    ),
)
class CollectionViewSet(ReadOnlyCatalogViewSet):
    """Curated groups of datasets (a release, a challenge), looked up by slug."""

    lookup_field = "slug"
    lookup_value_regex = "[A-Za-z0-9][A-Za-z0-9_-]*"

    def get_queryset(self) -> QuerySet[Collection]:
        return selectors.collection_queryset(detail=self.action != "list")

    def get_serializer_class(self) -> type[BaseSerializer]:
        return serializers.CollectionSerializer if self.action == "list" else serializers.CollectionDetailSerializer

    def _record(self) -> tuple[Collection, citations.CitationRecord]:
        collection = self.get_object()
        url = citations.canonical_url(reverse("catalog:collection-detail", args=[collection.slug]))
        return collection, citations.collection_record(collection, url=url, publisher=_publisher())

    @extend_schema(summary="How to cite a collection", parameters=[STYLE_PARAMETER], responses=CITATION_RESPONSES)
    @action(detail=True, methods=["get"], detail_query_parameters=("style",))
    def citation(self, request: Request, slug: str) -> HttpResponse:
        return _citation_response(self._record()[1], request)

    @extend_schema(summary="schema.org Dataset JSON-LD of a collection", responses=JSONLD_RESPONSES)
    @action(detail=True, methods=["get"])
    def jsonld(self, request: Request, slug: str) -> JsonResponse:
        collection, record = self._record()
        dataset_urls = {
            dataset.slug: citations.canonical_url(reverse("catalog:dataset-detail", args=[dataset.slug]))
            for dataset in collection.datasets.all()
        }
        return _jsonld_response(citations.collection_jsonld(collection, record, dataset_urls), request)

    @extend_schema(summary="DataCite metadata of a collection with a DOI", responses=DATACITE_RESPONSES)
    @action(detail=True, methods=["get"])
    def datacite(self, request: Request, slug: str) -> JsonResponse:
        return _datacite_response(self._record()[1], request)


@_read_only_schema("publications", serializers.PublicationSerializer)
class PublicationViewSet(ReadOnlyCatalogViewSet):
    filterset_class = filters.PublicationFilterSet
    serializer_class = serializers.PublicationSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.publication_queryset()


@_read_only_schema("curated views", serializers.ViewSerializer)
class ViewViewSet(ReadOnlyCatalogViewSet):
    """Curated camera positions and layer sets, each with its Neuroglancer link."""

    filterset_class = filters.ViewFilterSet
    serializer_class = serializers.ViewSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.curated_view_queryset()


@_read_only_schema("benchmark results", serializers.BenchmarkResultSerializer)
class BenchmarkResultViewSet(ReadOnlyCatalogViewSet):
    filterset_class = filters.BenchmarkResultFilterSet
    serializer_class = serializers.BenchmarkResultSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.benchmark_queryset()


class CatalogRootView(routers.APIRootView):
    """The API's entry point: every resource's list, and where the documentation, the OpenAPI
    schema, the facet counts, cut-outs and the Neuroglancer state endpoints are (URL templates in
    braces)."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        states = request.build_absolute_uri(reverse("state-custom")).removesuffix("custom/")
        response.data.update(
            {
                "docs": request.build_absolute_uri(reverse("api-docs")),
                "redoc": request.build_absolute_uri(reverse("api-redoc")),
                "schema": request.build_absolute_uri(reverse("api-schema")),
                "facets": request.build_absolute_uri(reverse("dataset-facets")),
                "cutouts": request.build_absolute_uri(reverse("cutout-run-list")),
                "states": {
                    "dataset": f"{states}datasets/{{slug}}/",
                    "volume": f"{states}volumes/{{id}}/",
                    "crop": f"{states}crops/{{number}}/",
                    "view": f"{states}views/{{id}}/",
                    "custom": f"{states}custom/?volumes={{id}},{{id}}",
                    "save": f"{states}saved/",
                },
            }
        )
        return response
