"""Load catalog manifests into the database: validated first, then written in one transaction.

Loading is idempotent and exact: a row is written only when one of its values differs from
the manifest, so a second load of the same files changes nothing (not even ``updated_at``),
and an edited manifest updates exactly the fields that changed. A manifest with any error is
rejected whole, with messages naming the file, the record and the field, and the database
is left as it was. Records the manifests no longer mention are reported and kept unless the
caller asks to prune them: other paths (ingest, the API, the admin) add records too. Search
texts and caches follow on commit (``catalog.freshness``).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from pydantic import BaseModel, ValidationError

from catalog import models as m
from catalog.errors import InvalidRequestError
from catalog.models.base import AXES, ContentType, VolumeStatus
from catalog.schemas.manifest import (
    CollectionManifest,
    CropManifest,
    DatasetManifest,
    LabelClassesManifest,
    VocabularyManifest,
    VolumeManifest,
)

ModelT = TypeVar("ModelT", bound=models.Model)
SchemaT = TypeVar("SchemaT", bound=BaseModel)

VOCABULARY_FILE = "vocabulary.json"
CLASSES_FILE = "label-classes.json"
COLLECTIONS_DIR = "collections"
DATASETS_DIR = "datasets"
REFERENCE_CATALOG = Path(__file__).resolve().parents[1] / "reference"
# Fewer voxels than this along an axis means the extent's unit cannot be the one given.
MIN_PLAUSIBLE_VOXELS = 100


class ManifestError(InvalidRequestError):
    """The manifests cannot be loaded; each problem names its file, record and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems), [{"field": "", "message": problem} for problem in problems])
        self.problems = problems


@dataclass
class CatalogFiles:
    """Parsed manifests of one catalog directory, keyed by their path relative to it."""

    vocabulary: VocabularyManifest | None = None
    classes: LabelClassesManifest | None = None
    collections: dict[str, CollectionManifest] = field(default_factory=dict)
    datasets: dict[str, DatasetManifest] = field(default_factory=dict)


# What happened to a row, weakest first: a row counts once per load, under its strongest outcome.
OUTCOMES = ("unchanged", "updated", "created")


@dataclass
class LoadReport:
    """What a load did, per model: created, updated and unchanged rows; records left alone.

    Rows are counted once each. Shared rows (an institution, a cell type, a publication) are met
    once per dataset naming them; the first meeting creates a row that later ones find, and those
    must not turn a row this load created into an "unchanged" one.
    """

    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    not_in_manifests: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _outcomes: dict[tuple[str, Any], str] = field(default_factory=dict, repr=False)

    def record(self, model: type[models.Model], outcome: str, pk: Any) -> None:
        """Count ``outcome`` for row ``pk`` of ``model``; a row seen before keeps its strongest outcome."""
        name = model._meta.verbose_name_plural
        previous = self._outcomes.get((name, pk))
        if previous is not None and OUTCOMES.index(previous) >= OUTCOMES.index(outcome):
            return
        if previous is not None:
            self.counts[name][previous] -= 1
        self._outcomes[(name, pk)] = outcome
        self.counts[name][outcome] += 1

    @property
    def changed(self) -> bool:
        return bool(self.deleted) or any(c["created"] or c["updated"] or c["deleted"] for c in self.counts.values())

    def summary(self) -> str:
        lines = [
            f"{name}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
            + (f", {c['deleted']} deleted" if c["deleted"] else "")
            for name, c in sorted(self.counts.items())
        ]
        if self.not_in_manifests:
            lines.append(
                f"{len(self.not_in_manifests)} records are in the database but not in the manifests "
                "(kept; --prune deletes them): " + ", ".join(self.not_in_manifests[:20])
            )
        if self.deleted:
            lines.append(f"deleted {len(self.deleted)} records not in the manifests: " + ", ".join(self.deleted[:20]))
        return "\n".join(lines)


# Reading and validating


CONVERTED_FIELDS = (
    "url",
    "format",
    "dtype",
    "axes",
    "scale_levels",
    *(f"{prefix}_{axis}" for prefix in ("shape", "scale", "translation") for axis in "xyz"),
)
"""Volume fields a conversion owns once it has switched a volume to its OME-Zarr copy."""


