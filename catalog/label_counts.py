"""What a crop's label array says about its class: how many voxels are present, absent, unknown.

The CellMap challenge's label arrays carry ``cellmap.annotation.complement_counts`` (voxels
labelled absent, voxels not labelled) in the attributes that discovery already read, so the
counts cost no voxel data: present = the array's voxel count - absent - unknown. An array
without them is counted at level s0, the only level exact for presence (coarser label levels
are downsampled and can lose small objects), when s0 is small enough to read at ingest;
otherwise the counts are unknown, with the reason. Nothing is ever estimated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from catalog.discovery import VolumeDescription
from catalog.models.crops import ContentSource
from catalog.s3 import S3Reader
from catalog.schemas.attributes import CellmapComplementCounts
from catalog.volume_stats import StatisticsError, list_level, read_level, spatial_volume

MAX_COUNT_BYTES = 256 * 1024 * 1024
"""Largest s0 (uncompressed) that ingest reads to count a class without complement_counts."""


@dataclass(frozen=True)
class ContentCounts:
    """One crop x class row's values (``CropContent`` field names), known or unknown."""

    source: str
    total_voxels: int | None = None
    present_voxels: int | None = None
    absent_voxels: int | None = None
    unknown_voxels: int | None = None
    object_count: int | None = None
    note: str = ""

    @classmethod
    def unknown(cls, reason: str) -> ContentCounts:
        return cls(source=ContentSource.UNKNOWN, note=reason[:500])

    @property
    def is_known(self) -> bool:
        return self.source != ContentSource.UNKNOWN

    def as_values(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "total_voxels": self.total_voxels,
            "present_voxels": self.present_voxels,
            "absent_voxels": self.absent_voxels,
            "unknown_voxels": self.unknown_voxels,
            "object_count": self.object_count,
            "note": self.note,
        }


def from_complement_counts(description: VolumeDescription) -> ContentCounts | None:
    """The counts the attributes state; None when they state none (or too little to use)."""
    annotation = description.annotation
    if annotation is None or annotation.complement_counts is None or not description.levels:
        return None
    counts = annotation.complement_counts
    if not isinstance(counts, CellmapComplementCounts):
        return ContentCounts.unknown(f"cellmap.annotation.complement_counts is malformed: {counts!r}")
    total = math.prod(description.levels[0].shape)
    unknown = counts.unknown
    if unknown is None:
        if "unknown" in annotation.annotation_type.encoding:
            return None  # the encoding has unknown voxels but the document does not count them
        unknown = 0
    if counts.absent + unknown > total:
        return ContentCounts.unknown(
            f"complement_counts (absent {counts.absent}, unknown {unknown}) exceed the array's {total} voxels"
        )
    return ContentCounts(
        source=ContentSource.ATTRIBUTES,
        total_voxels=total,
        present_voxels=total - counts.absent - unknown,
        absent_voxels=counts.absent,
        unknown_voxels=unknown,
    )


def count_contents(reader: S3Reader, description: VolumeDescription) -> ContentCounts:
    """The counts of one label array: from its attributes, else from its s0 voxels, else unknown."""
    stated = from_complement_counts(description)
    if stated is not None:
        return stated
    if not description.levels:
        return ContentCounts.unknown("the label array has no readable scale level")
    annotation = description.annotation
    if annotation is None:
        return ContentCounts.unknown(
            "the label array has no cellmap.annotation, so which values mean absent and unknown is not stated"
        )
    encoding = annotation.annotation_type.encoding
    if "absent" not in encoding:
        return ContentCounts.unknown("cellmap.annotation's encoding does not name the value of absent voxels")
    level = description.levels[0]
    total = math.prod(level.shape)
    size = total * np.dtype(level.dtype).itemsize
    if size > MAX_COUNT_BYTES:
        return ContentCounts.unknown(
            f"no complement_counts, and level {level.path or 's0'} ({size} bytes) is too large to count at ingest"
        )
    try:
        array = spatial_volume(read_level(reader, level, list_level(reader, level)), description.axes)
    except StatisticsError as error:
        return ContentCounts.unknown(f"no complement_counts, and level {level.path or 's0'} is unreadable: {error}")
    absent_mask = array == encoding["absent"]
    unknown_mask = array == encoding["unknown"] if "unknown" in encoding else np.zeros_like(absent_mask)
    absent, unknown = int(absent_mask.sum()), int(unknown_mask.sum())
    objects = None
    if annotation.is_instance:
        objects = int(np.unique(array[~(absent_mask | unknown_mask)]).size)
    return ContentCounts(
        source=ContentSource.COUNTED,
        total_voxels=int(array.size),
        present_voxels=int(array.size) - absent - unknown,
        absent_voxels=absent,
        unknown_voxels=unknown,
        object_count=objects,
    )
