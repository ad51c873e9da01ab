"""Admin for the catalog records: search, filters, and children edited under their parent."""

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from catalog import models as m


class IncompleteFilter(admin.SimpleListFilter):
    """Datasets missing a fact a researcher needs: what curators should fill next.

    An organism without an NCBI Taxonomy id (OpenOrganelle's bare "Monkey") counts as missing:
    it names no species.
    """

    title = "incomplete"
    parameter_name = "incomplete"
    MISSING = {
        "voxel_size": (
            "missing voxel size",
            Q(voxel_size_x__isnull=True) | Q(voxel_size_y__isnull=True) | Q(voxel_size_z__isnull=True),
        ),
        "organism": (
            "missing organism (or its species)",
            Q(organism__isnull=True) | Q(organism__ncbi_taxonomy_id__isnull=True),
        ),
        "release_date": ("missing release date", Q(release_date__isnull=True)),
        "licence": ("missing licence", Q(licence="")),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("any", "missing any of these"), *((key, label) for key, (label, _) in self.MISSING.items())]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "any":
            condition = Q()
            for _, missing in self.MISSING.values():
                condition |= missing
            return queryset.filter(condition)
        if value in self.MISSING:
            return queryset.filter(self.MISSING[value][1])
        return queryset


class VolumeInline(admin.TabularInline):
    model = m.Volume
    extra = 0
    fields = ("name", "content_type", "kind", "format", "label_class", "url", "status")
    autocomplete_fields = ("label_class",)
    show_change_link = True


class CropInline(admin.TabularInline):
    model = m.Crop
    extra = 0
    fields = ("number", "split", "labels_url")
    show_change_link = True


class ViewInline(admin.TabularInline):
    model = m.CuratedView
    extra = 0
    fields = ("name", "description")
    show_change_link = True


class DatasetDOIInline(admin.TabularInline):
    model = m.DatasetDOI
    extra = 0
    autocomplete_fields = ("doi",)


class BenchmarkResultInline(admin.TabularInline):
    model = m.BenchmarkResult
    extra = 0
    autocomplete_fields = ("label_class",)


@admin.register(m.Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "organism", "modality", "sample_type", "release_date", "updated_at")
    list_filter = (IncompleteFilter, "modality", "organism", "sample_type", "fixation", "tissues", "collections")
    search_fields = ("slug", "title", "description", "sample_protocol")
    list_select_related = ("organism",)
    autocomplete_fields = ("organism", "tissues", "cell_types", "treatments", "institutions", "publications")
    readonly_fields = ("validation_errors", "created_at", "updated_at")
    inlines = (DatasetDOIInline, VolumeInline, CropInline, ViewInline, BenchmarkResultInline)
    fieldsets = (
        (None, {"fields": ("slug", "title", "description", "thumbnail_url", "tags", "release_date", "version")}),
        (
            "Sample",
            {
                "fields": (
                    "organism",
                    "tissues",
                    "sample_type",
                    "cell_types",
                    "treatments",
                    "sample_protocol",
                    "fixation",
                    "embedding",
                )
            },
        ),
        (
            "Imaging",
            {
                "fields": (
                    "modality",
                    "instrument",
                    "acquisition_id",
                    "acquisition_institution",
                    "start_date",
                    "duration_days",
                    ("bias_voltage_v", "scan_rate_mhz", "current_na", "primary_energy_ev"),
                    ("voxel_size_x", "voxel_size_y", "voxel_size_z"),
                    ("extent_x", "extent_y", "extent_z"),
                )
            },
        ),
        (
            "Credit and access",
            {
                "fields": (
                    "creators",
                    "institutions",
                    "contributions",
                    "acknowledgements",
                    "publications",
                    "licence",
                    "licence_url",
                    "contact",
                    "software_availability",
                    "download_url",
                    "data_formats",
                    "data_size",
                    "atlas",
                    "metrics",
                    "published_state_url",
                )
            },
        ),
        ("Record", {"fields": ("provenance", "known_issues", "validation_errors", "created_at", "updated_at")}),
    )


class VolumeChannelInline(admin.TabularInline):
    model = m.VolumeChannel
    extra = 0


class SegmentLabelInline(admin.TabularInline):
    model = m.SegmentLabel
    extra = 0
    autocomplete_fields = ("label_class",)


class MeshInline(admin.TabularInline):
    model = m.Mesh
    extra = 0
    fields = ("name", "url", "format")


@admin.register(m.Volume)
class VolumeAdmin(admin.ModelAdmin):
    list_display = ("name", "dataset", "content_type", "kind", "format", "label_class", "status")
    list_filter = ("status", "content_type", "kind", "format", "dataset__modality")
    search_fields = ("name", "url", "description", "dataset__slug", "label_class__name")
    list_select_related = ("dataset", "label_class")
    autocomplete_fields = ("dataset", "label_class")
    readonly_fields = ("created_at", "updated_at")
    inlines = (VolumeChannelInline, SegmentLabelInline, MeshInline)


