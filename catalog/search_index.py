"""The catalog's search vectors in memory, one copy per catalog version (PostgreSQL).

Why: ranking in SQL ran ``ts_rank`` over every match, and a common word matches most of the
catalog, so a search cost grew with the catalog. Here the stored ``tsvector`` of every dataset
is read once per catalog version (at warm-up, ``catalog.tasks.warm_indexes_task``) into
postings arrays; a query is then matched and ranked with numpy, in time that grows with the
postings of its own words.

The ranks are PostgreSQL's own: ``ts_rank`` with its default weights (D 0.1, C 0.2, B 0.4,
A 1.0) and no normalisation, computed by the arithmetic of ``calc_rank_or`` and
``calc_rank_and`` in PostgreSQL's ``tsrank.c``, step by step in single precision as the C code
rounds it, so that a rank here equals the ``real`` that SQL returns and the SQL path and this
one order ties alike. PostgreSQL still reads the words (``websearch_to_tsquery``: its parser,
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

WEIGHT_OF_LABEL = {"D": 0.1, "C": 0.2, "B": 0.4, "A": 1.0}
"""``ts_rank``'s default weight of each label, as the single-precision constants of tsrank.c."""
_WEIGHTS = np.zeros(256, dtype=np.float32)
for _label, _weight in WEIGHT_OF_LABEL.items():
    _WEIGHTS[ord(_label)] = _weight

Node = tuple[str, Any]
"""A parsed tsquery: ("word", lexeme), ("not", node), ("and", [nodes]) or ("or", [nodes])."""


@dataclass(frozen=True)
class SearchIndex:
    """Every lexeme's postings. An entry is one lexeme in one dataset; an occurrence is one
    position of it. Entries are grouped by lexeme (``entry_start``) and ascend by dataset;
    occurrences are grouped by entry (``entry_occ``) and ascend by position."""

    ids: np.ndarray  # the ids of the datasets with a search vector, ascending
    slots: dict[str, int]  # lexeme -> its slot
    entry_start: np.ndarray  # slot -> its entries: entry_start[slot]:entry_start[slot + 1]
    entry_doc: np.ndarray  # entry -> position of its dataset in ``ids``
    entry_share: np.ndarray  # entry -> what calc_rank_or adds for it (double, before rounding)
    entry_occ: np.ndarray  # entry -> its occurrences: entry_occ[entry]:entry_occ[entry + 1]
    occ_position: np.ndarray  # occurrence -> word position in the dataset's text
    occ_weight: np.ndarray  # occurrence -> weight of its label

    def entries(self, lexeme: str) -> np.ndarray:
        """The entries of ``lexeme`` (none when no dataset holds it)."""
        slot = self.slots.get(lexeme)
        if slot is None:
            return np.zeros(0, dtype=np.int64)
        return np.arange(self.entry_start[slot], self.entry_start[slot + 1])

    def holding(self, lexeme: str) -> np.ndarray:
        """Which datasets hold ``lexeme``, as a boolean per dataset."""
        found = np.zeros(len(self.ids), dtype=bool)
        found[self.entry_doc[self.entries(lexeme)]] = True
        return found


def search_index() -> SearchIndex:
    """The search index of the current catalog version (PostgreSQL only)."""
    return versioned_index("search-index", build_search_index)


