"""``manage.py sweep_runs``: send lost queued jobs again and fail the ones whose worker died.

The worker's beat runs the same sweep every ``JOB_SWEEP_SECONDS`` (``catalog.sweep_jobs``); this
command is for a cron job or a shell when no beat is running.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from catalog.services.jobs import sweep


class Command(BaseCommand):
    help = "Send jobs stuck in queued again (or fail them) and fail running jobs whose worker died."

    def handle(self, *args: Any, **options: Any) -> None:
        report = sweep()
        for label in report.requeued:
            self.stdout.write(f"Sent again {label}")
        for label in report.failed:
            self.stdout.write(f"Failed {label}")
        self.stdout.write(f"Sent again: {len(report.requeued)}, failed: {len(report.failed)}.")
