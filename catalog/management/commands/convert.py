"""``manage.py convert SOURCE --dataset SLUG``: convert a TIFF/HDF5 stack (or a zip of them) into
OME-Zarr in the publication bucket and switch the catalog's volumes to the copies.

SOURCE is a local path, an s3:// URL (any bucket the curator's credentials reach) or an https://
URL. Without a broker the parts run here, one after another; with one they fan out over the
workers and the command follows the run's progress. ``--resume RUN`` runs an interrupted run
again, skipping the parts already written.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.errors import CatalogError
from catalog.models import ConversionRun
from catalog.s3 import S3Error
from catalog.services.conversion import follow, resume_conversion, run_conversion_now


def _voxel_size(value: str) -> dict[str, float]:
    try:
        z, y, x = (float(part) for part in value.split(","))
    except ValueError as error:
        raise CommandError(f"--voxel-size: give z,y,x in nm, e.g. 40,10,10 (not {value!r})") from error
    return {"z": z, "y": y, "x": x}


class Command(BaseCommand):
    help = "Convert a TIFF/HDF5 stack (or a zip of them) into OME-Zarr and publish it as a catalog volume."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", nargs="?", default="", help="local path, s3:// URL or https:// URL")
        parser.add_argument("--dataset", metavar="SLUG", help="the catalog dataset whose volumes these are")
        parser.add_argument("--volume", metavar="NAME", default="", help="convert into this volume only")
        parser.add_argument("--kind", choices=["image", "segmentation"], default="", help="default: the volume's")
        parser.add_argument("--member", default="", help="zip member or HDF5 dataset to read")
        parser.add_argument("--axes", default="", help="axis order of an HDF5 dataset, e.g. zyxc")
        parser.add_argument("--voxel-size", metavar="Z,Y,X", default="", help="nm; default: the catalog's")
        parser.add_argument("--ngff-version", choices=["0.5", "0.4"], default="0.5")
        parser.add_argument("--resume", metavar="RUN", type=int, help="run an interrupted conversion run again")

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(total=0, unit="part", desc="convert", disable=options["verbosity"] == 0) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            try:
                if options["resume"]:
                    run = resume_conversion(run_id=options["resume"])
                    run = follow(run_id=run.pk, progress=progress)
                else:
                    if not options["source"] or not options["dataset"]:
                        raise CommandError("give SOURCE and --dataset SLUG (or --resume RUN)")
                    run = run_conversion_now(
                        source=options["source"],
                        dataset_slug=options["dataset"],
                        volume_name=options["volume"],
                        kind=options["kind"],
                        member=options["member"],
                        axes=options["axes"],
                        voxel_size=_voxel_size(options["voxel_size"]) if options["voxel_size"] else None,
                        ngff_version=options["ngff_version"],
                        progress=progress,
                    )
            except ConversionRun.DoesNotExist as error:
                raise CommandError(f"--resume: no conversion run {options['resume']}") from error
            except CatalogError as error:
                field = error.errors[0]["field"] if error.errors else ""
                raise CommandError(f"--{field}: {error.detail}" if field else error.detail) from error
            except S3Error as error:
                raise CommandError(str(error)) from error
        if run.status != ConversionRun.Status.SUCCEEDED:
            raise CommandError(f"conversion run {run.pk} failed: {run.error}")
        for item in run.report.get("volumes", []):
            self.stdout.write(f"{item['volume']}: {item['output']}")
        self.stdout.write(
            self.style.SUCCESS(
                f"converted {len(run.report.get('volumes', []))} volume(s) in {run.parts_total} part(s), "
                f"{run.bytes_written} bytes (conversion run {run.pk})"
            )
        )
