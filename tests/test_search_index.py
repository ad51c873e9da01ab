"""The in-memory search index (catalog.search_index): PostgreSQL's matches and ts_rank, exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest
from django.conf import settings
from django.db import connection

from catalog import search_index
from catalog.indexing import refresh_derived
from catalog.search_index import parse_tsquery
from tests import factories
from tests.fixtures.browser import skip_or_fail

WORDS = (
    "mitochondria membrane nucleus golgi vesicle endoplasmic reticulum lysosome cell liver "
    "macrophage hela neuron synapse cortex proofread segmentation crop volume tissue"
).split()


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
        title = " ".join(chooser.choices(WORDS, k=chooser.randint(1, 4)))
        description = " ".join(chooser.choices(WORDS + ["the", "of", "with"], k=chooser.randint(0, 160)))
        factories.DatasetFactory(slug=f"ds-{n:02d}", title=title, description=description)
    refresh_derived(None)


def _sql(text: str) -> tuple[list[int], list[float]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT dataset_id, ts_rank(vector, q) FROM catalog_datasetsearch, websearch_to_tsquery(%s::regconfig, %s) q"
            " WHERE vector @@ q ORDER BY dataset_id",
            [settings.SEARCH_CONFIG, text],
        )
        rows = cursor.fetchall()
    return [row[0] for row in rows], [row[1] for row in rows]


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


def test_the_catalog_has_matches_of_every_kind(worded_catalog: None) -> None:
    """The parametrised comparison above means something: the queries match, tie and differ."""
    matched = [len(_sql(text)[0]) for text in QUERIES]
    assert sum(1 for count in matched if count) >= len(QUERIES) - 4
    ranks = _sql("mitochondria membrane")[1]
    assert len(set(ranks)) > 5


def test_phrases_are_left_to_sql(worded_catalog: None) -> None:
    assert search_index.find('"mitochondria membrane"', ranked=True) is None
    assert search_index.find("jrc_hela-2", ranked=False) is None


def test_the_index_follows_the_catalog(worded_catalog: None) -> None:
    before = search_index.find("zebrafish", ranked=False)
    assert before is not None and before[0].size == 0
    dataset = factories.DatasetFactory(slug="ds-zebrafish", title="Zebrafish larva", description="")
    refresh_derived([dataset.pk])
    after = search_index.find("zebrafish", ranked=True)
    assert after is not None
    assert after[0].tolist() == [dataset.pk]
    assert [float(str(rank)) for rank in after[1]] == _sql("zebrafish")[1]
