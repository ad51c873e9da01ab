"""Keep the catalog in step with an S3 prefix: discover volumes, upsert them, read their statistics.

The upsert is keyed by the volume's storage URL and writes a row only when a value
differs, so a second run over an unchanged bucket changes nothing (not even ``updated_at``).
Volumes that disappeared from the prefix are marked missing, never deleted. All reads from
S3 for one dataset (discovery, then statistics) happen before that dataset's transaction,
so a failing connection leaves every dataset either fully ingested or exactly as before.

Fields a curator owns (name, description, kind, content type, label class of an existing
row; contrast limits that ingest did not write itself or that are marked
``display_set_by_curator``) are never overwritten; array metadata (format, dtype, axes,
shape, voxel size, translation, levels, status, errors) is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.discovery import VolumeDescription, dataset_from_layout, discover
from catalog.errors import ConflictError, InvalidRequestError
from catalog.label_counts import ContentCounts, count_contents
from catalog.models import Crop, CropContent, Dataset, IngestRun, LabelClass, Mesh, Volume, VolumeStatistics
from catalog.models.base import AXES, ContentType, CropSplit, VolumeKind, VolumeStatus
from catalog.s3 import S3Error, S3Location, S3Reader, S3TransientError, parse_s3_url
from catalog.services import jobs
from catalog.volume_stats import StatisticsError, compute

ProgressCallback = Callable[[int, int], None]
METADATA_FIELDS = (
    "format",
    "dtype",
    "axes",
    *(f"{prefix}_{axis}" for prefix in ("shape", "scale", "translation") for axis in AXES),
    "scale_levels",
    "levels",
    "status",
    "validation_errors",
)
CONTRAST_FIELDS = ("contrast_min", "contrast_max", "contrast_start", "contrast_end")


@dataclass
class IngestSummary:
    """What one ingest found and changed."""

    prefix: str
    dry_run: bool = False
    found: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    invalid: int = 0
    datasets_created: list[str] = field(default_factory=list)
    crops_created: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """The run's result counters (``IngestRun.COUNT_FIELDS``)."""
        return {name: getattr(self, name) for name in IngestRun.COUNT_FIELDS}

    def as_report(self) -> dict[str, Any]:
        return {
            "datasets_created": self.datasets_created,
            "crops_created": self.crops_created,
            "unchanged": self.unchanged,
            "warnings": self.warnings,
            "problems": self.problems,
        }


# --- requests -----------------------------------------------------------------------------


def validate_ingest_prefix(*, prefix: str, allow_any_bucket: bool = False) -> S3Location:
    """Parse ``s3://bucket/prefix``; outside the CLI, the bucket must be allow-listed.

    Only ``s3://`` URLs are accepted, so the endpoint is always the configured one: a
    request can never make the server fetch from an address of the requester's choosing.
    """
    try:
        location = parse_s3_url(prefix.strip())
    except ValueError as error:
        raise InvalidRequestError.on("prefix", f"{error}; expected s3://bucket/prefix") from error
    if not allow_any_bucket and location.bucket not in settings.INGEST_ALLOWED_BUCKETS:
        allowed = ", ".join(settings.INGEST_ALLOWED_BUCKETS) or "none"
        raise InvalidRequestError.on(
            "prefix", f"bucket {location.bucket!r} is not allowed for ingest (allowed buckets: {allowed})"
        )
    return location


def _dataset_by_slug(slug: str | None) -> Dataset | None:
    if not slug:
        return None
    dataset = Dataset.objects.filter(slug=slug).first()
    if dataset is None:
        raise ConflictError.on("dataset", f"no dataset with slug {slug!r}")
    return dataset


@transaction.atomic
def start_ingest_run(
    *,
    prefix: str,
    dataset_slug: str | None = None,
    dry_run: bool = False,
    requested_by: AbstractBaseUser | None = None,
) -> IngestRun:
    """Record a queued run for an allow-listed prefix and send its task once committed (a broker
    that cannot be reached fails the run: see ``catalog.services.jobs``)."""
    location = validate_ingest_prefix(prefix=prefix)
    run = IngestRun.objects.create(
        prefix=location.url,
        dataset=_dataset_by_slug(dataset_slug),
        dry_run=dry_run,
        requested_by=requested_by if requested_by is not None and requested_by.is_authenticated else None,
    )
    jobs.enqueue_job(run)
    return run


