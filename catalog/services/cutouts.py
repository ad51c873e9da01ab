"""Cut-outs: a region of a dataset (the EM under a crop or a box, and the crop's label arrays)
as one self-contained, zipped OME-Zarr in the results bucket.

``start_cutout`` normalizes the request from the catalog alone (the EM level nearest the crop's
label voxels and the voxel box under it, as the download panel computes them; every label array
of the chosen classes, whole, at its finest level), hashes it, and either answers the run that
already holds (or is making) that artifact or records a queued run. ``execute_cutout_run`` (the
worker) reads exactly those voxels through ``catalog.s3``, writes the OME-Zarr into a temporary
folder below ``CONVERSION_WORK_DIR`` (the EM as the image, each class under ``labels/`` with its
own voxel size and translation, so it lands where the crop is), zips it and uploads the zip under
its final key in one put: a job that stops anywhere before that leaves no object behind. An artifact already in
the bucket under the request's key is reused, not written again.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from zarr.storage import LocalStore

from catalog import downloads
from catalog.conversion import writer
from catalog.conversion.store import S3Store
from catalog.errors import CatalogError, ConflictError, InvalidRequestError
from catalog.models import Crop, CutoutRun, Dataset, Volume
from catalog.models.base import AXES, ContentType, VolumeFormat
from catalog.models.jobs import JobStatus
from catalog.s3 import S3Error, S3Location, S3Reader, S3TransientError, S3Writer, parse_s3_url
from catalog.services import jobs

ZYX = "zyx"
"""The array axis order every cut is made and written in (``catalog.models.base.AXES`` is x, y, z)."""
REQUEST_VERSION = 1
"""Part of every request key: raise it when what an artifact holds changes, so none is reused."""
ZARR_FORMATS = (VolumeFormat.OME_ZARR_04, VolumeFormat.OME_ZARR_05, VolumeFormat.ZARR_V2, VolumeFormat.ZARR_V3)
ZIP_ROOT = "cutout.ome.zarr"
"""The folder the worker writes the OME-Zarr into; the zip's entries are relative to it (the
group's ``zarr.json`` at the top), so zarr's ``ZipStore`` opens the zip as it is."""


@dataclass(frozen=True)
class CutoutPlan:
    """A normalized request: what to cut, its key, and its uncompressed size."""

    dataset: Dataset
    crop: Crop | None
    request: dict[str, Any]
    key: str
    bytes: int


def _array_entry(
    *, name: str, url: str, level: dict[str, Any], start: list[int], stop: list[int], dtype: str, label: bool
) -> dict[str, Any]:
    voxel = [float(level["voxel_size_nm"][axis]) for axis in ZYX]
    offset = [float(level["translation_nm"][axis]) for axis in ZYX]
    return {
        "name": name,
        "url": url,
        "start": start,
        "stop": stop,
        "dtype": dtype,
        "voxel_size_nm": voxel,
        "translation_nm": [o + first * v for o, first, v in zip(offset, start, voxel, strict=True)],
        "label": label,
    }


def _check_source(volume: Volume, field: str) -> None:
    if volume.format not in ZARR_FORMATS:
        raise ConflictError.on(field, f"{volume.url} is {volume.get_format_display()}: only Zarr can be cut.")
    if (volume.axes or "zyx") != "zyx":
        raise ConflictError.on(field, f"{volume.url} has axes {volume.axes!r}: only z, y, x volumes are cut.")
    bucket = parse_s3_url(volume.url).bucket if volume.url.startswith("s3://") else ""
    if bucket not in settings.INGEST_ALLOWED_BUCKETS:
        raise ConflictError.on(field, f"{volume.url} is not in an allow-listed bucket (INGEST_ALLOWED_BUCKETS).")


def _pick_level(volume: Volume, em_level: str | None, default: dict[str, Any] | None) -> dict[str, Any]:
    levels = [level for level in volume.levels or [] if level.get("voxel_size_nm") and level.get("translation_nm")]
    if em_level:
        for level in levels:
            if level["path"] == em_level:
                return level
        names = ", ".join(level["path"] for level in levels) or "none"
        raise ConflictError.on("em_level", f"The EM has no level {em_level!r}; its levels are: {names}.")
    if default is not None:
        return default
    if not levels:
        raise ConflictError.on("em_level", f"The levels of {volume.url} have not been ingested.")
    return levels[0]


def _box(value: Any, field: str) -> dict[str, float]:
    if not isinstance(value, dict) or set(value) != set(AXES):
        raise InvalidRequestError.on(field, f"{field} is an object with z, y and x in nm.")
    try:
        box = {axis: float(value[axis]) for axis in AXES}
    except (TypeError, ValueError) as error:
        raise InvalidRequestError.on(field, f"{field} is an object with z, y and x in nm.") from error
    if not all(math.isfinite(number) for number in box.values()):
        raise InvalidRequestError.on(field, f"{field} must be finite numbers of nm.")
    return box


def plan_cutout(
    *,
    crop_number: int | None = None,
    dataset_slug: str | None = None,
    lower_nm: dict[str, Any] | None = None,
    upper_nm: dict[str, Any] | None = None,
    classes: list[str] | None = None,
    em_level: str | None = None,
    padding_nm: float = 0.0,
) -> CutoutPlan:
    """Normalize a request into the arrays, levels and voxel boxes to cut (reads the catalog only)."""
    if not 0 <= padding_nm <= downloads.MAX_PADDING_NM:
        limit = downloads.MAX_PADDING_NM
        raise InvalidRequestError.on("padding_nm", f"padding_nm is a number of nm from 0 to {limit:g}.")
    crop = None
    labels: list[dict[str, Any]] = []
    if crop_number is not None:
        crop = Crop.objects.select_related("dataset").filter(number=crop_number).first()
        if crop is None:
            raise ConflictError.on("crop", f"There is no crop {crop_number}.")
        dataset = crop.dataset
        plan = downloads.plan_crop(crop, padding_nm)
        em = plan.em
        if em is None:
            raise ConflictError.on("crop", f"The catalog knows no EM volume under crop {crop_number}.")
        lower, upper = downloads.crop_box_nm(crop, padding_nm)
        level = _pick_level(em, em_level, plan.em_region.level if plan.em_region else None)
        by_class = {
            (volume.label_class.name if volume.label_class else volume.url.rstrip("/").rsplit("/", 1)[-1]): volume
            for volume, _ in plan.labels
        }
        wanted = list(by_class) if classes is None else classes
        unknown = [name for name in wanted if name not in by_class]
        if unknown:
            available = ", ".join(sorted(by_class)) or "none (its labels are not ingested)"
            raise ConflictError.on("classes", f"Crop {crop_number} has no labels {unknown}; it has: {available}.")
        for name in sorted(set(wanted)):
            volume = by_class[name]
            _check_source(volume, "classes")
            finest = (volume.levels or [{}])[0]
            if not finest.get("voxel_size_nm") or not finest.get("translation_nm"):
                raise ConflictError.on("classes", f"The levels of {volume.url} have not been ingested.")
            url = f"{volume.url.rstrip('/')}/{finest['path']}" if finest["path"] else volume.url
            shape = list(finest["shape"])
            labels.append(
                _array_entry(
                    name=name, url=url, level=finest, start=[0] * 3, stop=shape, dtype=volume.dtype, label=True
                )
            )
    else:
        if not dataset_slug:
            raise InvalidRequestError.on("crop", "Give a crop, or a dataset and a box (lower_nm, upper_nm).")
        dataset = Dataset.objects.filter(slug=dataset_slug).first()
        if dataset is None:
            raise ConflictError.on("dataset", f"There is no dataset {dataset_slug!r}.")
        if classes:
            raise InvalidRequestError.on("classes", "Label classes come from a crop: give the crop, not a box.")
        lower, upper = _box(lower_nm, "lower_nm"), _box(upper_nm, "upper_nm")
        if any(lower[axis] >= upper[axis] for axis in AXES):
            raise InvalidRequestError.on("upper_nm", "upper_nm must exceed lower_nm on every axis.")
        lower = {axis: value - padding_nm for axis, value in lower.items()}
        upper = {axis: value + padding_nm for axis, value in upper.items()}
        em = (
            Volume.objects.filter(dataset=dataset, content_type=ContentType.EM)
            .exclude(url="")
            .exclude(levels=[])
            .order_by("url")
            .first()
        )
        if em is None:
            raise ConflictError.on("dataset", f"Dataset {dataset_slug!r} has no ingested EM volume.")
        level = _pick_level(em, em_level, None)
    _check_source(em, "em_level")
    found = downloads.region(em, level, lower, upper)
    if found.voxels == 0:
        raise ConflictError.on("upper_nm", "The box does not overlap the EM volume.")
    em_entry = _array_entry(
        name="em", url=found.url, level=level, start=found.start, stop=found.stop, dtype=em.dtype, label=False
    )
    request = {"version": REQUEST_VERSION, "dataset": dataset.slug, "em": em_entry, "labels": labels}
    size = sum(
        math.prod(b - a for a, b in zip(entry["start"], entry["stop"], strict=True)) * np.dtype(entry["dtype"]).itemsize
        for entry in [em_entry, *labels]
    )
    key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    return CutoutPlan(dataset=dataset, crop=crop, request=request, key=key, bytes=size)


def artifact_location(key: str) -> S3Location:
    """Where the zipped artifact of request ``key`` lives: one name per request, for ever."""
    bucket = settings.CUTOUT_RESULTS_BUCKET
    if not bucket:
        raise CatalogError("Cut-outs are not configured here (CUTOUT_RESULTS_BUCKET is empty).", status=503)
    prefix = settings.CUTOUT_RESULTS_PREFIX.strip("/")
    return S3Location(bucket, f"{prefix}/{key}.ome.zarr.zip" if prefix else f"{key}.ome.zarr.zip")


def start_cutout(
    *,
    requested_by: AbstractBaseUser | None,
    crop_number: int | None = None,
    dataset_slug: str | None = None,
    lower_nm: dict[str, Any] | None = None,
    upper_nm: dict[str, Any] | None = None,
    classes: list[str] | None = None,
    em_level: str | None = None,
    padding_nm: float = 0.0,
) -> tuple[CutoutRun, bool]:
    """The run for this request and whether it is new: a run of the same request that has not
    failed is answered again (its artifact is reused); else a queued run is recorded and its task
    sent after the commit. Anyone but staff is held to ``CUTOUT_ANONYMOUS_MAX_BYTES``."""
    plan = plan_cutout(
        crop_number=crop_number,
        dataset_slug=dataset_slug,
        lower_nm=lower_nm,
        upper_nm=upper_nm,
        classes=classes,
        em_level=em_level,
        padding_nm=padding_nm,
    )
    staff = requested_by is not None and requested_by.is_authenticated and requested_by.is_staff
    cap = settings.CUTOUT_ANONYMOUS_MAX_BYTES
    if not staff and plan.bytes > cap:
        raise InvalidRequestError.on(
            "size",
            f"This cut-out is {plan.bytes} bytes uncompressed; cut-outs without a staff account are capped at "
            f"{cap} bytes (CUTOUT_ANONYMOUS_MAX_BYTES). Ask for less padding, fewer classes or a coarser em_level.",
        )
    location = artifact_location(plan.key)
    with transaction.atomic():
        # Two requests for the same cut-out at once: the dataset's row lock makes the second
        # wait and then find the first one's run (PostgreSQL; SQLite serializes writes anyway).
        list(Dataset.objects.select_for_update().filter(pk=plan.dataset.pk).values_list("pk", flat=True))
        existing = (
            CutoutRun.objects.filter(request_key=plan.key).exclude(status=JobStatus.FAILED).order_by("-created_at")
        ).first()
        if existing is not None:
            return existing, False
        run = CutoutRun.objects.create(
            request_key=plan.key,
            request=plan.request,
            dataset=plan.dataset,
            crop=plan.crop,
            bytes_estimate=plan.bytes,
            progress_total=1 + len(plan.request["labels"]) + 1,
            artifact_url=location.url,
            requested_by=requested_by if requested_by is not None and requested_by.is_authenticated else None,
        )
        jobs.enqueue_job(run)
    return run, True


def artifact_link(run: CutoutRun) -> str | None:
    """A presigned link to a succeeded run's zip (valid ``CUTOUT_LINK_SECONDS``); None before."""
    if run.status != JobStatus.SUCCEEDED:
        return None
    return S3Reader().presigned_url(parse_s3_url(run.artifact_url), expires_seconds=settings.CUTOUT_LINK_SECONDS)


