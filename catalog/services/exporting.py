"""Write the catalog back out in the manifest format: export followed by load is a no-op."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db.models import Prefetch
from pydantic import BaseModel

from catalog import models as m
from catalog.models.base import axis_vector
from catalog.schemas.manifest import (
    CollectionManifest,
    DatasetManifest,
    LabelClassesManifest,
    VocabularyManifest,
)
from catalog.services.loading import CLASSES_FILE, COLLECTIONS_DIR, DATASETS_DIR, VOCABULARY_FILE


def export_catalog(*, path: Path) -> int:
    """Write every record under ``path`` in the layout that ``load_catalog`` reads; return files written."""
    written = 0
    write_manifest(path / VOCABULARY_FILE, vocabulary_manifest())
    write_manifest(path / CLASSES_FILE, label_classes_manifest())
    written += 2
    for collection in m.Collection.objects.select_related("doi").prefetch_related("datasets", "downloads"):
        write_manifest(path / COLLECTIONS_DIR / f"{collection.slug}.json", collection_manifest(collection))
        written += 1
    for dataset in datasets_for_export():
        write_manifest(path / DATASETS_DIR / f"{dataset.slug}.json", dataset_manifest(dataset))
        written += 1
    return written


def write_manifest(path: Path, manifest: BaseModel) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = manifest.model_dump(mode="json", exclude_defaults=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def vocabulary_manifest() -> VocabularyManifest:
    return VocabularyManifest(
        organisms=[
            {"name": o.name, "slug": o.slug, "common_name": o.common_name, "ncbi_taxonomy_id": o.ncbi_taxonomy_id}
            for o in m.Organism.objects.all()
        ],
        tissues=[{"name": t.name, "slug": t.slug, "uberon_id": t.uberon_id} for t in m.Tissue.objects.all()],
    )


def label_classes_manifest() -> LabelClassesManifest:
    classes = m.LabelClass.objects.prefetch_related("members")
    return LabelClassesManifest(
        classes=[
            {
                "name": c.name,
                "label_id": c.label_id,
                "long_name": c.long_name,
                "description": c.description,
                "colour": c.colour,
                "members": [member.name for member in c.members.all()],
                "instance_scored": c.instance_scored,
                "semantic_scored": c.semantic_scored,
                "aliases": c.aliases,
            }
            for c in classes
        ]
    )


def collection_manifest(collection: m.Collection) -> CollectionManifest:
    return CollectionManifest(
        slug=collection.slug,
        title=collection.title,
        summary=collection.summary,
        description=collection.description,
        doi=collection.doi.value if collection.doi else None,
        url=collection.url,
        thumbnail_url=collection.thumbnail_url,
        tags=collection.tags,
        authors=collection.authors,
        release_date=collection.release_date,
        datasets=[d.slug for d in collection.datasets.all()],
        downloads=[
            {"name": d.name, "url": d.url, "all_resolutions": d.all_resolutions, "raw_padding": d.raw_padding}
            for d in collection.downloads.all()
        ],
    )


def datasets_for_export():
    return m.Dataset.objects.select_related("organism").prefetch_related(
        "tissues",
        "cell_types",
        "treatments",
        "institutions",
        Prefetch("dataset_dois", queryset=m.DatasetDOI.objects.select_related("doi")),
        Prefetch("publications", queryset=m.Publication.objects.select_related("doi")),
        Prefetch(
            "volumes",
            queryset=m.Volume.objects.select_related("label_class").prefetch_related(
                "channels",
                Prefetch("segment_labels", queryset=m.SegmentLabel.objects.select_related("label_class")),
                "meshes",
            ),
        ),
        Prefetch(
            "crops",
            queryset=m.Crop.objects.prefetch_related(
                "label_classes", Prefetch("contents", queryset=m.CropContent.objects.select_related("label_class"))
            ),
        ),
        Prefetch("views", queryset=m.CuratedView.objects.prefetch_related("layers", "organelles")),
        Prefetch("benchmark_results", queryset=m.BenchmarkResult.objects.select_related("label_class")),
    )


def dataset_manifest(dataset: m.Dataset) -> DatasetManifest:
    """The manifest that would load into exactly this dataset."""
    return DatasetManifest(
        slug=dataset.slug,
        title=dataset.title,
        description=dataset.description,
        organism=dataset.organism.name if dataset.organism else None,
        tissues=[t.name for t in dataset.tissues.all()],
        sample={
            "type": dataset.sample_type or None,
            "protocol": dataset.sample_protocol,
            "fixation": dataset.fixation or None,
            "embedding": dataset.embedding,
            "contributions": dataset.contributions,
            "cell_types": [c.name for c in dataset.cell_types.all()],
            "treatments": [t.name for t in dataset.treatments.all()],
        },
        imaging={
            "modality": dataset.modality or None,
            "instrument": dataset.instrument,
            "acquisition_id": dataset.acquisition_id,
            "institution": dataset.acquisition_institution,
            "start_date": dataset.start_date,
            "duration_days": dataset.duration_days,
            "bias_voltage_v": dataset.bias_voltage_v,
            "scan_rate_mhz": dataset.scan_rate_mhz,
            "current_na": dataset.current_na,
            "primary_energy_ev": dataset.primary_energy_ev,
            "voxel_size_nm": axis_vector(dataset, "voxel_size"),
            "extent_nm": axis_vector(dataset, "extent"),
        },
        institutions=[i.name for i in dataset.institutions.all()],
        creators=dataset.creators,
        acknowledgements=dataset.acknowledgements,
        licence=dataset.licence,
        licence_url=dataset.licence_url,
        contact=dataset.contact,
        thumbnail_url=dataset.thumbnail_url,
        release_date=dataset.release_date,
        version=dataset.version,
        tags=dataset.tags,
        software_availability=dataset.software_availability or None,
        download_url=dataset.download_url,
        data_formats=dataset.data_formats,
        data_size=dataset.data_size,
        atlas=dataset.atlas,
        metrics=dataset.metrics,
        published_state_url=dataset.published_state_url,
        provenance=dataset.provenance,
        known_issues=dataset.known_issues,
        dois=[{"doi": link.doi.value, "group": link.group} for link in dataset.dataset_dois.all()],
        publications=[
            {
                "title": p.title,
                "authors": p.authors,
                "year": p.year,
                "doi": p.doi.value if p.doi else None,
                "url": p.url,
            }
            for p in dataset.publications.all()
        ],
        volumes=[volume_manifest(v) for v in dataset.volumes.all()],
        crops=[
            {
                "number": c.number,
                "split": c.split,
                "voxel_size_nm": axis_vector(c, "voxel_size"),
                "translation_nm": axis_vector(c, "translation"),
                "shape": axis_vector(c, "shape"),
                "label_classes": [lc.name for lc in c.label_classes.all()],
                "labels_url": c.labels_url,
                "published_state_url": c.published_state_url,
                "contents": [content_manifest(row) for row in c.contents.all()] or None,
            }
            for c in dataset.crops.all()
        ],
        views=[
            {
                "name": v.name,
                "description": v.description,
                "position_nm": axis_vector(v, "position"),
                "scale": v.scale,
                "orientation": v.orientation,
                "layers": [layer.name for layer in v.layers.all()],
                "organelles": [lc.name for lc in v.organelles.all()],
            }
            for v in dataset.views.all()
        ],
        benchmarks=[
            {
                "method": b.method,
                "metric": b.metric,
                "label_class": b.label_class.name if b.label_class else None,
                "value": b.value,
                "source": b.source,
            }
            for b in dataset.benchmark_results.all()
        ],
    )


def volume_manifest(volume: m.Volume) -> dict[str, Any]:
    contrast = None
    if volume.contrast_min is not None:
        contrast = {
            "min": volume.contrast_min,
            "max": volume.contrast_max,
            "start": volume.contrast_start,
            "end": volume.contrast_end,
        }
    has_display = contrast or volume.display_colour or volume.invert_lut
    return {
        "name": volume.name,
        "description": volume.description,
        "url": volume.url,
        "format": volume.format or None,
        "kind": volume.kind,
        "content_type": volume.content_type,
        "label_class": volume.label_class.name if volume.label_class else None,
        "dtype": volume.dtype,
        "axes": volume.axes,
        "shape": axis_vector(volume, "shape"),
        "channels": [{"name": c.name, "colour": c.colour} for c in volume.channels.all()],
        "scale_nm": axis_vector(volume, "scale"),
        "translation_nm": axis_vector(volume, "translation"),
        "scale_levels": volume.scale_levels,
        "display": {"contrast": contrast, "colour": volume.display_colour, "invert_lut": volume.invert_lut}
        if has_display
        else None,
        "provenance": volume.provenance,
        "segment_labels": [
            {
                "value": s.value,
                "name": s.name,
                "colour": s.colour,
                "label_class": s.label_class.name if s.label_class else None,
            }
            for s in volume.segment_labels.all()
        ],
        "meshes": [
            {
                "name": mesh.name,
                "description": mesh.description,
                "url": mesh.url,
                "format": mesh.format,
                "scale_nm": axis_vector(mesh, "scale"),
                "translation_nm": axis_vector(mesh, "translation"),
                "segment_ids": mesh.segment_ids,
            }
            for mesh in volume.meshes.all()
        ],
    }


def content_manifest(row: m.CropContent) -> dict[str, Any]:
    return {
        "label_class": row.label_class.name,
        "source": row.source,
        "total_voxels": row.total_voxels,
        "present_voxels": row.present_voxels,
        "absent_voxels": row.absent_voxels,
        "unknown_voxels": row.unknown_voxels,
        "object_count": row.object_count,
        "note": row.note,
    }
