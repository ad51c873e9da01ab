"""Convert a curator's TIFF/HDF5 source into OME-Zarr copies of catalog volumes and publish them.

A run has three steps, each a Celery task (``catalog.tasks``) or, in the ``convert`` command and
under eager Celery, the same functions one after another in this process:

1. ``execute_conversion_run``: stage the source, map it onto the dataset's volumes (a zip's
   members by file name), check every shape against the catalog, plan each volume's parts and
   write the (empty) arrays; then send every part that has no marker in S3 to a worker.
2. ``execute_conversion_part``: write one slab and the pyramid levels it owns, then its marker;
   a part whose marker exists is counted done without writing anything.
3. ``execute_conversion_finish`` (sent by whichever part completes a volume): the levels no
   part owned, the display metadata, validation with ome-zarr-models, statistics and thumbnail
   exactly as ingest computes them, and then, in one transaction, the switch of the volume to
   its copy. Until that commit nothing in the catalog changes; the original stays as the
   volume's ``source_url`` (the download source). The catalog's on-commit hook then
   recomputes the viewer facts, so the volume's viewer problem goes away by itself.

A run is a job (``catalog.services.jobs``): its task is sent once the run is committed, a broker
that cannot be reached fails it with the reason (the API answers 503), and the sweeper sends a
lost queued run again or fails a run in progress whose steps all stopped. Every step writes the
run's ``heartbeat_at``. Sending a run twice is safe: a run that succeeded is skipped by its task,
a rerun keeps its targets and parts, and a part whose marker is in S3 is not written again.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F
from django.utils import timezone

from catalog.conversion import engine, writer
from catalog.conversion.errors import ConversionError
from catalog.conversion.labels import hex_to_rgb
from catalog.conversion.readers import SourceVolume
from catalog.discovery import discover
from catalog.errors import CatalogError, ConflictError, InvalidRequestError
from catalog.models import (
    ConversionPart,
    ConversionRun,
    ConversionTarget,
    Dataset,
    Volume,
    VolumeChannel,
)
from catalog.models.base import AXES, VolumeFormat, VolumeKind, VolumeStatus
from catalog.s3 import S3Error, S3Location, S3TransientError, S3Writer, parse_s3_url
from catalog.services import jobs
from catalog.services.ingest import _apply_statistics_values, _save_statistics, describe_failure
from catalog.volume_stats import StatisticsError, compute

Status = ConversionRun.Status
ProgressCallback = Callable[[int, int], None]
DEFAULT_CHANNEL_COLOURS = {1: ["FFFFFF"], 3: ["FF0000", "00FF00", "0000FF"]}
_UNSAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


# --- requests -----------------------------------------------------------------------------


def validate_source(*, source: str, allow_any_source: bool = False) -> str:
    """Accept an allow-listed s3:// URL or an https:// URL; local paths (and any bucket) only
    from the command, which runs with the curator's own files and credentials."""
    source = source.strip()
    try:
        kind = engine.source_kind(source)
        if kind == "s3":
            location = parse_s3_url(source)
    except (ConversionError, ValueError) as error:
        raise InvalidRequestError.on("source", str(error)) from error
    if kind == "local" and not allow_any_source:
        raise InvalidRequestError.on("source", "local paths can be converted only with manage.py convert")
    if kind == "s3" and not allow_any_source and location.bucket not in settings.INGEST_ALLOWED_BUCKETS:
        allowed = ", ".join(settings.INGEST_ALLOWED_BUCKETS) or "none"
        raise InvalidRequestError.on(
            "source", f"bucket {location.bucket!r} is not allowed for conversion (allowed buckets: {allowed})"
        )
    return str(Path(source).expanduser().resolve()) if kind == "local" else source


def _voxel_size(value: Any) -> dict[str, float] | None:
    if value in (None, "", {}):
        return None
    try:
        sizes = {axis: float(value[axis]) for axis in "zyx"}
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidRequestError.on("voxel_size", "give z, y and x in nm, e.g. {z: 40, y: 10, x: 10}") from error
    if any(size <= 0 for size in sizes.values()):
        raise InvalidRequestError.on("voxel_size", "voxel sizes must be positive")
    return sizes


