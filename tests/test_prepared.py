"""catalog.prepared: fixed SQL runs as prepared statements on PostgreSQL, as it is on SQLite."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog import prepared
from tests.fixtures.browser import skip_or_fail

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "SELECT 10 / %s, upper(%s)"


def _run(sql: str, params: list) -> tuple:
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, params)
        return cursor.fetchone()


def test_a_statement_is_prepared_once_per_connection() -> None:
    with CaptureQueriesContext(connection) as queries:
        assert _run(SQL, [2, "a"]) == (5, "A")
        assert _run(SQL, [5, "b"]) == (2, "B")
    assert len(queries) == 2  # the first run prepares in the same round trip
    if connection.vendor == "postgresql":
        assert queries[0]["sql"].startswith("PREPARE catalog_")
        assert queries[1]["sql"].startswith("EXECUTE catalog_")
    else:
        assert [query["sql"] for query in queries] == ["SELECT 10 / 2, upper('a')", "SELECT 10 / 5, upper('b')"]


def test_a_failed_first_run_does_not_break_the_next() -> None:
    """PostgreSQL keeps a statement prepared by a command that then failed (and through a
    rollback): the next run must neither prepare it again nor execute what is not there."""
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (DATABASE_URL=postgres://...): SQLite divides by zero without an error")
    sql = "SELECT 100 / %s"
    with pytest.raises(DatabaseError), transaction.atomic():
        _run(sql, [0])
    assert _run(sql, [4]) == (25,)
    assert _run(sql, [5]) == (20,)


def test_a_new_connection_prepares_again() -> None:
    assert _run(SQL, [1, "x"]) == (10, "X")
    connection.close()
    with CaptureQueriesContext(connection) as queries:
        assert _run(SQL, [10, "y"]) == (1, "Y")
    if connection.vendor == "postgresql":
        assert queries[0]["sql"].startswith("PREPARE catalog_")
