"""Admin for saved viewer states: read-only, since short links are immutable once issued."""

from django.contrib import admin

from catalog.models.saved_states import SavedState


@admin.register(SavedState)
class SavedStateAdmin(admin.ModelAdmin):
    list_display = ("key", "size", "created_at")
    search_fields = ("=key", "=digest")
    readonly_fields = ("key", "digest", "state", "size", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
