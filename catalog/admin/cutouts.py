"""Admin for cut-out runs: follow them (status, progress, artifact, job columns); they are
started through the API only, so the admin never creates or edits one."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.models import CutoutRun
from catalog.models.jobs import JOB_FIELDS


@admin.register(CutoutRun)
class CutoutRunAdmin(admin.ModelAdmin):
    list_display = ("id", "dataset", "crop", "status", "progress", "bytes_estimate", "artifact_bytes", "created_at")
    list_filter = ("status",)
    search_fields = ("request_key", "dataset__slug", "artifact_url", "error")
    list_select_related = ("dataset", "crop", "requested_by")
    readonly_fields = (
        "request_key",
        "dataset",
        "crop",
        "request",
        "bytes_estimate",
        *CutoutRun.OUTCOME_FIELDS,
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        *JOB_FIELDS,
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, run: CutoutRun) -> str:
        return format_html(
            '<progress value="{}" max="{}"></progress> {} / {}',
            run.progress_done,
            run.progress_total or 1,
            run.progress_done,
            run.progress_total,
        )
