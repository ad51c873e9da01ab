"""``manage.py export_catalog PATH``: write the catalog as manifests that load_catalog reads back."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from catalog.services.exporting import export_catalog


class Command(BaseCommand):
    help = "Write every record as catalog manifests (vocabulary, classes, collections, one file per dataset)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="Directory to write; created when missing.")

    def handle(self, *args, path: Path, **options) -> None:
        written = export_catalog(path=path)
        self.stdout.write(self.style.SUCCESS(f"Wrote {written} manifest files to {path}."))
