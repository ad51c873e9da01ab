"""``make bench``: generate the catalog, serve it with gunicorn, drive both mixes, write the tables.

For each catalog size (1,000 then 10,000 datasets; ``--small``: 1,000 only) the run empties and
refills the benchmark database, exports it to SQLite for datasette (``bench.export``), builds
the distinct-request pools from that export (``bench.distinct``), starts gunicorn and datasette,
and then:

- the repeated mix, every endpoint of ``bench.endpoints.ENDPOINTS``: probes it (404: not
  available; other errors are reported, never measured), warms it up, measures latency at 1
  client and throughput at 16;
- the distinct mix, every endpoint of ``DISTINCT_ENDPOINTS``: the same measurements over its
  pool of distinct paths, with the portal's caches emptied (the catalog version bumped, as a
  write does) before the probes and before each measured run; for a JSON cell, right after the
  portal, the same measurements of datasette over the equivalent paths.

The workers' peak memory is read at the end. Results go to ``bench/latest.json`` and
``bench/latest.md`` (and the README's bench block) for a full default run, else to
``bench/results/``.

PostgreSQL and Redis are reused from the environment (``BENCH_DATABASE_URL``,
``BENCH_REDIS_URL``; defaults: database ``portal_bench`` on 127.0.0.1, Redis db 7).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import server as srv
from bench.distinct import DEFAULT_CAP
from bench.endpoints import DISTINCT_ENDPOINTS, ENDPOINTS, PAGE_SIZE_PROBES, DistinctEndpoint, Endpoint, Samples
from bench.load import LoadResult, Probe, probe, run_load, wrk_available
from bench.report import hit_rate

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_SIZES = (1_000, 10_000)
SMALL_SIZES = (1_000,)
CONNECTIONS = (1, 16)
PROBES = 7
SLOW_MS = 1000
SLOW_PROBES = 2
MIXES = ("repeated", "distinct")
# The warm-up of a distinct endpoint runs over the end of its pool, away from where the runs start.
WARMUP_PATHS = 200
EXPORT_DIR = Path(os.environ.get("BENCH_EXPORT_DIR", "/tmp/portal_bench_export"))


def log(message: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", flush=True)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def drain(server: srv.Server, *, limit_seconds: float = 90) -> None:
    """Wait until requests left queued by a load run are served (the ready path answers fast again)."""
    deadline = time.time() + limit_seconds
    fast = 0
    while time.time() < deadline and fast < 3:
        answer = probe(server.host, server.port, server.ready_path)
        fast = fast + 1 if answer.elapsed_ms < 20 else 0
        time.sleep(0.05)


def measure_endpoint(
    server: srv.Server, endpoint: Endpoint, samples: Samples, *, seconds: float, tool: str
) -> dict[str, Any]:
    """Probe, warm up and load one endpoint; never raises for an endpoint's own failure."""
    paths = endpoint.paths(samples)
    result: dict[str, Any] = {"name": endpoint.name, "label": endpoint.label, "kind": endpoint.kind}
    if not paths:
        return {**result, "status": "not available", "detail": "no records to request"}
    result["paths"] = len(paths)
    first = probe(server.host, server.port, paths[0])
    result["first_ms"] = round(first.elapsed_ms, 2)
    result["http_status"] = first.status
    if first.status == 404:
        return {**result, "status": "not available", "detail": "404"}
    if first.status != 200:
        log(f"  {endpoint.name}: HTTP {first.status}\n{server.log_tail(15)}")
        return {**result, "status": "error", "detail": f"HTTP {first.status}"}
    # One cold pass over every rotated path (the first request after the catalog load, caches
    # empty), so that the measured runs see the steady state and the cold cost is reported apart.
    cold = [first.elapsed_ms]
    cold_queries = [first.sql_queries]
    etags: list[str] | None = [first.etag or ""] if endpoint.conditional else None
    for path in paths[1:] if first.elapsed_ms <= SLOW_MS or etags is not None else ():
        answer = probe(server.host, server.port, path)
        if answer.status != 200:
            return {**result, "status": "error", "detail": f"HTTP {answer.status} on {path}"}
        cold.append(answer.elapsed_ms)
        cold_queries.append(answer.sql_queries)
        if etags is not None:
            etags.append(answer.etag or "")
    result["cold_p50_ms"] = round(statistics.median(cold), 2)
    result["cold_max_ms"] = round(max(cold), 2)
    counted = [q for q in cold_queries if q is not None]
    result["cold_queries"] = {"min": min(counted), "max": max(counted)} if counted else None
    if etags is not None:
        if not all(etags) or len(etags) != len(paths):
            return {**result, "status": "not available", "detail": "no ETag on the rotated paths"}
        check = probe(server.host, server.port, paths[0], {"If-None-Match": etags[0]})
        if check.status != 304:
            return {**result, "status": "error", "detail": f"If-None-Match answered {check.status}, not 304"}
    # A request slower than SLOW_MS needs no warm-up and few probes: each one costs seconds.
    second = probe(server.host, server.port, paths[-1]) if first.elapsed_ms > SLOW_MS else None
    slow = second is not None and second.elapsed_ms > SLOW_MS
    if not slow:
        run_load(server.host, server.port, paths, connections=2, seconds=1, etags=etags, tool=tool)
        drain(server)
    answers = [
        probe(
            server.host, server.port, paths[i % len(paths)], {"If-None-Match": etags[i % len(paths)]} if etags else None
        )
        for i in range(SLOW_PROBES - 1 if slow else PROBES)
    ]
    if second is not None and slow and not endpoint.conditional:
        answers.append(second)
    expected = 304 if endpoint.conditional else 200
    bad = [a.status for a in answers if a.status != expected]
    if bad:
        return {**result, "status": "error", "detail": f"HTTP {bad[0]} on some of the rotated paths"}
    queries = [a.sql_queries for a in answers if a.sql_queries is not None]
    result.update(
        status="ok",
        body_bytes=answers[0].body_bytes,
        queries={"min": min(queries), "max": max(queries)} if queries else None,
        sql_ms=_median([a.sql_ms for a in answers if a.sql_ms is not None]),
        app_ms=_median([a.app_ms for a in answers if a.app_ms is not None]),
    )
    if slow:
        # Seconds per request: sequential probes are the 1-client measurement, and 16 queued
        # clients would only measure the queue (for minutes).
        timings = sorted(a.elapsed_ms for a in answers)
        result["c1"] = LoadResult(
            tool="probes",
            connections=1,
            seconds=sum(timings) / 1000,
            requests=len(timings),
            rps=1000 * len(timings) / sum(timings),
            p50_ms=statistics.median(timings),
            p95_ms=timings[-1],
            p99_ms=timings[-1],
            mean_ms=statistics.fmean(timings),
            max_ms=timings[-1],
            errors=0,
        ).as_dict()
        result["c16"] = None
        result["detail"] = f"over {SLOW_MS} ms per request: {len(timings)} sequential requests, no 16-client run"
    for connections in () if slow else CONNECTIONS:
        measured = run_load(
            server.host, server.port, paths, connections=connections, seconds=seconds, etags=etags, tool=tool
        )
        drain(server)
        if measured.errors > max(1, measured.requests // 100):
            return {
                **result,
                "status": "error",
                "detail": f"{measured.errors} of {measured.requests} answers were errors at {connections} clients",
            }
        if measured.requests == 0:
            return {**result, "status": "too slow", "detail": f"no answer within {seconds:g} s"}
        result[f"c{connections}"] = measured.as_dict()
        if connections == 1 and measured.p50_ms > SLOW_MS:
            result["c16"] = None
            result["detail"] = f"throughput not measured: p50 above {SLOW_MS} ms at 1 client"
            break
    c1, c16 = result["c1"], result["c16"] or {}
    log(
        f"  {endpoint.name:14s} p50 {c1['p50_ms']:7.2f} ms  p95 {c1['p95_ms']:7.2f} ms  "
        f"{c16.get('rps', 0):7.0f} req/s@16  queries {result['queries']}  "
        f"sql/app {result['sql_ms']}/{result['app_ms']} ms"
    )
    if c1["errors"] or c16.get("errors"):
        result["load_errors"] = c1["errors"] + c16.get("errors", 0)
    return result


def _cache_counts(answers: list[Probe]) -> dict[str, int]:
    """The portal's cache lookups over some answers: hits, misses, answers that counted, answers that could not."""
    counted = [a for a in answers if a.cache_hits is not None and a.cache_misses is not None]
    return {
        "hits": sum(a.cache_hits or 0 for a in counted),
        "misses": sum(a.cache_misses or 0 for a in counted),
        "counted": len(counted),
        "unknown": sum(1 for a in answers if a.cache_unknown),
    }


def datasette_shortfall(answer: Probe) -> str | None:
    """What a datasette answer left undone (a facet or count cut short by a time limit), or None."""
    try:
        document = json.loads(answer.body)
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(document, dict):
        return None
    if document.get("facets_timed_out"):
        return f"facets timed out: {', '.join(document['facets_timed_out'])}"
    if document.get("truncated"):
        return "rows truncated"
    if "filtered_table_rows_count" in document and document["filtered_table_rows_count"] is None:
        return "count not computed (time limit)"
    return None


def measure_pool(
    server: srv.Server,
    endpoint: DistinctEndpoint,
    paths: list[str],
    *,
    seconds: float,
    tool: str,
    reset: Callable[[], object] | None,
    side: str,
) -> dict[str, Any]:
    """Measure one endpoint of the distinct mix over ``paths``; never raises for an endpoint's own failure.

    Each load run asks the paths in order, every client its own share, so no path is asked twice
    until a run outlasts the list (``repeated_requests`` says how often it did). ``reset`` empties
    the server's caches (as a catalog write does) before the probes and before each run; datasette
    has none to empty.
    """
    empty = reset or (lambda: None)
    result: dict[str, Any] = {
        "name": endpoint.name,
        "label": endpoint.label,
        "kind": endpoint.kind,
        "side": side,
        "paths": len(paths),
        "distinct_paths": len(set(paths)),
    }
    if not paths:
        return {**result, "status": "not available", "detail": "no records to request"}
    first = probe(server.host, server.port, paths[0])
    result["first_ms"] = round(first.elapsed_ms, 2)
    result["http_status"] = first.status
    if first.status == 404:
        return {**result, "status": "not available", "detail": "404"}
    if first.status != 200:
        log(f"  {side} {endpoint.name}: HTTP {first.status} on {paths[0]}\n{server.log_tail(15)}")
        return {**result, "status": "error", "detail": f"HTTP {first.status} on {paths[0]}"}
    slow = first.elapsed_ms > SLOW_MS
    if not slow:
        run_load(server.host, server.port, paths[-WARMUP_PATHS:], connections=2, seconds=1, tool=tool)
        drain(server)
    empty()
    probed = paths[1 : 1 + (SLOW_PROBES if slow else PROBES)] or paths[:1]
    answers = [probe(server.host, server.port, path) for path in probed]
    bad = [(a.status, path) for a, path in zip(answers, probed, strict=True) if a.status != 200]
    if bad:
        return {**result, "status": "error", "detail": f"HTTP {bad[0][0]} on {bad[0][1]}"}
    shortfalls = [text for a in answers if side == "datasette" and (text := datasette_shortfall(a))]
    queries = [a.sql_queries for a in answers if a.sql_queries is not None]
    timings = sorted(a.elapsed_ms for a in answers)
    result.update(
        status="ok",
        body_bytes=int(statistics.median(a.body_bytes for a in answers)),
        queries={"min": min(queries), "max": max(queries)} if queries else None,
        sql_ms=_median([a.sql_ms for a in answers if a.sql_ms is not None]),
        app_ms=_median([a.app_ms for a in answers if a.app_ms is not None]),
        cold_p50_ms=round(statistics.median(timings), 2),
        probe_cache=_cache_counts(answers),
    )
    if shortfalls:
        result["shortfall"] = shortfalls[0]
    if slow and statistics.median(timings) > SLOW_MS:
        result["c1"] = LoadResult(
            tool="probes",
            connections=1,
            seconds=sum(timings) / 1000,
            requests=len(timings),
            rps=1000 * len(timings) / sum(timings),
            p50_ms=statistics.median(timings),
            p95_ms=timings[-1],
            p99_ms=timings[-1],
            mean_ms=statistics.fmean(timings),
            max_ms=timings[-1],
            errors=0,
        ).as_dict()
        result["c16"] = None
        result["detail"] = f"over {SLOW_MS} ms per request: {len(timings)} sequential requests, no 16-client run"
    else:
        for connections in CONNECTIONS:
            empty()
            measured = run_load(server.host, server.port, paths, connections=connections, seconds=seconds, tool=tool)
            drain(server)
            if measured.errors > max(1, measured.requests // 100):
                return {
                    **result,
                    "status": "error",
                    "detail": f"{measured.errors} of {measured.requests} answers were errors at {connections} clients",
                }
            if measured.requests == 0:
                return {**result, "status": "too slow", "detail": f"no answer within {seconds:g} s"}
            entry = measured.as_dict()
            entry["repeated_requests"] = max(0, measured.requests - len(paths))
            result[f"c{connections}"] = entry
            if connections == 1 and measured.p50_ms > SLOW_MS:
                result["c16"] = None
                result["detail"] = f"throughput not measured: p50 above {SLOW_MS} ms at 1 client"
                break
    c1, c16 = result["c1"], result["c16"] or {}
    log(
        f"  {side:9s} {endpoint.name:13s} p50 {c1['p50_ms']:7.2f} ms  p95 {c1['p95_ms']:7.2f} ms  "
        f"{c16.get('rps', 0):7.0f} req/s@16  {len(paths)} paths  queries {result['queries']}  "
        f"sql/app {result['sql_ms']}/{result['app_ms']} ms"
        + (f"  cache hits@16 {hit_rate(c16)}" if side == "portal" else "")
        + (f"  ({result['shortfall']})" if "shortfall" in result else "")
    )
    if c1["errors"] or c16.get("errors"):
        result["load_errors"] = c1["errors"] + c16.get("errors", 0)
    return result


def page_size_probes(server: srv.Server, names: set[str]) -> dict[str, dict[str, int | None]]:
    """Query counts of list endpoints at two page sizes (must be equal)."""
    found: dict[str, dict[str, int | None]] = {}
    for name, pair in PAGE_SIZE_PROBES.items():
        if name not in names:
            continue
        counts: dict[str, int | None] = {}
        for path in pair:
            answer = probe(server.host, server.port, path)
            if answer.status == 200:
                counts[path] = answer.sql_queries
        if counts:
            found[name] = counts
    return found


def reset_caches() -> None:
    """Empty the portal's caches the way a committed catalog write does: bump the catalog
    version, then tell ``catalog_changed``'s receivers (which build the new version's facet and
    crop indexes into the shared cache, as after every write)."""
    from catalog.freshness import PendingChanges, bump_catalog_version, catalog_changed

    catalog_changed.send(sender=PendingChanges, version=bump_catalog_version())


def datasette_version() -> str:
    from datasette.version import __version__

    return __version__


def run_size(
    datasets: int,
    endpoints: list[Endpoint],
    distinct_endpoints: list[DistinctEndpoint],
    *,
    seconds: float,
    tool: str,
    generate: bool,
    env: dict[str, str],
    with_datasette: bool,
    pool_size: int,
) -> dict[str, Any]:
    """Generate (or reuse) a catalog of ``datasets`` datasets and measure both mixes on it."""
    from bench.distinct import build_pools
    from bench.endpoints import collect_samples
    from bench.export import export_catalog
    from bench.generate import CatalogShape, generate_catalog

    run: dict[str, Any] = {"datasets": datasets}
    if generate:
        log(f"generating {datasets:,} datasets")
        generation = generate_catalog(CatalogShape.for_datasets(datasets))
        run["generation"] = generation.as_dict()
        log(f"generated in {generation.seconds:.1f} s {run['generation']['phases']}")
    samples = collect_samples()
    run["samples"] = {
        "organism": samples.organism,
        "modality": samples.modality,
        "search": samples.search,
        "datasets_rotated": len(samples.dataset_slugs),
        "crops_rotated": len(samples.crop_numbers),
    }
    pools: dict[str, list] = {}
    export_path = EXPORT_DIR / str(datasets) / "catalog.db"
    if distinct_endpoints or with_datasette:
        export = export_catalog(export_path)
        run["export"] = export.as_dict()
        log(f"exported to {export.path} in {export.seconds:.1f} s {export.counts}")
        started = time.perf_counter()
        pools = build_pools(export.path, cap=pool_size)
        run["pools"] = {name: len(twins) for name, twins in pools.items()}
        run["pools_seconds"] = round(time.perf_counter() - started, 2)
        log(f"distinct pools in {run['pools_seconds']} s: {run['pools']}")
    server = srv.start_server(env)
    datasette = srv.start_datasette(export_path) if with_datasette and distinct_endpoints else None
    try:
        run["load_average"] = [round(x, 2) for x in os.getloadavg()]
        log(f"gunicorn on port {server.port}, workers {server.worker_pids()}, load average {run['load_average']}")
        if datasette is not None:
            run["datasette_server"] = {
                "version": datasette_version(),
                "settings": srv.DATASETTE_SETTINGS,
                "command": "datasette serve -i catalog.db --metadata metadata.json "
                + " ".join(f"--setting {k} {v}" for k, v in srv.DATASETTE_SETTINGS.items()),
            }
            log(f"datasette {run['datasette_server']['version']} on port {datasette.port}")
        run["endpoints"] = {}
        for endpoint in endpoints:
            try:
                result = measure_endpoint(server, endpoint, samples, seconds=seconds, tool=tool)
            except (OSError, RuntimeError) as error:
                log(f"  {endpoint.name}: {error}")
                result = {"name": endpoint.name, "status": "error", "detail": str(error)}
            # The workers' high-water mark after each endpoint shows which one raised it.
            result["workers_peak_mb"] = [round(w.get("VmHWM", 0.0), 1) for w in server.worker_memory()]
            run["endpoints"][endpoint.name] = result
        run["distinct"] = {}
        run["datasette"] = {}
        for distinct in distinct_endpoints:
            twins = pools.get(distinct.name, [])
            sides = [("portal", server, [t.portal for t in twins], reset_caches)]
            if datasette is not None and distinct.datasette:
                sides.append(("datasette", datasette, [t.datasette for t in twins if t.datasette], None))
            for side, target, paths, reset in sides:
                try:
                    result = measure_pool(target, distinct, paths, seconds=seconds, tool=tool, reset=reset, side=side)
                except (OSError, RuntimeError) as error:
                    log(f"  {side} {distinct.name}: {error}")
                    result = {"name": distinct.name, "side": side, "status": "error", "detail": str(error)}
                result["workers_peak_mb"] = [round(w.get("VmHWM", 0.0), 1) for w in target.worker_memory()]
                run["distinct" if side == "portal" else "datasette"][distinct.name] = result
        available = {name for name, r in run["endpoints"].items() if r.get("status") == "ok"}
        run["page_size_probes"] = page_size_probes(server, available)
        run["workers"] = server.worker_memory()
        log(f"workers: {run['workers']}")
        if datasette is not None:
            run["datasette_memory"] = datasette.worker_memory()
    finally:
        server.stop()
        if datasette is not None:
            datasette.stop()
    return run


def _commit() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=srv.PROJECT_DIR, capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() or "unknown"


def _machine() -> str:
    cpus = os.cpu_count() or 0
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{cpus} cores ({model}), Python {platform.python_version()}"


def write_outputs(results: dict[str, Any], prefix: Path, *, readme: Path | None) -> None:
    from bench.report import evaluate, load_baseline, readme_block, render_markdown, update_readme

    results["baseline"] = load_baseline()
    results["summary"] = evaluate(results)
    # Render from the JSON as written, so that re-rendering bench/latest.json gives the same text.
    results = json.loads(json.dumps(results, sort_keys=True))
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    prefix.with_suffix(".md").write_text(render_markdown(results))
    log(f"wrote {prefix.with_suffix('.json')} and {prefix.with_suffix('.md')}")
    if readme is not None and update_readme(readme, readme_block(results)):
        log(f"updated the bench block of {readme}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the portal at catalog scale.")
    parser.add_argument("--small", action="store_true", help="one run at 1,000 datasets (a quick look)")
    parser.add_argument("--sizes", help="comma-separated dataset counts (default 1000,10000)")
    parser.add_argument("--seconds", type=float, help="seconds per endpoint per concurrency level (default 10)")
    parser.add_argument("--endpoints", help="comma-separated endpoint names, of either mix (default: all)")
    parser.add_argument("--mix", default=",".join(MIXES), help="repeated, distinct or both (default both)")
    parser.add_argument("--no-datasette", action="store_true", help="skip the datasette side-by-side")
    parser.add_argument(
        "--pool-size", type=int, default=DEFAULT_CAP, help="most distinct paths per endpoint of the distinct mix"
    )
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-generate", action="store_true", help="measure the catalog already in the database")
    parser.add_argument("--output", help="output prefix (default bench/latest for a full run, else bench/results/)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = (
        tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (SMALL_SIZES if args.small else DEFAULT_SIZES)
    )
    seconds = args.seconds or (5.0 if args.small else 10.0)
    mixes = set(args.mix.split(","))
    if not mixes or not mixes <= set(MIXES):
        print(f"--mix takes {' or '.join(MIXES)} (comma-separated), not {args.mix!r}", file=sys.stderr)
        return 2
    if args.pool_size < 1:
        print("--pool-size must be at least 1", file=sys.stderr)
        return 2
    endpoints = ENDPOINTS if "repeated" in mixes else [e for e in ENDPOINTS if e.name == "floor"]
    distinct_endpoints = DISTINCT_ENDPOINTS if "distinct" in mixes else []
    if args.endpoints:
        wanted = set(args.endpoints.split(","))
        endpoints = [e for e in endpoints if e.name in wanted or e.name == "floor"]
        distinct_endpoints = [e for e in distinct_endpoints if e.name in wanted]
        unknown = wanted - {e.name for e in ENDPOINTS} - {e.name for e in DISTINCT_ENDPOINTS}
        if unknown:
            print(f"unknown endpoints: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
    if args.no_generate and len(sizes) > 1:
        print("--no-generate measures the catalog in the database: give one --sizes value", file=sys.stderr)
        return 2
    full = (
        not args.small
        and not args.sizes
        and not args.endpoints
        and not args.no_generate
        and not args.seconds
        and mixes == set(MIXES)
        and not args.no_datasette
        and args.pool_size == DEFAULT_CAP
    )
    if args.output:
        prefix = Path(args.output)
    elif full:
        prefix = BENCH_DIR / "latest"
    else:
        prefix = BENCH_DIR / "results" / dt.datetime.now(dt.UTC).strftime("bench-%Y%m%d-%H%M%S")
    tool = args.tool
    if tool == "wrk" and not wrk_available():
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    tool_name = "wrk" if tool in ("auto", "wrk") and wrk_available() else "python"
    if tool_name == "python":
        log("wrk not found: using the Python client (install Debian's wrk for more headroom)")

    database_url = os.environ.get("BENCH_DATABASE_URL", srv.DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", srv.DEFAULT_REDIS_URL)
    env = srv.bench_environment(database_url, redis_url)
    os.environ.update(env)
    started = time.time()
    if not args.no_generate:
        log(f"recreating {database_url}")
        srv.recreate_database(database_url)

    import django
    from django.core.management import call_command

    django.setup()
    log("migrating and collecting static files")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)

    results: dict[str, Any] = {
        "meta": {
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": _commit(),
            "machine": _machine(),
            "tool": tool_name,
            "seconds": seconds,
            "workers": srv.WORKERS,
            "connections": list(CONNECTIONS),
            "sizes": list(sizes),
            "mixes": sorted(mixes),
            "pool_size": args.pool_size,
        },
        "runs": {},
    }
    for datasets in sizes:
        results["runs"][str(datasets)] = run_size(
            datasets,
            endpoints,
            distinct_endpoints,
            seconds=seconds,
            tool=tool,
            generate=not args.no_generate,
            env=env,
            with_datasette=not args.no_datasette,
            pool_size=args.pool_size,
        )
    results["meta"]["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["meta"]["wall_seconds"] = round(time.time() - started, 1)
    write_outputs(results, prefix, readme=srv.PROJECT_DIR / "README.md" if full else None)
    log(f"done in {results['meta']['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
