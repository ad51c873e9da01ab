"""The catalog's search vectors in memory, one copy per catalog version (PostgreSQL).

Why: ranking in SQL ran ``ts_rank`` over every match, and a common word matches most of the
catalog, so a search cost grew with the catalog. Here the stored ``tsvector`` of every dataset
is read once per catalog version (at warm-up, ``catalog.tasks.warm_indexes_task``) into
postings arrays; a query is then matched and ranked with numpy, in time that grows with the
postings of its own words.

The ranks are PostgreSQL's own ``ts_rank`` (default weights D 0.1, C 0.2, B 0.4, A 1.0, no
normalisation) of the query's words taken as alternatives (``catalog.search.Rank``): each word
scores its weighted positions, the scores are averaged over the words. It is computed by the
arithmetic of ``calc_rank_or`` in PostgreSQL's ``tsrank.c``, step by step in single precision as
the C code rounds it, so that a rank here equals the ``real`` that SQL returns and both paths
order ties alike. PostgreSQL still reads the words (``websearch_to_tsquery``: its parser,
stemmer and stop words) in one query that reads no table. A query with a phrase (quoted words,
or a hyphenated word, which PostgreSQL reads as a phrase) returns None: SQL matches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection

from catalog.freshness import versioned_index
from catalog.models import DatasetSearch

LABEL_WEIGHTS = np.array([0.1, 0.2, 0.4, 1.0], dtype=np.float32)
"""``ts_rank``'s default weight of the labels D, C, B and A: the single-precision constants of tsrank.c."""
_LABEL_CODES = np.zeros(256, dtype=np.uint8)
_LABEL_CODES[[ord(label) for label in "DCBA"]] = [0, 1, 2, 3]

Node = tuple[str, Any]
"""A parsed tsquery: ("word", lexeme), ("not", node), ("and", [nodes]) or ("or", [nodes])."""


@dataclass(frozen=True)
class SearchIndex:
    """Every lexeme's postings. An entry is one lexeme in one dataset; an occurrence is one
    position of it. Entries are grouped by lexeme (``entry_start``) and ascend by dataset;
    occurrences are grouped by entry (``entry_occ``) in position order, as their labels."""

    ids: np.ndarray  # the ids of the datasets with a search vector, ascending
    slots: dict[str, int]  # lexeme -> its slot
    entry_start: np.ndarray  # slot -> its entries: entry_start[slot]:entry_start[slot + 1]
    entry_doc: np.ndarray  # entry -> position of its dataset in ``ids``
    entry_occ: np.ndarray  # entry -> its occurrences: entry_occ[entry]:entry_occ[entry + 1]
    occ_label: np.ndarray  # occurrence -> its weight label, 0 (D) to 3 (A)

    def entries(self, lexeme: str) -> slice:
        """The entries of ``lexeme`` (none when no dataset holds it)."""
        slot = self.slots.get(lexeme)
        if slot is None:
            return slice(0, 0)
        return slice(int(self.entry_start[slot]), int(self.entry_start[slot + 1]))

    def holding(self, lexeme: str) -> np.ndarray:
        """Which datasets hold ``lexeme``, as a boolean per dataset."""
        found = np.zeros(len(self.ids), dtype=bool)
        found[self.entry_doc[self.entries(lexeme)]] = True
        return found

    def shares(self, lexeme: str) -> tuple[np.ndarray, np.ndarray]:
        """The datasets holding ``lexeme`` and what ``calc_rank_or`` adds for it in each."""
        entries = self.entries(lexeme)
        first, last = self.entry_occ[entries.start], self.entry_occ[entries.stop]
        bounds = self.entry_occ[entries.start : entries.stop + 1] - first
        return self.entry_doc[entries], _or_shares(LABEL_WEIGHTS[self.occ_label[first:last]], bounds)


def search_index() -> SearchIndex:
    """The search index of the current catalog version (PostgreSQL only)."""
    return versioned_index("search-index", build_search_index)


