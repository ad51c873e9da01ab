"""Derived rows, recomputed from the records: what each dataset is annotated with, its search
texts, and why each of its volumes cannot be opened in Neuroglancer.

``refresh_derived`` is called by ``catalog.freshness`` when a transaction that changed the
catalog commits (and by the benchmark's generator after a bulk COPY); nothing else writes
these columns and tables, so readers can trust them as plain indexed data.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection

from django.conf import settings
from django.db import connection
from django.db.models import Q

from catalog.models import Crop, Dataset, DatasetClass, LabelClass, SegmentLabel, Volume
from catalog.neuroglancer.adapters import viewer_problem

BATCH = 500
"""Datasets written per UPDATE, volumes per bulk update."""
_TOKEN_WORD_RE = re.compile(r"\S+")


def refresh_derived(dataset_ids: Collection[int] | None) -> None:
    """Recompute every derived row of the given datasets (of the whole catalog when None)."""
    if dataset_ids is not None and not dataset_ids:
        return
    refresh_dataset_classes(dataset_ids)
    refresh_search_index(dataset_ids)
    refresh_viewer_problems(dataset_ids)


# Annotated classes --------------------------------------------------------------------------------


def _direct_pairs_sql(dataset_ids: Collection[int] | None) -> tuple[str, tuple]:
    """SQL of the distinct (dataset, class) pairs the records name: classes of volumes, of
    crops and of segment labels."""
    volumes = Volume.objects.filter(label_class__isnull=False)
    crops = Crop.label_classes.through.objects.all()
    labels = SegmentLabel.objects.filter(label_class__isnull=False)
    if dataset_ids is not None:
        ids = list(dataset_ids)
        volumes = volumes.filter(dataset_id__in=ids)
        crops = crops.filter(crop__dataset_id__in=ids)
        labels = labels.filter(volume__dataset_id__in=ids)
    pairs = (
        volumes.values_list("dataset_id", "label_class_id")
        .order_by()
        .union(
            crops.values_list("crop__dataset_id", "labelclass_id").order_by(),
            labels.values_list("volume__dataset_id", "label_class_id").order_by(),
        )
    )
    return pairs.query.sql_with_params()


def refresh_dataset_classes(dataset_ids: Collection[int] | None) -> None:
    """Rewrite the ``DatasetClass`` rows: each directly annotated class and every group that
    contains it, recursively. One set-based INSERT ... SELECT over the closure of the hierarchy."""
    rows = DatasetClass.objects.all()
    if dataset_ids is not None:
        rows = rows.filter(dataset_id__in=list(dataset_ids))
    rows.delete()
    graph = LabelClass.objects.graph()
    closure = [(ancestor, pk) for pk in graph.names for ancestor in graph.ancestors([pk])]
    if not closure:
        return
    pairs_sql, pairs_params = _direct_pairs_sql(dataset_ids)
    closure_sql = " UNION ALL ".join(["SELECT %s AS ancestor, %s AS member"] * len(closure))
    table = connection.ops.quote_name(DatasetClass._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (dataset_id, label_class_id, direct) "
            "SELECT p.dataset_id, c.ancestor, MAX(CASE WHEN c.ancestor = c.member THEN 1 ELSE 0 END) = 1 "
            f"FROM ({pairs_sql}) p JOIN ({closure_sql}) c ON p.label_class_id = c.member "
            "GROUP BY p.dataset_id, c.ancestor",
            [*pairs_params, *(value for pair in closure for value in pair)],
        )


# Search texts -------------------------------------------------------------------------------------


def _distinct_words(text: str) -> str:
    """Each word once, in order of first use: what SQLite scans stays short."""
    seen: dict[str, None] = {}
    for word in _TOKEN_WORD_RE.findall(text):
        seen.setdefault(word.lower(), None)
    return " ".join(seen)


def _split_slug(slug: str) -> str:
    return f"{slug} {re.sub(r'[_-]+', ' ', slug)}"


def _class_names(dataset_ids: list[int]) -> dict[int, list[str]]:
    """Names, long names and aliases of every class each dataset is annotated with (closure)."""
    names = {
        pk: " ".join([name, long_name, *(alias for alias in aliases if isinstance(alias, str))])
        for pk, name, long_name, aliases in LabelClass.objects.values_list("pk", "name", "long_name", "aliases")
    }
    result: dict[int, list[str]] = defaultdict(list)
    for dataset_id, class_id in DatasetClass.objects.filter(dataset_id__in=dataset_ids).values_list(
        "dataset_id", "label_class_id"
    ):
        result[dataset_id].append(names[class_id])
    return {pk: sorted(found) for pk, found in result.items()}


def refresh_search_index(dataset_ids: Collection[int] | None) -> None:
    """Recompute the stored search fields (``search_text``; ``search_vector`` on PostgreSQL):
    A title and slug, B description, C organism, tissue, cell type, treatment and class names."""
    datasets = Dataset.objects.select_related("organism").prefetch_related("tissues", "cell_types", "treatments")
    if dataset_ids is not None:
        datasets = datasets.filter(pk__in=list(dataset_ids))
    datasets = list(datasets.only("pk", "slug", "title", "description", "organism__name", "organism__common_name"))
    if not datasets:
        return
    classes = _class_names([dataset.pk for dataset in datasets])
    rows: list[tuple[int, str, str, str, str]] = []
    for dataset in datasets:
        primary = f"{dataset.title} {_split_slug(dataset.slug)}"
        vocabulary = " ".join(
            [
                *([dataset.organism.name, dataset.organism.common_name] if dataset.organism else []),
                *(tissue.name for tissue in dataset.tissues.all()),
                *(cell_type.name for cell_type in dataset.cell_types.all()),
                *(treatment.name for treatment in dataset.treatments.all()),
                *classes.get(dataset.pk, []),
            ]
        )
        text = _distinct_words(f"{primary} {dataset.description} {vocabulary}")
        rows.append((dataset.pk, text, primary, dataset.description, vocabulary))
    if connection.vendor == "postgresql":
        _write_postgresql(rows)
    else:
        for dataset, (_pk, text, *_weighted) in zip(datasets, rows, strict=True):
            dataset.search_text = text
        Dataset.objects.bulk_update(datasets, ["search_text"], batch_size=BATCH)


def _write_postgresql(rows: list[tuple[int, str, str, str, str]]) -> None:
    """One set-based UPDATE per batch: the ORM's bulk_update would build a CASE per row and
    field, which takes about a minute for 10,000 datasets instead of seconds."""
    table = connection.ops.quote_name(Dataset._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            values = ", ".join(["(%s::bigint, %s, %s, %s, %s)"] * len(batch))
            cursor.execute(
                f"UPDATE {table} AS d SET search_text = v.text, search_vector = "
                "setweight(to_tsvector(%s::regconfig, v.a), 'A') || setweight(to_tsvector(%s::regconfig, v.b), 'B')"
                " || setweight(to_tsvector(%s::regconfig, v.c), 'C')"
                f" FROM (VALUES {values}) AS v(id, text, a, b, c) WHERE d.id = v.id",
                [*([settings.SEARCH_CONFIG] * 3), *(value for row in batch for value in row)],
            )


# Viewer problems ----------------------------------------------------------------------------------

VIEWER_CHECK_FIELDS = (
    "id",
    "name",
    "url",
    "format",
    "kind",
    "content_type",
    "dtype",
    "axes",
    "status",
    "validation_errors",
    "viewer_problem",
    "viewer_problem_field",
    *(f"{prefix}_{axis}" for prefix in ("shape", "scale", "translation") for axis in "xyz"),
    "contrast_min",
    "contrast_max",
    "contrast_start",
    "contrast_end",
    "display_colour",
    "invert_lut",
)


def refresh_viewer_problems(dataset_ids: Collection[int] | None) -> None:
    """Store on each volume why Neuroglancer cannot open it (blank when it can), from the same
    check the state endpoints make, so pages and lists show the reason without building a state."""
    volumes = Volume.objects.only(*VIEWER_CHECK_FIELDS)
    if dataset_ids is not None:
        volumes = volumes.filter(Q(dataset_id__in=list(dataset_ids)))
    changed = []
    for volume in volumes.iterator(chunk_size=2000):
        error = viewer_problem(volume)
        field_name, message = (error.field, error.message) if error is not None else ("", "")
        if (volume.viewer_problem_field, volume.viewer_problem) != (field_name, message):
            volume.viewer_problem_field, volume.viewer_problem = field_name, message
            changed.append(volume)
    Volume.objects.bulk_update(changed, ["viewer_problem_field", "viewer_problem"], batch_size=BATCH)