class CropContentInline(admin.TabularInline):
    model = m.CropContent
    extra = 0
    fields = (
        "label_class",
        "source",
        "total_voxels",
        "present_voxels",
        "absent_voxels",
        "unknown_voxels",
        "object_count",
        "note",
    )
    autocomplete_fields = ("label_class",)


@admin.register(m.Crop)
class CropAdmin(admin.ModelAdmin):
    list_display = ("number", "dataset", "split", "voxel_size_x", "voxel_size_y", "voxel_size_z")
    list_filter = ("split", "dataset")
    search_fields = ("=number", "dataset__slug", "label_classes__name")
    list_select_related = ("dataset",)
    autocomplete_fields = ("dataset", "label_classes")
    inlines = (CropContentInline,)


@admin.register(m.CropContent)
class CropContentAdmin(admin.ModelAdmin):
    """What crops hold of each class; the counts must add up (a database check refuses otherwise)."""

    list_display = ("crop", "label_class", "source", "present_voxels", "present_share", "object_count")
    list_filter = ("source", "label_class")
    search_fields = ("=crop__number", "label_class__name")
    list_select_related = ("crop", "label_class")
    autocomplete_fields = ("crop", "label_class")
    readonly_fields = ("present_share",)


class CuratedViewLayerInline(admin.TabularInline):
    model = m.CuratedViewLayer
    extra = 0
    autocomplete_fields = ("volume",)


@admin.register(m.CuratedView)
class ViewAdmin(admin.ModelAdmin):
    list_display = ("name", "dataset", "scale")
    list_filter = ("dataset",)
    search_fields = ("name", "description", "dataset__slug")
    list_select_related = ("dataset",)
    autocomplete_fields = ("dataset", "organelles")
    readonly_fields = ("validation_errors",)
    inlines = (CuratedViewLayerInline,)


@admin.register(m.LabelClass)
class LabelClassAdmin(admin.ModelAdmin):
    list_display = ("name", "label_id", "long_name", "colour", "instance_scored", "semantic_scored")
    list_filter = ("instance_scored", "semantic_scored")
    search_fields = ("name", "long_name", "description")
    filter_horizontal = ("members",)


@admin.register(m.Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "doi", "release_date")
    search_fields = ("slug", "title", "summary")
    autocomplete_fields = ("doi", "datasets")


@admin.register(m.CollectionDownload)
class CollectionDownloadAdmin(admin.ModelAdmin):
    list_display = ("name", "collection", "all_resolutions", "raw_padding")
    list_filter = ("collection",)
    search_fields = ("name", "url")


@admin.register(m.DOI)
class DOIAdmin(admin.ModelAdmin):
    search_fields = ("value",)


@admin.register(m.DatasetDOI)
class DatasetDOIAdmin(admin.ModelAdmin):
    list_display = ("dataset", "doi", "group")
    list_filter = ("group",)
    search_fields = ("dataset__slug", "doi__value")
    autocomplete_fields = ("dataset", "doi")


@admin.register(m.Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ("title", "authors", "year", "doi")
    list_filter = ("year",)
    search_fields = ("title", "authors", "doi__value")
    autocomplete_fields = ("doi",)


@admin.register(m.Organism)
class OrganismAdmin(admin.ModelAdmin):
    list_display = ("name", "common_name", "ncbi_taxonomy_id")
    search_fields = ("name", "common_name")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(m.Tissue)
class TissueAdmin(admin.ModelAdmin):
    list_display = ("name", "uberon_id")
    search_fields = ("name", "uberon_id")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(m.CellType, m.Treatment, m.Institution)
class NamedAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(m.BenchmarkResult)
class BenchmarkResultAdmin(admin.ModelAdmin):
    list_display = ("dataset", "method", "metric", "label_class", "value")
    list_filter = ("metric",)
    search_fields = ("dataset__slug", "method")
    autocomplete_fields = ("dataset", "label_class")


@admin.register(m.Mesh)
class MeshAdmin(admin.ModelAdmin):
    list_display = ("name", "volume", "format")
    list_filter = ("format",)
    search_fields = ("name", "url", "volume__name")
    autocomplete_fields = ("volume",)


@admin.register(m.CuratedViewLayer)
class CuratedViewLayerAdmin(admin.ModelAdmin):
    list_display = ("view", "position", "name", "volume")
    search_fields = ("name", "view__name", "view__dataset__slug")
    list_select_related = ("view", "volume")
    autocomplete_fields = ("view", "volume")


@admin.register(m.VolumeChannel)
class VolumeChannelAdmin(admin.ModelAdmin):
    list_display = ("volume", "index", "name", "colour")
    search_fields = ("name", "volume__name")
    autocomplete_fields = ("volume",)


@admin.register(m.SegmentLabel)
class SegmentLabelAdmin(admin.ModelAdmin):
    list_display = ("volume", "value", "name", "colour", "label_class")
    search_fields = ("name", "volume__name")
    autocomplete_fields = ("volume", "label_class")
