"""``manage.py ingest s3://bucket/prefix``: bring the catalog in step with an S3 prefix.

Runs in the foreground with a progress bar and prints a summary. Unlike the API and the
tasks, the command may read any bucket the curator's own credentials reach. Every run is
recorded as an IngestRun so it shows up next to the API's runs in the admin.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from catalog.models import Dataset, IngestRun
from catalog.s3 import S3Error
from catalog.services.ingest import (
    IngestRequestError,
    IngestSummary,
    describe_failure,
    ingest_prefix,
    validate_ingest_prefix,
)


class Command(BaseCommand):
    help = "Discover the volumes below an S3 prefix and upsert them into the catalog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="s3://bucket/prefix to walk")
        parser.add_argument("--dataset", metavar="SLUG", help="attach every volume to this existing dataset")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

    def handle(self, *args: Any, prefix: str, dataset: str | None, dry_run: bool, **options: Any) -> None:
        try:
            location = validate_ingest_prefix(prefix=prefix, allow_any_bucket=True)
        except IngestRequestError as error:
            raise CommandError(f"{error.field}: {error.message}") from error
        target = None
        if dataset:
            target = Dataset.objects.filter(slug=dataset).first()
            if target is None:
                raise CommandError(f"--dataset: no dataset with slug {dataset!r}")
        run = IngestRun.objects.create(
            prefix=location.url,
            dataset=target,
            dry_run=dry_run,
            status=IngestRun.Status.RUNNING,
            attempts=1,
            started_at=timezone.now(),
        )
        with tqdm(total=0, unit="volume", desc="ingest", disable=options["verbosity"] == 0) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()
                IngestRun.objects.filter(pk=run.pk).update(progress_done=done, progress_total=total)

            try:
                summary = ingest_prefix(location=location, dataset=target, dry_run=dry_run, progress=progress)
            except Exception as error:
                IngestRun.objects.filter(pk=run.pk).update(
                    status=IngestRun.Status.FAILED, error=describe_failure(error), finished_at=timezone.now()
                )
                if isinstance(error, S3Error):
                    raise CommandError(str(error)) from error
                raise
        IngestRun.objects.filter(pk=run.pk).update(
            status=IngestRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
            found=summary.found,
            created=summary.created,
            updated=summary.updated,
            missing=summary.missing,
            invalid=summary.invalid,
            report=summary.as_report(),
        )
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
