"""The crops as a data loader reads them: ``/api/crops/manifest.csv`` and ``.json`` (one row per
crop x class, filtered by the crop list's own parameters) and ``/api/crops/croissant.json``.

The rows come from ``catalog.crop_manifest``; the filters are the crop list's
``CropFilterSet``, so a query that lists crops also gives their manifest. Every answer is cached
per catalog version and query.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from catalog import crop_manifest, filters, freshness
from catalog.api.filtering import reject_unknown_parameters
from catalog.models import Crop
from catalog.selectors import class_closure_ids

MANIFEST_DESCRIPTION = (
    "Takes the crop list's filters (`dataset`, `split`, `organelle`, `present`, `min_share`, `min_voxels`, "
    "`ordering`). With `organelle`, only the rows of those classes (and their members). Unpaginated."
)


def _filtered(request: Request) -> list[crop_manifest.ManifestRow]:
    """The rows the query asks for."""
    filterset = filters.CropFilterSet(request.query_params, queryset=Crop.objects.order_by("number"), request=request)
    reject_unknown_parameters(request, set(filterset.filters))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    classes = filterset.form.cleaned_data.get("organelle") or []
    rows = crop_manifest.manifest_rows(filterset.qs, class_closure_ids(classes) if classes else None)
    return rows


class _ManifestView(APIView):
    """Errors are JSON whatever the Accept header; a success is the view's own response."""

    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        renderer = JSONRenderer()
        return renderer, renderer.media_type


def _csv(request: Request) -> str:
    def compute() -> str:
        rows = _filtered(request)
        return crop_manifest.to_csv(rows)

    reject_unknown_parameters(request, set(filters.CropFilterSet.base_filters))
    return freshness.cached("crop-manifest-csv", request.GET.urlencode(), compute)


class CropManifestCsvView(_ManifestView):
    @extend_schema(
        summary="Crop manifest (CSV): one row per crop and class",
        description=MANIFEST_DESCRIPTION + " The first six columns are the challenge's train_crop_manifest.csv "
        "format (vectors `[z;y;x]`, nm and voxels); then split, present voxels and share (empty when unknown), "
        "the class's label array and the EM.",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(_csv(request), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="crop_manifest.csv"'
        return response


class CropManifestJsonView(_ManifestView):
    @extend_schema(
        summary="Crop manifest (JSON): one row per crop and class",
        description=MANIFEST_DESCRIPTION + " Per-axis values are objects in nm (voxels for `shape`).",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def get(self, request: Request) -> HttpResponse:
        def compute() -> str:
            rows = _filtered(request)
            return json.dumps({"count": len(rows), "rows": crop_manifest.to_json(rows)})

        reject_unknown_parameters(request, set(filters.CropFilterSet.base_filters))
        body = freshness.cached("crop-manifest-json", request.GET.urlencode(), compute)
        return HttpResponse(body, content_type="application/json")


class CropCroissantView(_ManifestView):
    @extend_schema(
        summary="Croissant (schema.org JSON-LD) description of the crops",
        description="The crop manifest CSV (with its sha256) as the file and its columns as fields; takes the "
        "same filters, which the file's URL carries.",
        responses={(200, "application/ld+json"): OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def get(self, request: Request) -> JsonResponse:
        query = request.GET.urlencode()
        csv_url = request.build_absolute_uri(reverse("crop-manifest-csv")) + (f"?{query}" if query else "")
        list_url = request.build_absolute_uri(reverse("crop-list")) + (f"?{query}" if query else "")
        document = crop_manifest.croissant(
            csv_text=_csv(request),
            csv_url=csv_url,
            page_url=list_url,
            name="Annotated crops" + (f" ({query})" if query else ""),
            description="Ground-truth crops of the catalog's datasets, one record per crop and annotated label "
            "class, with the label and EM arrays to read.",
        )
        return JsonResponse(document, content_type="application/ld+json")
