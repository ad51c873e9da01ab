"""The catalog app: datasets, volumes, crops, label classes and curated views of 3D microscopy data."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from catalog import freshness, prepared, tasks  # importing tasks registers them by name

        freshness.connect()
        connection_created.connect(prepared.forget_prepared, dispatch_uid="catalog-forget-prepared")
        freshness.catalog_changed.connect(tasks.warm_indexes_after_change, dispatch_uid="catalog-warm-indexes")
        post_migrate.connect(freshness.ensure_derived_current, sender=self, dispatch_uid="catalog-derived-current")