# --- the worker -----------------------------------------------------------------------------


class ArrayRegion:
    """Exactly one box of a zarr array in S3, handed out in z slabs (``writer.RegionSource``)."""

    def __init__(self, reader: S3Reader, entry: dict[str, Any]) -> None:
        self.array = zarr.open_array(store=S3Store(reader, parse_s3_url(entry["url"]), read_only=True), mode="r")
        self.start, self.stop = entry["start"], entry["stop"]
        size = [b - a for a, b in zip(self.start, self.stop, strict=True)]
        self.shape = (size[0], size[1], size[2], 1)

    def read(self, z0: int, z1: int) -> np.ndarray:
        (z, y, x), (_, y1, x1) = self.start, self.stop
        return np.asarray(self.array[z + z0 : z + z1, y:y1, x:x1])[..., None]


def _update(run_id: int, **values: Any) -> None:
    """Write on the run; every write is also the worker's sign of life for the sweeper."""
    CutoutRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now(), **values)


def _write_array(reader: S3Reader, root: Path, entry: dict[str, Any]) -> None:
    label = entry["label"]
    layout = writer.plan_layout(
        shape_zyx=tuple(b - a for a, b in zip(entry["start"], entry["stop"], strict=True)),  # type: ignore[arg-type]
        channels=1,
        dtype=entry["dtype"],
        voxel_size_nm=entry["voxel_size_nm"],
        translation_nm=entry["translation_nm"],
        method="mode" if label else "mean",
        name=entry["name"],
    )
    path = root / "labels" / entry["name"] if label else root
    display = writer.Display(is_label=True) if label else None
    writer.write_multiscale(LocalStore(path), layout, ArrayRegion(reader, entry), display=display)


