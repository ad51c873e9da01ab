"""Shared vocabulary of the catalog: choices, validators and per-axis helpers.

Every per-axis quantity is stored as one typed column per axis (``*_x``, ``*_y``, ``*_z``)
so that the database can constrain and index it; ``axis_vector`` turns the columns back
into the ``{"x": .., "y": .., "z": ..}`` objects that the manifests and the API use.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

AXES = ("x", "y", "z")

DOI_PATTERN = r"^10\.[0-9]{4,9}/[^\s]+$"
DOI_RE = re.compile(DOI_PATTERN)
HEX_COLOUR_PATTERN = r"^#[0-9a-f]{6}$"
UBERON_PATTERN = r"^UBERON:[0-9]{7}$"

hex_colour_validator = RegexValidator(HEX_COLOUR_PATTERN, "Colours are lower-case hex: #rrggbb.")
doi_validator = RegexValidator(DOI_PATTERN, "A DOI looks like 10.<registrant>/<suffix>.")


def axis_vector(obj: Any, prefix: str) -> dict[str, float] | None:
    """Read ``prefix_x/y/z`` off a record as an axis object; None when no axis is set."""
    values = {axis: getattr(obj, f"{prefix}_{axis}") for axis in AXES}
    if all(value is None for value in values.values()):
        return None
    return values


def count_of(model: type[models.Model], link: str) -> Coalesce:
    """A correlated COUNT subquery: one number per row without multiplying joined rows."""
    counted = model.objects.filter(**{link: OuterRef("pk")}).order_by().values(link).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=models.IntegerField()), Value(0))


def choices_constraint(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    """A database check that keeps a choice field inside its choices (blank allowed)."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": [*choices.values, ""]}), name=name)


def positive_axes_constraint(prefix: str, name: str) -> models.CheckConstraint:
    """A database check that every set axis of ``prefix`` is strictly positive."""
    condition = Q()
    for axis in AXES:
        column = f"{prefix}_{axis}"
        condition &= Q(**{f"{column}__isnull": True}) | Q(**{f"{column}__gt": 0})
    return models.CheckConstraint(condition=condition, name=name)


FLOAT_MAX = sys.float_info.max


def finite_constraint(fields: Iterable[str], name: str) -> models.CheckConstraint:
    """A database check that each float column (or null) is a finite number.

    NaN and infinities are floats to Python and to both databases, yet nothing in the catalog
    means them and JSON cannot carry them: one stored value would break every read of the record.
    A range check refuses all three on both engines (PostgreSQL orders NaN above every number and
    Infinity above the largest finite one; SQLite stores NaN as NULL)."""
    condition = Q()
    for field in fields:
        condition &= Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": -FLOAT_MAX, f"{field}__lte": FLOAT_MAX})
    return models.CheckConstraint(condition=condition, name=name)


def axis_fields(*prefixes: str) -> list[str]:
    """``prefix_x``, ``prefix_y``, ``prefix_z`` for each prefix."""
    return [f"{prefix}_{axis}" for prefix in prefixes for axis in AXES]


class Modality(models.TextChoices):
    FIB_SEM = "fib-sem", "FIB-SEM"
    EFIB_SEM = "efib-sem", "eFIB-SEM"
    SBF_SEM = "sbf-sem", "SBF-SEM"
    TEM = "tem", "TEM"
    SEM = "sem", "SEM"
    CONFOCAL = "confocal", "Confocal"
    LIGHT_SHEET = "light-sheet", "Light-sheet"
    SIM = "sim", "SIM"
    PALM = "palm", "PALM"


class SampleType(models.TextChoices):
    CELL_CULTURE = "cell-culture", "Cell culture"
    TISSUE = "tissue", "Tissue"
    WHOLE_ORGANISM = "whole-organism", "Whole organism"


class Fixation(models.TextChoices):
    CHEMICAL = "chemical", "Chemical fixation"
    HIGH_PRESSURE_FREEZING = "hpf", "High-pressure freezing"


class SoftwareAvailability(models.TextChoices):
    OPEN = "open", "Open"
    PARTIALLY_OPEN = "partially open", "Partially open"
    CLOSED = "closed", "Closed"


class VolumeFormat(models.TextChoices):
    OME_ZARR_04 = "ome-zarr-0.4", "OME-Zarr 0.4"
    OME_ZARR_05 = "ome-zarr-0.5", "OME-Zarr 0.5"
    ZARR_V2 = "zarr-v2", "Zarr v2"
    ZARR_V3 = "zarr-v3", "Zarr v3"
    N5 = "n5", "N5"
    PRECOMPUTED = "precomputed", "Neuroglancer precomputed"
    TIFF = "tiff", "TIFF"
    HDF5 = "hdf5", "HDF5"


class VolumeKind(models.TextChoices):
    IMAGE = "image", "Image"
    SEGMENTATION = "segmentation", "Segmentation"
    MESH = "mesh", "Mesh"
    ANNOTATION = "annotation", "Annotation"


class ContentType(models.TextChoices):
    EM = "em", "EM"
    LM = "lm", "LM"
    PREDICTION = "prediction", "Prediction"
    SEGMENTATION = "segmentation", "Segmentation"
    GROUND_TRUTH = "groundtruth", "Ground truth"
    ANALYSIS = "analysis", "Analysis"


class VolumeStatus(models.TextChoices):
    OK = "ok", "OK"
    MISSING = "missing", "Missing"
    INVALID = "invalid", "Invalid"


class MeshFormat(models.TextChoices):
    LEGACY = "neuroglancer_legacy_mesh", "Neuroglancer legacy mesh"
    MULTILOD_DRACO = "neuroglancer_multilod_draco", "Neuroglancer multi-LOD Draco"


class CropSplit(models.TextChoices):
    TRAIN = "train", "Train"
    TEST = "test", "Test"


class Metric(models.TextChoices):
    IOU = "iou", "IoU"
    DICE = "dice", "Dice"
    ACCURACY = "accuracy", "Accuracy"
    PRECISION = "precision", "Precision"
    RECALL = "recall", "Recall"
    F1 = "f1", "F1"
    HAUSDORFF = "hausdorff", "Hausdorff distance"


class DoiGroup(models.TextChoices):
    DATASET = "dataset", "Dataset"
    EM = "em", "EM"
    SEGMENTATIONS = "segmentations", "Segmentations"
