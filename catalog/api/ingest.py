"""Staff-only API to start an ingest of an S3 prefix and follow its progress.

Only ``s3://`` URLs of buckets listed in ``settings.INGEST_ALLOWED_BUCKETS`` are accepted,
read through the configured endpoint, so the endpoint cannot be used to make the server
fetch arbitrary addresses. Starting answers 202 with the run and the URL to poll, or 503 when
the task broker cannot be reached (the run is then recorded as failed, with the reason).
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.pagination import CatalogPagination
from catalog.api.views import ERROR_SCHEMA
from catalog.models import IngestRun
from catalog.models.jobs import JOB_FIELDS
from catalog.services.ingest import start_ingest_run
from catalog.services.jobs import raise_if_not_enqueued
from catalog.untrusted_json import BLANKS

BROKER_DOWN = OpenApiResponse(
    ERROR_SCHEMA, description="The task broker is unreachable; the run is recorded as failed."
)


class IngestProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")
    percent = serializers.IntegerField(source="progress_percent")


class IngestRunSerializer(serializers.ModelSerializer):
    """A run as staff follow it: status, counts, progress and the last error."""

    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    progress = IngestProgressSerializer(source="*", read_only=True)
    status_url = serializers.HyperlinkedIdentityField(view_name="ingest-run-detail")

    class Meta:
        model = IngestRun
        fields = [
            "id",
            "status_url",
            "prefix",
            "dataset",
            "dry_run",
            "status",
            "progress",
            *IngestRun.COUNT_FIELDS,
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


class IngestRequestSerializer(serializers.Serializer):
    """What to ingest: an allow-listed ``s3://bucket/prefix`` and optionally an existing dataset."""

    prefix = serializers.CharField(
        max_length=1000, trim_whitespace=False, help_text="s3://bucket/prefix of an allow-listed bucket."
    )
    dataset = serializers.SlugField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,  # the schema's slug pattern allows no blanks
        help_text="Existing dataset slug; empty: from the layout.",
    )
    dry_run = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Unknown keys are errors (a misspelt ``dry_run`` must not start a real run)."""
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs

    def validate_prefix(self, value: str) -> str:
        """No blanks anywhere, as the schema's pattern says (catalog.api.schema): a pasted URL with a
        stray space or newline is a mistake, not a key (the ``ingest`` command takes any key)."""
        if re.search(f"[{BLANKS}]", value):
            raise serializers.ValidationError("The URL contains a blank (space, tab or newline).")
        return value


class IngestRunListCreateView(generics.ListCreateAPIView):
    """List ingest runs (newest first) or start one."""

    permission_classes = [IsAdminUser]
    serializer_class = IngestRunSerializer
    pagination_class = CatalogPagination
    queryset = IngestRun.objects.select_related("dataset", "requested_by")

    @extend_schema(request=IngestRequestSerializer, responses={202: IngestRunSerializer, 503: BROKER_DOWN})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = IngestRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        run = start_ingest_run(
            prefix=payload.validated_data["prefix"],
            dataset_slug=payload.validated_data.get("dataset") or None,
            dry_run=payload.validated_data["dry_run"],
            requested_by=request.user,
        )
        raise_if_not_enqueued(run)
        run.refresh_from_db()
        body = IngestRunSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})


class IngestRunDetailView(generics.RetrieveAPIView):
    """One run's status, counts and progress."""

    permission_classes = [IsAdminUser]
    serializer_class = IngestRunSerializer
    queryset = IngestRun.objects.select_related("dataset", "requested_by")