def run_ingest_now(
    *, prefix: str, dataset_slug: str | None = None, dry_run: bool = False, progress: ProgressCallback | None = None
) -> tuple[IngestRun, IngestSummary]:
    """Record and run an ingest in this process (the ``ingest`` command), any bucket allowed:
    the curator's own credentials decide what can be read. Raises what the run raised."""
    location = validate_ingest_prefix(prefix=prefix, allow_any_bucket=True)
    run = IngestRun.objects.create(prefix=location.url, dataset=_dataset_by_slug(dataset_slug), dry_run=dry_run)
    summary = execute_ingest_run(run_id=run.pk, allow_any_bucket=True, progress=progress)
    run.refresh_from_db()
    return run, summary


# --- runs: one lifecycle for the task and the command ----------------------------------------


def _update_run(run_id: int, **values: Any) -> None:
    """Write on the run; every write is also the worker's sign of life for the sweeper."""
    IngestRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now(), **values)


def record_progress(run_id: int, done: int, total: int) -> None:
    """Publish a run's progress (outside any dataset transaction, so staff see it live)."""
    _update_run(run_id, progress_done=min(done, total), progress_total=total)


def execute_ingest_run(
    *,
    run_id: int,
    allow_any_bucket: bool = False,
    progress: ProgressCallback | None = None,
    final_attempt: bool = True,
) -> IngestSummary:
    """Run a recorded ingest and write its outcome on the run: running, then succeeded with its
    counts, or failed with the error. A transient S3 error that is not the final attempt leaves
    the run waiting to retry and propagates, for the task to retry it."""
    run = IngestRun.objects.select_related("dataset").get(pk=run_id)
    _update_run(
        run_id,
        status=IngestRun.Status.RUNNING,
        attempts=run.attempts + 1,
        started_at=run.started_at or timezone.now(),
        error="",
    )

    def report(done: int, total: int) -> None:
        record_progress(run_id, done, total)
        if progress is not None:
            progress(done, total)

    try:
        location = validate_ingest_prefix(prefix=run.prefix, allow_any_bucket=allow_any_bucket)
        summary = ingest_prefix(location=location, dataset=run.dataset, dry_run=run.dry_run, progress=report)
    except S3TransientError as error:
        if final_attempt:
            _update_run(
                run_id, status=IngestRun.Status.FAILED, error=describe_failure(error), finished_at=timezone.now()
            )
        else:
            _update_run(run_id, status=IngestRun.Status.RETRYING, error=describe_failure(error))
        raise
    except Exception as error:
        _update_run(run_id, status=IngestRun.Status.FAILED, error=describe_failure(error), finished_at=timezone.now())
        raise
    _update_run(
        run_id,
        status=IngestRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
        report=summary.as_report(),
        **summary.counts(),
    )
    return summary


# --- the ingest itself --------------------------------------------------------------------


def ingest_prefix(
    *,
    location: S3Location,
    dataset: Dataset | None = None,
    dry_run: bool = False,
    reader: S3Reader | None = None,
    progress: ProgressCallback | None = None,
) -> IngestSummary:
    """Bring the catalog in step with everything below ``location``.

    ``dataset`` attaches new volumes to one dataset; without it each volume's dataset comes
    from the bucket layout (``<slug>/<slug>.zarr/...``), creating minimal datasets as needed.
    ``dry_run`` walks and compares but rolls every write back (and reads no statistics).
    """
    reader = reader or S3Reader()
    summary = IngestSummary(prefix=location.url, dry_run=dry_run)
    descriptions = discover(reader, location, summary.warnings)
    summary.found = len(descriptions)
    summary.invalid = sum(not description.is_valid for description in descriptions)
    report = progress or (lambda done, total: None)
    report(0, len(descriptions))

    existing = {volume.url: volume for volume in _volumes_under(location)}
    groups: dict[str, list[VolumeDescription]] = defaultdict(list)
    for description in descriptions:
        known = existing.get(description.url)
        if known is not None:
            groups[known.dataset.slug].append(description)
            continue
        slug = dataset.slug if dataset else dataset_from_layout(description.location.key)[0]
        if slug is None or not _is_slug(slug):
            summary.warnings.append(f"{description.url}: no dataset in the path; ingest it with --dataset SLUG")
            continue
        groups[slug].append(description)
    seen = {description.url for description in descriptions}
    gone: dict[str, list[Volume]] = defaultdict(list)
    for url, volume in existing.items():
        if url not in seen and volume.status != VolumeStatus.MISSING:
            gone[volume.dataset.slug].append(volume)

    classes = _label_class_index()
    done = 0
    for slug in sorted(set(groups) | set(gone)):
        group = groups.get(slug, [])
        statistics: dict[str, Any] = {}
        contents: dict[str, ContentCounts] = {}
        for description in group:
            if not dry_run:
                statistics[description.url] = _read_statistics(
                    reader, description, existing.get(description.url), summary
                )
                if _is_crop_class_array(description):
                    contents[description.url] = count_contents(reader, description)
            done += 1
            report(done, len(descriptions))
        _write_dataset(
            slug=slug,
            descriptions=group,
            gone=gone.get(slug, []),
            existing=existing,
            statistics=statistics,
            contents=contents,
            classes=classes,
            summary=summary,
            source=location.url,
        )
    report(len(descriptions), len(descriptions))
    return summary