@transaction.atomic
def create_conversion_run(
    *,
    source: str,
    dataset_slug: str,
    volume_name: str = "",
    kind: str = "",
    member: str = "",
    ngff_version: str = "0.5",
    axes: str = "",
    voxel_size: dict[str, float] | None = None,
    requested_by: AbstractBaseUser | None = None,
    allow_any_source: bool = False,
) -> ConversionRun:
    """Record a queued run after checking everything that can be checked without the data."""
    source = validate_source(source=source, allow_any_source=allow_any_source)
    if not settings.CONVERSION_OUTPUT_BUCKET:
        raise CatalogError("CONVERSION_OUTPUT_BUCKET is not configured: there is nowhere to publish", status=503)
    dataset = Dataset.objects.filter(slug=dataset_slug).first()
    if dataset is None:
        raise ConflictError.on("dataset", f"no dataset with slug {dataset_slug!r}")
    if volume_name and not dataset.volumes.filter(name=volume_name).exists():
        raise ConflictError.on("volume", f"dataset {dataset_slug!r} has no volume {volume_name!r}")
    if kind not in ("", VolumeKind.IMAGE, VolumeKind.SEGMENTATION):
        raise InvalidRequestError.on("kind", f"kind must be image or segmentation, not {kind!r}")
    if ngff_version not in ("0.4", "0.5"):
        raise InvalidRequestError.on("ngff_version", f"OME-NGFF version must be 0.5 or 0.4, not {ngff_version!r}")
    if axes and (sorted(axes.lower()) not in (sorted("zyx"), sorted("zyxc"))):
        raise InvalidRequestError.on("axes", f"axes must be an order of zyx or zyxc, not {axes!r}")
    return ConversionRun.objects.create(
        source=source,
        dataset=dataset,
        volume_name=volume_name,
        kind=kind,
        member=member,
        ngff_version=ngff_version,
        axes=axes.lower(),
        voxel_size=_voxel_size(voxel_size),
        requested_by=requested_by if requested_by is not None and requested_by.is_authenticated else None,
    )


def start_conversion(**arguments: Any) -> ConversionRun:
    """Record a run (see ``create_conversion_run``) and send it to a worker once committed (a
    broker that cannot be reached fails the run: see ``catalog.services.jobs``)."""
    with transaction.atomic():
        run = create_conversion_run(**arguments)
        jobs.enqueue_job(run)
    return run


def resume_conversion(*, run_id: int) -> ConversionRun:
    """Run a failed or interrupted run again: parts whose marker is in S3 are not rewritten.
    It is queued afresh (the sweeper's count of sends starts again) and sent once committed."""
    run = ConversionRun.objects.get(pk=run_id)
    if run.status == Status.SUCCEEDED:
        raise InvalidRequestError.on("run", f"conversion run {run_id} has already succeeded")
    with transaction.atomic():
        ConversionRun.objects.filter(pk=run_id).update(
            status=Status.QUEUED, error="", finished_at=None, requeues=0, enqueue_error=""
        )
        ConversionTarget.objects.filter(run_id=run_id).exclude(status=Status.SUCCEEDED).update(
            status=Status.RUNNING, error=""
        )
        jobs.enqueue_job(run)
    run.refresh_from_db()
    return run


def run_conversion_now(*, progress: ProgressCallback | None = None, **arguments: Any) -> ConversionRun:
    """The ``convert`` command: record the run (any source) and work through it here when
    Celery is eager, or follow the workers' progress until the run ends."""
    run = create_conversion_run(allow_any_source=True, **arguments)
    return follow(run_id=run.pk, progress=progress, start=True)


def follow(*, run_id: int, progress: ProgressCallback | None = None, start: bool = False) -> ConversionRun:
    """Start (or resume) a run and return once it has succeeded or failed. Under eager Celery
    the whole run happens inside ``start``; with a broker this polls the workers' progress."""
    import time

    if start:
        jobs.send(ConversionRun, run_id)
    while True:
        run = ConversionRun.objects.get(pk=run_id)
        if progress is not None:
            progress(run.parts_done, run.parts_total)
        if run.status in (Status.SUCCEEDED, Status.FAILED) or settings.CELERY_TASK_ALWAYS_EAGER:
            return run
        time.sleep(0.5)


def _send(task_name: str, object_id: int) -> None:
    """Queue a part's or a finish's task (the run's own goes through ``jobs``). Eager Celery runs
    it here, at once, once (no retries could run later) and without raising (the run records
    the outcome). With a broker the task is sent once the current transaction (if any)
    commits, so the worker sees what it refers to; a lost one leaves the run without a sign
    of life, and the sweeper fails it."""
    task = jobs.task_named(task_name)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        task.apply(args=[object_id], retries=task.max_retries, throw=False)
    else:
        transaction.on_commit(lambda: task.delay(object_id), robust=True)


