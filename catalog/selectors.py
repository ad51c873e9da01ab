"""Reads of the catalog that are not a dataset queryset (those are chainable methods of
``Dataset.objects``): the querysets each API resource and page lists, the label class
hierarchy, and what a dataset is annotated with. Reads only: nothing here writes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Prefetch, QuerySet

from catalog import freshness, prepared
from catalog.models import (
    DOI,
    BenchmarkResult,
    Collection,
    Crop,
    CropContent,
    CuratedView,
    CuratedViewLayer,
    Dataset,
    DatasetClass,
    DatasetDOI,
    LabelClass,
    Organism,
    Publication,
    SegmentLabel,
    Tissue,
    Volume,
)
from catalog.models.base import count_of
from catalog.models.datasets import LIST_FIELDS
from catalog.models.vocabulary import ClassGraph


def label_class_graph() -> ClassGraph:
    """The class hierarchy, cached until the catalog changes (two queries when not cached)."""
    return freshness.cached("class-graph", "", lambda: LabelClass.objects.graph())


def class_closure_ids(classes: Iterable[LabelClass | int]) -> set[int]:
    """Ids of ``classes`` and of all their members, recursively (``mito`` -> mito_mem, ...)."""
    ids = [item if isinstance(item, int) else item.pk for item in classes]
    return label_class_graph().descendants(ids)


def annotated_classes(dataset: Dataset) -> QuerySet[LabelClass]:
    """The classes a dataset's volumes, crops and segment labels name (not the groups they
    belong to), by label id: the ``direct`` rows of ``DatasetClass``."""
    direct = DatasetClass.objects.filter(dataset=dataset, direct=True).values("label_class_id")
    return LabelClass.objects.filter(pk__in=direct).only("id", "name", "long_name", "colour", "label_id")


VOCABULARY_RELATIONS = ("tissues", "cell_types", "treatments", "institutions")
RELATION_KINDS = (*VOCABULARY_RELATIONS, "dois", "publications", "collections", "views", "organelles")


@cache
def _relations_sql() -> tuple[str, int, dict[str, int]]:
    """The UNION ALL of one SELECT per relation a dataset record shows: (kind, position, up
    to six values as text), each in its model's own order, numbered by the database so that
    its collation and NULL order are the ones the ORM's ORDER BY would apply. Written once per
    process; with the number of its parameters and each relation's number of values."""
    quote = connection.ops.quote_name
    text = "CAST(NULL AS TEXT)"
    widths: dict[str, int] = {}

    def cast(column: str) -> str:
        return f"CAST({column} AS TEXT)"

    def part(kind: str, order: str, columns: list[str], source: str) -> str:
        widths[kind] = len(columns)
        values = ", ".join([*columns, *[text] * (6 - len(columns))])
        return f"SELECT {RELATION_KINDS.index(kind)}, ROW_NUMBER() OVER (ORDER BY {order}), {values} FROM {source}"

    def m2m(model: Any, name: str, target_alias: str) -> tuple[str, str, str]:
        """(target table, link table, link columns) of a many-to-many field ``model.name``."""
        relation = model._meta.get_field(name)
        return (
            quote(relation.related_model._meta.db_table),
            quote(relation.m2m_db_table()),
            f"l.{quote(relation.m2m_reverse_name())} = {target_alias}.id",
        )

    parts = []
    for name in VOCABULARY_RELATIONS:
        table, link, joined = m2m(Dataset, name, "t")
        columns = ["t.slug", "t.name", "t.uberon_id"] if name == "tissues" else ["t.name"]
        column = quote(Dataset._meta.get_field(name).m2m_column_name())
        parts.append(part(name, "t.name", columns, f"{table} t JOIN {link} l ON {joined} WHERE l.{column} = %s"))
    doi = quote(DOI._meta.db_table)
    parts.append(
        part(
            "dois",
            f"d.{quote('group')}, o.value",
            ["o.value", f"d.{quote('group')}"],
            f"{quote(DatasetDOI._meta.db_table)} d JOIN {doi} o ON o.id = d.doi_id WHERE d.dataset_id = %s",
        )
    )
    table, link, joined = m2m(Dataset, "publications", "p")
    column = quote(Dataset._meta.get_field("publications").m2m_column_name())
    parts.append(
        part(
            "publications",
            "p.year DESC, p.title",
            [cast("p.id"), "p.title", "p.authors", cast("p.year"), "o.value", "p.url"],
            f"{table} p JOIN {link} l ON {joined} LEFT JOIN {doi} o ON o.id = p.doi_id WHERE l.{column} = %s",
        )
    )
    collections = Collection._meta.get_field("datasets")
    parts.append(
        part(
            "collections",
            "c.slug",
            ["c.slug", "c.title"],
            f"{quote(Collection._meta.db_table)} c JOIN {quote(collections.m2m_db_table())} l"
            f" ON l.{quote(collections.m2m_column_name())} = c.id WHERE l.{quote(collections.m2m_reverse_name())} = %s",
        )
    )
    parts.append(
        part(
            "views",
            "v.id",
            [cast("v.id"), "v.name", "v.viewer_problem", "v.viewer_problem_field", cast("v.inline_state_length")],
            f"{quote(CuratedView._meta.db_table)} v WHERE v.dataset_id = %s",
        )
    )
    parts.append(
        part(
            "organelles",
            "c.label_id, c.name",
            ["c.name"],
            f"{quote(LabelClass._meta.db_table)} c JOIN {quote(DatasetClass._meta.db_table)} k"
            f" ON k.label_class_id = c.id WHERE k.dataset_id = %s AND k.direct",
        )
    )
    return " UNION ALL ".join(parts) + " ORDER BY 1, 2", len(parts), widths


