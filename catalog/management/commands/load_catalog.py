"""``manage.py load_catalog [PATH]``: load catalog manifests (default: the shipped reference catalog)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.services.loading import REFERENCE_CATALOG, ManifestError, load_catalog, read_catalog


class Command(BaseCommand):
    help = "Load catalog manifests. All-or-nothing: a manifest with an error changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, default=REFERENCE_CATALOG, help="Catalog directory.")
        parser.add_argument(
            "--prune", action="store_true", help="Delete datasets, volumes, crops and views the manifests omit."
        )

    def handle(self, *args, path: Path, prune: bool, verbosity: int, **options) -> None:
        try:
            report = load_catalog(files=read_catalog(path), prune=prune)
        except ManifestError as error:
            raise CommandError(
                f"Catalog not loaded, nothing was changed. {len(error.problems)} problem(s):\n" + str(error)
            ) from error
        if verbosity > 0:
            self.stdout.write(report.summary())
            self.stdout.write(
                self.style.SUCCESS("Catalog loaded." if report.changed else "Catalog already up to date.")
            )