# --- step 1: the run ------------------------------------------------------------------------


def _update_run(run_id: int, **values: Any) -> None:
    """Write on the run; every write is also a sign of life for the sweeper."""
    ConversionRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now(), **values)


def _heartbeat(run_id: int) -> None:
    """A step of the run (a part, a finish) is at work: the sweeper leaves the run alone."""
    _update_run(run_id)


def work_dir(run: ConversionRun) -> Path:
    return Path(settings.CONVERSION_WORK_DIR) / f"run-{run.pk}"


def fail_run(run_id: int, error: BaseException | str) -> None:
    """Stop the run with its error (the first one recorded wins); nothing is published."""
    message = error if isinstance(error, str) else describe_failure(error)
    ConversionRun.objects.filter(pk=run_id, status__in=[Status.QUEUED, *ConversionRun.IN_PROGRESS]).update(
        status=Status.FAILED, error=message, finished_at=timezone.now()
    )
    ConversionTarget.objects.filter(run_id=run_id).exclude(status=Status.SUCCEEDED).update(
        status=Status.FAILED, error=message
    )


def execute_conversion_run(*, run_id: int, final_attempt: bool = True) -> None:
    """Step 1, with the run's status kept right: running, then (after the parts) succeeded or
    failed; a transient S3 error before the final attempt leaves it waiting to retry."""
    run = ConversionRun.objects.select_related("dataset").get(pk=run_id)
    _update_run(
        run_id,
        status=Status.RUNNING,
        attempts=run.attempts + 1,
        started_at=run.started_at or timezone.now(),
        error="",
    )
    try:
        targets = _prepare(run)
    except S3TransientError as error:
        if final_attempt:
            fail_run(run_id, error)
        else:
            _update_run(run_id, status=Status.RETRYING, error=describe_failure(error))
        raise
    except (CatalogError, S3Error, OSError) as error:
        fail_run(run_id, error)
        return
    except Exception as error:
        fail_run(run_id, error)
        raise
    for target in targets:
        _dispatch_parts(target)


def _safe_name(name: str) -> str:
    return _UNSAFE_NAME_RE.sub("_", name).strip("_") or "volume"


def _output_location(run: ConversionRun, volume: Volume) -> S3Location:
    key = "/".join(
        part
        for part in (
            settings.CONVERSION_OUTPUT_PREFIX.strip("/"),
            run.dataset.slug,
            f"{_safe_name(volume.name)}.run{run.pk}.ome.zarr",
        )
        if part
    )
    return S3Location(settings.CONVERSION_OUTPUT_BUCKET, key)


def _file_name(url: str) -> str:
    return PurePosixPath(url.split("?", 1)[0].rstrip("/")).name


def _match_volumes(run: ConversionRun, staged: Path) -> list[tuple[Volume, str]]:
    """(volume, member) pairs: a zip's members map to volumes by file name (``50-images.tif``
    is the volume whose URL ends in that name, or whose name is its stem)."""
    volumes = list(run.dataset.volumes.all())
    if run.volume_name:
        volumes = [volume for volume in volumes if volume.name == run.volume_name]
    if staged.suffix.lower() != ".zip" or run.member:
        if run.member or len(volumes) == 1:
            if len(volumes) != 1:
                raise ConversionError(
                    f"name the volume of {run.dataset.slug} to convert {run.member!r} into (--volume)"
                )
            return [(volumes[0], run.member)]
        name = _file_name(run.source)
        found = [v for v in volumes if _file_name(v.url) == name or v.name == PurePosixPath(name).stem]
        if len(found) != 1:
            raise ConversionError(
                f"no single volume of {run.dataset.slug} is named after {name!r}; name the volume (--volume)"
            )
        return [(found[0], "")]
    members = engine.zip_members(staged)
    pairs = []
    for volume in volumes:
        wanted = {_file_name(volume.url), volume.name}
        match = [m for m in members if PurePosixPath(m).name in wanted or PurePosixPath(m).stem == volume.name]
        if match:
            pairs.append((volume, match[0]))
    if not pairs:
        raise ConversionError(
            f"no member of {staged.name} matches a volume of {run.dataset.slug} "
            f"(members: {', '.join(members[:20])}; volumes: {', '.join(v.name for v in volumes[:20])})"
        )
    return pairs