def dataset_for_record(slug: str) -> Dataset | None:
    """The dataset ``slug`` as ``Dataset.objects.for_record()`` reads it for the API record (its
    organism, its volume, crop and view counts), by SQL written once per process: building and
    compiling that ORM query cost more than running it. None when no dataset has the slug."""
    read = _record_read()
    with connection.cursor() as cursor:
        prepared.execute(cursor, read.sql, [slug])
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(read.dataset_names)
    values = list(row[: width + len(read.organism_names)])
    for position, column, converter in read.converters:
        values[position] = converter(values[position], column, connection)
    dataset = Dataset.from_db(connection.alias, read.dataset_names, values[:width])
    if values[width] is not None:
        dataset.organism = Organism.from_db(connection.alias, read.organism_names, values[width:])
    dataset.volume_count, dataset.crop_count, dataset.view_count = row[len(values) :]
    return dataset


class _RecordRead(NamedTuple):
    sql: str
    dataset_names: list[str]
    organism_names: list[str]
    converters: list[tuple[int, Any, Any]]
    """(position in the row, column, converter): the database's and the fields' converters the
    ORM would apply (dates on SQLite, JSON text, ...), in its order."""


@cache
def _record_read() -> _RecordRead:
    """The record's SQL, field names and converters, worked out once per process."""
    quote = connection.ops.quote_name
    dataset_fields = list(Dataset._meta.concrete_fields)
    organism_fields = list(Organism._meta.concrete_fields)
    columns = [f"d.{quote(field.column)}" for field in dataset_fields]
    columns += [f"o.{quote(field.column)}" for field in organism_fields]
    for model in (Volume, Crop, CuratedView):
        columns.append(f"(SELECT COUNT(*) FROM {quote(model._meta.db_table)} x WHERE x.dataset_id = d.id)")
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Dataset._meta.db_table)} d"
        f" LEFT JOIN {quote(Organism._meta.db_table)} o ON o.id = d.organism_id WHERE d.slug = %s"
    )
    converters = []
    for position, field in enumerate([*dataset_fields, *organism_fields]):
        column = field.get_col(field.model._meta.db_table)
        for converter in [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]:
            converters.append((position, column, converter))
    return _RecordRead(
        sql,
        [field.attname for field in dataset_fields],
        [field.attname for field in organism_fields],
        converters,
    )


