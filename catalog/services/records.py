"""Curators' writes through the API: datasets, volumes and crops.

Payloads are validated by the manifest models (catalog.schemas.manifest), the same ones that
check the catalog files, and written by the loader's save functions, so a record means the
same thing whichever way it arrives. References (organism, tissues, label classes, crop
numbers) are checked next. A malformed payload raises ``InvalidRequestError`` (400) listing
every problem; a well-formed one that the catalog's current state refuses (a reference to a
record that does not exist, a slug, name or crop number already taken or not the record's
own, a row the database refuses) raises ``ConflictError`` (409). Either changes nothing. Search texts and caches
follow on commit (``catalog.freshness``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pydantic
from django.db import IntegrityError, transaction

from catalog.errors import ConflictError, InvalidRequestError
from catalog.models import Crop, Dataset, LabelClass, Organism, Tissue, Volume
from catalog.schemas.manifest import CropManifest, DatasetManifest, Slug, VolumeManifest
from catalog.services.loading import save_crop, save_dataset, save_volume

BODY = "body"


class VolumePayload(VolumeManifest):
    """A volume manifest and the slug of the dataset it belongs to."""

    dataset: Slug


class CropPayload(CropManifest):
    """A crop manifest and the slug of the dataset it belongs to."""

    dataset: Slug


def _validate(model: type[pydantic.BaseModel], payload: Any) -> Any:
    if not isinstance(payload, dict):
        raise InvalidRequestError.from_problems([{"field": BODY, "message": "Expected a JSON object."}])
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as error:
        raise InvalidRequestError.from_problems(
            [
                {"field": ".".join(str(part) for part in item["loc"]) or BODY, "message": item["msg"]}
                for item in error.errors(include_url=False)
            ]
        ) from None


def _missing(model: type, field: str, names: Iterable[str]) -> list[str]:
    wanted = set(names)
    known = set(model.objects.filter(**{f"{field}__in": wanted}).values_list(field, flat=True))
    return sorted(wanted - known)


def _class_errors(references: list[tuple[str, str]]) -> list[dict[str, str]]:
    unknown = set(_missing(LabelClass, "name", [name for _, name in references]))
    return [
        {"field": where, "message": f"Unknown label class {name!r}."} for where, name in references if name in unknown
    ]


def _volume_class_references(manifest: VolumeManifest, prefix: str) -> list[tuple[str, str]]:
    references = [(f"{prefix}label_class", manifest.label_class)] if manifest.label_class else []
    references += [
        (f"{prefix}segment_labels.{index}.label_class", label.label_class)
        for index, label in enumerate(manifest.segment_labels)
        if label.label_class
    ]
    return references


def _crop_class_references(manifest: CropManifest, prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix}label_classes.{index}", name) for index, name in enumerate(manifest.label_classes)]


def _crop_number_errors(numbers: Iterable[tuple[str, int]], dataset: Dataset | None) -> list[dict[str, str]]:
    pairs = list(numbers)
    taken = dict(
        Crop.objects.filter(number__in=[number for _, number in pairs])
        .exclude(dataset=dataset)
        .values_list("number", "dataset__slug")
    )
    return [
        {"field": where, "message": f"Crop {number} belongs to dataset {taken[number]!r}."}
        for where, number in pairs
        if number in taken
    ]


def _dataset_errors(manifest: DatasetManifest, existing: Dataset | None) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    if manifest.organism and _missing(Organism, "name", [manifest.organism]):
        errors.append({"field": "organism", "message": f"Unknown organism {manifest.organism!r}."})
    errors += [
        {"field": "tissues", "message": f"Unknown tissue {name!r}."}
        for name in _missing(Tissue, "name", manifest.tissues)
    ]
    references: list[tuple[str, str]] = []
    for index, volume in enumerate(manifest.volumes):
        references += _volume_class_references(volume, f"volumes.{index}.")
    for index, crop in enumerate(manifest.crops):
        references += _crop_class_references(crop, f"crops.{index}.")
    for index, view in enumerate(manifest.views):
        references += [(f"views.{index}.organelles.{j}", name) for j, name in enumerate(view.organelles)]
    for index, benchmark in enumerate(manifest.benchmarks):
        if benchmark.label_class:
            references.append((f"benchmarks.{index}.label_class", benchmark.label_class))
    errors += _class_errors(references)
    errors += _crop_number_errors(
        ((f"crops.{index}.number", crop.number) for index, crop in enumerate(manifest.crops)), existing
    )
    return errors


def _integrity(error: IntegrityError) -> ConflictError:
    """A row the database refuses (a unique URL taken by another record, say): named by its
    constraint, never with the database's own message."""
    constraint = _constraint_name(str(error))
    where = f" ({constraint})" if constraint else ""
    return ConflictError.from_problems(
        [{"field": BODY, "message": f"The record conflicts with one in the catalog{where}."}]
    )


def _constraint_name(message: str) -> str:
    """The constraint an IntegrityError names: PostgreSQL quotes it, SQLite lists table.columns."""
    for pattern in (
        r'constraint "([A-Za-z0-9_]+)"',
        r"UNIQUE constraint failed: ([A-Za-z0-9_.,\s]+)",
        r"CHECK constraint failed: ([A-Za-z0-9_]+)",
    ):
        match = re.search(pattern, message)
        if match:
            return match.group(1).strip()
    return ""


