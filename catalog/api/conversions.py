"""Staff-only API to convert a source into OME-Zarr copies of catalog volumes and follow it.

``POST /api/conversions/`` takes an allow-listed ``s3://`` URL (as ingest does) or an
``https://`` URL, the dataset and optionally the volume; it answers 202 with the run and the
URL to poll, whose ``progress`` counts parts done of the total and bytes written, or 503 when
the task broker cannot be reached (the run is then recorded as failed, with the reason). Local
paths are for ``manage.py convert`` only.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.ingest import BROKER_DOWN
from catalog.api.pagination import CatalogPagination
from catalog.models import ConversionRun, ConversionTarget
from catalog.models.jobs import JOB_FIELDS
from catalog.services.conversion import start_conversion
from catalog.services.jobs import raise_if_not_enqueued

CONVERSION_KINDS = ["image", "segmentation"]
"""What a source may be read as; empty: the catalog volume's kind."""


class ConversionProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="parts_done")
    total = serializers.IntegerField(source="parts_total")
    percent = serializers.IntegerField(source="progress_percent")
    bytes_written = serializers.IntegerField()


class ConversionTargetSerializer(serializers.ModelSerializer):
    volume = serializers.IntegerField(source="volume_id")
    volume_name = serializers.CharField(source="volume.name")

    class Meta:
        model = ConversionTarget
        fields = ["volume", "volume_name", "member", "output_url", "status", "parts_done", "parts_total", "error"]
        read_only_fields = fields


class ConversionRunSerializer(serializers.ModelSerializer):
    """A run as staff follow it: status, progress, the volumes it converts and the last error."""

    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress = ConversionProgressSerializer(source="*", read_only=True)
    targets = ConversionTargetSerializer(many=True, read_only=True)
    status_url = serializers.HyperlinkedIdentityField(view_name="conversion-run-detail")

    class Meta:
        model = ConversionRun
        fields = [
            "id",
            "status_url",
            "source",
            "member",
            "dataset",
            "volume_name",
            "kind",
            "ngff_version",
            "status",
            "progress",
            "targets",
            "attempts",
            "error",
            "report",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            *JOB_FIELDS,
        ]
        read_only_fields = fields


class VoxelSizeSerializer(serializers.Serializer):
    z = serializers.FloatField(min_value=0)
    y = serializers.FloatField(min_value=0)
    x = serializers.FloatField(min_value=0)


class ConversionRequestSerializer(serializers.Serializer):
    """What to convert, and into which dataset's volumes."""

    source = serializers.CharField(max_length=1000, help_text="s3:// URL of an allow-listed bucket, or https:// URL.")
    dataset = serializers.SlugField(help_text="Dataset whose volumes the source holds.")
    volume = serializers.CharField(required=False, allow_blank=True, default="", help_text="Only this volume.")
    kind = serializers.ChoiceField(choices=CONVERSION_KINDS, required=False, help_text="Default: the volume's kind.")
    member = serializers.CharField(required=False, allow_blank=True, default="", help_text="Zip member, HDF5 dataset.")
    axes = serializers.CharField(required=False, allow_blank=True, default="", max_length=10)
    voxel_size = VoxelSizeSerializer(required=False, allow_null=True, default=None, help_text="nm")
    ngff_version = serializers.ChoiceField(choices=["0.5", "0.4"], required=False, default="0.5")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Unknown keys are errors, as the schema says (``additionalProperties: false``)."""
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


def _runs() -> Any:
    return ConversionRun.objects.select_related("dataset", "requested_by").prefetch_related("targets__volume")


class ConversionRunListCreateView(generics.ListCreateAPIView):
    """List conversion runs (newest first) or start one."""

    permission_classes = [IsAdminUser]
    serializer_class = ConversionRunSerializer
    pagination_class = CatalogPagination

    def get_queryset(self) -> Any:
        return _runs()

    @extend_schema(request=ConversionRequestSerializer, responses={202: ConversionRunSerializer, 503: BROKER_DOWN})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = ConversionRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        run = start_conversion(
            source=data["source"],
            dataset_slug=data["dataset"],
            volume_name=data["volume"],
            kind=data.get("kind", ""),
            member=data["member"],
            axes=data["axes"],
            voxel_size=dict(data["voxel_size"]) if data["voxel_size"] else None,
            ngff_version=data["ngff_version"],
            requested_by=request.user,
        )
        raise_if_not_enqueued(run)
        body = ConversionRunSerializer(_runs().get(pk=run.pk), context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})


class ConversionRunDetailView(generics.RetrieveAPIView):
    """One run's status, progress and volumes."""

    permission_classes = [IsAdminUser]
    serializer_class = ConversionRunSerializer

    def get_queryset(self) -> Any:
        return _runs()
