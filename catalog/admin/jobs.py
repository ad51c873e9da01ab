"""What the admins of queued jobs (ingest, conversion and cut-out runs) share: the progress bar,
the timeline and job columns, and read-only pages for the runs started elsewhere."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.models.jobs import JOB_FIELDS

TIMELINE_FIELDS = ("requested_by", "created_at", "started_at", "finished_at", *JOB_FIELDS)
"""Who asked, when it ran, and where its task stands."""


def progress_bar(done: int, total: int, unit: str = "") -> str:
    """A run's progress as an HTML progress bar and ``done / total``."""
    return format_html(
        '<progress value="{}" max="{}"></progress> {} / {}{}', done, total or 1, done, total, f" {unit}" if unit else ""
    )


class FollowedJobAdmin(admin.ModelAdmin):
    """Runs started through the API or a command: followed here, never added in the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
