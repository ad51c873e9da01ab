"""Admin for ingest runs (start one, follow its progress, run it again) and volume statistics."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.admin.jobs import TIMELINE_FIELDS, progress_bar
from catalog.errors import CatalogError
from catalog.models import IngestRun, VolumeStatistics
from catalog.services.ingest import start_ingest_run, validate_ingest_prefix
from catalog.services.jobs import enqueue_job

RESULT_FIELDS = (
    *(name for name in IngestRun.OUTCOME_FIELDS if not name.startswith("progress_")),
    "progress",
    *TIMELINE_FIELDS,
)


class IngestRunForm(forms.ModelForm):
    """Starting a run: the prefix must be an allow-listed s3:// URL, exactly as in the API."""

    class Meta:
        model = IngestRun
        fields = ("prefix", "dataset", "dry_run")

    def clean_prefix(self) -> str:
        try:
            return validate_ingest_prefix(prefix=self.cleaned_data["prefix"]).url
        except CatalogError as error:
            raise forms.ValidationError(error.detail) from error


@admin.register(IngestRun)
class IngestRunAdmin(admin.ModelAdmin):
    form = IngestRunForm
    list_display = (
        "id",
        "prefix",
        "dataset",
        "status",
        "progress",
        *IngestRun.COUNT_FIELDS,
        "requested_by",
        "created_at",
    )
    list_filter = ("status", "dry_run")
    search_fields = ("prefix", "dataset__slug", "error")
    list_select_related = ("dataset", "requested_by")
    autocomplete_fields = ("dataset",)
    actions = ("run_again",)

    def get_readonly_fields(self, request: HttpRequest, obj: IngestRun | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("prefix", "dataset", "dry_run", *RESULT_FIELDS)

    def get_fields(self, request: HttpRequest, obj: IngestRun | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("prefix", "dataset", "dry_run")
        return ("prefix", "dataset", "dry_run", *RESULT_FIELDS)

    @admin.display(description="progress")
    def progress(self, run: IngestRun) -> str:
        return progress_bar(run.progress_done, run.progress_total)

    def save_model(self, request: HttpRequest, obj: IngestRun, form: Any, change: bool) -> None:
        """Adding a run starts it: recorded as queued, sent to a worker once committed."""
        if change:
            return
        obj.requested_by = request.user
        obj.status = IngestRun.Status.QUEUED
        super().save_model(request, obj, form, change)
        enqueue_job(obj)

    @admin.action(description="Run the selected ingests again")
    def run_again(self, request: HttpRequest, queryset: QuerySet[IngestRun]) -> None:
        started = 0
        for run in queryset.select_related("dataset"):
            try:
                start_ingest_run(
                    prefix=run.prefix,
                    dataset_slug=run.dataset.slug if run.dataset else None,
                    dry_run=run.dry_run,
                    requested_by=request.user,
                )
            except CatalogError as error:
                self.message_user(request, f"{run.prefix}: {error.detail}", messages.ERROR)
                continue
            started += 1
        if started:
            self.message_user(request, f"Queued {started} ingest run(s).", messages.SUCCESS)


@admin.register(VolumeStatistics)
class VolumeStatisticsAdmin(admin.ModelAdmin):
    list_display = ("volume", "preview", "contrast_start", "contrast_end", "level_path", "computed_at")
    search_fields = ("volume__name", "volume__url", "volume__dataset__slug")
    list_select_related = ("volume", "volume__dataset")
    readonly_fields = (
        "volume",
        "preview",
        "level_path",
        "fingerprint",
        "data_min",
        "data_max",
        "contrast_min",
        "contrast_max",
        "contrast_start",
        "contrast_end",
        "thumbnail",
        "computed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="thumbnail")
    def preview(self, statistics: VolumeStatistics) -> str:
        if not statistics.thumbnail:
            return "-"
        return format_html('<img src="{}" alt="" style="max-width: 96px; max-height: 96px">', statistics.thumbnail.url)
