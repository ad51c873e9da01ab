"""The distinct-request mix: per endpoint thousands of different requests, each asked once.

Real traffic is mostly distinct (every search word, filter combination and page is new), so a
cache keyed by the request answers almost none of it. The pools here are built from the
catalog's own words and values, read from its SQLite export (``bench.export``), and every
request comes as a ``Twin``: the portal's path and, for the JSON cells of the side-by-side,
the equivalent datasette path (same filters, same search words, same page of the same size).

- Filters and words are drawn from one random dataset (or crop) at a time, so every request
  matches something, like a user's.
- Page numbers stay within the result: exact for filters; for full-text search, where the
  portal's PostgreSQL stemming and SQLite's Porter stemmer may disagree on a word or two,
  only pages below ``PAGE_MARGIN`` of the SQLite count are asked for (page 1 always).
- datasette pages with keyset tokens (``_next``), computed here from the export in the order
  datasette sorts; the portal pages with ``page=N``.

Per-record pools (dataset detail and page) hold every record, shuffled: at 1,000 datasets
that is 1,000 paths; the list pools reach ``MIN_DISTINCT`` and more at either size.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench.export import DATABASE_NAME, FACET_VIEW

PAGE_SIZE = 24
MAX_PAGE = 10
PAGE_MARGIN = 0.75
MIN_DISTINCT = 2_000
DEFAULT_CAP = 6_000
SEED = 11
# A sampler stops when this many draws in a row brought no new path (the catalog has no more).
STALL_DRAWS = 1_000
# How many words a search has: mostly one or two.
SEARCH_WORD_COUNTS = (1, 1, 2, 2, 3)

POOLS = (
    "api-list",
    "api-search",
    "api-facets",
    "api-detail",
    "api-crops",
    "api-crops-present",
    "api-crop-manifest",
    "browse",
    "dataset-page",
)

# PostgreSQL's English stop words of four letters or more (the Snowball list): the portal's
# search ignores them, so they are no search words. Shorter words are never drawn.
_STOP_WORDS_TEXT = (
    "myself ours ourselves your yours yourself yourselves himself hers herself itself they them their "
    "theirs themselves what which whom this that these those were been being have having does doing "
    "because until while about against between into through during before after above below from down "
    "over under again further then once here there when where both each more most other some such only "
    "same than very will just should with "
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
_WORD_RE = re.compile(r"[a-z]+")

# What the portal's list rows show, as datasette columns (datasette adds the primary key).
DATASETTE_LIST_COLUMNS = (
    "slug",
    "title",
    "organism",
    "organism_name",
    "tissues",
    "modality",
    "fixation",
    "voxel_size_x",
    "voxel_size_y",
    "voxel_size_z",
    "release_date",
    "thumbnail_url",
    "volume_count",
    "crop_count",
)
DATASETTE_FACETS = (
    ("_facet", "organism"),
    ("_facet", "modality"),
    ("_facet", "fixation"),
    ("_facet", "has_crops"),
    ("_facet", "coarsest_voxel_nm"),
    ("_facet_array", "tissues"),
    ("_facet_array", "organelle_closure"),
    ("_facet_array", "collections"),
)
# Portal filter parameter -> datasette filter parameter.
DATASETTE_FILTERS = {
    "organism": "organism",
    "tissue": "tissues__arraycontains",
    "organelle": "organelle_closure__arraycontains",
    "modality": "modality",
    "fixation": "fixation",
    "has_crops": "has_crops",
    "q": "_search",
}
# Dataset list orderings: portal ``ordering`` ("" is its default, slug) -> datasette sort.
LIST_ORDERINGS = (("", "_sort", "slug"), ("title", "_sort", "title"), ("-release_date", "_sort_desc", "release_date"))
# Crop orderings: portal ``ordering`` ("" is its default, number) -> datasette sort parameter.
CROP_ORDERINGS = (("", None), ("-number", "_sort_desc"))
SHARE_ORDERINGS = ("", "-share", "share")
SPLITS = (None, "train", "test")
# What a crop must hold of the class: present, or at least this share, or this many voxels.
CONTENT_THRESHOLDS = (
    ("present", "true"),
    *(("min_share", str(share)) for share in (0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)),
    *(("min_voxels", str(voxels)) for voxels in (1, 10, 100, 1_000, 10_000, 100_000)),
)
MANIFEST_PRESENCE = (
    (),
    (("present", "true"),),
    (("present", "false"),),
    (("min_share", "0.01"),),
    (("min_share", "0.1"),),
)


@dataclass(frozen=True)
class Twin:
    """One request of the mix: the portal's path and the equivalent datasette path (or None)."""

    portal: str
    datasette: str | None = None


Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Draft:
    """A request before its query strings are encoded: drawn many times, encoded once."""

    portal_path: str
    portal: Pairs
    datasette_path: str | None = None
    datasette: Pairs = ()

    def twin(self) -> Twin:
        datasette = _query(self.datasette_path, self.datasette) if self.datasette_path else None
        return Twin(_query(self.portal_path, self.portal), datasette)


