"""SQL written once per process, run as prepared statements on PostgreSQL.

Why: the reads of a dataset record and of a list page are a few fixed statements, and
PostgreSQL spent longer planning some of them (1.7 ms for the record's UNION ALL of every
relation) than running them. A statement is prepared on a connection the first time it runs
there, in the same round trip as its first execution, so a request's query count does not
depend on which connection served it. Prepared statements live as long as their connection
(``CONN_MAX_AGE``) and outlive a rolled-back transaction; a new connection starts with none
(``connection_created``), and after any failure the server is asked which it holds. SQLite
caches its own statements: there the SQL runs as it is.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from typing import Any

_PLACEHOLDER = re.compile(r"%s")
_KNOWN = "catalog_prepared_statements"


def execute(cursor: Any, sql: str, params: Sequence[Any]) -> None:
    """Run ``sql`` (``%s`` placeholders, no literal ``%``) with ``params`` on Django's ``cursor``."""
    database = cursor.db
    if database.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    name = "catalog_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
    call = f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}"
    known = database.__dict__.get(_KNOWN)
    try:
        if known is None:  # a connection from before the receiver, or after a failure: ask
            cursor.execute("SELECT name FROM pg_prepared_statements")
            known = database.__dict__[_KNOWN] = {row[0] for row in cursor.fetchall()}
        if name in known:
            cursor.execute(call, params)
            return
        number = itertools.count(1)
        numbered = _PLACEHOLDER.sub(lambda _match: f"${next(number)}", sql)
        cursor.execute(f"PREPARE {name} AS {numbered}; {call}", params)
        known.add(name)
    except Exception:
        database.__dict__[_KNOWN] = None  # the PREPARE may have run although the statement failed
        raise


def forget_prepared(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: a new connection holds no prepared statement."""
    connection.__dict__[_KNOWN] = set()
