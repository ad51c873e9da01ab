"""Full-text search over datasets.

PostgreSQL: a weighted ``tsvector`` stored on each dataset (A: title and slug, B: description,
C: organism, tissue, cell type and organelle names) matched through its GIN index with
``websearch_to_tsquery`` and ranked with ``ts_rank``. When the words match no dataset as
written, each word the catalog does not know is replaced by the most similar catalog word
(pg_trgm trigram similarity over the vocabulary and titles), so that ``mitochondira`` still
finds mitochondria; a good query never pays for this. SQLite: the same query syntax (words,
"quoted phrases", ``or``, ``-excluded``) matched case-insensitively against the same texts
(``search_text``), with a rank that weighs the same fields the same way, and no spelling
correction. Both return the queryset annotated with ``search_rank`` and ordered by it.

The stored fields are derived data, kept current by ``catalog.indexing`` on every commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, F, FloatField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from catalog import freshness
from catalog.models import CellType, Dataset, LabelClass, Organism, Tissue, Treatment

# Spelling correction: words shorter than this are left alone, and a suggestion must be at
# least this similar (pg_trgm similarity: shared trigrams over all trigrams of both words).
MIN_WORD = 4
MIN_SIMILARITY = 0.4
# Datasets written per UPDATE when the index is refreshed.
BATCH = 500
# The rank weights that PostgreSQL's ts_rank gives the A, B and C labels by default.
SQLITE_FIELD_WEIGHTS = (("title", 1.0), ("slug", 1.0), ("description", 0.4), ("search_text", 0.2))
_WORD_RE = re.compile(r"[^\W_]+")
_TOKEN_WORD_RE = re.compile(r"\S+")

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


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def search_datasets(queryset: QuerySet[Dataset], text: str, *, query_text: str | None = None) -> QuerySet[Dataset]:
    """Datasets of ``queryset`` matching ``text``, annotated with ``search_rank``, best first.

    On PostgreSQL the words go through the GIN index as written, or, when no dataset matches
    them, spelling-corrected (``corrected_query``; pass ``query_text`` if already computed).
    """
    parsed = parse_query(text)
    if not is_postgresql():
        return _search_sqlite(queryset, parsed)
    query = _tsquery(corrected_query(text) if query_text is None else query_text)
    rank = Coalesce(SearchRank(F("search_vector"), query), Value(0.0))
    return queryset.filter(search_vector=query).annotate(search_rank=rank).order_by("-search_rank", "slug")


def _tsquery(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config=settings.SEARCH_CONFIG)


def corrected_query(text: str) -> str:
    """``text`` itself when some dataset matches it; otherwise ``text`` with each word the
    catalog does not know replaced by the catalog word most similar to it (pg_trgm trigram
    similarity), so that ``mitochondira`` searches for ``mitochondria``. SQLite: ``text``."""
    parsed = parse_query(text)
    if not is_postgresql() or not parsed.groups:
        return text
    if Dataset.objects.filter(search_vector=_tsquery(text)).exists():
        return text
    known = set(search_lexicon())
    unknown = sorted(
        {word for term in parsed.terms for word in _words(term) if len(word) >= MIN_WORD and word not in known}
    )
    if not unknown:
        return text
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (term) term, word FROM unnest(%s::text[]) AS term CROSS JOIN unnest(%s::text[]) AS word"
            " WHERE similarity(word, term) >= %s ORDER BY term, similarity(word, term) DESC, word",
            [unknown, sorted(known), MIN_SIMILARITY],
        )
        corrections = dict(cursor.fetchall())

    def correct(term: str) -> str:
        fixed = " ".join(corrections.get(word, word) for word in _words(term))
        return f'"{fixed}"' if " " in fixed else fixed

    groups = [" or ".join(correct(term) for term in group) for group in parsed.groups]
    return " ".join([*groups, *(f"-{correct(term)}" for term in parsed.excluded)])


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD_RE.findall(text)]


def search_lexicon() -> list[str]:
    """The words spelling correction can suggest: names of the vocabulary and dataset titles
    and slugs, cached per catalog version."""
    return freshness.cached("search-lexicon", "", _read_lexicon)


def _read_lexicon() -> list[str]:
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
    return sorted({word for text in texts for word in _words(text) if len(word) >= MIN_WORD})


def _term_condition(term: str) -> Q:
    condition = Q(organism__name__icontains=term)
    for name, _weight in SQLITE_FIELD_WEIGHTS:
        condition |= Q(**{f"{name}__icontains": term})
    return condition


def _search_sqlite(queryset: QuerySet[Dataset], parsed: ParsedQuery) -> QuerySet[Dataset]:
    if not parsed.groups:
        return queryset.none().annotate(search_rank=Value(0.0, output_field=FloatField()))
    condition = Q()
    for group in parsed.groups:
        group_condition = Q()
        for term in group:
            group_condition |= _term_condition(term)
        condition &= group_condition
    for term in parsed.excluded:
        condition &= ~_term_condition(term)
    rank = Value(0.0, output_field=FloatField())
    for term in parsed.terms:
        rank = rank + Case(
            *[When(**{f"{name}__icontains": term}, then=Value(weight)) for name, weight in SQLITE_FIELD_WEIGHTS],
            default=Value(0.0),
            output_field=FloatField(),
        )
    return queryset.filter(condition).annotate(search_rank=rank).order_by("-search_rank", "slug")