@dataclass(frozen=True)
class DatasetRow:
    id: int
    slug: str
    title: str
    release_date: str | None
    organism: str | None
    modality: str
    fixation: str
    has_crops: bool
    tissues: tuple[str, ...]
    organelles: tuple[str, ...]
    words: tuple[str, ...]


@dataclass(frozen=True)
class CropRow:
    number: int
    split: str
    classes: tuple[str, ...]


@dataclass
class Snapshot:
    """The export in memory: rows, an inverted index of filter values, and FTS lookups."""

    connection: sqlite3.Connection
    datasets: dict[int, DatasetRow]
    crops: list[CropRow]
    index: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    crop_index: dict[tuple[str, str], list[CropRow]] = field(default_factory=dict)
    _matches: dict[str, set[int]] = field(default_factory=dict)

    def matches(self, text: str) -> set[int]:
        """Ids of the datasets that datasette's ``_search=text`` finds (FTS5, query escaped as it does)."""
        if text not in self._matches:
            from datasette.utils import escape_fts

            rows = self.connection.execute(
                "SELECT rowid FROM datasets_fts WHERE datasets_fts MATCH ?", [escape_fts(text)]
            ).fetchall()
            self._matches[text] = {row[0] for row in rows}
        return self._matches[text]

    def match_count(self, text: str) -> int:
        """How many datasets ``_search=text`` finds (without building the set of them)."""
        from datasette.utils import escape_fts

        query = "SELECT count(*) FROM datasets_fts WHERE datasets_fts MATCH ?"
        return self.connection.execute(query, [escape_fts(text)]).fetchone()[0]

    def match_at(self, text: str, index: int) -> int:
        """The id of the ``index``-th dataset (from 0, by id) that ``_search=text`` finds."""
        from datasette.utils import escape_fts

        query = "SELECT rowid FROM datasets_fts WHERE datasets_fts MATCH ? ORDER BY rowid LIMIT 1 OFFSET ?"
        return self.connection.execute(query, [escape_fts(text), index]).fetchone()[0]

    def members(self, filters: Sequence[tuple[str, str]]) -> set[int]:
        """Ids of the datasets matching every filter (``q`` by full text)."""
        found: set[int] | None = None
        for name, value in filters:
            ids = self.matches(value) if name == "q" else self.index.get((name, value), set())
            found = set(ids) if found is None else found & ids
        return set(self.datasets) if found is None else found


def search_words(text: str) -> tuple[str, ...]:
    """The distinct words of ``text`` a user would search with (4+ letters, no stop words), in order."""
    seen: dict[str, None] = {}
    for word in _WORD_RE.findall(text.lower()):
        if len(word) >= 4 and word not in STOP_WORDS:
            seen.setdefault(word, None)
    return tuple(seen)


def load_snapshot(path: Path) -> Snapshot:
    """Read the export at ``path`` (written by ``bench.export``) into a ``Snapshot``."""
    import json

    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    datasets: dict[int, DatasetRow] = {}
    for row in connection.execute(
        "SELECT id, slug, title, description, release_date, organism, modality, fixation, has_crops, tissues, "
        "organelle_closure FROM datasets"
    ):
        pk, slug, title, description, release_date, organism, modality, fixation, has_crops, tissues, closure = row
        datasets[pk] = DatasetRow(
            id=pk,
            slug=slug,
            title=title or "",
            release_date=release_date,
            organism=organism,
            modality=modality or "",
            fixation=fixation or "",
            has_crops=bool(has_crops),
            tissues=tuple(json.loads(tissues or "[]")),
            organelles=tuple(json.loads(closure or "[]")),
            words=search_words(f"{title or ''} {description or ''}"),
        )
    crops = [
        CropRow(number=number, split=split, classes=tuple(json.loads(closure or "[]")))
        for number, split, closure in connection.execute(
            "SELECT number, split, label_class_closure FROM crops ORDER BY number"
        )
    ]
    snapshot = Snapshot(connection=connection, datasets=datasets, crops=crops)
    for row in datasets.values():
        keys = [("organism", row.organism), ("modality", row.modality), ("fixation", row.fixation)]
        keys.append(("has_crops", "true" if row.has_crops else "false"))
        keys += [("tissue", tissue) for tissue in row.tissues]
        keys += [("organelle", name) for name in row.organelles]
        for key in keys:
            if key[1]:
                snapshot.index.setdefault(key, set()).add(row.id)
    for crop in crops:
        for name in crop.classes:
            snapshot.crop_index.setdefault(("organelle", name), []).append(crop)
    return snapshot