def write_artifact(reader: S3Reader, request: dict[str, Any], work: Path, progress: Any) -> Path:
    """Write the OME-Zarr of ``request`` under ``work`` and zip it; the zip's path."""
    root = work / ZIP_ROOT
    _write_array(reader, root, request["em"])
    progress()
    for entry in request["labels"]:
        _write_array(reader, root, entry)
        progress()
    if request["labels"]:
        group = zarr.open_group(store=LocalStore(root / "labels"), mode="a", zarr_format=3)
        group.attrs.put({"ome": {"version": "0.5", "labels": [entry["name"] for entry in request["labels"]]}})
    archive = work / "cutout.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as output:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                output.write(path, path.relative_to(root).as_posix())
    return archive


def execute_cutout_run(*, run_id: int, final_attempt: bool = True) -> None:
    """Make (or find) the run's artifact and record the outcome: succeeded with its size, or
    failed with the error. A transient S3 error that is not the final attempt leaves the run
    waiting to retry and propagates, for the task to retry it."""
    run = CutoutRun.objects.get(pk=run_id)
    _update(
        run_id,
        status=JobStatus.RUNNING,
        attempts=run.attempts + 1,
        started_at=run.started_at or timezone.now(),
        progress_done=0,
        error="",
    )
    location = parse_s3_url(run.artifact_url)
    done = 0

    def progress() -> None:
        nonlocal done
        done += 1
        _update(run_id, progress_done=done)

    try:
        client = S3Writer()
        size = None
        if not client.exists(location):
            settings.CONVERSION_WORK_DIR.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="cutout-", dir=settings.CONVERSION_WORK_DIR) as work:
                archive = write_artifact(client, run.request, Path(work), progress)
                size = archive.stat().st_size
                client.upload(location, archive, content_type="application/zip")
    except S3TransientError as error:
        values: dict[str, Any] = {"status": JobStatus.RETRYING, "error": f"S3: {error}"}
        if final_attempt:
            values.update(status=JobStatus.FAILED, finished_at=timezone.now())
        _update(run_id, **values)
        raise
    except Exception as error:
        kind = "S3" if isinstance(error, S3Error) else type(error).__name__
        _update(run_id, status=JobStatus.FAILED, error=f"{kind}: {error}", finished_at=timezone.now())
        raise
    _update(
        run_id,
        status=JobStatus.SUCCEEDED,
        progress_done=run.progress_total,
        artifact_bytes=size if size is not None else run.artifact_bytes,
        finished_at=timezone.now(),
    )