def _voxel_size_of(run: ConversionRun, volume: Volume, source: SourceVolume) -> tuple[float, float, float]:
    """Voxel size (z, y, x) in nm: the request's, the volume's, the dataset's, then the file's."""
    candidates = [
        run.voxel_size,
        {axis: getattr(volume, f"scale_{axis}") for axis in AXES},
        {axis: getattr(run.dataset, f"voxel_size_{axis}", None) for axis in AXES},
        source.voxel_size_nm,
    ]
    for candidate in candidates:
        if candidate and all(candidate.get(axis) for axis in "zyx"):
            return (abs(float(candidate["z"])), abs(float(candidate["y"])), abs(float(candidate["x"])))
    raise ConversionError(
        f"the voxel size of {volume.name} is unknown (not in the catalog nor in the file); give it (--voxel-size z,y,x)"
    )


def colour_table(volume: Volume) -> dict[tuple[int, int, int], int]:
    """The volume's class colours: each segment label's colour (or its class's); the
    background (value 0) without a colour is black."""
    table: dict[tuple[int, int, int], int] = {}
    for label in volume.segment_labels.select_related("label_class").order_by("value"):
        colour = label.colour or (label.label_class.colour if label.label_class else "")
        if colour:
            table[hex_to_rgb(colour)] = label.value
        elif label.value == 0:
            table[(0, 0, 0)] = 0
    return table


def _check_shape(volume: Volume, source: SourceVolume) -> None:
    expected = tuple(getattr(volume, f"shape_{axis}") for axis in "zyx")
    actual = source.shape[:3]
    if all(value is not None for value in expected) and tuple(expected) != actual:
        raise ConversionError(
            f"{source.description} is {actual[0]}x{actual[1]}x{actual[2]} (z, y, x) but the catalog's volume "
            f"{volume.name} is {expected[0]}x{expected[1]}x{expected[2]}"
        )


def display_for(volume: Volume, the_plan: engine.Plan) -> writer.Display:
    """omero channels (colours from the volume's channels) or image-label classes."""
    if the_plan.encoding != "image":
        labels = []
        for label in volume.segment_labels.select_related("label_class").order_by("value"):
            colour = label.colour or (label.label_class.colour if label.label_class else "")
            # A class without a colour (the background) is transparent: OME-NGFF wants the
            # same values in colours and properties.
            rgba = [*hex_to_rgb(colour), 255] if colour else [0, 0, 0, 0]
            labels.append({"value": label.value, "name": label.name, "rgba": rgba})
        return writer.Display(labels=labels, is_label=True)
    count = the_plan.layout.channels
    rows = {channel.index: channel for channel in VolumeChannel.objects.filter(volume=volume)}
    defaults = DEFAULT_CHANNEL_COLOURS.get(count, ["FFFFFF"] * count)
    channels = []
    for index in range(count):
        row = rows.get(index)
        colour = row.colour.lstrip("#").upper() if row is not None and row.colour else defaults[index]
        label = row.name if row is not None and row.name else (volume.name if count == 1 else f"channel {index}")
        channels.append({"label": label, "color": colour, "active": True})
    return writer.Display(channels=channels)


def _prepare(run: ConversionRun) -> list[ConversionTarget]:
    """Stage, map, check and plan every volume before writing anything; then write the empty
    arrays and record the parts (a rerun finds its targets and parts and keeps them)."""
    targets = list(run.targets.select_related("volume"))
    if not targets:
        targets = _plan_targets(run)
    client = S3Writer()
    for target in targets:
        the_plan = engine.Plan.from_json(target.plan)
        engine.start(client, parse_s3_url(target.output_url), the_plan, display_for(target.volume, the_plan))
    return targets