def build_search_index() -> SearchIndex:
    """Read every stored vector in one statement (one snapshot): a row per lexeme with its
    datasets, their position counts and the weight labels of the positions (in position
    order, which is all ``calc_rank_or`` reads of them) as joined text, and a last row,
    without a lexeme, of every dataset with a vector. About 3 s at 10,000 datasets."""
    table = connection.ops.quote_name(DatasetSearch._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.lexeme, string_agg(s.dataset_id::text, ','),"
            " string_agg(array_length(u.positions, 1)::text, ','), string_agg(array_to_string(u.weights, ''), '')"
            f" FROM {table} AS s CROSS JOIN LATERAL unnest(s.vector) AS u GROUP BY u.lexeme"
            f" UNION ALL SELECT NULL, string_agg(dataset_id::text, ','), NULL, NULL FROM {table}"
            " WHERE vector IS NOT NULL"
        )
        rows = cursor.fetchall()
    postings = [row for row in rows if row[0] is not None]
    ids = np.unique(_numbers(next(row[1] for row in rows if row[0] is None)))
    per_lexeme = np.array([row[1].count(",") + 1 for row in postings], dtype=np.int64)
    doc = np.searchsorted(ids, _numbers(",".join(row[1] for row in postings))).astype(np.int32)
    counts = _numbers(",".join(row[2] for row in postings))
    label = _LABEL_CODES[np.frombuffer("".join(row[3] for row in postings).encode("ascii"), dtype=np.uint8)]
    if counts.sum() != len(label):
        raise ValueError("a search vector without positions: the index needs the positions to_tsvector writes")
    # Entries ascend by dataset within each lexeme; occurrences follow their entries.
    order = np.lexsort((doc, np.repeat(np.arange(len(postings)), per_lexeme)))
    entry_occ = np.r_[0, np.cumsum(counts[order])]
    taken = np.repeat((np.cumsum(counts) - counts)[order], counts[order]) + _ordinals(entry_occ)
    return SearchIndex(
        ids=ids,
        slots={row[0]: n for n, row in enumerate(postings)},
        entry_start=np.r_[0, np.cumsum(per_lexeme)],
        entry_doc=doc[order],
        entry_occ=entry_occ,
        occ_label=label[taken],
    )


def _numbers(text: str | None) -> np.ndarray:
    return np.array(text.split(",") if text else [], dtype=np.int64)


def _ordinals(entry_occ: np.ndarray) -> np.ndarray:
    """Each occurrence's place within its entry (0, 1, ...)."""
    counts = np.diff(entry_occ)
    return np.arange(entry_occ[-1]) - np.repeat(entry_occ[:-1], counts)


def _or_shares(weight: np.ndarray, entry_occ: np.ndarray) -> np.ndarray:
    """What ``calc_rank_or`` adds to a rank for each entry, as the C code computes it: ``resj``
    sums w / (j + 1)^2 over the positions in single precision, ``wjm`` is the first largest
    weight, at ``jm``; the share is (wjm + resj - wjm / (jm + 1)^2) / 1.64493406685 in double."""
    entries = len(entry_occ) - 1
    if not entries:
        return np.zeros(0, dtype=np.float64)
    counts = np.diff(entry_occ)
    ordinal = _ordinals(entry_occ)
    squares = ((ordinal + 1) ** 2).astype(np.float32)
    term = weight / squares
    resj = np.zeros(entries, dtype=np.float32)
    for j in range(int(counts.max())):  # in order, as the C loop adds them
        longer = np.flatnonzero(counts > j)
        resj[longer] += term[entry_occ[longer] + j]
    wjm = np.maximum.reduceat(weight, entry_occ[:-1])
    first_largest = np.where(weight == np.repeat(wjm, counts), ordinal, np.iinfo(np.int64).max)
    jm = np.minimum.reduceat(first_largest, entry_occ[:-1])
    inner = (wjm + resj) - wjm / ((jm + 1) ** 2).astype(np.float32)
    return inner.astype(np.float64) / 1.64493406685


# Queries ------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:'((?:[^'\\]|''|\\.)*)'(:[*A-Da-d]+)?|(<(?:\d+|-)>)|([&|!()]))")


