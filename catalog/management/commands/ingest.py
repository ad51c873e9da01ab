"""``manage.py ingest s3://bucket/prefix``: bring the catalog in step with an S3 prefix.

Runs in the foreground with a progress bar and prints a summary. Unlike the API and the
tasks, the command may read any bucket the curator's own credentials reach. The run is
recorded by the ingest service, exactly as the API's runs are, so it shows up in the admin.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.errors import CatalogError
from catalog.s3 import S3Error
from catalog.services.ingest import IngestSummary, run_ingest_now


class Command(BaseCommand):
    help = "Discover the volumes below an S3 prefix and upsert them into the catalog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="s3://bucket/prefix to walk")
        parser.add_argument("--dataset", metavar="SLUG", help="attach every volume to this existing dataset")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

    def handle(self, *args: Any, prefix: str, dataset: str | None, dry_run: bool, **options: Any) -> None:
        with tqdm(total=0, unit="volume", desc="ingest", disable=options["verbosity"] == 0) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            try:
                run, summary = run_ingest_now(prefix=prefix, dataset_slug=dataset, dry_run=dry_run, progress=progress)
            except CatalogError as error:
                field = error.errors[0]["field"] if error.errors else ""
                option = f"--{field}" if field == "dataset" else field
                raise CommandError(f"{option}: {error.detail}") from error
            except S3Error as error:
                raise CommandError(str(error)) from error
        self._print_summary(summary, run.pk)

    def _print_summary(self, summary: IngestSummary, run_id: int) -> None:
        for url, problems in sorted(summary.problems.items()):
            for problem in problems:
                self.stdout.write(self.style.WARNING(f"invalid {url}: {problem['field']}: {problem['message']}"))
        for warning in summary.warnings:
            self.stdout.write(self.style.WARNING(warning))
        for slug in summary.datasets_created:
            self.stdout.write(f"new dataset {slug} (complete its record in the admin)")
        for number in summary.crops_created:
            self.stdout.write(f"new training crop crop{number}")
        prefix = "dry run, nothing written: " if summary.dry_run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}found {summary.found}, created {summary.created}, updated {summary.updated}, "
                f"unchanged {summary.unchanged}, missing {summary.missing}, invalid {summary.invalid} "
                f"(ingest run {run_id})"
            )
        )