def _plan_targets(run: ConversionRun) -> list[ConversionTarget]:
    directory = work_dir(run)
    staged = engine.stage(run.source, directory)
    pairs = _match_volumes(run, staged)
    plans: list[tuple[Volume, str, engine.Plan]] = []
    for volume, member in pairs:
        source = engine.open_staged(run.source, directory, member=member, axes=run.axes)
        try:
            _check_shape(volume, source)
            kind = run.kind or volume.kind
            the_plan = engine.plan(
                source,
                kind=kind,
                voxel_size_nm=_voxel_size_of(run, volume, source),
                translation_nm=tuple(getattr(volume, f"translation_{axis}") or 0.0 for axis in "zyx"),
                table=colour_table(volume) if kind == VolumeKind.SEGMENTATION else {},
                version=run.ngff_version,
                part_bytes=settings.CONVERSION_PART_BYTES,
                name=volume.name,
            )
        finally:
            source.close()
        plans.append((volume, member, the_plan))
    targets = []
    with transaction.atomic():
        # The same run sent twice (the sweeper and a slow queue) plans once: the second keeps the first's.
        ConversionRun.objects.select_for_update().filter(pk=run.pk).first()
        planned = list(run.targets.select_related("volume"))
        if planned:
            return planned
        for volume, member, the_plan in plans:
            target = ConversionTarget.objects.create(
                run=run,
                volume=volume,
                member=member,
                output_url=_output_location(run, volume).url,
                plan=the_plan.as_json(),
                status=Status.RUNNING,
                parts_total=len(the_plan.parts),
            )
            ConversionPart.objects.bulk_create(
                ConversionPart(target=target, index=part.index, z0=part.z0, z1=part.z1) for part in the_plan.parts
            )
            targets.append(target)
        ConversionRun.objects.filter(pk=run.pk).update(parts_total=sum(t.parts_total for t in targets))
    return targets


def _dispatch_parts(target: ConversionTarget) -> None:
    """Send every part of a target that S3 does not show as written; count the others done."""
    client = S3Writer()
    output = parse_s3_url(target.output_url)
    pending = []
    for part in target.parts.order_by("index"):
        marker = engine.part_written(client, output, part.index)
        if marker is None:
            pending.append(part.pk)
        elif not part.done:
            _complete_part(part, int(marker.get("bytes", 0)), written=False)
    if not pending:
        _maybe_finish(target.pk)
    for part_id in pending:
        _send("catalog.conversion_part", part_id)


# --- step 2: the parts ----------------------------------------------------------------------


def _complete_part(part: ConversionPart, written_bytes: int, *, written: bool) -> None:
    """Count a part done once (its bytes on the target and the run)."""
    with transaction.atomic():
        values: dict[str, Any] = {"done": True, "bytes_written": written_bytes}
        if written:
            values["written_at"] = timezone.now()
        if ConversionPart.objects.filter(pk=part.pk, done=False).update(**values) != 1:
            return
        ConversionTarget.objects.filter(pk=part.target_id).update(
            parts_done=F("parts_done") + 1, bytes_written=F("bytes_written") + written_bytes
        )
        ConversionRun.objects.filter(targets__pk=part.target_id).update(
            parts_done=F("parts_done") + 1,
            bytes_written=F("bytes_written") + written_bytes,
            heartbeat_at=timezone.now(),
        )


def execute_conversion_part(*, part_id: int, final_attempt: bool = True) -> None:
    """Step 2 for one part: skip it when its marker is in S3, else write it; then, if it was the
    target's last, start the finish."""
    part = ConversionPart.objects.select_related("target__run").get(pk=part_id)
    target, run = part.target, part.target.run
    if run.status == Status.FAILED:
        return
    ConversionPart.objects.filter(pk=part_id).update(attempts=F("attempts") + 1)
    _heartbeat(run.pk)
    client = S3Writer()
    output = parse_s3_url(target.output_url)
    try:
        marker = engine.part_written(client, output, part.index)
        if marker is not None:
            _complete_part(part, int(marker.get("bytes", 0)), written=False)
        else:
            the_plan = engine.Plan.from_json(target.plan)
            source = engine.open_staged(run.source, work_dir(run), member=target.member, axes=run.axes)
            try:
                written = engine.write_part(client, output, the_plan, source, the_plan.parts[part.index])
            finally:
                source.close()
            _complete_part(part, written, written=True)
    except S3TransientError as error:
        if final_attempt:
            fail_run(run.pk, error)
        raise
    except (CatalogError, S3Error, OSError) as error:
        fail_run(run.pk, f"part {part.index} (z {part.z0}-{part.z1}) of {target.volume_id}: {describe_failure(error)}")
        return
    except Exception as error:
        fail_run(run.pk, error)
        raise
    _maybe_finish(target.pk)