def _is_slug(value: str) -> bool:
    try:
        validate_slug(value)
    except ValidationError:
        return False
    return len(value) <= 100


def _volumes_under(location: S3Location) -> list[Volume]:
    base = location.url.rstrip("/")
    condition = Q(url__startswith=f"{base}/") | Q(url=base)
    return list(Volume.objects.select_related("dataset", "statistics").filter(condition))


def _label_class_index() -> dict[str, LabelClass]:
    classes = list(LabelClass.objects.all())
    index: dict[str, LabelClass] = {}
    for label_class in classes:
        for alias in label_class.aliases or []:
            index.setdefault(str(alias).lower(), label_class)
    index.update((label_class.name, label_class) for label_class in classes)
    return index


def _read_statistics(
    reader: S3Reader, description: VolumeDescription, volume: Volume | None, summary: IngestSummary
) -> Any:
    """Statistics of an image volume's coarsest level.

    Fresh ``volume_stats.VolumeStatistics`` when the level changed; the stored record when it
    did not (nothing is read); None for non-images and unreadable levels.
    """
    kind = volume.kind if volume is not None else description.kind
    if kind != VolumeKind.IMAGE or not description.levels or not description.is_valid:
        return None
    previous = getattr(volume, "statistics", None) if volume is not None else None
    try:
        return compute(reader, description, previous.fingerprint if previous else "") or previous
    except StatisticsError as error:
        summary.warnings.append(f"{description.url}: no statistics ({error})")
        return None


def _write_dataset(
    *,
    slug: str,
    descriptions: list[VolumeDescription],
    gone: list[Volume],
    existing: dict[str, Volume],
    statistics: dict[str, Any],
    contents: dict[str, ContentCounts],
    classes: dict[str, LabelClass],
    summary: IngestSummary,
    source: str,
) -> None:
    """All writes of one dataset, in one transaction (rolled back whole on a dry run)."""
    saved_files: list[str] = []
    try:
        with transaction.atomic():
            dataset = Dataset.objects.filter(slug=slug).first()
            if dataset is None:
                dataset = Dataset.objects.create(
                    slug=slug,
                    provenance=f"Created by the ingest of {source}; to be completed by a curator.",
                    **_geometry_from_em(descriptions),
                )
                summary.datasets_created.append(slug)
            taken = set(Volume.objects.filter(dataset=dataset).values_list("name", flat=True))
            for description in descriptions:
                volume = existing.get(description.url)
                _upsert_volume(
                    dataset=volume.dataset if volume else dataset,
                    volume=volume,
                    description=description,
                    statistics=statistics.get(description.url),
                    classes=classes,
                    taken=taken,
                    summary=summary,
                    saved_files=saved_files,
                )
            _sync_crops(dataset=dataset, descriptions=descriptions, contents=contents, classes=classes, summary=summary)
            for volume in gone:
                volume.status = VolumeStatus.MISSING
                volume.save(update_fields=["status", "updated_at"])
                summary.missing += 1
            if summary.dry_run:
                transaction.set_rollback(True)
    except Exception:
        for name in saved_files:
            default_storage.delete(name)
        raise


def _is_crop_class_array(description: VolumeDescription) -> bool:
    """A valid label array of one class in a crop (not the crop's ``all`` array)."""
    return description.crop_number is not None and description.is_valid and bool(description.label_class)


