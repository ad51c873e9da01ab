"""Derived rows, recomputed from the records: what each dataset is annotated with, its search
texts, and what the state endpoint of each dataset, volume, crop and curated view answers (why
Neuroglancer cannot open it, or how long its inline link is).

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
from django.db.models import Model

from catalog.models import (
    CellType,
    Crop,
    CuratedView,
    Dataset,
    DatasetClass,
    DatasetSearch,
    LabelClass,
    Organism,
    SearchWord,
    SegmentLabel,
    Tissue,
    Treatment,
    Volume,
)
from catalog.neuroglancer.adapters import ViewerFacts, viewer_facts

BATCH = 500
"""Datasets written per UPDATE, volumes per bulk update."""
MIN_WORD = 4
"""Shorter words are never spelling-corrected, nor suggested."""
WORD_LENGTH = 100
"""The longest word the vocabulary keeps (``SearchWord.word``)."""
_WORD_RE = re.compile(r"[^\W_]+")


def refresh_derived(dataset_ids: Collection[int] | None) -> None:
    """Recompute every derived row of the given datasets (of the whole catalog when None)."""
    if dataset_ids is not None and not dataset_ids:
        return
    refresh_dataset_classes(dataset_ids)
    refresh_search_index(dataset_ids)
    refresh_viewer_facts(dataset_ids)


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
    """Recompute the search index rows of the given datasets (all when None) in the narrow
    ``DatasetSearch`` table (A title and slug, B description, C organism, tissue, cell type,
    treatment and class names), then the spelling vocabulary. Rows of datasets that no longer
    exist are dropped."""
    datasets = Dataset.objects.select_related("organism").prefetch_related("tissues", "cell_types", "treatments")
    if dataset_ids is not None:
        datasets = datasets.filter(pk__in=list(dataset_ids))
    datasets = list(datasets.only("pk", "slug", "title", "description", "organism__name", "organism__common_name"))
    classes = _class_names([dataset.pk for dataset in datasets])
    rows: list[tuple[int, str, str, str]] = []
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
        rows.append((dataset.pk, primary, dataset.description, vocabulary))
    # Rewritten in place; only the rows of datasets that are gone are deleted (a write that
    # changes one dataset costs one statement here).
    gone = None if dataset_ids is None else set(dataset_ids) - {dataset.pk for dataset in datasets}
    if gone is None or gone:
        _forget_index_rows(gone)
    if connection.vendor == "postgresql":
        _write_postgresql(rows)
    else:
        _write_sqlite(rows)
    if dataset_ids is None:
        refresh_search_words()
    else:  # words of the changed titles and names; words no longer used stay until a full refresh
        _add_search_words(" ".join(f"{primary} {names}" for _pk, primary, _description, names in rows))


def _forget_index_rows(dataset_ids: Collection[int] | None) -> None:
    table = connection.ops.quote_name(DatasetSearch._meta.db_table)
    key = "dataset_id" if connection.vendor == "postgresql" else "rowid"
    with connection.cursor() as cursor:
        if dataset_ids is None:
            cursor.execute(f"DELETE FROM {table}")
            return
        ids = sorted(dataset_ids)
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            cursor.execute(f"DELETE FROM {table} WHERE {key} IN ({', '.join(['%s'] * len(batch))})", batch)


def _write_postgresql(rows: list[tuple[int, str, str, str]]) -> None:
    """One set-based upsert per batch (the ORM cannot call ``setweight``/``to_tsvector``)."""
    index = connection.ops.quote_name(DatasetSearch._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            values = ", ".join(["(%s::bigint, %s, %s, %s)"] * len(batch))
            cursor.execute(
                f"INSERT INTO {index} (dataset_id, vector) SELECT v.id,"
                " setweight(to_tsvector(%s::regconfig, v.a), 'A') || setweight(to_tsvector(%s::regconfig, v.b), 'B')"
                " || setweight(to_tsvector(%s::regconfig, v.c), 'C')"
                f" FROM (VALUES {values}) AS v(id, a, b, c)"
                " ON CONFLICT (dataset_id) DO UPDATE SET vector = EXCLUDED.vector",
                [*([settings.SEARCH_CONFIG] * 3), *(value for row in batch for value in row)],
            )


def _write_sqlite(rows: list[tuple[int, str, str, str]]) -> None:
    index = connection.ops.quote_name(DatasetSearch._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT OR REPLACE INTO {index} (rowid, dataset_id, primary_text, description, names)"
            " VALUES (%s, %s, %s, %s, %s)",
            [(pk, pk, primary, description, names) for pk, primary, description, names in rows],
        )


def search_words() -> list[str]:
    """The words spelling correction can suggest: every word (of ``MIN_WORD`` letters or more)
    of the class names, long names and aliases, of the organism, tissue, cell type and
    treatment names, and of the dataset titles and slugs."""
    texts: list[str] = []
    for name, long_name, aliases in LabelClass.objects.values_list("name", "long_name", "aliases"):
        texts += [name, long_name, *(alias for alias in aliases if isinstance(alias, str))]
    for model, fields in (
        (Organism, ("name", "common_name")),
        (Tissue, ("name",)),
        (CellType, ("name",)),
        (Treatment, ("name",)),
        (Dataset, ("title", "slug")),
    ):
        for row in model.objects.values_list(*fields):
            texts += row
    return sorted({word for text in texts for word in words(text) if MIN_WORD <= len(word) <= WORD_LENGTH})


def words(text: str) -> list[str]:
    """The lower-case words of ``text`` (runs of letters and digits)."""
    return [word.lower() for word in _WORD_RE.findall(text)]


def refresh_search_words() -> None:
    """Rewrite the ``SearchWord`` table (a few thousand rows, whatever the catalog's size)."""
    SearchWord.objects.all().delete()
    SearchWord.objects.bulk_create([SearchWord(word=word) for word in search_words()], batch_size=BATCH)


def _add_search_words(text: str) -> None:
    found = {word for word in words(text) if MIN_WORD <= len(word) <= WORD_LENGTH}
    SearchWord.objects.bulk_create([SearchWord(word=word) for word in sorted(found)], ignore_conflicts=True)


# Viewer facts ------------------------------------------------------------------------------------

FACTS_BATCH = 100
"""Datasets whose states are built together: a fixed number of queries per batch."""
FACT_COLUMNS = ["viewer_problem_field", "viewer_problem", "inline_state_length"]


def _changed(rows: list[tuple[Model, ViewerFacts]]) -> list[Model]:
    changed = []
    for record, facts in rows:
        values = (facts.problem_field, facts.problem, facts.inline_length)
        if tuple(getattr(record, column) for column in FACT_COLUMNS) != values:
            for column, value in zip(FACT_COLUMNS, values, strict=True):
                setattr(record, column, value)
            changed.append(record)
    return changed


def refresh_viewer_facts(dataset_ids: Collection[int] | None) -> None:
    """Store on each dataset, volume, crop and view what its state endpoint answers: why there is
    no state (blank when there is one) and the length of the state's inline fragment, from the
    very states the endpoints build (``catalog.neuroglancer.adapters.viewer_facts``). Pages and
    API lists then show the reason or the right link without building a state per row; the price
    is paid once per write, a few milliseconds per record. Rows are written only when changed.
    The lengths count the source URLs as the S3 endpoint setting writes them: a deployment that
    changes ``AWS_ENDPOINT_URL_S3`` rebuilds them (``refresh_derived(None)``).
    """
    ids = list(Dataset.objects.values_list("pk", flat=True)) if dataset_ids is None else sorted(dataset_ids)
    for start in range(0, len(ids), FACTS_BATCH):
        facts = viewer_facts(ids[start : start + FACTS_BATCH])
        for model, rows in (
            (Dataset, facts.datasets),
            (Volume, facts.volumes),
            (Crop, facts.crops),
            (CuratedView, facts.views),
        ):
            model.objects.bulk_update(_changed(rows), FACT_COLUMNS, batch_size=BATCH)
