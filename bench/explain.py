"""Why is an endpoint slow? Run it in-process on the benchmark database and EXPLAIN its queries.

``python -m bench.explain /api/datasets/?q=mitochondria [--top 3]`` requests the path through
Django's test client with the benchmark's production settings, lists every SQL query with its
time, and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest ones.

``python -m bench.explain --plans [--markdown]`` does it for every SELECT of the requests
issue 12 is about: full-text search (its count and its page), facet counts (unfiltered,
filtered, with a search) and the dataset detail, with values taken from the catalog in the
database; ``--markdown`` prints the section to paste under "EXPLAIN plans at 10,000 datasets"
in ``bench/README.md``.

Every measured request runs with the caches emptied first (the catalog version bumped, as a
write does), so the queries shown are the uncached path, the one the distinct mix measures.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench import server as srv

SEARCH_WORD = "mitochondria"


@dataclass(frozen=True)
class Plan:
    """One request of ``--plans``: what it stands for and its path."""

    label: str
    path: str
    index_built: bool = False
    """Build the facet and search indexes of the new catalog version before the request (as a
    write's warm-up does), so that only the request's own queries show."""


def plan_requests() -> list[Plan]:
    """The requests whose plans the README shows, built from the catalog in the database."""
    from bench.endpoints import collect_samples

    samples = collect_samples(search=SEARCH_WORD)
    slug = samples.dataset_slugs[0] if samples.dataset_slugs else "missing"
    return [
        Plan("the facet index of a new catalog version, as a write's warm-up builds it", "/api/datasets/facets/"),
        Plan("search, first page", f"/api/datasets/?q={SEARCH_WORD}", index_built=True),
        Plan("search, two words, second page", f"/api/datasets/?q={SEARCH_WORD}+membrane&page=2", index_built=True),
        Plan("search, two rarer words", "/api/datasets/?q=golgi+liver", index_built=True),
        Plan(
            "search, a phrase (matched in SQL: the GIN index)",
            '/api/datasets/?q="hela+cell"',
            index_built=True,
        ),
        Plan("facet counts, unfiltered", "/api/datasets/facets/", index_built=True),
        Plan("facet counts, one organism", f"/api/datasets/facets/?organism={samples.organism}", index_built=True),
        Plan("facet counts, with a search", f"/api/datasets/facets/?q={SEARCH_WORD}", index_built=True),
        Plan(
            "dataset list, one organism, by title",
            f"/api/datasets/?organism={samples.organism}&ordering=title&page=2",
            index_built=True,
        ),
        Plan("dataset detail", f"/api/datasets/{slug}/"),
    ]


def capture(client: Any, path: str, *, index_built: bool = False) -> tuple[Any, list[dict[str, str]], float]:
    """Request ``path`` with empty caches (but the facet and search indexes, with
    ``index_built``); the response, its queries and its wall time (ms)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.facets import facet_index
    from catalog.freshness import bump_catalog_version
    from catalog.search import is_postgresql
    from catalog.search_index import search_index

    client.get(path)  # imports, connections, the class graph: not what is measured
    bump_catalog_version()
    if index_built:
        facet_index()
        if is_postgresql():
            search_index()
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
    return response, list(captured.captured_queries), elapsed


def explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [line for (line,) in cursor.fetchall()]


def readable(sql: str) -> str:
    """A captured query as the README shows it: an ``EXECUTE`` of a statement prepared earlier
    on this connection, with the statement itself (from ``pg_prepared_statements``)."""
    from django.db import connection

    name = re.match(r"EXECUTE (\w+)", sql.lstrip())
    if name is None:
        return sql
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = %s", [name.group(1)])
        found = cursor.fetchone()
    return sql if found is None else f"{found[0]};\n{sql}"


def explainable(sql: str) -> str | None:
    """What to EXPLAIN of a captured query: a SELECT as it is; of a prepared statement
    (``catalog.prepared``: prepared in this session by the request itself), its EXECUTE."""
    text = sql.lstrip()
    if text.upper().startswith(("SELECT", "WITH", "EXECUTE")):
        return text
    if text.upper().startswith("PREPARE") and "; EXECUTE " in text:
        return "EXECUTE " + text.rsplit("; EXECUTE ", 1)[1]
    return None


def print_request(
    client: Any, label: str, path: str, *, top: int | None, markdown: bool, index_built: bool = False
) -> None:
    """One request: every query with its time, and the plans of the slowest ``top`` (all when None)."""
    response, queries, elapsed = capture(client, path, index_built=index_built)
    total_sql = sum(float(q["time"]) for q in queries) * 1000
    summary = f"HTTP {response.status_code}, {elapsed:.1f} ms, {len(queries)} queries, {total_sql:.1f} ms SQL"
    if index_built:
        summary += " (the version's facet and search indexes already built)"
    if markdown:
        print(f"\n#### {label}: `{path}`\n\n{summary}.\n")
    else:
        print(f"\n=== {label}{': ' if label else ''}{path}: {summary}")
        for index, query in enumerate(queries):
            print(f"[{index}] {float(query['time']) * 1000:8.1f} ms  {query['sql'][:300]}")
    chosen = [q for q in queries if explainable(q["sql"])]
    if top is not None:
        chosen = sorted(chosen, key=lambda q: float(q["time"]), reverse=True)[:top]
    for query in chosen:
        index = queries.index(query)
        plan = "\n".join(explain(explainable(query["sql"])))
        if markdown:
            print(f"Query {index} ({float(query['time']) * 1000:.1f} ms):\n\n```sql\n{readable(query['sql'])}\n```\n")
            print(f"```text\n{plan}\n```\n")
        else:
            print(f"\n--- [{index}] EXPLAIN ANALYZE ({float(query['time']) * 1000:.1f} ms)\n{query['sql']}\n\n{plan}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--top", type=int, default=2, help="how many of the slowest queries to EXPLAIN")
    parser.add_argument(
        "--plans", action="store_true", help="EXPLAIN every query of the search, facet and detail requests"
    )
    parser.add_argument("--markdown", action="store_true", help="print --plans as a Markdown section")
    args = parser.parse_args(argv)
    if not args.paths and not args.plans:
        parser.error("give paths, or --plans")
    os.environ.update(
        srv.bench_environment(
            os.environ.get("BENCH_DATABASE_URL", srv.DEFAULT_DATABASE_URL),
            os.environ.get("BENCH_REDIS_URL", srv.DEFAULT_REDIS_URL),
        )
    )
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    if args.plans:
        from catalog.models import Dataset

        if args.markdown:
            print(
                f"Catalog: {Dataset.objects.count():,} datasets, PostgreSQL {connection.pg_version // 10000}; "
                "every request with the caches emptied first (`python -m bench.explain --plans --markdown`)."
            )
        for plan in plan_requests():
            print_request(client, plan.label, plan.path, top=None, markdown=args.markdown, index_built=plan.index_built)
    for path in args.paths:
        print_request(client, "", path, top=args.top, markdown=args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
