"""The crop list counted and paged on bitmasks, as the dataset list is (``catalog.facets``).

Counting the crops of a class in SQL reads every link of the class and its members (about
12,000 of 20,000 crops name ``mito``): the count grew with the catalog. Per catalog version,
``CropIndex`` keeps each class's, split's and dataset's crops as a bitmask (bit i: the i-th
crop by number), built in one query over the crops and their class links. A list by class,
split, dataset or number, in number order either way, is then a few ANDs, a bit count and a
walk to the page, whose rows alone are read. Filters on what a crop holds (``present``,
``min_share``, ``min_voxels``) and the other orders stay in SQL.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from catalog import selectors
from catalog.facets import IndexedList, bitmask, union
from catalog.filters import CropFilterSet
from catalog.freshness import versioned_index
from catalog.models import Crop

INDEXED_ORDERINGS = ("number", "-number")
SQL_ONLY_FILTERS = ("present", "min_share", "min_voxels")


@dataclass
class CropIndex:
    """Each class's (direct links), split's and dataset's crops as bitmasks over the crops in
    number order, for one catalog version."""

    ids: array
    everything: int
    numbers: dict[int, int] = field(default_factory=dict)
    """Each crop number's bit."""
    by_class: dict[int, int] = field(default_factory=dict)
    by_split: dict[str, int] = field(default_factory=dict)
    by_dataset: dict[int, int] = field(default_factory=dict)
    orders: dict[str, array] = field(default_factory=dict)


def _build() -> CropIndex:
    """One query: every crop (by number) with each of its class links."""
    rows = Crop.objects.order_by("number").values_list("id", "number", "split", "dataset_id", "label_classes__id")
    ids = array("q")
    numbers: dict[int, int] = {}
    classes: dict[int, list[int]] = defaultdict(list)
    splits: dict[str, list[int]] = defaultdict(list)
    datasets: dict[int, list[int]] = defaultdict(list)
    for pk, number, split, dataset_id, class_id in rows:
        position = numbers.get(number)
        if position is None:
            position = numbers[number] = len(ids)
            ids.append(pk)
            splits[split].append(position)
            datasets[dataset_id].append(position)
        if class_id is not None:
            classes[class_id].append(position)
    size = len(ids)
    return CropIndex(
        ids=ids,
        everything=(1 << size) - 1,
        numbers=numbers,
        by_class={pk: bitmask(positions, size) for pk, positions in classes.items()},
        by_split={split: bitmask(positions, size) for split, positions in splits.items()},
        by_dataset={pk: bitmask(positions, size) for pk, positions in datasets.items()},
        orders={"number": array("I", range(size)), "-number": array("I", range(size - 1, -1, -1))},
    )


def crop_index() -> CropIndex:
    """The crop index of the current catalog version."""
    return versioned_index("crop-index", _build)


def indexed_crop_list(filterset: CropFilterSet, rows: Any) -> IndexedList | None:
    """The crop list of a valid FilterSet from the index, or None when SQL must answer (a
    filter on what a crop holds, or an order other than by number)."""
    data = filterset.form.cleaned_data
    if any(data.get(name) not in (None, "", []) for name in SQL_ONLY_FILTERS):
        return None
    ordering = data.get("ordering") or ["number"]
    if len(ordering) != 1 or ordering[0] not in INDEXED_ORDERINGS:
        return None
    index = crop_index()
    mask = index.everything
    if data.get("organelle"):
        closure = selectors.class_closure_ids(data["organelle"])
        mask &= union(index.by_class.get(pk, 0) for pk in closure)
    if data.get("split"):
        mask &= union(index.by_split.get(split, 0) for split in data["split"])
    if data.get("dataset"):
        mask &= union(index.by_dataset.get(dataset.pk, 0) for dataset in data["dataset"])
    if data.get("number") is not None:
        position = index.numbers.get(int(data["number"]))
        mask &= 0 if position is None else 1 << position
    return IndexedList(index, mask, index.orders[ordering[0]], rows)
