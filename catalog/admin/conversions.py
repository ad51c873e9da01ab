"""Admin for conversion runs: follow their progress (parts done, bytes written) and where their
task stands (the job columns), see their volumes and parts, and run an interrupted run again
(written parts are skipped)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.admin.jobs import TIMELINE_FIELDS, FollowedJobAdmin, progress_bar
from catalog.errors import CatalogError
from catalog.models import ConversionPart, ConversionRun, ConversionTarget
from catalog.services.conversion import resume_conversion
from catalog.services.jobs import raise_if_not_enqueued


class ConversionTargetInline(admin.TabularInline):
    model = ConversionTarget
    fields = ("volume", "member", "output_url", "status", "parts_done", "parts_total", "bytes_written", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ConversionRun)
class ConversionRunAdmin(FollowedJobAdmin):
    """Runs are started with ``manage.py convert`` or ``POST /api/conversions/``; here they are followed."""

    list_display = ("id", "source", "dataset", "volume_name", "status", "progress", "bytes_written", "created_at")
    list_filter = ("status", "ngff_version")
    search_fields = ("source", "dataset__slug", "volume_name", "error")
    list_select_related = ("dataset", "requested_by")
    inlines = (ConversionTargetInline,)
    actions = ("resume",)
    readonly_fields = (
        "source",
        "member",
        "dataset",
        "volume_name",
        "kind",
        "ngff_version",
        "axes",
        "voxel_size",
        "progress",
        *ConversionRun.OUTCOME_FIELDS,
        *TIMELINE_FIELDS,
    )

    @admin.display(description="progress")
    def progress(self, run: ConversionRun) -> str:
        return progress_bar(run.parts_done, run.parts_total, "parts")

    @admin.action(description="Run the selected conversions again (written parts are kept)")
    def resume(self, request: HttpRequest, queryset: QuerySet[ConversionRun]) -> None:
        for run in queryset:
            try:
                raise_if_not_enqueued(resume_conversion(run_id=run.pk))
            except CatalogError as error:
                self.message_user(request, f"run {run.pk}: {error.detail}", messages.ERROR)
                continue
            self.message_user(request, f"Queued conversion run {run.pk} again.", messages.SUCCESS)


@admin.register(ConversionTarget)
class ConversionTargetAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "volume", "status", "parts_done", "parts_total", "bytes_written", "published_at")
    list_select_related = ("run", "volume")
    readonly_fields = (
        "run",
        "volume",
        "member",
        "output_url",
        "plan",
        "status",
        "parts_done",
        "parts_total",
        "bytes_written",
        "error",
        "published_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ConversionPart)
class ConversionPartAdmin(admin.ModelAdmin):
    list_display = ("id", "target", "index", "z0", "z1", "done", "bytes_written", "attempts", "written_at")
    list_filter = ("done",)
    readonly_fields = ("target", "index", "z0", "z1", "done", "bytes_written", "attempts", "written_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