def dataset_relations(dataset_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a dataset record lists besides its own row, by relation, each in its model's
    order, as tuples of text values (None for NULL): tissues ``(slug, name, uberon_id)``;
    cell types, treatments, institutions and organelles (the classes it is annotated with)
    ``(name,)``; dois ``(value, group)``; publications ``(id, title, authors, year, doi, url)``;
    collections ``(slug, title)``; views ``(id, name, viewer_problem, viewer_problem_field,
    inline_state_length)``. One UNION ALL query instead of a prefetch or query per relation."""
    sql, parameters, widths = _relations_sql()
    found: dict[str, list[tuple[Any, ...]]] = {name: [] for name in RELATION_KINDS}
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, [dataset_id] * parameters)
        for kind, _position, *values in cursor.fetchall():
            name = RELATION_KINDS[kind]
            found[name].append(tuple(values[: widths[name]]))
    return found


class NamedRef(NamedTuple):
    slug: str
    name: str


LIST_ROW_COLUMNS = (
    "pk",
    *(name for name in LIST_FIELDS if name != "id" and not name.startswith("organism__")),
    "volume_count",
    "crop_count",
)


class DatasetListRow:
    """What a dataset list row shows, read as values (no model instance): the columns of
    ``LIST_ROW_COLUMNS`` as attributes, ``organism`` and ``tissues`` as ``NamedRef``s, and
    ``search_rank`` when the list is a search."""

    def __init__(self, values: tuple[Any, ...], organism: NamedRef | None) -> None:
        self.__dict__.update(zip(LIST_ROW_COLUMNS, values, strict=True))
        self.organism = organism
        self.tissues: list[NamedRef] = []
        self.search_rank: float | None = None


def dataset_list_rows(ids: list[int]) -> list[DatasetListRow]:
    """The list rows of the datasets ``ids`` (in no particular order): two queries, the rows
    with their counts and organism, and their tissues by name, both written as SQL once per
    process (the ORM spent longer compiling them than the database running them)."""
    if not ids:
        return []
    rows_sql, tissues_sql = _list_row_sql()
    found = {}
    if connection.vendor == "postgresql":  # one prepared statement for any number of ids
        members, parameters = "= ANY(%s::bigint[])", [list(ids)]
    else:
        members, parameters = f"IN ({', '.join(['%s'] * len(ids))})", list(ids)
    with connection.cursor() as cursor:
        prepared.execute(cursor, rows_sql.format(ids=members), parameters)
        for *values, organism_slug, organism_name in cursor.fetchall():
            release = values[LIST_ROW_COLUMNS.index("release_date")]
            if isinstance(release, str):  # SQLite hands back text
                values[LIST_ROW_COLUMNS.index("release_date")] = datetime.date.fromisoformat(release)
            organism = None if organism_slug is None else NamedRef(organism_slug, organism_name)
            found[values[0]] = DatasetListRow(tuple(values), organism)
        prepared.execute(cursor, tissues_sql.format(ids=members), parameters)
        for dataset_id, slug, name in cursor.fetchall():
            found[dataset_id].tissues.append(NamedRef(slug, name))
    return list(found.values())


@cache
def _list_row_sql() -> tuple[str, str]:
    quote = connection.ops.quote_name
    columns = [f"d.{quote('id' if name == 'pk' else name)}" for name in LIST_ROW_COLUMNS[:-2]]
    for model in (Volume, Crop):
        columns.append(f"(SELECT COUNT(*) FROM {quote(model._meta.db_table)} x WHERE x.dataset_id = d.id)")
    rows = (
        f"SELECT {', '.join(columns)}, o.slug, o.name FROM {quote(Dataset._meta.db_table)} d"
        f" LEFT JOIN {quote(Organism._meta.db_table)} o ON o.id = d.organism_id WHERE d.id {{ids}}"
    )
    link = Dataset._meta.get_field("tissues")
    tissues = (
        f"SELECT l.{quote(link.m2m_column_name())}, t.slug, t.name FROM {quote(Tissue._meta.db_table)} t"
        f" JOIN {quote(link.m2m_db_table())} l ON l.{quote(link.m2m_reverse_name())} = t.id"
        f" WHERE l.{quote(link.m2m_column_name())} {{ids}} ORDER BY t.name"
    )
    return rows, tissues


def volume_queryset(*, detail: bool = False) -> QuerySet[Volume]:
    queryset = Volume.objects.select_related("dataset", "label_class", "statistics").defer(
        "dataset__description",
        "dataset__sample_protocol",
        "dataset__contributions",
        "dataset__acknowledgements",
        "dataset__provenance",
    )
    if detail:
        queryset = queryset.prefetch_related(
            "channels",
            "meshes",
            Prefetch("segment_labels", queryset=SegmentLabel.objects.select_related("label_class")),
        )
    return queryset


def crop_row_queryset() -> QuerySet[Crop]:
    """Crops with their dataset's slug: what ``catalog.api.payloads.crop_rows`` reads the
    classes and contents of, for a whole page at once."""
    return Crop.objects.select_related("dataset").only(
        *[field.name for field in Crop._meta.concrete_fields if field.name != "dataset"], "dataset__slug"
    )


def crop_queryset() -> QuerySet[Crop]:
    """Crops with their classes and contents prefetched, for the serializer and the pages."""
    return crop_row_queryset().prefetch_related(
        Prefetch("label_classes", queryset=LabelClass.objects.only("id", "name")),
        Prefetch("contents", queryset=CropContent.objects.order_by()),
    )


def label_class_queryset() -> QuerySet[LabelClass]:
    names = LabelClass.objects.only("id", "name")
    return LabelClass.objects.prefetch_related(
        Prefetch("members", queryset=names), Prefetch("member_of", queryset=names)
    ).annotate(crop_count=count_of(Crop.label_classes.through, "labelclass"))


def organism_queryset() -> QuerySet[Organism]:
    return Organism.objects.annotate(dataset_count=count_of(Dataset, "organism"))


def tissue_queryset() -> QuerySet[Tissue]:
    return Tissue.objects.annotate(dataset_count=count_of(Dataset.tissues.through, "tissue"))


def collection_queryset(*, detail: bool = False) -> QuerySet[Collection]:
    queryset = Collection.objects.select_related("doi").annotate(
        dataset_count=count_of(Collection.datasets.through, "collection")
    )
    if detail:
        queryset = queryset.prefetch_related(
            "downloads",
            Prefetch("datasets", queryset=Dataset.objects.only("id", "slug", "title", "release_date")),
        )
    return queryset


def publication_queryset() -> QuerySet[Publication]:
    return Publication.objects.select_related("doi").prefetch_related(
        Prefetch("datasets", queryset=Dataset.objects.only("id", "slug"))
    )


def curated_view_queryset() -> QuerySet[CuratedView]:
    return (
        CuratedView.objects.select_related("dataset")
        .only(*[field.name for field in CuratedView._meta.concrete_fields if field.name != "dataset"], "dataset__slug")
        .prefetch_related(
            Prefetch("organelles", queryset=LabelClass.objects.only("id", "name")),
            Prefetch(
                "layers", queryset=CuratedViewLayer.objects.only("id", "view_id", "position", "name", "volume_id")
            ),
        )
    )


def benchmark_queryset() -> QuerySet[BenchmarkResult]:
    return BenchmarkResult.objects.select_related("dataset", "label_class").only(
        "id", "method", "metric", "value", "source", "dataset__slug", "label_class__name"
    )