def read_catalog(path: Path) -> CatalogFiles:
    """Parse every manifest under ``path`` and check it; raise ManifestError listing all problems."""
    if not path.is_dir():
        raise ManifestError([f"{path}: not a catalog directory"])
    problems: list[str] = []
    files = CatalogFiles()
    files.vocabulary = _read(path, path / VOCABULARY_FILE, VocabularyManifest, problems)
    files.classes = _read(path, path / CLASSES_FILE, LabelClassesManifest, problems)
    for kind, schema, target in (
        (COLLECTIONS_DIR, CollectionManifest, files.collections),
        (DATASETS_DIR, DatasetManifest, files.datasets),
    ):
        for file in sorted((path / kind).glob("*.json")):
            manifest = _read(path, file, schema, problems)
            if manifest is None:
                continue
            name = str(file.relative_to(path))
            if manifest.slug != file.stem:
                problems.append(f"{name}: slug: {manifest.slug!r} does not match the file name {file.stem!r}")
            target[name] = manifest
    if not (files.vocabulary or files.classes or files.collections or files.datasets or problems):
        problems.append(f"{path}: no manifests found (expected {VOCABULARY_FILE}, {CLASSES_FILE}, ...)")
    problems += _cross_check(files)
    if problems:
        raise ManifestError(problems)
    return files


def _read(root: Path, file: Path, schema: type[SchemaT], problems: list[str]) -> SchemaT | None:
    if not file.exists():
        return None
    name = str(file.relative_to(root))
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.append(f"{name}: not valid JSON: {error}")
        return None
    try:
        return schema.model_validate(raw)
    except ValidationError as error:
        problems += [f"{name}: {describe_location(raw, e['loc'])}: {e['msg']}" for e in error.errors()]
        return None


def describe_location(raw: Any, location: tuple) -> str:
    """Turn a pydantic error location into 'volumes['mito_seg'].scale_nm.x' using record names."""
    parts: list[str] = []
    node = raw
    for step in location:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            key = _record_key(node)
            parts[-1:] = [f"{parts[-1] if parts else ''}[{key if key is not None else step}]"]
            continue
        parts.append(str(step))
        node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "(file)"


def _record_key(node: Any) -> str | None:
    if isinstance(node, dict):
        for key in ("name", "slug", "number", "doi", "title", "value"):
            if key in node:
                return repr(node[key])
    return None


def _cross_check(files: CatalogFiles) -> list[str]:
    """References between files and to the database: classes, organisms, tissues, datasets."""
    problems: list[str] = []
    class_names = set(m.LabelClass.objects.values_list("name", flat=True))
    if files.classes:
        class_names |= {c.name for c in files.classes.classes}
        for entry in files.classes.classes:
            for member in entry.members:
                if member not in class_names:
                    problems.append(f"{CLASSES_FILE}: classes[{entry.name!r}].members: unknown label class {member!r}")
    organisms = set(m.Organism.objects.values_list("name", flat=True))
    tissues = set(m.Tissue.objects.values_list("name", flat=True))
    if files.vocabulary:
        organisms |= {o.name for o in files.vocabulary.organisms}
        tissues |= {t.name for t in files.vocabulary.tissues}
    dataset_slugs = set(m.Dataset.objects.values_list("slug", flat=True)) | {d.slug for d in files.datasets.values()}
    crop_owner: dict[int, str] = dict(m.Crop.objects.values_list("number", "dataset__slug"))
    for name, dataset in files.datasets.items():
        if dataset.organism and dataset.organism not in organisms:
            problems.append(f"{name}: organism: unknown organism {dataset.organism!r} (add it to {VOCABULARY_FILE})")
        problems += [
            f"{name}: tissues: unknown tissue {t!r} (add it to {VOCABULARY_FILE})"
            for t in dataset.tissues
            if t not in tissues
        ]
        for where, class_name in _class_references(dataset):
            if class_name not in class_names:
                problems.append(f"{name}: {where}: unknown label class {class_name!r}")
        for crop in dataset.crops:
            owner = crop_owner.get(crop.number)
            if owner not in (None, dataset.slug):
                problems.append(f"{name}: crops[{crop.number}]: crop number already belongs to dataset {owner!r}")
            crop_owner[crop.number] = dataset.slug
    for name, collection in files.collections.items():
        problems += [
            f"{name}: datasets: unknown dataset {slug!r}" for slug in collection.datasets if slug not in dataset_slugs
        ]
    return problems