def _sync_crops(
    *,
    dataset: Dataset,
    descriptions: list[VolumeDescription],
    contents: dict[str, ContentCounts],
    classes: dict[str, LabelClass],
    summary: IngestSummary,
) -> None:
    """Create the ground-truth crops the bucket holds, link the classes it labels in them and
    store what each class's array holds.

    A new crop takes its geometry from its ``all`` array (else its first class) and counts as
    a training crop: only training crops publish their labels. Existing crops keep their
    geometry and split; classes are only ever added.
    """
    arrays: dict[int, list[VolumeDescription]] = defaultdict(list)
    for description in descriptions:
        if description.crop_number is not None and description.is_valid:
            arrays[description.crop_number].append(description)
    if not arrays:
        return
    crops = {crop.number: crop for crop in Crop.objects.filter(number__in=arrays).prefetch_related("label_classes")}
    for number, members in sorted(arrays.items()):
        crop = crops.get(number)
        if crop is None:
            crop = _new_crop(dataset, number, members)
            if crop is None:
                summary.warnings.append(f"crop{number} of {dataset.slug}: its arrays give no complete 3-D geometry")
                continue
            summary.crops_created.append(number)
            linked: set[int] = set()
        elif crop.dataset_id != dataset.pk:
            summary.warnings.append(f"crop{number} belongs to dataset {crop.dataset_id}, not {dataset.slug}")
            continue
        else:
            linked = {label_class.pk for label_class in crop.label_classes.all()}
        wanted = {classes[m.label_class].pk for m in members if m.label_class and m.label_class in classes}
        if wanted - linked:
            crop.label_classes.add(*(wanted - linked))
        found = {
            classes[m.label_class].pk: contents[m.url]
            for m in members
            if m.label_class in classes and m.url in contents
        }
        _sync_contents(crop, found)


def _sync_contents(crop: Crop, found: dict[int, ContentCounts]) -> None:
    """Upsert the crop's rows for the classes found; a row changes only when a value differs.

    Unknown never replaces known counts (from a manifest, or an earlier ingest that could
    count): a failed count says nothing new about the voxels.
    """
    existing = {row.label_class_id: row for row in CropContent.objects.filter(crop=crop, label_class__in=found)}
    for class_id, counts in found.items():
        row = existing.get(class_id)
        values = counts.as_values()
        if row is None:
            CropContent.objects.create(crop=crop, label_class_id=class_id, **values)
            continue
        if row.is_known and not counts.is_known:
            continue
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        if changed:
            for name in changed:
                setattr(row, name, values[name])
            row.crop = crop
            row.save(update_fields=changed)


def _new_crop(dataset: Dataset, number: int, members: list[VolumeDescription]) -> Crop | None:
    source = next((m for m in members if m.location.key.endswith("/all")), members[0])
    values = {
        f"{prefix}_{axis}": vector[axis]
        for prefix, vector in (
            ("voxel_size", source.voxel_size),
            ("translation", source.translation),
            ("shape", source.shape),
        )
        for axis in AXES
    }
    if any(value is None for value in values.values()):
        return None
    labels_url = source.location.url.rsplit("/", 1)[0]
    return Crop.objects.create(number=number, dataset=dataset, split=CropSplit.TRAIN, labels_url=labels_url, **values)


def _geometry_from_em(descriptions: list[VolumeDescription]) -> dict[str, float | None]:
    """A new dataset's voxel size and extent (nm), from its first valid EM image."""
    for description in descriptions:
        if description.content_type == ContentType.EM and description.is_valid and description.levels:
            values: dict[str, float | None] = {}
            for axis in AXES:
                size, count = description.voxel_size[axis], description.shape[axis]
                values[f"voxel_size_{axis}"] = size
                values[f"extent_{axis}"] = size * count if size is not None and count else None
            return values
    return {}


def _volume_name(description: VolumeDescription, slug_relative: str, taken: set[str]) -> str:
    """Short, unique name: the last path segment (``crop<N>/<class>`` for crops), else the path."""
    parts = slug_relative.split("/")
    short = parts[-1]
    if description.crop_number is not None:
        short = f"crop{description.crop_number}/{parts[-1]}"
    for candidate in (short, slug_relative, description.location.key):
        if candidate and candidate not in taken and len(candidate) <= 200:
            return candidate
    return description.location.key[-200:]


def _metadata_values(description: VolumeDescription) -> dict[str, Any]:
    values: dict[str, Any] = {
        "format": description.format,
        "dtype": description.dtype,
        "axes": description.axes[:10],
        "scale_levels": description.scale_levels,
        "levels": [level.grid() for level in description.levels],
        "status": VolumeStatus.OK if description.is_valid else VolumeStatus.INVALID,
        "validation_errors": [issue.as_dict() for issue in description.errors],
    }
    for axis in AXES:
        values[f"shape_{axis}"] = description.shape[axis]
        values[f"scale_{axis}"] = description.voxel_size[axis]
        values[f"translation_{axis}"] = description.translation[axis]
    return values