def parse_tsquery(text: str) -> Node | None:
    """A tsquery's text form (``'a' & ( 'b' | !'c' )``) as a tree; None when it holds what this
    index does not evaluate (phrases, prefixes, weight labels)."""
    tokens: list[tuple[str, str]] = []
    end = 0
    for match in _TOKEN.finditer(text):
        if match.start() != end:
            raise ValueError(f"unreadable tsquery at {end}: {text!r}")
        end = match.end()
        word, suffix, phrase, operator = match.groups()
        if suffix or phrase:
            return None
        if word is not None:
            tokens.append(("word", word.replace("''", "'").replace("\\\\", "\\")))
        else:
            tokens.append(("op", operator))
    if text[end:].strip() or not tokens:
        raise ValueError(f"unreadable tsquery at {end}: {text!r}")
    node, rest = _parse_or(tokens)
    if rest:
        raise ValueError(f"unreadable tsquery: {text!r}")
    return node


def _parse_or(tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
    return _parse_joined(tokens, "|", "or", _parse_and)


def _parse_and(tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
    return _parse_joined(tokens, "&", "and", _parse_unary)


def _parse_joined(tokens: list[tuple[str, str]], symbol: str, kind: str, operand: Any) -> tuple[Node, list]:
    first, rest = operand(tokens)
    parts = [first]
    while rest and rest[0] == ("op", symbol):
        part, rest = operand(rest[1:])
        parts.append(part)
    return (parts[0] if len(parts) == 1 else (kind, parts)), rest


def _parse_unary(tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
    if not tokens:
        raise ValueError("a tsquery ended where a word was expected")
    head, rest = tokens[0], tokens[1:]
    if head == ("op", "!"):
        node, rest = _parse_unary(rest)
        return ("not", node), rest
    if head == ("op", "("):
        node, rest = _parse_or(rest)
        if not rest or rest[0] != ("op", ")"):
            raise ValueError("a tsquery's parenthesis is not closed")
        return node, rest[1:]
    if head[0] != "word":
        raise ValueError(f"a tsquery has {head[1]!r} where a word was expected")
    return head, rest


def _lexemes(node: Node) -> list[str]:
    kind, value = node
    if kind == "word":
        return [value]
    if kind == "not":
        return _lexemes(value)
    return [lexeme for part in value for lexeme in _lexemes(part)]


def _matching(index: SearchIndex, node: Node) -> np.ndarray:
    kind, value = node
    if kind == "word":
        return index.holding(value)
    if kind == "not":
        return ~_matching(index, value)
    parts = [_matching(index, part) for part in value]
    return np.logical_and.reduce(parts) if kind == "and" else np.logical_or.reduce(parts)


def tsquery_text(text: str) -> str:
    """PostgreSQL's reading of web-search text, as a tsquery's text form."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT websearch_to_tsquery(%s::regconfig, %s)::text", [settings.SEARCH_CONFIG, text])
        return cursor.fetchone()[0]


def find(text: str, *, ranked: bool) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The ids of the datasets matching web-search ``text``, ascending, and their ``ts_rank``
    (single precision, as PostgreSQL's ``real``) if ``ranked``; None when the query holds a
    phrase, which SQL matches."""
    query = tsquery_text(text)
    if not query.strip():  # only stop words: PostgreSQL matches nothing
        return np.zeros(0, dtype=np.int64), (np.zeros(0, dtype=np.float32) if ranked else None)
    node = parse_tsquery(query)
    if node is None:
        return None
    index = search_index()
    docs = np.flatnonzero(_matching(index, node))
    return index.ids[docs], (rank(index, node, docs) if ranked else None)


def rank(index: SearchIndex, node: Node, docs: np.ndarray) -> np.ndarray:
    """The rank of each dataset of ``docs`` (positions in ``index.ids``): ``ts_rank`` of the
    query's distinct words as alternatives (tsrank.c's ``calc_rank_or``), words in the order
    tsrank.c sorts them (bytewise); ``catalog.search.Rank`` ranks SQL's matches the same way."""
    items = sorted(set(_lexemes(node)), key=lambda lexeme: lexeme.encode())
    return _or_ranks(index, items, docs)


def _or_ranks(index: SearchIndex, items: list[str], docs: np.ndarray) -> np.ndarray:
    """Each word's share added in single precision, in word order, then divided by the count."""
    total = np.zeros(len(index.ids), dtype=np.float32)
    for lexeme in items:
        held, shares = index.shares(lexeme)
        total[held] = (total[held].astype(np.float64) + shares).astype(np.float32)
    return total[docs] / np.float32(len(items))
