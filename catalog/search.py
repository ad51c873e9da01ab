"""Full-text search over datasets, through the narrow index table ``DatasetSearch``.

The index row of a dataset holds three weighted texts: A title and slug, B description, C
organism, tissue, cell type, treatment and class names. A search joins it to the datasets by
key, so counting and ranking the matches never reads the wide dataset rows.

- PostgreSQL: a ``tsvector`` with a GIN index, matched with ``websearch_to_tsquery`` and ranked
  with ``ts_rank`` (weights A 1.0, B 0.4, C 0.2) of the query's words as alternatives
  (``Rank``). The list, search and facets read the same matches and ranks from the vectors
  held in memory per catalog version (``catalog.search_index``), so that a search does not
  rank every match in SQL.
- SQLite: an FTS5 table with Porter stemming, matched with the same query turned into FTS5
  syntax (``fts5_query``) and ranked with ``bm25`` under the same column weights.

Both read the same web-search syntax (words, "quoted phrases", ``or``, ``-excluded``) and
forgive typos the same way: when the words match no dataset as written, each word the
vocabulary (``SearchWord``: class, organism, tissue, cell type and treatment names, titles and
slugs) does not know is replaced by its most similar vocabulary word by trigram similarity
(pg_trgm's on PostgreSQL, the same measure computed here on SQLite), so that ``mitochondira``
still finds mitochondria; a good query never pays for this.

The index is derived data, kept current by ``catalog.indexing`` on every commit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import F, FloatField, Func, QuerySet, Value
from django.db.models.fields import BooleanField
from django.db.models.functions import Length

from catalog import search_index
from catalog.indexing import MIN_WORD, words
from catalog.models import Dataset, DatasetSearch, SearchWord

MIN_SIMILARITY = 0.4
"""A suggestion must be at least this similar (shared trigrams over all trigrams of both words)."""
FTS5_WEIGHTS = (0.0, 1.0, 0.4, 0.2)
"""bm25 weights of the FTS5 columns (dataset_id, primary_text, description, names): the weights
``ts_rank`` gives the A, B and C labels by default."""

TSQUERY_OPERATORS = r" (&|<->|<[0-9]+>) "
"""The binary operators of a tsquery's text form but OR (lexemes are quoted and hold no blank)."""

_TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass
class ParsedQuery:
    """A websearch-style query: every group must match (a group is words joined by ``or``)."""

    groups: list[list[str]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def terms(self) -> list[str]:
        return [term for group in self.groups for term in group]


def parse_query(text: str) -> ParsedQuery:
    """Split ``text`` the way ``websearch_to_tsquery`` reads it: words, "phrases", or, -word."""
    parsed = ParsedQuery()
    join_next = False
    for match in _TOKEN_RE.finditer(text):
        negated, phrase, word = match.group(1), match.group(2), match.group(3)
        if word is not None:
            if word.lower() == "or" and parsed.groups:
                join_next = True
                continue
            negated = "-" if word.startswith("-") else ""
            term = word.lstrip("-")
        else:
            term = phrase
        term = term.strip()
        if not term:
            continue
        if negated:
            parsed.excluded.append(term)
        elif join_next:
            parsed.groups[-1].append(term)
        else:
            parsed.groups.append([term])
        join_next = False
    return parsed


def fts5_query(text: str) -> str:
    """``text`` in FTS5's query syntax: each term a quoted phrase of its words, the terms of a
    group joined by OR, the groups by AND, excluded terms after NOT. Blank when nothing is left."""
    parsed = parse_query(text)

    def phrase(term: str) -> str:
        found = words(term)
        return f'"{" ".join(found)}"' if found else ""

    groups = []
    for group in parsed.groups:
        phrases = [p for p in (phrase(term) for term in group) if p]
        if phrases:
            groups.append(f"({' OR '.join(phrases)})")
    if not groups:
        return ""
    query = " AND ".join(groups)
    excluded = [p for p in (phrase(term) for term in parsed.excluded) if p]
    return f"({query}) NOT ({' OR '.join(excluded)})" if excluded else query


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


class _IndexExpression(Func):
    """An expression over the joined ``DatasetSearch`` row (``search_index__vector``) and the
    query text, written per database."""

    def __init__(self, column: Any, text: str, **kwargs: Any) -> None:
        super().__init__(column, **kwargs)
        self.text = text

    def _table(self, connection: Any) -> str:
        """SQLite: the FTS5 table's hidden column, under the alias of the joined row."""
        column = self.source_expressions[0]
        return f"{connection.ops.quote_name(column.alias)}.{connection.ops.quote_name(DatasetSearch._meta.db_table)}"


class Matches(_IndexExpression):
    """True when the dataset's index row matches the query (through the GIN or FTS5 index)."""

    output_field = BooleanField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"{column} @@ websearch_to_tsquery(%s::regconfig, %s)", [*params, settings.SEARCH_CONFIG, self.text]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return f"{self._table(connection)} MATCH %s", [fts5_query(self.text)]


class Rank(_IndexExpression):
    """Relevance of the match, higher is better: on PostgreSQL ``ts_rank`` of the query's words
    as alternatives (every operator read as ``|``: each word scores its weighted positions, and
    the scores are averaged), as ``catalog.search_index`` ranks in memory; on SQLite ``-bm25``
    (bm25 is lower-better). Not ``ts_rank`` of the query itself: for words joined by AND it
    weighs every pair of their positions, which costs what the words' positions multiplied
    cost in every matching dataset."""

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = compiler.compile(self.source_expressions[0])
        alternatives = "regexp_replace(websearch_to_tsquery(%s::regconfig, %s)::text, %s, ' | ', 'g')::tsquery"
        return f"ts_rank({column}, {alternatives})", [*params, settings.SEARCH_CONFIG, self.text, TSQUERY_OPERATORS]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        weights = ", ".join(str(weight) for weight in FTS5_WEIGHTS)
        return f"-bm25({self._table(connection)}, {weights})", []


def search_datasets(queryset: QuerySet[Dataset], text: str, *, query_text: str | None = None) -> QuerySet[Dataset]:
    """Datasets of ``queryset`` matching ``text``, annotated with ``search_rank``, best first.

    The words are matched as written or, when no dataset matches them, spelling-corrected
    (``corrected_query``; pass ``query_text`` if already computed).
    """
    query = corrected_query(text) if query_text is None else query_text
    if not is_postgresql() and not fts5_query(query):
        return queryset.none().annotate(search_rank=Value(0.0, output_field=FloatField()))
    column = F("search_index__vector")
    return _matching(queryset, query).annotate(search_rank=Rank(column, query)).order_by("-search_rank", "slug")


@dataclass(frozen=True)
class SearchHits:
    """Every dataset matching a query: ids, and their relevance when ranked."""

    ids: np.ndarray
    ranks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


def _read_columns(matching: QuerySet, dtypes: tuple[type, ...]) -> list[np.ndarray]:
    """The query's columns as arrays. Thousands of rows: PostgreSQL joins each column into one
    text value (one row to transfer and parse, not one tuple per match)."""
    sql, params = matching.query.sql_with_params()
    with connection.cursor() as cursor:
        if is_postgresql():
            names = [f"c{n}" for n in range(len(dtypes))]
            joined = ", ".join(f"string_agg({name}::text, ',')" for name in names)
            cursor.execute(f"SELECT {joined} FROM ({sql}) AS m({', '.join(names)})", params)
            texts = cursor.fetchone()
            return [
                np.array(text.split(",") if text else [], dtype=dtype)
                for text, dtype in zip(texts, dtypes, strict=True)
            ]
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        return [np.array([row[n] for row in rows], dtype=dtype) for n, dtype in enumerate(dtypes)]


def ranked_matches(query: str) -> SearchHits:
    """Every dataset matching ``query`` (already corrected) with its relevance: on PostgreSQL
    from the in-memory search index (``catalog.search_index``), a phrase from the narrow index
    table; on SQLite from FTS5."""
    if is_postgresql():
        found = search_index.find(query, ranked=True)
        if found is not None:
            return SearchHits(*found)
    elif not fts5_query(query):
        return SearchHits(np.array([], dtype=np.int64), np.array([], dtype=np.float64))
    column = F("vector")
    matching = (
        DatasetSearch.objects.filter(Matches(column, query))
        .annotate(rank=Rank(column, query))
        .values_list("dataset_id", "rank")
    )
    ids, ranks = _read_columns(matching, (np.int64, np.float64))
    return SearchHits(ids, ranks)


def matching_ids(query: str) -> SearchHits:
    """Every dataset matching ``query`` (already corrected), unranked, as ``ranked_matches``
    finds them."""
    if is_postgresql():
        found = search_index.find(query, ranked=False)
        if found is not None:
            return SearchHits(found[0])
    elif not fts5_query(query):
        return SearchHits(np.array([], dtype=np.int64))
    matching = DatasetSearch.objects.filter(Matches(F("vector"), query)).values_list("dataset_id")
    return SearchHits(*_read_columns(matching, (np.int64,)))


def _matching(queryset: QuerySet[Dataset], query: str) -> QuerySet[Dataset]:
    # The lookup on the key makes the join to the index row an inner join, which SQLite's FTS5
    # needs (MATCH drives the join) and which lets PostgreSQL start from the index.
    return queryset.filter(Matches(F("search_index__vector"), query), search_index__isnull=False)


def _any_match(text: str) -> bool:
    if not is_postgresql() and not fts5_query(text):
        return False
    return _matching(Dataset.objects.all(), text).exists()


def corrected_query(text: str) -> str:
    """``text`` itself when some dataset matches it; otherwise ``text`` with each word the
    vocabulary does not know replaced by the vocabulary word most similar to it, so that
    ``mitochondira`` searches for ``mitochondria``."""
    parsed = parse_query(text)
    if not parsed.groups or _any_match(text):
        return text
    candidates = {word for term in parsed.terms for word in words(term) if len(word) >= MIN_WORD}
    known = set(SearchWord.objects.filter(word__in=candidates).values_list("word", flat=True))
    unknown = sorted(candidates - known)
    if not unknown:
        return text
    corrections = _suggestions_postgresql(unknown) if is_postgresql() else _suggestions_sqlite(unknown)

    def correct(term: str) -> str:
        fixed = " ".join(corrections.get(word, word) for word in words(term))
        return f'"{fixed}"' if " " in fixed else fixed

    groups = [" or ".join(correct(term) for term in group) for group in parsed.groups]
    return " ".join([*groups, *(f"-{correct(term)}" for term in parsed.excluded)])


def _suggestions_postgresql(unknown: list[str]) -> dict[str, str]:
    """The best vocabulary word per unknown word, found through the trigram GIN index."""
    table = connection.ops.quote_name(SearchWord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT ON (term) term, word FROM unnest(%s::text[]) AS term JOIN {table} ON word %% term"
            " WHERE similarity(word, term) >= %s ORDER BY term, similarity(word, term) DESC, word",
            [unknown, MIN_SIMILARITY],
        )
        return dict(cursor.fetchall())


def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one lower-case word: padded with two blanks before, one after."""
    padded = f"  {word} "
    return {padded[start : start + 3] for start in range(len(padded) - 2)}


def similarity(first: str, second: str) -> float:
    """pg_trgm's ``similarity`` of two words: shared trigrams over all trigrams of both."""
    a, b = trigrams(first), trigrams(second)
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def _suggestions_sqlite(unknown: list[str]) -> dict[str, str]:
    """The best vocabulary word per unknown word, by the same similarity as pg_trgm's. A word
    of n letters has n + 1 trigrams, so only lengths whose trigram counts are within a factor
    of MIN_SIMILARITY of each other can be similar enough: the others are never read."""
    corrections: dict[str, str] = {}
    for term in unknown:
        trigram_count = len(term) + 1
        shortest = math.ceil(MIN_SIMILARITY * trigram_count) - 1
        longest = math.floor(trigram_count / MIN_SIMILARITY) - 1
        nearby = (
            SearchWord.objects.alias(length=Length("word"))
            .filter(length__gte=shortest, length__lte=longest)
            .values_list("word", flat=True)
        )
        scored = [(similarity(term, word), word) for word in nearby]
        good = [(score, word) for score, word in scored if score >= MIN_SIMILARITY]
        if good:
            corrections[term] = min(good, key=lambda item: (-item[0], item[1]))[1]
    return corrections
