"""Machine-learning manifests of the crops: one row per crop x annotated class, and a Croissant
(schema.org JSON-LD) description of the collection they make.

The CSV keeps the challenge's own ``train_crop_manifest.csv`` columns first, in its format
(``crop_name, dataset, class_label, voxel_size, translation, shape``, vectors z;y;x in
brackets, nm and voxels), so a data loader written for it reads this file unchanged; the
columns after them add the split, what the crop holds of the class (empty when unknown), the
class's label array and the EM it was annotated on. The JSON has the same rows with the
API's per-axis objects. Reads only: a fixed number of queries whatever the number of rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from catalog.models import Crop, CropContent, Volume
from catalog.models.base import ContentType
from catalog.models.crops import ContentSource

ZARR_FORMATS = ("ome-zarr-0.4", "ome-zarr-0.5", "zarr-v2", "zarr-v3")
CSV_COLUMNS = (
    "crop_name",
    "dataset",
    "class_label",
    "voxel_size",
    "translation",
    "shape",
    "split",
    "present_voxels",
    "present_share",
    "label_url",
    "em_url",
)
COLUMN_DESCRIPTIONS = {
    "crop_name": ("sc:Integer", "Crop number."),
    "dataset": ("sc:Text", "Dataset the crop belongs to."),
    "class_label": ("sc:Text", "Short name of the label class annotated in the crop."),
    "voxel_size": ("sc:Text", "Label voxel size, [z;y;x] in nm."),
    "translation": ("sc:Text", "Position of the crop's first voxel, [z;y;x] in nm."),
    "shape": ("sc:Text", "Crop shape, [z;y;x] in label voxels."),
    "split": ("sc:Text", "Challenge split: train or test."),
    "present_voxels": ("sc:Integer", "Voxels of the class present in the crop; empty when unknown."),
    "present_share": ("sc:Float", "Present voxels / crop voxels; empty when unknown."),
    "label_url": ("sc:URL", "The class's label array (OME-Zarr multiscale group); empty while withheld."),
    "em_url": ("sc:URL", "The EM image (OME-Zarr multiscale group) the crop was annotated on."),
}


CROP_COLUMNS = (
    "pk",
    "number",
    "dataset_id",
    "dataset__slug",
    "split",
    "labels_url",
    *(f"{prefix}_{axis}" for prefix in ("voxel_size", "translation", "shape") for axis in ("x", "y", "z")),
)


@dataclass(frozen=True)
class ManifestRow:
    """One crop x class, from plain values (a manifest can hold hundreds of thousands of rows)."""

    crop: dict[str, Any]
    label_class: str
    present_voxels: int | None
    present_share: float | None
    em_url: str

    @property
    def label_url(self) -> str:
        labels = self.crop["labels_url"]
        return f"{labels.rstrip('/')}/{self.label_class}" if labels else ""

    def vector(self, prefix: str) -> dict[str, Any]:
        return {axis: self.crop[f"{prefix}_{axis}"] for axis in ("x", "y", "z")}


def em_urls(crops: Iterable[dict[str, Any]]) -> dict[int, str]:
    """Per crop (``pk``, ``dataset_id``, ``labels_url`` values), the EM volume its labels were
    drawn on: of its dataset's EM volumes with a location, the one whose URL shares the longest
    prefix with the crop's labels (the same Zarr container, ``recon-1/em/...`` beside
    ``recon-1/labels/...``). One query."""
    crops = list(crops)
    volumes: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = (
        Volume.objects.filter(dataset_id__in={crop["dataset_id"] for crop in crops}, content_type=ContentType.EM)
        .exclude(url="")
        .values_list("dataset_id", "url", "format")
    )
    for dataset_id, url, volume_format in rows:
        volumes[dataset_id].append((url, volume_format))
    return {crop["pk"]: nearest_url(crop["labels_url"], volumes.get(crop["dataset_id"], [])) or "" for crop in crops}


def nearest_url(labels_url: str, candidates: Iterable[tuple[str, str]]) -> str | None:
    """Of the ``(url, format)`` candidates, the URL sharing the most leading path segments with
    ``labels_url``; on a tie (a test crop has no labels location), Zarr before other formats,
    then the first URL. None when there is none."""
    ordered = sorted(candidates, key=lambda item: (item[1] not in ZARR_FORMATS, item[0]))
    return max(ordered, key=lambda item: _shared_segments(item[0], labels_url), default=(None, ""))[0]


def _shared_segments(one: str, other: str) -> int:
    """How many leading ``/``-separated segments two URLs share."""
    count = 0
    for left, right in zip(one.split("/"), other.split("/"), strict=False):
        if left != right:
            break
        count += 1
    return count


def manifest_rows(crops: QuerySet[Crop], classes: Collection[int] | None = None) -> list[ManifestRow]:
    """Rows of the crops (in the queryset's order), each crop's classes by label id; only
    ``classes`` when given (the ``organelle`` filter's classes and their members). Four
    queries: crops, their classes, their known counts, their datasets' EM volumes."""
    crop_list = list(crops.values(*CROP_COLUMNS))
    chosen = crops.order_by().values("pk")
    links = Crop.label_classes.through.objects.filter(crop_id__in=chosen)
    counts = CropContent.objects.filter(crop_id__in=chosen).exclude(source=ContentSource.UNKNOWN)
    if classes is not None:
        links = links.filter(labelclass_id__in=classes)
        counts = counts.filter(label_class_id__in=classes)
    by_crop: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for crop_id, class_id, name in links.order_by("labelclass__label_id", "labelclass__name").values_list(
        "crop_id", "labelclass_id", "labelclass__name"
    ):
        by_crop[crop_id].append((class_id, name))
    known = {
        (crop_id, class_id): (present, share)
        for crop_id, class_id, present, share in counts.values_list(
            "crop_id", "label_class_id", "present_voxels", "present_share"
        )
    }
    em = em_urls(crop_list)
    rows = []
    for crop in crop_list:
        for class_id, name in by_crop.get(crop["pk"], []):
            present, share = known.get((crop["pk"], class_id), (None, None))
            rows.append(ManifestRow(crop, name, present, share, em[crop["pk"]]))
    return rows


def _zyx(vector: dict[str, Any], cast: type) -> str:
    return "[" + ";".join(repr(cast(vector[axis])) for axis in ("z", "y", "x")) + "]"


def to_csv(rows: Iterable[ManifestRow]) -> str:
    """The CSV text (header, then one line per row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        crop = row.crop
        writer.writerow(
            [
                crop["number"],
                crop["dataset__slug"],
                row.label_class,
                _zyx(row.vector("voxel_size"), float),
                _zyx(row.vector("translation"), float),
                _zyx(row.vector("shape"), int),
                crop["split"],
                "" if row.present_voxels is None else row.present_voxels,
                "" if row.present_share is None else repr(row.present_share),
                row.label_url,
                row.em_url,
            ]
        )
    return buffer.getvalue()


def to_json(rows: Iterable[ManifestRow]) -> list[dict[str, Any]]:
    """The same rows with the API's per-axis objects (nm; voxels for the shape)."""
    return [
        {
            "crop": row.crop["number"],
            "dataset": row.crop["dataset__slug"],
            "label_class": row.label_class,
            "split": row.crop["split"],
            "voxel_size": row.vector("voxel_size"),
            "translation": row.vector("translation"),
            "shape": row.vector("shape"),
            "present_voxels": row.present_voxels,
            "present_share": row.present_share,
            "label_url": row.label_url,
            "em_url": row.em_url,
        }
        for row in rows
    ]


CROISSANT_CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def croissant(*, csv_text: str, csv_url: str, page_url: str, name: str, description: str) -> dict[str, Any]:
    """A Croissant 1.0 description of the crops: the manifest CSV (with its checksum) as the
    file, and its columns as the fields of one record set keyed by crop and class."""
    file_id = "crop-manifest-csv"
    record_set = "crops_x_classes"
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": name,
        "description": description,
        "url": page_url,
        "isLiveDataset": True,
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": file_id,
                "name": "manifest.csv",
                "description": "One row per crop and annotated class, in the challenge's train_crop_manifest.csv "
                "format plus the split, the present voxels and the label and EM locations.",
                "contentUrl": csv_url,
                "contentSize": f"{len(csv_text.encode())} B",
                "encodingFormat": "text/csv",
                "sha256": hashlib.sha256(csv_text.encode()).hexdigest(),
            }
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": record_set,
                "name": record_set,
                "description": "A crop of a dataset and one label class annotated in it.",
                "key": [{"@id": f"{record_set}/crop_name"}, {"@id": f"{record_set}/class_label"}],
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": f"{record_set}/{column}",
                        "name": column,
                        "description": text,
                        "dataType": data_type,
                        "source": {"fileObject": {"@id": file_id}, "extract": {"column": column}},
                    }
                    for column, (data_type, text) in COLUMN_DESCRIPTIONS.items()
                ],
            }
        ],
    }
