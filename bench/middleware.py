"""Count the SQL queries (and the time spent in them) of each request, for the benchmark.

Enabled only when ``PORTAL_COUNT_QUERIES=1`` (see portal/settings.py). It wraps every
database connection's execution for the duration of the request, so it counts in
production mode, where ``connection.queries`` stays empty, and answers with headers that
the load driver reads: ``X-SQL-Queries``, ``X-SQL-Time`` and ``X-App-Time`` (milliseconds).

``X-Cache-Hits`` and ``X-Cache-Misses`` count the lookups of the versioned cache during the
request, from ``catalog.freshness.request_cache_counts()``, read after the view has run; the
middleware sits inside ``CatalogVersionMiddleware``, which keeps those counts per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse

from catalog.freshness import request_cache_counts


class _Counter:
    def __init__(self) -> None:
        self.queries = 0
        self.seconds = 0.0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries += 1
            self.seconds += time.perf_counter() - started


class QueryCountMiddleware:
    """Adds X-SQL-Queries / X-SQL-Time / X-App-Time / X-Cache-Hits / X-Cache-Misses to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        counter = _Counter()
        started = time.perf_counter()
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(counter))
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        response["X-SQL-Queries"] = str(counter.queries)
        response["X-SQL-Time"] = f"{counter.seconds * 1000:.2f}"
        response["X-App-Time"] = f"{elapsed * 1000:.2f}"
        hits, misses = request_cache_counts()
        response["X-Cache-Hits"] = str(hits)
        response["X-Cache-Misses"] = str(misses)
        return response
