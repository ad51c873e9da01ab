"""Export the catalog in the database to SQLite, set up the way a datasette user would publish it.

The benchmark's side-by-side serves this file with datasette (``bench.server.start_datasette``)
next to the portal serving the same catalog from PostgreSQL. The layout is what datasette's own
documentation suggests for a catalog like this one, nothing the portal could not also do:

- ``datasets``: one wide row per dataset with every column the portal's detail payload shows;
  the organism as its slug (plus its name), and the many-to-many values (tissues, cell types,
  treatments, institutions, collections, publications, DOIs, views) denormalised into JSON
  arrays, which datasette facets with ``_facet_array`` and filters with ``__arraycontains``.
  ``organelles`` are the classes annotated in the dataset (the portal detail's field);
  ``organelle_closure`` adds every group class they belong to, so that filtering or faceting
  on a group (``mito``) counts datasets annotated with any of its members, as the portal does.
- ``crops``: one row per crop (``number`` is the key), ``label_classes`` and
  ``label_class_closure`` the same way; ``label_classes``: the class table.
- ``datasets_fts``: FTS5 over title, description and ``search_names``, external content,
  Porter stemming (the portal's PostgreSQL search stems English words too); datasette finds it
  by its ``content="datasets"`` declaration and answers ``_search=``. ``search_names`` holds
  what the portal's search matches beyond title and description (the slug's words, organism,
  tissue, cell type and treatment names, and the names and aliases of every annotated class
  and its groups), so that the same words find the same datasets on both sides.
- ``dataset_facets``: a view of the filter and facet columns only, for facet counts.
  datasette's array facet de-duplicates ``(value, every column of the row)``, so its cost
  grows with the width of the row: on the wide ``datasets`` table one organelle facet took
  seconds at 1,000 datasets. ``metadata.json`` (next to the database) points the view's
  ``_search`` at the same FTS table.
- Indexes on every filter and sort column, then ``ANALYZE``. The file is written once and
  served read-only (``datasette -i``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# datasette names a database after its file: /catalog/datasets.json.
DATABASE_NAME = "catalog"
FTS_COLUMNS = ("title", "description", "search_names")
FACET_VIEW = "dataset_facets"
FACET_VIEW_COLUMNS = (
    "id",
    "organism",
    "modality",
    "fixation",
    "has_crops",
    "coarsest_voxel_nm",
    "tissues",
    "organelle_closure",
    "collections",
)
METADATA_NAME = "metadata.json"
DATASET_INDEXES = ("organism", "modality", "fixation", "has_crops", "release_date", "title", "coarsest_voxel_nm")
CROP_INDEXES = ("dataset", "split")
# Columns of the portal's models that are not data a datasette user would publish.
SKIPPED_DATASET_FIELDS = {"id", "organism"}
SKIPPED_CROP_FIELDS = {"id", "number", "dataset"}


@dataclass
class ExportResult:
    """Where the export went, what it holds and how long it took."""

    path: Path
    counts: dict[str, int]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "counts": self.counts, "seconds": round(self.seconds, 2)}


def _sqlite_type(field: Any) -> str:
    internal = field.get_internal_type()
    if internal in {"AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "PositiveIntegerField"}:
        return "INTEGER"
    if internal in {"PositiveSmallIntegerField", "SmallIntegerField", "BooleanField"}:
        return "INTEGER"
    if internal in {"FloatField", "DecimalField"}:
        return "REAL"
    return "TEXT"


def _sqlite_value(value: Any) -> Any:
    """A model value as SQLite stores it: JSON text for lists and dicts, ISO text for dates."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def ancestors_by_class(links: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
    """For each class in ``(group, member)`` links: every group it belongs to, recursively (not itself)."""
    groups_of: dict[int, set[int]] = defaultdict(set)
    for group, member in links:
        groups_of[member].add(group)
    closure: dict[int, set[int]] = {}

    def walk(pk: int, seen: frozenset[int]) -> set[int]:
        if pk in closure:
            return closure[pk]
        found: set[int] = set()
        for group in groups_of.get(pk, ()):
            if group not in seen:
                found |= {group} | walk(group, seen | {group})
        closure[pk] = found
        return found

    for pk in list(groups_of):
        walk(pk, frozenset({pk}))
    return closure


def _with_groups(class_ids: Iterable[int], groups: dict[int, set[int]]) -> set[int]:
    ids = set(class_ids)
    for pk in list(ids):
        ids |= groups.get(pk, set())
    return ids


def _names(ids: Iterable[int], names: dict[int, str]) -> list[str]:
    return sorted(names[pk] for pk in ids)


