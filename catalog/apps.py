"""The catalog app: datasets, volumes, crops, label classes and views of 3D microscopy data."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from catalog import signals

        signals.connect()
