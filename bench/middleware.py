"""Count the SQL queries (and the time spent in them) of each request, for the benchmark.

Enabled only when ``PORTAL_COUNT_QUERIES=1`` (see portal/settings.py). It wraps every
database connection's execution for the duration of the request, so it counts in
production mode, where ``connection.queries`` stays empty, and answers with headers that
the load driver reads: ``X-SQL-Queries``, ``X-SQL-Time`` and ``X-App-Time`` (milliseconds).

``X-Cache-Hits`` and ``X-Cache-Misses`` count the lookups of the versioned cache during the
request, from ``catalog.freshness.request_cache_counts()``, read after the view has run. Until
the portal provides that function both headers say ``unknown``: no figure rather than a zero
that would read as "never cached".
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse


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


UNKNOWN = "unknown"
CACHE_COUNTS_MODULE = "catalog.freshness"
CACHE_COUNTS_FUNCTION = "request_cache_counts"


def cache_counter() -> Callable[[], tuple[int, int]] | None:
    """The portal's per-request (hits, misses) of its versioned cache, or None while it has none."""
    try:
        module = importlib.import_module(CACHE_COUNTS_MODULE)
    except ModuleNotFoundError as error:
        if error.name != CACHE_COUNTS_MODULE:
            raise
        return None
    return getattr(module, CACHE_COUNTS_FUNCTION, None)


class QueryCountMiddleware:
    """Adds X-SQL-Queries / X-SQL-Time / X-App-Time / X-Cache-Hits / X-Cache-Misses to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.cache_counts = cache_counter()

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
        hits, misses = self.cache_counts() if self.cache_counts is not None else (UNKNOWN, UNKNOWN)
        response["X-Cache-Hits"] = str(hits)
        response["X-Cache-Misses"] = str(misses)
        return response