def _pages(count: int, *, exact: bool) -> int:
    """How many pages of ``count`` results may be asked for (at least 1: page 1 is never a 404)."""
    if exact:
        pages = -(-count // PAGE_SIZE)
    else:
        pages = sum(1 for p in range(1, MAX_PAGE + 1) if p == 1 or (p - 1) * PAGE_SIZE < PAGE_MARGIN * count)
    return max(1, min(MAX_PAGE, pages))


def _query(path: str, pairs: Sequence[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _datasette_filters(filters: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    converted = []
    for name, value in filters:
        if name == "has_crops":
            value = "1" if value == "true" else "0"
        converted.append((DATASETTE_FILTERS[name], value))
    return converted


def _token(sort_value: object, pk: int) -> str:
    from datasette.utils import tilde_encode

    return f"{tilde_encode(str(sort_value))},{tilde_encode(str(pk))}"


def _table(name: str) -> str:
    return f"/{DATABASE_NAME}/{name}.json"


def _maybe(rng: random.Random, probability: float) -> bool:
    return rng.random() < probability


class PoolBuilder:
    """Draws the requests of each pool from a ``Snapshot`` with a seeded random generator."""

    def __init__(self, snapshot: Snapshot, *, seed: int = SEED, cap: int = DEFAULT_CAP) -> None:
        self.snapshot = snapshot
        self.rng = random.Random(seed)
        # The crop-content pools draw from their own generator: the other pools stay as they were.
        self.content_rng = random.Random(seed + 1)
        self.cap = cap
        self.rows = sorted(snapshot.datasets.values(), key=lambda row: row.id)
        self.with_organism = [row for row in self.rows if row.organism]
        # Per sort: each dataset's position in datasette's order (rows are sorted by id first,
        # and Python's sort is stable, so ties stay in id order as datasette's tie-breaker has them).
        self._ranks: dict[tuple[str, bool], dict[int, int]] = {}
        self._crop_lists: dict[tuple[str, str | None], list[CropRow]] = {}
        self._search_counts: dict[str, int] = {}
        self._member_sets: dict[tuple[tuple[str, str], ...], set[int]] = {}
        self._orders: dict[tuple[tuple[tuple[str, str], ...], str, bool], list[int]] = {}

    def _sample(self, draw: Callable[[], Draft | None]) -> list[Twin]:
        """Distinct requests from ``draw`` until ``cap`` of them, or until new ones stop coming."""
        found: dict[tuple[str, Pairs], Twin] = {}
        stalled = 0
        while len(found) < self.cap and stalled < STALL_DRAWS:
            draft = draw()
            key = (draft.portal_path, draft.portal) if draft is not None else None
            if key is None or key in found:
                stalled += 1
                continue
            found[key] = draft.twin()
            stalled = 0
        return list(found.values())

    def _members(self, filters: Sequence[tuple[str, str]]) -> set[int]:
        key = tuple(filters)
        if key not in self._member_sets:
            self._member_sets[key] = self.snapshot.members(filters)
        return self._member_sets[key]

    def _ordered(self, filters: Sequence[tuple[str, str]], column: str, descending: bool) -> list[int]:
        """Ids of the datasets matching ``filters`` in datasette's order: ``column`` (ascending or not), then id."""
        key = (tuple(filters), column, descending)
        if key not in self._orders:
            rank_key = (column, descending)
            if rank_key not in self._ranks:
                rows = sorted(self.rows, key=lambda r: getattr(r, column) or "", reverse=descending)
                self._ranks[rank_key] = {row.id: rank for rank, row in enumerate(rows)}
            self._orders[key] = sorted(self._members(filters), key=self._ranks[rank_key].__getitem__)
        return self._orders[key]

    def _crops(self, organelle: str, split: str | None) -> list[CropRow]:
        """Crops with ``organelle`` (and of ``split``), by number."""
        key = (organelle, split)
        if key not in self._crop_lists:
            crops = self.snapshot.crop_index[("organelle", organelle)]
            self._crop_lists[key] = [c for c in crops if split is None or c.split == split]
        return self._crop_lists[key]

    def _row(self, rows: Sequence[DatasetRow] | None = None) -> DatasetRow:
        rows = rows or self.rows
        return rows[self.rng.randrange(len(rows))]

    def _words(self, row: DatasetRow, counts: Sequence[int]) -> str | None:
        """A few of one dataset's words, in a canonical order (one query, one path)."""
        if not row.words:
            return None
        count = min(len(row.words), self.rng.choice(counts))
        return " ".join(sorted(self.rng.sample(row.words, count)))

    def _filters_from(self, row: DatasetRow, probability: float, *, q: float = 0.0) -> list[tuple[str, str]]:
        """Some of one dataset's own values as filters (so the result is never empty)."""
        rng = self.rng
        filters: list[tuple[str, str]] = []
        if row.organism and _maybe(rng, probability):
            filters.append(("organism", row.organism))
        if row.tissues and _maybe(rng, probability):
            filters.append(("tissue", rng.choice(row.tissues)))
        if row.organelles and _maybe(rng, probability):
            filters.append(("organelle", rng.choice(row.organelles)))
        if row.modality and _maybe(rng, probability):
            filters.append(("modality", row.modality))
        if row.fixation and _maybe(rng, probability):
            filters.append(("fixation", row.fixation))
        if _maybe(rng, probability / 2):
            filters.append(("has_crops", "true" if row.has_crops else "false"))
        words = self._words(row, (1,)) if q and _maybe(rng, q) else None
        if words:
            filters.append(("q", words))
        return filters

    # --- the pools -----------------------------------------------------------------------------

    def api_list(self) -> Draft | None:
        """Datasets of one organism, perhaps with more filters, in one of three orders, one page."""
        row = self._row(self.with_organism)
        filters = [("organism", row.organism or "")]
        filters += [f for f in self._filters_from(row, 0.35) if f[0] != "organism"]
        ordering, sort_param, sort_column = self.rng.choice(LIST_ORDERINGS)
        page = self.rng.randint(1, _pages(len(self._members(filters)), exact=True))
        portal = list(filters) + ([("ordering", ordering)] if ordering else [])
        datasette = [*_datasette_filters(filters), (sort_param, sort_column), ("_size", str(PAGE_SIZE))]
        if page > 1:
            ordered = self._ordered(filters, sort_column, sort_param == "_sort_desc")
            last = self.snapshot.datasets[ordered[(page - 1) * PAGE_SIZE - 1]]
            if getattr(last, sort_column) is None:
                return None
            portal.append(("page", str(page)))
            datasette.append(("_next", _token(getattr(last, sort_column), last.id)))
        datasette += [("_col", column) for column in DATASETTE_LIST_COLUMNS] + [("_shape", "objects")]
        return Draft("/api/datasets/", tuple(portal), _table("datasets"), tuple(datasette))

    def api_search(self) -> Draft | None:
        """One to three words of one dataset's title and description, one page."""
        words = self._words(self._row(), SEARCH_WORD_COUNTS)
        if not words:
            return None
        if words not in self._search_counts:
            self._search_counts[words] = self.snapshot.match_count(words)
        page = self.rng.randint(1, _pages(self._search_counts[words], exact=False))
        portal = [("q", words)]
        datasette = [("_search", words), ("_size", str(PAGE_SIZE))]
        if page > 1:
            portal.append(("page", str(page)))
            datasette.append(("_next", str(self.snapshot.match_at(words, (page - 1) * PAGE_SIZE - 1))))
        datasette += [("_col", column) for column in DATASETTE_LIST_COLUMNS] + [("_shape", "objects")]
        return Draft("/api/datasets/", tuple(portal), _table("datasets"), tuple(datasette))

    def api_facets(self) -> Draft | None:
        """Facet counts under a few of one dataset's values, sometimes with a search word."""
        filters = self._filters_from(self._row(), 0.3, q=0.3)
        datasette = [*_datasette_filters(filters), ("_size", "0"), *DATASETTE_FACETS, ("_shape", "objects")]
        return Draft("/api/datasets/facets/", tuple(filters), _table(FACET_VIEW), tuple(datasette))

    def api_crops(self) -> Draft | None:
        """Crops annotated with one class (a group counts its members), perhaps of one split, one page."""
        crop = self.snapshot.crops[self.rng.randrange(len(self.snapshot.crops))]
        if not crop.classes:
            return None
        organelle = self.rng.choice(crop.classes)
        portal = [("organelle", organelle)]
        datasette = [("label_class_closure__arraycontains", organelle)]
        split = crop.split if _maybe(self.rng, 0.4) else None
        members = self._crops(organelle, split)
        if split:
            portal.append(("split", split))
            datasette.append(("split", split))
        ordering, sort_param = self.rng.choice(CROP_ORDERINGS)
        if ordering and sort_param:
            portal.append(("ordering", ordering))
            datasette.append((sort_param, "number"))
        datasette.append(("_size", str(PAGE_SIZE)))
        page = self.rng.randint(1, _pages(len(members), exact=True))
        if page > 1:
            index = (page - 1) * PAGE_SIZE - 1
            last = (members[-1 - index] if ordering else members[index]).number
            portal.append(("page", str(page)))
            datasette.append(("_next", f"{last},{last}" if ordering else str(last)))
        datasette += [("_nocol", "label_class_closure"), ("_shape", "objects")]
        return Draft("/api/crops/", tuple(portal), _table("crops"), tuple(datasette))

    def _crop_class(self) -> str | None:
        crop = self.snapshot.crops[self.content_rng.randrange(len(self.snapshot.crops))]
        return self.content_rng.choice(crop.classes) if crop.classes else None

    def api_crops_present(self) -> Draft | None:
        """Crops holding one of a crop's classes (present, or a minimum share or voxel count),
        perhaps of one split, in some order; the first page (how many match is not exported)."""
        organelle = self._crop_class()
        if organelle is None:
            return None
        portal = [("organelle", organelle), self.content_rng.choice(CONTENT_THRESHOLDS)]
        split = self.content_rng.choice(SPLITS)
        if split:
            portal.append(("split", split))
        ordering = self.content_rng.choice(SHARE_ORDERINGS)
        if ordering:
            portal.append(("ordering", ordering))
        return Draft("/api/crops/", tuple(portal))

    def api_crop_manifest(self) -> Draft | None:
        """The manifest rows of one of a crop's classes, perhaps of one split, by presence."""
        organelle = self._crop_class()
        if organelle is None:
            return None
        portal = [("organelle", organelle), *self.content_rng.choice(MANIFEST_PRESENCE)]
        split = self.content_rng.choice(SPLITS)
        if split:
            portal.append(("split", split))
        ordering = self.content_rng.choice(SHARE_ORDERINGS) if ("present", "false") not in portal else ""
        if ordering:
            portal.append(("ordering", ordering))
        return Draft("/api/crops/manifest.csv", tuple(portal))

    def browse(self) -> Draft | None:
        """The browse page (list and facets) under a few of one dataset's values, one page."""
        filters = self._filters_from(self._row(), 0.3, q=0.3)
        exact = not any(name == "q" for name, _ in filters)
        page = self.rng.randint(1, _pages(len(self._members(filters)), exact=exact))
        return Draft("/datasets/", (*filters, *([("page", str(page))] if page > 1 else [])))

    def build(self) -> dict[str, list[Twin]]:
        rows = list(self.rows)
        self.rng.shuffle(rows)
        rows = rows[: self.cap]
        pools = {
            "api-list": self._sample(self.api_list) if self.with_organism else [],
            "api-search": self._sample(self.api_search),
            "api-facets": self._sample(self.api_facets),
            "api-detail": [
                Twin(f"/api/datasets/{row.slug}/", f"/{DATABASE_NAME}/datasets/{row.id}.json?_shape=objects")
                for row in rows
            ],
            "api-crops": self._sample(self.api_crops) if self.snapshot.crops else [],
            "browse": self._sample(self.browse),
            "dataset-page": [Twin(f"/datasets/{row.slug}/") for row in rows],
        }
        pools["api-crops-present"] = self._sample(self.api_crops_present) if self.snapshot.crops else []
        pools["api-crop-manifest"] = self._sample(self.api_crop_manifest) if self.snapshot.crops else []
        return pools


def build_pools(path: Path, *, seed: int = SEED, cap: int = DEFAULT_CAP) -> dict[str, list[Twin]]:
    """Every pool of the distinct mix (``POOLS``), each at most ``cap`` requests, from the export at ``path``."""
    snapshot = load_snapshot(path)
    try:
        return PoolBuilder(snapshot, seed=seed, cap=cap).build()
    finally:
        snapshot.connection.close()