def _class_references(dataset: DatasetManifest) -> Iterator[tuple[str, str]]:
    for volume in dataset.volumes:
        if volume.label_class:
            yield f"volumes[{volume.name!r}].label_class", volume.label_class
        for label in volume.segment_labels:
            if label.label_class:
                yield f"volumes[{volume.name!r}].segment_labels[{label.value}].label_class", label.label_class
    for crop in dataset.crops:
        for class_name in crop.label_classes:
            yield f"crops[{crop.number}].label_classes", class_name
    for view in dataset.views:
        for class_name in view.organelles:
            yield f"views[{view.name!r}].organelles", class_name
    for benchmark in dataset.benchmarks:
        if benchmark.label_class:
            yield f"benchmarks[{benchmark.method!r}].label_class", benchmark.label_class


# Writing


def load_catalog(*, files: CatalogFiles, prune: bool = False) -> LoadReport:
    """Write parsed manifests in one transaction; a database refusal rolls everything back."""
    loader = _Loader(prune=prune)
    try:
        with transaction.atomic():
            loader.load(files)
    except IntegrityError as error:
        raise ManifestError([f"{loader.context}: the database refused the record: {error}"]) from error
    return loader.report


@transaction.atomic
def save_dataset(*, manifest: DatasetManifest, report: LoadReport | None = None) -> m.Dataset:
    """Create or update one dataset and everything under it from its manifest."""
    loader = _Loader(prune=False, report=report)
    return loader.dataset(manifest, name=f"dataset {manifest.slug!r}")


@transaction.atomic
def save_volume(*, dataset: m.Dataset, manifest: VolumeManifest, report: LoadReport | None = None) -> m.Volume:
    """Create or update one volume of ``dataset`` (keyed by name) from its manifest."""
    loader = _Loader(prune=False, report=report)
    existing = dataset.volumes.filter(name=manifest.name).first()
    return loader.volume(dataset, manifest, existing, loader.class_ids())


@transaction.atomic
def save_crop(*, dataset: m.Dataset, manifest: CropManifest, report: LoadReport | None = None) -> m.Crop:
    """Create or update one crop (keyed by number) of ``dataset`` from its manifest."""
    loader = _Loader(prune=False, report=report)
    existing = m.Crop.objects.filter(number=manifest.number).first()
    return loader.crop(dataset, manifest, existing, loader.class_ids())