def _maybe_finish(target_id: int) -> None:
    """Whoever completes a target's last part sends its finish (exactly once); once no target
    of the run has parts left to write, the run is finishing."""
    claimed = ConversionTarget.objects.filter(pk=target_id, status=Status.RUNNING, parts_done=F("parts_total")).update(
        status=Status.FINISHING
    )
    if not claimed:
        return
    run_id = ConversionTarget.objects.values_list("run_id", flat=True).get(pk=target_id)
    writing = ConversionTarget.objects.filter(run_id=run_id, status__in=[Status.QUEUED, Status.RUNNING])
    ConversionRun.objects.filter(pk=run_id, status=Status.RUNNING).exclude(Exists(writing)).update(
        status=Status.FINISHING, heartbeat_at=timezone.now()
    )
    _send("catalog.conversion_finish", target_id)


# --- step 3: finish and publish -------------------------------------------------------------


def execute_conversion_finish(*, target_id: int, final_attempt: bool = True) -> None:
    """Step 3: coarse levels, metadata, validation, statistics, then the catalog switch."""
    target = ConversionTarget.objects.select_related("run__dataset", "volume").get(pk=target_id)
    run, volume = target.run, target.volume
    if run.status == Status.FAILED:
        return
    _heartbeat(run.pk)
    client = S3Writer()
    output = parse_s3_url(target.output_url)
    the_plan = engine.Plan.from_json(target.plan)
    try:
        written = engine.finish(client, output, the_plan, display_for(volume, the_plan))
        warnings: list[str] = []
        descriptions = [d for d in discover(client, output, warnings) if d.url == output.url]
        if len(descriptions) != 1 or not descriptions[0].is_valid:
            problems = "; ".join(f"{e.field}: {e.message}" for d in descriptions for e in d.errors) or warnings
            raise ConversionError(f"the catalog cannot read the written copy {output.url}: {problems}")
        description = descriptions[0]
        statistics = None
        if the_plan.encoding == "image":
            try:
                statistics = compute(client, description)
            except StatisticsError as error:
                raise ConversionError(f"no statistics for {output.url}: {error}") from error
    except S3TransientError as error:
        if final_attempt:
            fail_run(run.pk, error)
        else:
            ConversionTarget.objects.filter(pk=target_id).update(status=Status.RUNNING)
        raise
    except (CatalogError, S3Error, OSError) as error:
        fail_run(run.pk, error)
        return
    except Exception as error:
        fail_run(run.pk, error)
        raise
    _publish(target, description, statistics, written)


def _publish(target: ConversionTarget, description: Any, statistics: Any, written: int) -> None:
    """Switch the volume to its copy in one transaction; the run succeeds with its last volume."""
    run = target.run
    saved_files: list[str] = []
    try:
        with transaction.atomic():
            volume = Volume.objects.select_for_update().get(pk=target.volume_id)
            if not volume.source_url:
                volume.source_url = volume.url
            volume.url = target.output_url
            volume.format = VolumeFormat.OME_ZARR_05 if run.ngff_version == "0.5" else VolumeFormat.OME_ZARR_04
            volume.dtype = description.dtype
            volume.axes = description.axes
            volume.scale_levels = description.scale_levels
            volume.status = VolumeStatus.OK
            volume.validation_errors = []
            for axis in AXES:
                setattr(volume, f"shape_{axis}", description.shape[axis])
                setattr(volume, f"scale_{axis}", description.voxel_size[axis])
                setattr(volume, f"translation_{axis}", description.translation[axis])
            _apply_statistics_values(volume, statistics)
            volume.save()
            _save_statistics(volume, statistics, saved_files)
            ConversionTarget.objects.filter(pk=target.pk).update(
                status=Status.SUCCEEDED, published_at=timezone.now(), bytes_written=F("bytes_written") + written
            )
            _update_run(run.pk, bytes_written=F("bytes_written") + written)
            if not ConversionTarget.objects.filter(run=run).exclude(status=Status.SUCCEEDED).exists():
                report = {
                    "volumes": [
                        {"volume": t.volume.name, "member": t.member, "output": t.output_url}
                        for t in run.targets.select_related("volume")
                    ]
                }
                ConversionRun.objects.filter(pk=run.pk).update(
                    status=Status.SUCCEEDED, finished_at=timezone.now(), report=report
                )
                transaction.on_commit(lambda: shutil.rmtree(work_dir(run), ignore_errors=True))
    except Exception:
        from django.core.files.storage import default_storage

        for name in saved_files:
            default_storage.delete(name)
        raise