def _upsert_volume(
    *,
    dataset: Dataset,
    volume: Volume | None,
    description: VolumeDescription,
    statistics: Any,
    classes: dict[str, LabelClass],
    taken: set[str],
    summary: IngestSummary,
    saved_files: list[str],
) -> None:
    """Create or update one volume (and its statistics), counting it in the summary."""
    values = _metadata_values(description)
    if description.errors:
        summary.problems[description.url] = values["validation_errors"]
    label_class = None
    if description.label_class:
        name = description.label_class.lower()
        label_class = classes.get(name) or classes.get(name.replace("-", "_"))
        if label_class is None:
            summary.warnings.append(f"{description.url}: label class {name!r} is not in the class table")
    if volume is None:
        _, relative = dataset_from_layout(description.location.key)
        volume = Volume(
            dataset=dataset,
            url=description.url,
            name=_volume_name(description, relative, taken),
            kind=description.kind,
            content_type=description.content_type,
            label_class=label_class,
            provenance=f"Ingested from {summary.prefix}.",
            **values,
        )
        taken.add(volume.name)
        _apply_statistics_values(volume, statistics)
        volume.save()
        _sync_meshes(volume, description)
        summary.created += 1
        _save_statistics(volume, statistics, saved_files)
        return
    changed_fields = [name for name, value in values.items() if value is not None and getattr(volume, name) != value]
    for name in changed_fields:
        setattr(volume, name, values[name])
    if volume.label_class_id is None and label_class is not None:
        volume.label_class = label_class
        changed_fields.append("label_class")
    changed_fields += _apply_statistics_values(volume, statistics)
    if changed_fields:
        volume.save(update_fields=[*dict.fromkeys(changed_fields), "updated_at"])
    meshes_changed = _sync_meshes(volume, description)
    _save_statistics(volume, statistics, saved_files)
    if changed_fields or meshes_changed:
        summary.updated += 1
    else:
        summary.unchanged += 1


def _sync_meshes(volume: Volume, description: VolumeDescription) -> bool:
    """Add the meshes the bucket lists for a segmentation; keep the ones it no longer lists."""
    if not description.meshes:
        return False
    existing = {mesh.url: mesh for mesh in volume.meshes.all()}
    changed = False
    for found in description.meshes:
        mesh = existing.get(found.location.url)
        if mesh is None:
            Mesh.objects.create(volume=volume, name=found.name, url=found.location.url, format=found.format)
            changed = True
        elif mesh.format != found.format:
            mesh.format = found.format
            mesh.save(update_fields=["format"])
            changed = True
    return changed


def _apply_statistics_values(volume: Volume, statistics: Any) -> list[str]:
    """Copy contrast limits onto the volume unless someone else chose them; the fields changed.

    The volume's limits are ingest's to refresh when they are empty or still the ones the
    last statistics gave; limits from a manifest, the admin or the API (or any volume marked
    ``display_set_by_curator``) are kept.
    """
    if statistics is None or volume.display_set_by_curator:
        return []
    current = [getattr(volume, name) for name in CONTRAST_FIELDS]
    previous = getattr(volume, "statistics", None) if volume.pk else None
    written_by_ingest = previous is not None and current == [getattr(previous, name) for name in CONTRAST_FIELDS]
    if not written_by_ingest and any(value is not None for value in current):
        return []
    changed = []
    for name in CONTRAST_FIELDS:
        value = getattr(statistics, name)
        if getattr(volume, name) != value:
            setattr(volume, name, value)
            changed.append(name)
    return changed


def _save_statistics(volume: Volume, statistics: Any, saved_files: list[str]) -> None:
    """Store new statistics and their thumbnail (the old file goes once the transaction commits)."""
    if statistics is None or isinstance(statistics, VolumeStatistics):
        return
    record = VolumeStatistics.objects.filter(volume=volume).first() or VolumeStatistics(volume=volume)
    old_file = record.thumbnail.name if record.thumbnail else ""
    for name in ("level_path", "fingerprint", "data_min", "data_max", *CONTRAST_FIELDS):
        setattr(record, name, getattr(statistics, name))
    record.computed_at = timezone.now()
    record.thumbnail.save(
        f"volume-{volume.pk}-{statistics.fingerprint[:16]}.png", ContentFile(statistics.thumbnail_png), save=False
    )
    saved_files.append(record.thumbnail.name)
    record.save()
    if old_file and old_file != record.thumbnail.name:
        transaction.on_commit(lambda: default_storage.delete(old_file))


def describe_failure(error: BaseException) -> str:
    """A one-line account of why a run stopped, for the run's ``error`` field."""
    kind = "S3" if isinstance(error, S3Error) else type(error).__name__
    return f"{kind}: {error}"