class _Loader:
    """One load: syncs rows field by field and remembers which record it is writing."""

    def __init__(self, *, prune: bool, report: LoadReport | None = None) -> None:
        self.prune = prune
        self.report = report if report is not None else LoadReport()
        self.context = "catalog"
        self._class_ids: dict[str, int] | None = None

    @contextmanager
    def at(self, context: str) -> Iterator[None]:
        previous, self.context = self.context, context
        yield
        self.context = previous

    def class_ids(self) -> dict[str, int]:
        if self._class_ids is None:
            self._class_ids = dict(m.LabelClass.objects.values_list("name", "id"))
        return self._class_ids

    def load(self, files: CatalogFiles) -> None:
        if files.vocabulary:
            with self.at(VOCABULARY_FILE):
                self.vocabulary(files.vocabulary)
        if files.classes:
            with self.at(CLASSES_FILE):
                self.label_classes(files.classes)
        for name, manifest in files.datasets.items():
            self.dataset(manifest, name=name)
        for name, manifest in files.collections.items():
            with self.at(name):
                self.collection(manifest)
        if files.datasets:
            self.leftovers(
                m.Dataset.objects.exclude(slug__in=[d.slug for d in files.datasets.values()]), "dataset ", "slug"
            )
        if files.collections:
            slugs = [c.slug for c in files.collections.values()]
            self.leftovers(m.Collection.objects.exclude(slug__in=slugs), "collection ", "slug")

    # Generic syncing

    def sync(self, model: type[ModelT], instance: ModelT | None, values: dict[str, Any]) -> ModelT:
        """Create ``model(**values)`` or update only the fields of ``instance`` that differ."""
        if instance is None:
            instance = model.objects.create(**values)
            self.report.record(model, "created", instance.pk)
            return instance
        changed = [name for name, value in values.items() if getattr(instance, name) != value]
        if not changed:
            self.report.record(model, "unchanged", instance.pk)
            return instance
        for name in changed:
            setattr(instance, name, values[name])
        if any(f.name == "updated_at" for f in model._meta.fields):
            changed.append("updated_at")
        instance.save(update_fields=changed)
        self.report.record(model, "updated", instance.pk)
        return instance

    def sync_m2m(self, manager: Any, ids: Iterable[int]) -> None:
        wanted = set(ids)
        if set(manager.values_list("pk", flat=True)) != wanted:
            manager.set(wanted)

    def sync_children(self, model: type[ModelT], existing: dict[Any, ModelT], wanted: dict[Any, dict]) -> None:
        """Make a record's owned children (channels, meshes, DOI links) exactly the manifest's."""
        for key, values in wanted.items():
            self.sync(model, existing.get(key), values)
        stale = [child.pk for key, child in existing.items() if key not in wanted]
        if stale:
            model.objects.filter(pk__in=stale).delete()
            self.report.counts[model._meta.verbose_name_plural]["deleted"] += len(stale)

    def leftovers(self, queryset: models.QuerySet, label: str, key: str) -> None:
        """Records the manifests do not mention: reported, and deleted only when pruning."""
        names = [f"{label}{value}" for value in queryset.values_list(key, flat=True)]
        if not names:
            return
        if self.prune:
            queryset.delete()
            self.report.deleted += names
        else:
            self.report.not_in_manifests += names

    # Vocabulary and classes

    def vocabulary(self, manifest: VocabularyManifest) -> None:
        organisms = {o.name: o for o in m.Organism.objects.all()}
        for entry in manifest.organisms:
            self.sync(m.Organism, organisms.get(entry.name), entry.model_dump())
        tissues = {t.name: t for t in m.Tissue.objects.all()}
        for entry in manifest.tissues:
            self.sync(m.Tissue, tissues.get(entry.name), entry.model_dump())

    def label_classes(self, manifest: LabelClassesManifest) -> None:
        existing = {c.name: c for c in m.LabelClass.objects.all()}
        saved = {
            entry.name: self.sync(m.LabelClass, existing.get(entry.name), entry.model_dump(exclude={"members"}))
            for entry in manifest.classes
        }
        self._class_ids = None
        ids = self.class_ids()
        for entry in manifest.classes:
            self.sync_m2m(saved[entry.name].members, (ids[name] for name in entry.members))

    # Datasets

    def dataset(self, manifest: DatasetManifest, *, name: str) -> m.Dataset:
        with self.at(name):
            dataset = self.sync(
                m.Dataset, m.Dataset.objects.filter(slug=manifest.slug).first(), self.dataset_values(manifest)
            )
            self.dataset_links(dataset, manifest)
        class_ids = self.class_ids()
        volumes = {v.name: v for v in dataset.volumes.all()}
        saved_volumes = {}
        for volume in manifest.volumes:
            with self.at(f"{name}: volumes[{volume.name!r}]"):
                saved_volumes[volume.name] = self.volume(dataset, volume, volumes.get(volume.name), class_ids)
        self.leftovers(dataset.volumes.exclude(name__in=saved_volumes), f"volume {dataset.slug}/", "name")
        crops = {c.number: c for c in m.Crop.objects.filter(number__in=[c.number for c in manifest.crops])}
        for crop in manifest.crops:
            with self.at(f"{name}: crops[{crop.number}]"):
                self.crop(dataset, crop, crops.get(crop.number), class_ids)
        self.leftovers(
            dataset.crops.exclude(number__in=[c.number for c in manifest.crops]), f"crop {dataset.slug}/", "number"
        )
        views = {v.name: v for v in dataset.views.all()}
        for view in manifest.views:
            with self.at(f"{name}: views[{view.name!r}]"):
                self.view(dataset, view, views.get(view.name), saved_volumes, class_ids)
        self.leftovers(
            dataset.views.exclude(name__in=[v.name for v in manifest.views]), f"view {dataset.slug}/", "name"
        )
        with self.at(f"{name}: benchmarks"):
            self.benchmarks(dataset, manifest, class_ids)
        return dataset

    def dataset_values(self, manifest: DatasetManifest) -> dict[str, Any]:
        sample, imaging = manifest.sample, manifest.imaging
        organism_id = m.Organism.objects.get(name=manifest.organism).pk if manifest.organism else None
        values: dict[str, Any] = {
            "slug": manifest.slug,
            "title": manifest.title,
            "description": manifest.description,
            "organism_id": organism_id,
            "sample_type": sample.type or "",
            "sample_protocol": sample.protocol,
            "fixation": sample.fixation or "",
            "embedding": sample.embedding,
            "contributions": sample.contributions,
            "acknowledgements": manifest.acknowledgements,
            "creators": [creator.model_dump() for creator in manifest.creators],
            "modality": imaging.modality or "",
            "instrument": imaging.instrument,
            "acquisition_id": imaging.acquisition_id,
            "acquisition_institution": imaging.institution,
            "start_date": imaging.start_date,
            "duration_days": imaging.duration_days,
            "bias_voltage_v": imaging.bias_voltage_v,
            "scan_rate_mhz": imaging.scan_rate_mhz,
            "current_na": imaging.current_na,
            "primary_energy_ev": imaging.primary_energy_ev,
            "licence": manifest.licence,
            "licence_url": manifest.licence_url,
            "contact": manifest.contact,
            "thumbnail_url": manifest.thumbnail_url,
            "release_date": manifest.release_date,
            "version": manifest.version,
            "tags": manifest.tags,
            "software_availability": manifest.software_availability or "",
            "download_url": manifest.download_url,
            "data_formats": manifest.data_formats,
            "data_size": manifest.data_size,
            "atlas": manifest.atlas,
            "metrics": [str(metric) for metric in manifest.metrics],
            "published_state_url": manifest.published_state_url,
            "provenance": manifest.provenance,
            "known_issues": [issue.model_dump() for issue in manifest.known_issues],
            "validation_errors": dataset_problems(manifest),
        }
        values |= _axes("voxel_size", imaging.voxel_size_nm)
        values |= _axes("extent", imaging.extent_nm)
        return values

    def dataset_links(self, dataset: m.Dataset, manifest: DatasetManifest) -> None:
        self.sync_m2m(dataset.tissues, m.Tissue.objects.filter(name__in=manifest.tissues).values_list("pk", flat=True))
        self.sync_m2m(dataset.cell_types, (self.named(m.CellType, n).pk for n in manifest.sample.cell_types))
        self.sync_m2m(dataset.treatments, (self.named(m.Treatment, n).pk for n in manifest.sample.treatments))
        self.sync_m2m(dataset.institutions, (self.named(m.Institution, n).pk for n in manifest.institutions))
        links = {link.doi.value: link for link in dataset.dataset_dois.select_related("doi")}
        self.sync_children(
            m.DatasetDOI,
            links,
            {
                entry.doi: {"dataset_id": dataset.pk, "doi_id": self.doi(entry.doi).pk, "group": entry.group}
                for entry in manifest.dois
            },
        )
        publication_ids = []
        for entry in manifest.publications:
            with self.at(f"{self.context}: publications[{entry.title!r}]"):
                publication_ids.append(self.publication(entry).pk)
        self.sync_m2m(dataset.publications, publication_ids)

    def named(self, model: type[ModelT], name: str) -> ModelT:
        instance, created = model.objects.get_or_create(name=name)
        self.report.record(model, "created" if created else "unchanged", instance.pk)
        return instance

    def doi(self, value: str) -> m.DOI:
        instance, _ = m.DOI.objects.get_or_create(value=value)
        return instance

    def publication(self, entry: Any) -> m.Publication:
        values = entry.model_dump(exclude={"doi"}) | {"doi_id": self.doi(entry.doi).pk if entry.doi else None}
        if entry.doi:
            existing = m.Publication.objects.filter(doi__value=entry.doi).first()
        else:
            existing = m.Publication.objects.filter(doi__isnull=True, title=entry.title).first()
        return self.sync(m.Publication, existing, values)

    # Volumes, crops, views

    def volume(
        self, dataset: m.Dataset, manifest: VolumeManifest, existing: m.Volume | None, class_ids: dict[str, int]
    ) -> m.Volume:
        display = manifest.display
        contrast = display.contrast if display else None
        values: dict[str, Any] = {
            "dataset_id": dataset.pk,
            "name": manifest.name,
            "description": manifest.description,
            "url": manifest.url,
            "format": manifest.format or "",
            "kind": manifest.kind,
            "content_type": manifest.content_type,
            "label_class_id": class_ids[manifest.label_class] if manifest.label_class else None,
            "dtype": manifest.dtype,
            "axes": manifest.axes,
            "scale_levels": manifest.scale_levels,
            "contrast_min": contrast.min if contrast else None,
            "contrast_max": contrast.max if contrast else None,
            "contrast_start": contrast.start if contrast else None,
            "contrast_end": contrast.end if contrast else None,
            "display_colour": display.colour if display else "",
            "invert_lut": display.invert_lut if display else False,
            "provenance": manifest.provenance,
        }
        values |= _axes("shape", manifest.shape) | _axes("scale", manifest.scale_nm)
        values |= _axes("translation", manifest.translation_nm)
        converted = existing is not None and bool(existing.source_url) and existing.source_url == manifest.url
        if converted:
            # The manifest names the original file of a volume converted since (catalog.services
            # .conversion): the streamable copy, its array metadata and its status stay.
            for name in CONVERTED_FIELDS:
                values.pop(name, None)
            if contrast is None:
                for name in ("contrast_min", "contrast_max", "contrast_start", "contrast_end"):
                    values.pop(name)
        problems = volume_problems(manifest)
        if not converted and (problems or existing is None):
            values["validation_errors"] = problems
            values["status"] = VolumeStatus.INVALID if problems else VolumeStatus.OK
        volume = self.sync(m.Volume, existing, values)
        self.sync_children(
            m.VolumeChannel,
            {c.index: c for c in volume.channels.all()},
            {
                i: {"volume_id": volume.pk, "index": i, "name": c.name, "colour": c.colour}
                for i, c in enumerate(manifest.channels)
            },
        )
        self.sync_children(
            m.SegmentLabel,
            {s.value: s for s in volume.segment_labels.all()},
            {
                s.value: {
                    "volume_id": volume.pk,
                    "value": s.value,
                    "name": s.name,
                    "colour": s.colour,
                    "label_class_id": class_ids[s.label_class] if s.label_class else None,
                }
                for s in manifest.segment_labels
            },
        )
        self.sync_children(
            m.Mesh,
            {mesh.url: mesh for mesh in volume.meshes.all()},
            {
                mesh.url: {
                    "volume_id": volume.pk,
                    "name": mesh.name,
                    "description": mesh.description,
                    "url": mesh.url,
                    "format": mesh.format,
                    "segment_ids": mesh.segment_ids,
                }
                | _axes("scale", mesh.scale_nm)
                | _axes("translation", mesh.translation_nm)
                for mesh in manifest.meshes
            },
        )
        return volume

    def crop(
        self, dataset: m.Dataset, manifest: CropManifest, existing: m.Crop | None, class_ids: dict[str, int]
    ) -> m.Crop:
        values: dict[str, Any] = {
            "number": manifest.number,
            "dataset_id": dataset.pk,
            "split": manifest.split,
            "labels_url": manifest.labels_url,
            "published_state_url": manifest.published_state_url,
        }
        values |= _axes("voxel_size", manifest.voxel_size_nm) | _axes("translation", manifest.translation_nm)
        values |= _axes("shape", manifest.shape)
        crop = self.sync(m.Crop, existing, values)
        self.sync_m2m(crop.label_classes, (class_ids[name] for name in manifest.label_classes))
        if manifest.contents is not None:
            self.sync_children(
                m.CropContent,
                {row.label_class_id: row for row in crop.contents.all()},
                {
                    class_ids[entry.label_class]: entry.model_dump(exclude={"label_class"})
                    | {"crop_id": crop.pk, "label_class_id": class_ids[entry.label_class]}
                    for entry in manifest.contents
                },
            )
        return crop

    def view(
        self,
        dataset: m.Dataset,
        manifest: Any,
        existing: m.CuratedView | None,
        volumes: dict[str, m.Volume],
        class_ids: dict[str, int],
    ) -> m.CuratedView:
        dangling = [name for name in manifest.layers if name not in volumes]
        values: dict[str, Any] = {
            "dataset_id": dataset.pk,
            "name": manifest.name,
            "description": manifest.description,
            "scale": manifest.scale,
            "orientation": manifest.orientation,
            "validation_errors": [
                {"field": "layers", "message": f"names layer {name!r}, which the dataset does not have"}
                for name in dangling
            ],
        }
        values |= _axes("position", manifest.position_nm)
        view = self.sync(m.CuratedView, existing, values)
        self.sync_children(
            m.CuratedViewLayer,
            {layer.position: layer for layer in view.layers.all()},
            {
                position: {"view_id": view.pk, "position": position, "name": name, "volume_id": _pk(volumes.get(name))}
                for position, name in enumerate(manifest.layers)
            },
        )
        self.sync_m2m(view.organelles, (class_ids[name] for name in manifest.organelles))
        return view

    def benchmarks(self, dataset: m.Dataset, manifest: DatasetManifest, class_ids: dict[str, int]) -> None:
        existing = {(b.method, b.metric, b.label_class_id): b for b in dataset.benchmark_results.all()}
        wanted = {}
        for entry in manifest.benchmarks:
            class_id = class_ids[entry.label_class] if entry.label_class else None
            wanted[(entry.method, str(entry.metric), class_id)] = {
                "dataset_id": dataset.pk,
                "method": entry.method,
                "metric": entry.metric,
                "label_class_id": class_id,
                "value": entry.value,
                "source": entry.source,
            }
        self.sync_children(m.BenchmarkResult, existing, wanted)

    def collection(self, manifest: CollectionManifest) -> m.Collection:
        values = manifest.model_dump(exclude={"doi", "datasets", "downloads"}) | {
            "doi_id": self.doi(manifest.doi).pk if manifest.doi else None
        }
        collection = self.sync(m.Collection, m.Collection.objects.filter(slug=manifest.slug).first(), values)
        self.sync_m2m(
            collection.datasets, m.Dataset.objects.filter(slug__in=manifest.datasets).values_list("pk", flat=True)
        )
        self.sync_children(
            m.CollectionDownload,
            {d.name: d for d in collection.downloads.all()},
            {d.name: d.model_dump() | {"collection_id": collection.pk} for d in manifest.downloads},
        )
        return collection