def build_search_index() -> SearchIndex:
    """Read every stored vector in one statement (one snapshot) as comma-joined columns."""
    table = connection.ops.quote_name(DatasetSearch._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH entry AS MATERIALIZED (
                SELECT s.dataset_id, u.lexeme, u.positions, u.weights
                FROM {table} AS s CROSS JOIN LATERAL unnest(s.vector) AS u
            ), vocabulary AS MATERIALIZED (
                SELECT lexeme, row_number() OVER () - 1 AS slot FROM (SELECT DISTINCT lexeme FROM entry) AS d
            )
            SELECT
                (SELECT string_agg(dataset_id::text, ',') FROM {table} WHERE vector IS NOT NULL),
                (SELECT array_agg(lexeme ORDER BY slot) FROM vocabulary),
                string_agg(v.slot::text, ','), string_agg(e.dataset_id::text, ','),
                string_agg(o.position::text, ','), string_agg(o.weight::text, '')
            FROM entry AS e JOIN vocabulary AS v USING (lexeme)
            CROSS JOIN LATERAL unnest(e.positions, e.weights) AS o(position, weight)
            """
        )
        ids_text, lexemes, slot_text, dataset_text, position_text, weight_text = cursor.fetchone()
    ids = np.unique(_numbers(ids_text))
    slot, position = _numbers(slot_text), _numbers(position_text)
    doc = np.searchsorted(ids, _numbers(dataset_text))
    weight = _WEIGHTS[np.frombuffer((weight_text or "").encode("ascii"), dtype=np.uint8)]
    order = np.lexsort((position, doc, slot))
    slot, doc, position, weight = slot[order], doc[order], position[order], weight[order]
    starts = np.flatnonzero(np.r_[True, (slot[1:] != slot[:-1]) | (doc[1:] != doc[:-1])]) if len(slot) else slot
    entry_occ = np.r_[starts, len(slot)].astype(np.int64)
    entry_slot = slot[starts]
    return SearchIndex(
        ids=ids,
        slots={lexeme: n for n, lexeme in enumerate(lexemes or [])},
        entry_start=np.searchsorted(entry_slot, np.arange(len(lexemes or []) + 1)),
        entry_doc=doc[starts],
        entry_share=_or_shares(weight, entry_occ),
        entry_occ=entry_occ,
        occ_position=position.astype(np.int32),
        occ_weight=weight,
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
    """``ts_rank`` of each dataset of ``docs`` (positions in ``index.ids``): ``calc_rank_and``
    when the query's root is AND over two or more distinct words, else ``calc_rank_or``; the
    words in the order tsrank.c sorts them (bytewise)."""
    items = sorted(set(_lexemes(node)), key=lambda lexeme: lexeme.encode())
    proximity = node[0] == "and" and len(items) >= 2
    ranks = _and_ranks(index, items, docs) if proximity else _or_ranks(index, items, docs)
    return np.where(ranks < 0, np.float32(1e-20), ranks)


def _or_ranks(index: SearchIndex, items: list[str], docs: np.ndarray) -> np.ndarray:
    """Each word's share added in single precision, in word order, then divided by the count."""
    total = np.zeros(len(index.ids), dtype=np.float32)
    for lexeme in items:
        entries = index.entries(lexeme)
        held = index.entry_doc[entries]
        total[held] = (total[held].astype(np.float64) + index.entry_share[entries]).astype(np.float32)
    return total[docs] / np.float32(len(items))


def _and_ranks(index: SearchIndex, items: list[str], docs: np.ndarray) -> np.ndarray:
    """calc_rank_and: every pair of positions of two different words in a dataset, at distance
    d > 0, weighs sqrt(w1 * w2 * word_distance(d)); the rank starts at the first pair's weight
    and takes each next weight c as 1 - (1 - rank) * (1 - c), in the C loops' order. -1 where
    no pair is."""
    wanted = np.zeros(len(index.ids), dtype=bool)
    wanted[docs] = True
    counts = np.diff(index.entry_occ)
    held = []
    for lexeme in items:
        entries = index.entries(lexeme)
        held.append(entries[wanted[index.entry_doc[entries]]])
    pair_docs, pair_numbers, pair_steps, pair_weights = [], [], [], []
    for i in range(len(items)):
        for k in range(i):
            common, at_i, at_k = np.intersect1d(
                index.entry_doc[held[i]], index.entry_doc[held[k]], assume_unique=True, return_indices=True
            )
            entry_i, entry_k = held[i][at_i], held[k][at_k]
            per_doc = counts[entry_i] * counts[entry_k]
            group = np.repeat(np.arange(len(common)), per_doc)
            within = np.arange(per_doc.sum()) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
            across = counts[entry_k][group]
            occ_i = index.entry_occ[entry_i][group] + within // across
            occ_k = index.entry_occ[entry_k][group] + within % across
            distance = np.abs(index.occ_position[occ_i] - index.occ_position[occ_k])
            apart = distance != 0
            pair_docs.append(common[group][apart])
            pair_numbers.append(np.full(int(apart.sum()), len(pair_numbers)))
            pair_steps.append(within[apart])
            weights = index.occ_weight[occ_i][apart], index.occ_weight[occ_k][apart]
            pair_weights.append(_pair_weight(*weights, distance[apart]))
    ranks = np.full(len(index.ids), -1.0, dtype=np.float32)
    if pair_docs:
        doc, weight = np.concatenate(pair_docs), np.concatenate(pair_weights)
        order = np.lexsort((np.concatenate(pair_steps), np.concatenate(pair_numbers), doc))
        doc, weight = doc[order], weight[order]
        starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]]) if len(doc) else doc
        step = np.arange(len(doc)) - np.repeat(starts, np.diff(np.r_[starts, len(doc)]))
        for n in range(int(step.max(initial=-1)) + 1):  # one step of every dataset's sequence at a time
            now = step == n
            at, curw = doc[now], weight[now]
            before = ranks[at]
            combined = (1.0 - (1.0 - before.astype(np.float64)) * (1.0 - curw.astype(np.float64))).astype(np.float32)
            ranks[at] = np.where(before < 0, curw, combined)
    return ranks[docs]


def _pair_weight(first: np.ndarray, second: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """sqrt(w1 * w2 * word_distance(d)), with tsrank.c's roundings: the weights multiplied in
    single precision, word_distance computed in double and returned in single."""
    near = (1.0 / (1.005 + 0.05 * np.exp(distance.astype(np.float32).astype(np.float64) / 1.5 - 2))).astype(np.float32)
    word_distance = np.where(distance > 100, np.float32(1e-30), near)
    return np.sqrt(((first * second) * word_distance).astype(np.float64)).astype(np.float32)