def _grouped(pairs: Iterable[tuple[int, Any]]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for key, value in pairs:
        grouped[key].append(value)
    return grouped


def export_catalog(path: Path) -> ExportResult:
    """Write the catalog of the default database to a new SQLite file at ``path`` (replaced whole)."""
    from django.db.models import Count

    from catalog import models as m

    started = time.perf_counter()
    class_names = dict(m.LabelClass.objects.values_list("pk", "name"))
    class_words = {
        pk: " ".join([name, long_name, *aliases])
        for pk, name, long_name, aliases in m.LabelClass.objects.values_list("pk", "name", "long_name", "aliases")
    }
    member_links = list(m.LabelClass.members.through.objects.values_list("from_labelclass_id", "to_labelclass_id"))
    groups = ancestors_by_class(member_links)

    # Classes annotated per dataset: by a volume, a crop or a segment label (what the portal counts).
    annotated: dict[int, set[int]] = defaultdict(set)
    for dataset_id, class_id in (
        m.Volume.objects.filter(label_class__isnull=False).values_list("dataset_id", "label_class_id").distinct()
    ):
        annotated[dataset_id].add(class_id)
    crop_classes = _grouped(m.Crop.label_classes.through.objects.values_list("crop_id", "labelclass_id"))
    crops = list(m.Crop.objects.order_by("number").values())
    for crop in crops:
        annotated[crop["dataset_id"]].update(crop_classes.get(crop["id"], ()))
    for dataset_id, class_id in (
        m.SegmentLabel.objects.filter(label_class__isnull=False)
        .values_list("volume__dataset_id", "label_class_id")
        .distinct()
    ):
        annotated[dataset_id].add(class_id)

    organisms = {
        pk: (slug, name, common)
        for pk, slug, name, common in m.Organism.objects.values_list("pk", "slug", "name", "common_name")
    }
    tissues = _grouped(m.Dataset.tissues.through.objects.values_list("dataset_id", "tissue__slug"))
    tissue_names = _grouped(m.Dataset.tissues.through.objects.values_list("dataset_id", "tissue__name"))
    cell_types = _grouped(m.Dataset.cell_types.through.objects.values_list("dataset_id", "celltype__name"))
    treatments = _grouped(m.Dataset.treatments.through.objects.values_list("dataset_id", "treatment__name"))
    institutions = _grouped(m.Dataset.institutions.through.objects.values_list("dataset_id", "institution__name"))
    collections = _grouped(m.Collection.datasets.through.objects.values_list("dataset_id", "collection__slug"))
    publications = _grouped(
        (row["dataset_id"], {k.removeprefix("publication__"): v for k, v in row.items() if k != "dataset_id"})
        for row in m.Dataset.publications.through.objects.values(
            "dataset_id",
            "publication__title",
            "publication__authors",
            "publication__year",
            "publication__url",
            "publication__doi__value",
        )
    )
    dois = _grouped(
        (dataset_id, {"doi": value, "group": group})
        for dataset_id, value, group in m.DatasetDOI.objects.values_list("dataset_id", "doi__value", "group")
    )
    views = _grouped(
        (dataset_id, {"id": pk, "name": name})
        for dataset_id, pk, name in m.CuratedView.objects.values_list("dataset_id", "pk", "name")
    )
    volume_counts = dict(m.Volume.objects.values("dataset_id").annotate(n=Count("pk")).values_list("dataset_id", "n"))
    crop_counts = dict(m.Crop.objects.values("dataset_id").annotate(n=Count("pk")).values_list("dataset_id", "n"))
    view_counts = dict(
        m.CuratedView.objects.values("dataset_id").annotate(n=Count("pk")).values_list("dataset_id", "n")
    )

    dataset_fields = [f for f in m.Dataset._meta.concrete_fields if f.name not in SKIPPED_DATASET_FIELDS]
    extra_columns = [
        ("organism", "TEXT"),
        ("organism_name", "TEXT"),
        ("tissues", "TEXT"),
        ("cell_types", "TEXT"),
        ("treatments", "TEXT"),
        ("institutions", "TEXT"),
        ("collections", "TEXT"),
        ("publications", "TEXT"),
        ("dois", "TEXT"),
        ("views", "TEXT"),
        ("organelles", "TEXT"),
        ("organelle_closure", "TEXT"),
        ("search_names", "TEXT"),
        ("volume_count", "INTEGER"),
        ("crop_count", "INTEGER"),
        ("view_count", "INTEGER"),
        ("has_crops", "INTEGER"),
        ("coarsest_voxel_nm", "REAL"),
    ]
    dataset_columns = [("id", "INTEGER PRIMARY KEY"), ("slug", "TEXT NOT NULL UNIQUE")]
    dataset_columns += [(f.column, _sqlite_type(f)) for f in dataset_fields if f.name != "slug"]
    dataset_columns += extra_columns
    dataset_rows = []
    for row in m.Dataset.objects.order_by("pk").values("pk", "organism_id", *(f.attname for f in dataset_fields)):
        pk = row["pk"]
        organism = organisms.get(row["organism_id"], (None, None, None))
        voxels = [row[axis] for axis in ("voxel_size_x", "voxel_size_y", "voxel_size_z") if row[axis] is not None]
        classes = annotated.get(pk, set())
        closure = _with_groups(classes, groups)
        names = [
            re.sub(r"[_-]+", " ", row["slug"]),
            *(name for name in organism[1:] if name),
            *tissue_names.get(pk, []),
            *cell_types.get(pk, []),
            *treatments.get(pk, []),
            *sorted(class_words[c] for c in closure),
        ]
        values: dict[str, Any] = {"id": pk, "slug": row["slug"]}
        values.update({f.column: _sqlite_value(row[f.attname]) for f in dataset_fields if f.name != "slug"})
        values.update(
            organism=organism[0],
            organism_name=organism[1],
            tissues=json.dumps(sorted(tissues.get(pk, []))),
            cell_types=json.dumps(sorted(cell_types.get(pk, []))),
            treatments=json.dumps(sorted(treatments.get(pk, []))),
            institutions=json.dumps(sorted(institutions.get(pk, []))),
            collections=json.dumps(sorted(collections.get(pk, []))),
            publications=json.dumps(publications.get(pk, []), default=str),
            dois=json.dumps(dois.get(pk, [])),
            views=json.dumps(views.get(pk, [])),
            organelles=json.dumps(_names(classes, class_names)),
            organelle_closure=json.dumps(_names(closure, class_names)),
            search_names=" ".join(names),
            volume_count=volume_counts.get(pk, 0),
            crop_count=crop_counts.get(pk, 0),
            view_count=view_counts.get(pk, 0),
            has_crops=int(crop_counts.get(pk, 0) > 0),
            coarsest_voxel_nm=max(voxels) if voxels else None,
        )
        dataset_rows.append([values[name] for name, _ in dataset_columns])

    dataset_slugs = dict(m.Dataset.objects.values_list("pk", "slug"))
    crop_fields = [f for f in m.Crop._meta.concrete_fields if f.name not in SKIPPED_CROP_FIELDS]
    crop_columns = [("number", "INTEGER PRIMARY KEY"), ("dataset", "TEXT NOT NULL")]
    crop_columns += [(f.column, _sqlite_type(f)) for f in crop_fields]
    crop_columns += [("label_classes", "TEXT"), ("label_class_closure", "TEXT")]
    crop_rows = []
    for crop in crops:
        classes = crop_classes.get(crop["id"], [])
        crop_rows.append(
            [crop["number"], dataset_slugs[crop["dataset_id"]]]
            + [_sqlite_value(crop[f.attname]) for f in crop_fields]
            + [json.dumps(_names(classes, class_names)), json.dumps(_names(_with_groups(classes, groups), class_names))]
        )

    members = _grouped(member_links)
    class_rows = [
        [name, label_id, long_name, description, json.dumps(_names(members.get(pk, []), class_names))]
        for pk, name, label_id, long_name, description in m.LabelClass.objects.order_by("pk").values_list(
            "pk", "name", "label_id", "long_name", "description"
        )
    ]

    counts = write_export(
        path,
        datasets=(dataset_columns, dataset_rows),
        crops=(crop_columns, crop_rows),
        label_classes=(
            [
                ("name", "TEXT PRIMARY KEY"),
                ("label_id", "INTEGER"),
                ("long_name", "TEXT"),
                ("description", "TEXT"),
                ("members", "TEXT"),
            ],
            class_rows,
        ),
    )
    return ExportResult(path=path, counts=counts, seconds=time.perf_counter() - started)


Table = tuple[list[tuple[str, str]], list[list[Any]]]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_export(path: Path, *, datasets: Table, crops: Table, label_classes: Table) -> dict[str, int]:
    """Create the SQLite file from column definitions and rows: tables, FTS5, indexes, statistics.

    Written to a temporary file and renamed, so a failed export leaves no half-written database.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    connection = sqlite3.connect(partial)
    try:
        counts: dict[str, int] = {}
        for table, (columns, rows) in (("datasets", datasets), ("crops", crops), ("label_classes", label_classes)):
            definition = ", ".join(f"{_quote(name)} {kind}" for name, kind in columns)
            connection.execute(f"CREATE TABLE {_quote(table)} ({definition})")
            placeholders = ", ".join("?" * len(columns))
            connection.executemany(f"INSERT INTO {_quote(table)} VALUES ({placeholders})", rows)
            counts[table] = len(rows)
        fts_columns = ", ".join(_quote(c) for c in FTS_COLUMNS)
        connection.execute(
            f"CREATE VIRTUAL TABLE datasets_fts USING fts5({fts_columns}, "
            'content="datasets", content_rowid="id", tokenize=\'porter unicode61\')'
        )
        connection.execute("INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')")
        view_columns = ", ".join(_quote(c) for c in FACET_VIEW_COLUMNS)
        connection.execute(f"CREATE VIEW {_quote(FACET_VIEW)} AS SELECT {view_columns} FROM datasets")
        for column in DATASET_INDEXES:
            connection.execute(f"CREATE INDEX {_quote('datasets_' + column)} ON datasets ({_quote(column)})")
        for column in CROP_INDEXES:
            connection.execute(f"CREATE INDEX {_quote('crops_' + column)} ON crops ({_quote(column)})")
        connection.execute("ANALYZE")
        connection.commit()
        connection.execute("VACUUM")
    finally:
        connection.close()
    partial.replace(path)
    metadata = {"databases": {DATABASE_NAME: {"tables": {FACET_VIEW: {"fts_table": "datasets_fts", "fts_pk": "id"}}}}}
    path.with_name(METADATA_NAME).write_text(json.dumps(metadata, indent=2) + "\n")
    return counts