@transaction.atomic
def create_dataset(*, payload: Any) -> Dataset:
    """A new dataset (and the volumes, crops and views its manifest lists)."""
    manifest: DatasetManifest = _validate(DatasetManifest, payload)
    if Dataset.objects.filter(slug=manifest.slug).exists():
        raise ConflictError.from_problems(
            [{"field": "slug", "message": f"A dataset {manifest.slug!r} exists; PUT to update it."}]
        )
    return _save_dataset(manifest, None)


@transaction.atomic
def update_dataset(*, dataset: Dataset, payload: Any) -> Dataset:
    """Replace a dataset's metadata from a full manifest; volumes, crops and views it lists are
    created or updated, and those it does not list are kept."""
    manifest: DatasetManifest = _validate(DatasetManifest, payload)
    if manifest.slug != dataset.slug:
        raise ConflictError.from_problems(
            [{"field": "slug", "message": f"Must be {dataset.slug!r}; slugs do not change."}]
        )
    return _save_dataset(manifest, dataset)


def _save_dataset(manifest: DatasetManifest, existing: Dataset | None) -> Dataset:
    errors = _dataset_errors(manifest, existing)
    if errors:
        raise ConflictError.from_problems(errors)
    try:
        with transaction.atomic():
            dataset = save_dataset(manifest=manifest)
    except IntegrityError as error:
        raise _integrity(error) from error
    return dataset


@transaction.atomic
def delete_dataset(*, dataset: Dataset) -> None:
    """Delete a dataset with its volumes, crops, views and scores."""
    dataset.delete()


def _payload_dataset(slug: str, field: str = "dataset") -> Dataset:
    dataset = Dataset.objects.filter(slug=slug).first()
    if dataset is None:
        raise ConflictError.from_problems([{"field": field, "message": f"Unknown dataset {slug!r}."}])
    return dataset


@transaction.atomic
def create_volume(*, payload: Any) -> Volume:
    """A new volume of the dataset the payload names."""
    manifest: VolumePayload = _validate(VolumePayload, payload)
    dataset = _payload_dataset(manifest.dataset)
    if dataset.volumes.filter(name=manifest.name).exists():
        raise ConflictError.from_problems(
            [{"field": "name", "message": f"{dataset.slug} already has a volume {manifest.name!r}."}]
        )
    return _save_volume(dataset, manifest)


@transaction.atomic
def update_volume(*, volume: Volume, payload: Any) -> Volume:
    """Replace a volume from a full manifest; it may be renamed, and moved to another dataset."""
    manifest: VolumePayload = _validate(VolumePayload, payload)
    dataset = _payload_dataset(manifest.dataset)
    if dataset.volumes.filter(name=manifest.name).exclude(pk=volume.pk).exists():
        raise ConflictError.from_problems(
            [{"field": "name", "message": f"{dataset.slug} already has a volume {manifest.name!r}."}]
        )
    if (volume.dataset_id, volume.name) != (dataset.pk, manifest.name):
        volume.dataset = dataset
        volume.name = manifest.name
        volume.save(update_fields=["dataset", "name", "updated_at"])
    saved = _save_volume(dataset, manifest)
    return saved


def _save_volume(dataset: Dataset, payload: VolumePayload) -> Volume:
    errors = _class_errors(_volume_class_references(payload, ""))
    if errors:
        raise ConflictError.from_problems(errors)
    manifest = VolumeManifest.model_validate(payload.model_dump(exclude={"dataset"}))
    try:
        with transaction.atomic():
            volume = save_volume(dataset=dataset, manifest=manifest)
    except IntegrityError as error:
        raise _integrity(error) from error
    return volume


@transaction.atomic
def delete_volume(*, volume: Volume) -> None:
    volume.delete()


@transaction.atomic
def create_crop(*, payload: Any) -> Crop:
    """A new crop of the dataset the payload names; crop numbers are unique in the catalog."""
    manifest: CropPayload = _validate(CropPayload, payload)
    dataset = _payload_dataset(manifest.dataset)
    if Crop.objects.filter(number=manifest.number).exists():
        raise ConflictError.from_problems(
            [{"field": "number", "message": f"Crop {manifest.number} exists; PUT to update it."}]
        )
    return _save_crop(dataset, manifest)


@transaction.atomic
def update_crop(*, crop: Crop, payload: Any) -> Crop:
    """Replace a crop from a full manifest; its number cannot change."""
    manifest: CropPayload = _validate(CropPayload, payload)
    if manifest.number != crop.number:
        raise ConflictError.from_problems(
            [{"field": "number", "message": f"Must be {crop.number}; crop numbers do not change."}]
        )
    dataset = _payload_dataset(manifest.dataset)
    return _save_crop(dataset, manifest)


def _save_crop(dataset: Dataset, payload: CropPayload) -> Crop:
    errors = _class_errors(_crop_class_references(payload, ""))
    if errors:
        raise ConflictError.from_problems(errors)
    manifest = CropManifest.model_validate(payload.model_dump(exclude={"dataset"}))
    try:
        with transaction.atomic():
            crop = save_crop(dataset=dataset, manifest=manifest)
    except IntegrityError as error:
        raise _integrity(error) from error
    return crop


@transaction.atomic
def delete_crop(*, crop: Crop) -> None:
    crop.delete()