def _pk(instance: models.Model | None) -> int | None:
    return instance.pk if instance else None


def _axes(prefix: str, vector: BaseModel | None) -> dict[str, float | None]:
    return {f"{prefix}_{axis}": getattr(vector, axis) if vector else None for axis in AXES}


def volume_problems(manifest: VolumeManifest) -> list[dict[str, str]]:
    """What keeps a volume from being opened, found from its manifest alone."""
    problems = []
    if not manifest.url:
        problems.append({"field": "url", "message": "the source names this volume but publishes no storage location"})
    if not manifest.format:
        problems.append({"field": "format", "message": "the source does not say which format the data is in"})
    return problems


def dataset_problems(manifest: DatasetManifest) -> list[dict[str, str]]:
    """Contradictions inside a dataset's manifest: voxel size against its EM, implausible extents."""
    problems = []
    voxel = manifest.imaging.voxel_size_nm
    em_volumes = [v for v in manifest.volumes if v.content_type == ContentType.EM and v.scale_nm]
    if voxel and em_volumes:
        finest = min(em_volumes, key=lambda v: abs(v.scale_nm.x * v.scale_nm.y * v.scale_nm.z))
        em = {axis: abs(getattr(finest.scale_nm, axis)) for axis in AXES}
        if any(abs(getattr(voxel, axis) - em[axis]) > 1e-6 for axis in AXES):
            problems.append(
                {
                    "field": "imaging.voxel_size_nm",
                    "message": f"gives {_xyz(voxel.model_dump())} nm (x, y, z) but the EM volume "
                    f"{finest.name!r} has {_xyz(em)} nm",
                }
            )
    extent = manifest.imaging.extent_nm
    if voxel and extent:
        for axis in AXES:
            voxels = getattr(extent, axis) / getattr(voxel, axis)
            if voxels < MIN_PLAUSIBLE_VOXELS:
                problems.append(
                    {
                        "field": f"imaging.extent_nm.{axis}",
                        "message": f"{getattr(extent, axis):g} nm is only {voxels:g} voxels of "
                        f"{getattr(voxel, axis):g} nm: the source probably mixed up nm and µm",
                    }
                )
    return problems


def _xyz(vector: dict[str, float]) -> str:
    return " x ".join(f"{vector[axis]:g}" for axis in AXES)
