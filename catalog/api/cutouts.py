"""Cut-outs: ``POST /api/cutouts/`` asks for a region as one zipped OME-Zarr, ``GET
/api/cutouts/<id>/`` follows the job and, once it succeeded, hands out a presigned link.

Anyone may ask: without a staff account a cut-out is capped at ``CUTOUT_ANONYMOUS_MAX_BYTES``
uncompressed (a 400 naming the cap) and limited to ``CUTOUT_ANONYMOUS_RATE`` requests per
address (429); staff have neither limit. The same request answers the same run (200) instead
of a new one (202). A broker that cannot be reached is a 503, as for ingest.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.throttling import over_limit
from catalog.api.views import ERROR_SCHEMA
from catalog.downloads import MAX_PADDING_NM
from catalog.errors import CatalogError
from catalog.models import CutoutRun
from catalog.models.jobs import JOB_FIELDS
from catalog.services.cutouts import artifact_link, start_cutout
from catalog.services.jobs import raise_if_not_enqueued


class CutoutProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")
    percent = serializers.IntegerField(source="progress_percent")


class CutoutRunSerializer(serializers.ModelSerializer):
    """A cut-out as its requester follows it: status, progress, the error, and the link once done."""

    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    crop = serializers.SlugRelatedField(slug_field="number", read_only=True)
    progress = CutoutProgressSerializer(source="*", read_only=True)
    status_url = serializers.HyperlinkedIdentityField(view_name="cutout-run-detail")
    download_url = serializers.SerializerMethodField(help_text="Presigned link to the zip; null until it succeeded.")

    class Meta:
        model = CutoutRun
        fields = [
            "id",
            "status_url",
            "request_key",
            "dataset",
            "crop",
            "request",
            "bytes_estimate",
            "status",
            "progress",
            "artifact_url",
            "artifact_bytes",
            "download_url",
            "attempts",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            *JOB_FIELDS,
        ]
        read_only_fields = fields

    def get_download_url(self, run: CutoutRun) -> str | None:
        return artifact_link(run)


class BoxSerializer(serializers.Serializer):
    z = serializers.FloatField()
    y = serializers.FloatField()
    x = serializers.FloatField()


class CutoutRequestSerializer(serializers.Serializer):
    """A crop (its labels and the EM under it), or a dataset and a box in nm (EM only)."""

    crop = serializers.IntegerField(required=False, min_value=0, help_text="Crop number.")
    dataset = serializers.SlugField(required=False, help_text="Dataset slug, with lower_nm and upper_nm.")
    lower_nm = BoxSerializer(required=False)
    upper_nm = BoxSerializer(required=False)
    classes = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        allow_empty=True,
        max_length=500,
        help_text="Label classes of the crop to include; default: all of them.",
    )
    em_level = serializers.CharField(required=False, allow_blank=True, max_length=20, help_text="Default: nearest.")
    padding_nm = serializers.FloatField(required=False, default=0.0, min_value=0, max_value=MAX_PADDING_NM)


def _runs() -> Any:
    return CutoutRun.objects.select_related("dataset", "crop")


class CutoutRunCreateView(generics.GenericAPIView):
    """Ask for a cut-out."""

    permission_classes = [AllowAny]
    serializer_class = CutoutRunSerializer

    @extend_schema(
        request=CutoutRequestSerializer,
        responses={
            200: CutoutRunSerializer,
            202: CutoutRunSerializer,
            400: OpenApiResponse(ERROR_SCHEMA, description="A bad request, or over the anonymous size cap."),
            429: OpenApiResponse(ERROR_SCHEMA, description="Too many anonymous cut-outs from this address."),
            503: OpenApiResponse(
                ERROR_SCHEMA, description="The task broker is unreachable (the run is failed), or no results bucket."
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = CutoutRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user = request.user
        if not (user.is_authenticated and user.is_staff) and over_limit(
            scope="cutouts", request=request, rate=settings.CUTOUT_ANONYMOUS_RATE
        ):
            raise CatalogError("Too many cut-outs from this address; try again later.", status=429)
        run, created = start_cutout(
            requested_by=user,
            crop_number=data.get("crop"),
            dataset_slug=data.get("dataset"),
            lower_nm=dict(data["lower_nm"]) if "lower_nm" in data else None,
            upper_nm=dict(data["upper_nm"]) if "upper_nm" in data else None,
            classes=data.get("classes"),
            em_level=data.get("em_level") or None,
            padding_nm=data["padding_nm"],
        )
        if created:
            raise_if_not_enqueued(run)
        body = CutoutRunSerializer(_runs().get(pk=run.pk), context=self.get_serializer_context()).data
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(body, status=code, headers={"Location": body["status_url"]})


@extend_schema(responses={200: CutoutRunSerializer, 404: OpenApiResponse(ERROR_SCHEMA, description="No such cut-out.")})
class CutoutRunDetailView(generics.RetrieveAPIView):
    """One cut-out's status, progress, error and (once it succeeded) presigned link."""

    permission_classes = [AllowAny]
    serializer_class = CutoutRunSerializer

    def get_queryset(self) -> Any:
        return _runs()
