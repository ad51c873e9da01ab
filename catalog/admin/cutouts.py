"""Admin for cut-out runs: follow them (status, progress, artifact, job columns); they are
started through the API only, so the admin never creates or edits one."""

from __future__ import annotations

from django.contrib import admin

from catalog.admin.jobs import TIMELINE_FIELDS, FollowedJobAdmin, progress_bar
from catalog.models import CutoutRun


@admin.register(CutoutRun)
class CutoutRunAdmin(FollowedJobAdmin):
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
        *TIMELINE_FIELDS,
    )

    @admin.display(description="progress")
    def progress(self, run: CutoutRun) -> str:
        return progress_bar(run.progress_done, run.progress_total)
