"""Why is an endpoint slow? Run it in-process on the benchmark database and EXPLAIN its queries.

``python -m bench.explain /api/datasets/?q=mitochondria [--top 3]`` requests the path through
Django's test client with the benchmark's production settings, lists every SQL query with its
time, and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench import server as srv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--top", type=int, default=2, help="how many of the slowest queries to EXPLAIN")
    args = parser.parse_args(argv)
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
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    for path in args.paths:
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
        queries = captured.captured_queries
        total_sql = sum(float(q["time"]) for q in queries) * 1000
        print(
            f"\n=== {path}: HTTP {response.status_code}, {elapsed:.1f} ms, "
            f"{len(queries)} queries, {total_sql:.1f} ms SQL"
        )
        for index, query in enumerate(queries):
            print(f"[{index}] {float(query['time']) * 1000:8.1f} ms  {query['sql'][:300]}")
        slowest = sorted(queries, key=lambda q: float(q["time"]), reverse=True)[: args.top]
        for query in slowest:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            print(f"\n--- EXPLAIN ANALYZE ({float(query['time']) * 1000:.1f} ms)\n{query['sql']}\n")
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                for (line,) in cursor.fetchall():
                    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
