"""The in-memory search index (catalog.search_index): the SQL path's matches and ranks, exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F

from catalog import search_index
from catalog.indexing import refresh_derived
from catalog.models import DatasetSearch
from catalog.search import Matches, Rank
from catalog.search_index import parse_tsquery
from tests import factories
from tests.fixtures.browser import skip_or_fail

WORDS = (
    "mitochondria membrane nucleus golgi vesicle endoplasmic reticulum lysosome cell liver macrophage hela",
    "neuron synapse cortex proofread segmentation crop volume tissue",
)
VOCABULARY = " ".join(WORDS).split()


def test_parse_tsquery_reads_the_text_form() -> None:
    assert parse_tsquery("'mitochondria'") == ("word", "mitochondria")
    assert parse_tsquery("'a' & ( 'b' | !'c' ) & 'd'") == (
        "and",
        [("word", "a"), ("or", [("word", "b"), ("not", ("word", "c"))]), ("word", "d")],
    )
    assert parse_tsquery("'a' | 'b' & 'c'") == ("or", [("word", "a"), ("and", [("word", "b"), ("word", "c")])])
    assert parse_tsquery("'it''s' & 'back\\\\slash'") == ("and", [("word", "it's"), ("word", "back\\slash")])
    assert parse_tsquery("!( 'a' & 'b' )") == ("not", ("and", [("word", "a"), ("word", "b")]))


@pytest.mark.parametrize("text", ["'hela' <-> '2'", "'mito':*", "'mito':A", "'a' & ( 'b' <2> 'c' )"])
def test_parse_tsquery_leaves_phrases_prefixes_and_labels_to_sql(text: str) -> None:
    assert parse_tsquery(text) is None


@pytest.mark.parametrize("text", ["'a' &", "( 'a'", "'a' 'b'", "& 'a'", "'a' # 'b'"])
def test_parse_tsquery_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="tsquery"):
        parse_tsquery(text)


@pytest.fixture
def worded_catalog(db) -> None:
    """Datasets whose texts repeat words at many distances (some over 100 words apart) and
    under every weight label, so that every branch of ts_rank's arithmetic is taken."""
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (DATABASE_URL=postgres://...): the index reads tsvectors")
    chooser = random.Random(12)
    for n in range(40):
        title = " ".join(chooser.choices(VOCABULARY, k=chooser.randint(1, 4)))
        description = " ".join(chooser.choices([*VOCABULARY, "the", "of", "with"], k=chooser.randint(0, 160)))
        factories.DatasetFactory(slug=f"ds-{n:02d}", title=title, description=description)
    refresh_derived(None)


def _sql(text: str) -> tuple[list[int], list[float]]:
    """The SQL path's matches and ranks (catalog.search's Matches and Rank), by dataset id."""
    column = F("vector")
    rows = list(
        DatasetSearch.objects.filter(Matches(column, text))
        .annotate(rank=Rank(column, text))
        .order_by("dataset_id")
        .values_list("dataset_id", "rank")
    )
    return [row[0] for row in rows], [row[1] for row in rows]


def _ts_rank(text: str, ranked_as: str) -> list[float]:
    """PostgreSQL's own ts_rank of the datasets matching ``text``, for the tsquery ``ranked_as``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ts_rank(vector, %s::tsquery) FROM catalog_datasetsearch"
            " WHERE vector @@ websearch_to_tsquery(%s::regconfig, %s) ORDER BY dataset_id",
            [ranked_as, settings.SEARCH_CONFIG, text],
        )
        return [row[0] for row in cursor.fetchall()]


QUERIES = [
    "mitochondria",
    "Mitochondrial",
    "cell",
    "proofread",
    "mitochondria membrane",
    "membrane mitochondria",
    "cell cell liver",
    "golgi vesicle lysosome neuron",
    "hela or macrophage",
    "liver or cell or synapse",
    "cortex -neuron",
    "-cell",
    "segmentation -crop or volume",
    "zebrafish",
    "mitochondria zebrafish",
    "zebrafish or nucleus",
    "the of",
]


@pytest.mark.parametrize("text", QUERIES)
def test_matches_and_ranks_are_postgresqls(worded_catalog: None, text: str) -> None:
    expected_ids, expected_ranks = _sql(text)
    found = search_index.find(text, ranked=True)
    assert found is not None
    ids, ranks = found
    assert ids.tolist() == expected_ids
    assert ranks.dtype == np.float32
    assert [float(str(rank)) for rank in ranks] == expected_ranks  # bit for bit: the same float4 as SQL's
    unranked = search_index.find(text, ranked=False)
    assert unranked is not None
    assert unranked[0].tolist() == expected_ids
    assert unranked[1] is None


@pytest.mark.parametrize(
    ("text", "ranked_as"),
    [
        ("mitochondria", "'mitochondria'"),
        ("liver or cell or synapse", "'liver' | 'cell' | 'synaps'"),
        ("mitochondria membrane", "'mitochondria' | 'membran'"),
        ("cortex -neuron", "'cortex' | 'neuron'"),
    ],
)
def test_ranks_are_ts_rank_of_the_words_as_alternatives(worded_catalog: None, text: str, ranked_as: str) -> None:
    assert _sql(text)[1] == _ts_rank(text, ranked_as)


def test_the_catalog_has_matches_of_every_kind(worded_catalog: None) -> None:
    """The parametrised comparison above means something: the queries match, tie and differ."""
    matched = [len(_sql(text)[0]) for text in QUERIES]
    assert sum(1 for count in matched if count) >= len(QUERIES) - 4
    assert len(set(_sql("mitochondria membrane")[1])) > 5
    assert len(set(_sql("cell")[1])) > 5


def test_phrases_are_left_to_sql(worded_catalog: None) -> None:
    assert search_index.find('"mitochondria membrane"', ranked=True) is None
    assert search_index.find("jrc_hela-2", ranked=False) is None


def test_the_index_follows_the_catalog(worded_catalog: None) -> None:
    before = search_index.find("zebrafish", ranked=False)
    assert before is not None
    assert before[0].size == 0
    dataset = factories.DatasetFactory(slug="ds-zebrafish", title="Zebrafish larva", description="")
    refresh_derived([dataset.pk])
    after = search_index.find("zebrafish", ranked=True)
    assert after is not None
    assert after[0].tolist() == [dataset.pk]
    assert [float(str(rank)) for rank in after[1]] == _sql("zebrafish")[1]
