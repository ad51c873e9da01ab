"""Judge a benchmark run against the targets and render it: JSON in, Markdown tables out.

Pure functions over the result dictionary that ``bench.run`` writes, so a committed
``bench/latest.json`` can be re-rendered (``python -m bench.report bench/latest.json``). Three
tables: the repeated mix (warm caches, judged also against the baseline in
``bench/baseline.json``), the distinct mix (caches emptied, issue 12's targets), and the
side-by-side with datasette on the distinct mix's JSON cells.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from bench.endpoints import (
    BASELINE_SLACK_MS,
    BASELINE_TOLERANCE,
    DISTINCT_ENDPOINTS,
    DISTINCT_MAX_SCALING,
    ENDPOINTS,
    FLOOR,
    JSON_KINDS,
    MAX_QUERIES,
    MAX_SCALING,
    MAX_WORKER_RSS_MB,
    MIN_DATASETTE_RATIO,
    MIN_FLOOR_RATIO,
)

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"
BASELINE_PATH = Path(__file__).with_name("baseline.json")
# datasette's SQL threads can use both cores: a bound on what it would serve at 16 clients
# when it was too slow to be driven there.
DATASETTE_CORES = 2
_TARGETS = {e.name: e for e in ENDPOINTS}
_DISTINCT = {e.name: e for e in DISTINCT_ENDPOINTS}


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _max_queries(result: dict[str, Any]) -> int | None:
    """The most queries a request made, warm (cached) or cold (first request for its path)."""
    values = [(result.get(key) or {}).get("max") for key in ("queries", "cold_queries")]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _queries_text(result: dict[str, Any]) -> str:
    warm = (result.get("queries") or {}).get("max")
    cold = (result.get("cold_queries") or {}).get("max")
    if warm is None:
        return "-"
    if cold is None or cold == warm:
        return str(warm)
    return f"{warm} ({cold} cold)"


def _check(name: str, target: str, measured: str, ok: bool, why: str = "") -> dict[str, Any]:
    return {"check": name, "target": target, "measured": measured, "pass": ok, "limit": "" if ok else why}


def _limit(result: dict[str, Any]) -> str:
    """What the server-side accounting says dominates a request (for the table's 'why')."""
    queries = _max_queries(result)
    sql_ms = result.get("sql_ms")
    app_ms = result.get("app_ms")
    if queries is not None and queries > MAX_QUERIES:
        return f"{queries} SQL queries per request (N+1 or uncached lookups)"
    if sql_ms is None or app_ms is None or app_ms <= 0:
        return "unknown (no server timing headers)"
    p50 = (result.get("c1") or {}).get("p50_ms")
    if p50 and app_ms < 0.5 * p50:
        return (
            f"outside the view: {p50 - app_ms:.1f} of {p50:.1f} ms is gunicorn, middleware and the "
            "connection (sync workers close it after every request)"
        )
    share = sql_ms / app_ms
    if share >= 0.5:
        return f"SQL: {sql_ms:.1f} of {app_ms:.1f} ms in the view is database time ({queries} queries)"
    return f"Python: {app_ms - sql_ms:.1f} of {app_ms:.1f} ms in the view is serialisation/templates, not SQL"


def hit_rate(load: dict[str, Any] | None) -> str:
    """The share of the portal's cache lookups that hit during a load run, as text.

    "unknown" while the portal does not count them (its headers say so), "-" when nothing was
    reported (datasette, older results), "no lookups" when answers counted none.
    """
    if not load:
        return "-"
    counted, unknown = load.get("cache_counted", 0), load.get("cache_unknown", 0)
    if counted == 0:
        return "unknown" if unknown else "-"
    lookups = load.get("cache_hits", 0) + load.get("cache_misses", 0)
    if lookups == 0:
        return "no lookups"
    return f"{100 * load['cache_hits'] / lookups:.1f}%"


def _scaling_check(results: dict[str, Any], mix: str, name: str, limit: float, why: str) -> tuple[float | None, list]:
    """p50 at the largest size over p50 at the smallest, and its check (none with one size)."""
    sizes = sorted(int(size) for size in results.get("runs", {}))
    if len(sizes) < 2:
        return None, []
    small = results["runs"][str(sizes[0])].get(mix, {}).get(name) or {}
    large = results["runs"][str(sizes[-1])].get(mix, {}).get(name) or {}
    small_p50 = (small.get("c1") or {}).get("p50_ms")
    large_p50 = (large.get("c1") or {}).get("p50_ms")
    if small.get("status") != "ok" or large.get("status") != "ok" or not small_p50 or not large_p50:
        return None, []
    ratio = large_p50 / small_p50
    check = _check(
        "scaling",
        f"{sizes[-1] // sizes[0]}x catalog <= {limit:g}x p50",
        f"{ratio:.2f}x",
        ratio <= limit,
        f"cost grows with catalog size: {why}",
    )
    return ratio, [check]


def _latency_checks(target: Any, c1: dict[str, Any], why: str) -> list[dict[str, Any]]:
    checks = []
    if target.p50_ms is not None:
        p50 = c1.get("p50_ms")
        checks.append(_check("p50", f"<= {target.p50_ms:g} ms", f"{_fmt(p50)} ms", p50 <= target.p50_ms, why))
    if target.p95_ms is not None:
        p95 = c1.get("p95_ms")
        tail = why
        if target.p50_ms is not None and c1.get("p50_ms", 0) <= target.p50_ms:
            tail = (
                f"the tail, not the median ({_fmt(c1.get('p50_ms'))} ms): slow requests spend their time in "
                "Python with no SQL (full garbage collections, see bench/README.md)"
            )
        checks.append(_check("p95", f"<= {target.p95_ms:g} ms", f"{_fmt(p95)} ms", p95 <= target.p95_ms, tail))
    return checks


def _baseline_check(
    baseline: dict[str, Any] | None, size: int, name: str, result: dict[str, Any], load_average: Any
) -> list:
    """The repeated mix keeps today's figures: p50 and req/s@16 within the tolerance of the baseline."""
    base = ((baseline or {}).get("runs", {}).get(str(size)) or {}).get(name)
    if not base:
        return []
    c1, c16 = result.get("c1") or {}, result.get("c16") or {}
    p50, rps = c1.get("p50_ms"), c16.get("rps")
    if p50 is None:
        return []
    p50_limit = max(base["p50_ms"] * (1 + BASELINE_TOLERANCE), base["p50_ms"] + BASELINE_SLACK_MS)
    ok = p50 <= p50_limit
    measured = f"p50 {_fmt(base['p50_ms'])} → {_fmt(p50)} ms"
    if base.get("rps") and rps is not None:
        ok = ok and rps >= base["rps"] * (1 - BASELINE_TOLERANCE)
        measured += f", req/s {_fmt(base['rps'], 0)} → {_fmt(rps, 0)}"
    return [
        _check(
            "vs baseline",
            f"within {BASELINE_TOLERANCE:.0%} of {baseline.get('source', 'the baseline') if baseline else ''}",
            measured,
            ok,
            f"slower than the baseline with the caches warm (load average before measuring {load_average}, "
            f"the baseline's {(baseline or {}).get('load_average', {}).get(str(size), 'not recorded')}): "
            f"{_limit(result)}",
        )
    ]


def _evaluate_repeated(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per endpoint of the repeated mix: the checks at the largest size (and across sizes)."""
    sizes = sorted(int(size) for size in results.get("runs", {}))
    if not sizes:
        return {}
    largest = results["runs"][str(sizes[-1])]
    floor = largest.get("endpoints", {}).get("floor", {})
    floor_rps = (floor.get("c16") or {}).get("rps")
    summary: dict[str, dict[str, Any]] = {}
    for name, result in largest.get("endpoints", {}).items():
        endpoint = _TARGETS.get(name)
        checks: list[dict[str, Any]] = []
        entry: dict[str, Any] = {"checks": checks, "status": result.get("status")}
        summary[name] = entry
        if result.get("status") != "ok" or endpoint is None:
            continue
        c16 = result.get("c16") or {}
        why = _limit(result)
        checks.extend(_latency_checks(endpoint, result.get("c1") or {}, why))
        if endpoint.kind != FLOOR:
            per_size = [_max_queries(results["runs"][str(size)]["endpoints"].get(name) or {}) for size in sizes]
            probes = largest.get("page_size_probes", {}).get(name) or {}
            sized = [v for v in per_size if v is not None]
            paged = [v for v in probes.values() if v is not None]
            if sized:
                constant = len(set(sized)) == 1 and len(set(paged)) <= 1
                ok = constant and max(sized + paged) <= MAX_QUERIES
                measured = " / ".join(str(v) for v in sized)
                if paged:
                    measured += f" (page sizes: {' / '.join(str(v) for v in paged)})"
                warm = (result.get("queries") or {}).get("max")
                reason = (
                    f"query count changes with catalog or page size: {measured}"
                    if not constant
                    else f"{max(sized + paged)} queries per request"
                    + (f" when not cached ({warm} when cached)" if warm is not None and warm < max(sized) else "")
                )
                checks.append(_check("queries", f"constant, <= {MAX_QUERIES}", measured, ok, reason))
        entry["rps_ratio"] = None
        if floor_rps and c16.get("rps") is not None:
            entry["rps_ratio"] = c16["rps"] / floor_rps
            if endpoint.kind in JSON_KINDS:
                ratio = entry["rps_ratio"]
                checks.append(
                    _check(
                        "throughput",
                        f">= {MIN_FLOOR_RATIO:.3f} x floor",
                        f"{ratio:.3f} x floor",
                        ratio >= MIN_FLOOR_RATIO,
                        f"per-request CPU: {why}",
                    )
                )
        elif endpoint.kind in JSON_KINDS and not c16:
            checks.append(
                _check(
                    "throughput", f">= {MIN_FLOOR_RATIO:.2f} x floor", "not measured (too slow at 1 client)", False, why
                )
            )
        entry["scaling"], scaling = _scaling_check(results, "endpoints", name, MAX_SCALING, why)
        if endpoint.kind != FLOOR:
            checks.extend(scaling)
        if endpoint.kind != FLOOR:
            checks.extend(
                _baseline_check(results.get("baseline"), sizes[-1], name, result, largest.get("load_average", "?"))
            )
    return summary


def datasette_ratio(portal: dict[str, Any], datasette: dict[str, Any]) -> tuple[float | None, str, str]:
    """Portal req/s over datasette req/s at 16 clients, with both figures as text.

    When datasette was too slow to be driven at 16 clients, its throughput there is bounded by
    its 1-client rate times the cores its SQL threads can use; the ratio is then a lower bound.
    """
    portal_rps = (portal.get("c16") or {}).get("rps")
    if datasette.get("status") != "ok":
        return None, _fmt(portal_rps, 0), str(datasette.get("status", "-"))
    c16 = datasette.get("c16")
    if c16:
        datasette_rps, datasette_text = c16["rps"], _fmt(c16["rps"], 0)
    else:
        datasette_rps = DATASETTE_CORES * (datasette.get("c1") or {}).get("rps", 0.0)
        datasette_text = f"≤ {_fmt(datasette_rps, 1)} (not driven at 16: {DATASETTE_CORES} cores x 1-client rate)"
    if portal_rps is None or not datasette_rps:
        return None, _fmt(portal_rps, 0), datasette_text
    return portal_rps / datasette_rps, _fmt(portal_rps, 0), datasette_text


def _evaluate_distinct(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per endpoint of the distinct mix: issue 12's targets at the largest size, and the datasette ratio."""
    sizes = sorted(int(size) for size in results.get("runs", {}))
    if not sizes:
        return {}
    largest = results["runs"][str(sizes[-1])]
    summary: dict[str, dict[str, Any]] = {}
    for name, result in largest.get("distinct", {}).items():
        endpoint = _DISTINCT.get(name)
        checks: list[dict[str, Any]] = []
        entry: dict[str, Any] = {"checks": checks, "status": result.get("status"), "datasette_ratio": None}
        summary[name] = entry
        if result.get("status") != "ok" or endpoint is None:
            continue
        why = _limit(result)
        checks.extend(_latency_checks(endpoint, result.get("c1") or {}, why))
        entry["scaling"], scaling = _scaling_check(results, "distinct", name, DISTINCT_MAX_SCALING, why)
        checks.extend(scaling)
        twin = largest.get("datasette", {}).get(name)
        if endpoint.datasette and twin is not None:
            ratio, portal_text, datasette_text = datasette_ratio(result, twin)
            entry["datasette_ratio"] = ratio
            if ratio is None:
                measured = f"not comparable (portal {portal_text}, datasette {datasette_text} req/s)"
                checks.append(_check("vs datasette", f">= {MIN_DATASETTE_RATIO:g}x req/s @16", measured, False, why))
            else:
                checks.append(
                    _check(
                        "vs datasette",
                        f">= {MIN_DATASETTE_RATIO:g}x req/s @16",
                        f"{ratio:.2f}x ({portal_text} vs {datasette_text} req/s)",
                        ratio >= MIN_DATASETTE_RATIO,
                        f"per-request CPU: {why}",
                    )
                )
    return summary


def evaluate(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Every check of a run: ``{"repeated": {endpoint: entry}, "distinct": {endpoint: entry}}``.

    An entry holds its ``checks`` (each pass/fail, the measured figure, and what limits it when it
    fails) and the figures the tables show (ratios, scaling).
    """
    return {"repeated": _evaluate_repeated(results), "distinct": _evaluate_distinct(results)}


def worker_checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for size, run in sorted(results.get("runs", {}).items(), key=lambda item: int(item[0])):
        peaks = [w.get("VmHWM", 0.0) for w in run.get("workers", [])]
        if peaks:
            peak = max(peaks)
            rows.append(
                _check(
                    f"worker peak RSS at {int(size):,} datasets",
                    f"< {MAX_WORKER_RSS_MB} MB",
                    " / ".join(f"{p:.0f} MB" for p in peaks),
                    peak < MAX_WORKER_RSS_MB,
                    "Python heap of the worker",
                )
            )
    return rows


def _verdict(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return "reference"
    if all(c["pass"] for c in checks):
        return "✅ pass"
    return "❌ " + ", ".join(f"{c['check']} {c['measured']}" for c in checks if not c["pass"])


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _failed_row(label: str, result: dict[str, Any], width: int) -> str:
    cells = [label, *(["-"] * (width - 2)), f"**{result.get('status')}**"]
    if result.get("detail"):
        cells[-1] += f" ({result['detail']})"
    return _row(cells)


def render_table(results: dict[str, Any]) -> str:
    """The repeated mix: one row per endpoint at the largest size, with scaling and verdict."""
    sizes = sorted(int(size) for size in results.get("runs", {}))
    if not sizes:
        return "_No results._\n"
    largest = results["runs"][str(sizes[-1])]
    summary = evaluate(results)["repeated"]
    scaled = len(sizes) > 1
    header = [
        "Endpoint",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "cold p50 ms",
        "req/s @16",
        "x floor",
        "cache hits @16",
        "SQL queries",
        "SQL / view ms",
    ]
    if scaled:
        header.append(f"p50 {sizes[-1] // 1000}k / {sizes[0] // 1000}k")
    header.append("Targets")
    lines = [_row(header), "|" + "---|" * len(header)]
    for endpoint in ENDPOINTS:
        result = largest.get("endpoints", {}).get(endpoint.name)
        if result is None:
            continue
        entry = summary.get(endpoint.name, {})
        if result.get("status") != "ok":
            lines.append(_failed_row(endpoint.label, result, len(header)))
            continue
        c1 = result.get("c1") or {}
        c16 = result.get("c16") or {}
        if scaled:
            per_size = [results["runs"][str(s)]["endpoints"].get(endpoint.name) or {} for s in sizes]
            query_text = " → ".join(_queries_text(q) for q in per_size)
        else:
            query_text = _queries_text(result)
        ratio = entry.get("rps_ratio")
        cells = [
            endpoint.label,
            _fmt(c1.get("p50_ms")),
            _fmt(c1.get("p95_ms")),
            _fmt(c1.get("p99_ms")),
            _fmt(result.get("cold_p50_ms", result.get("first_ms"))),
            _fmt(c16.get("rps"), 0),
            "1.00" if endpoint.kind == FLOOR else (f"{ratio:.2f}" if ratio is not None else "-"),
            hit_rate(c16),
            query_text,
            f"{_fmt(result.get('sql_ms'))} / {_fmt(result.get('app_ms'))}",
        ]
        if scaled:
            scaling = entry.get("scaling")
            cells.append(f"{scaling:.2f}x" if scaling is not None else "-")
        cells.append(_verdict(entry.get("checks", [])))
        lines.append(_row(cells))
    return "\n".join(lines) + "\n"


def render_distinct_table(results: dict[str, Any]) -> str:
    """The distinct mix: one row per endpoint at the largest size, with pool, cache hits, scaling, verdict."""
    sizes = sorted(int(size) for size in results.get("runs", {}))
    largest = results["runs"][str(sizes[-1])] if sizes else {}
    if not largest.get("distinct"):
        return ""
    summary = evaluate(results)["distinct"]
    scaled = len(sizes) > 1
    header = ["Endpoint", "distinct paths", "p50 ms", "p95 ms", "p99 ms", "req/s @16", "cache hits @1 / @16"]
    header += ["SQL queries", "SQL / view ms"]
    if scaled:
        header.append(f"p50 {sizes[-1] // 1000}k / {sizes[0] // 1000}k")
    header.append("Targets")
    lines = [_row(header), "|" + "---|" * len(header)]
    for endpoint in DISTINCT_ENDPOINTS:
        result = largest["distinct"].get(endpoint.name)
        if result is None:
            continue
        entry = summary.get(endpoint.name, {})
        if result.get("status") != "ok":
            lines.append(_failed_row(endpoint.label, result, len(header)))
            continue
        c1 = result.get("c1") or {}
        c16 = result.get("c16") or {}
        repeats = c16.get("repeated_requests", 0) + c1.get("repeated_requests", 0)
        paths = f"{result.get('paths', 0):,}" + (f" ({repeats:,} asked twice)" if repeats else "")
        if scaled:
            per_size = [results["runs"][str(s)].get("distinct", {}).get(endpoint.name) or {} for s in sizes]
            query_text = " → ".join(_queries_text(q) for q in per_size)
        else:
            query_text = _queries_text(result)
        cells = [
            endpoint.label,
            paths,
            _fmt(c1.get("p50_ms")),
            _fmt(c1.get("p95_ms")),
            _fmt(c1.get("p99_ms")),
            _fmt(c16.get("rps"), 0),
            f"{hit_rate(c1)} / {hit_rate(c16)}",
            query_text,
            f"{_fmt(result.get('sql_ms'))} / {_fmt(result.get('app_ms'))}",
        ]
        if scaled:
            scaling = entry.get("scaling")
            cells.append(f"{scaling:.2f}x" if scaling is not None else "-")
        cells.append(_verdict(entry.get("checks", [])))
        lines.append(_row(cells))
    return "\n".join(lines) + "\n"


def render_datasette_table(results: dict[str, Any]) -> str:
    """The side-by-side: per JSON cell, both servers' latency at 1 client and throughput at 16."""
    sizes = sorted(int(size) for size in results.get("runs", {}))
    largest = results["runs"][str(sizes[-1])] if sizes else {}
    if not largest.get("datasette"):
        return ""
    header = ["Cell (distinct requests)", "datasette request", "portal p50 / p95 ms", "datasette p50 / p95 ms"]
    header += ["portal req/s @16", "datasette req/s @16", "portal / datasette", f"Target >= {MIN_DATASETTE_RATIO:g}x"]
    lines = [_row(header), "|" + "---|" * len(header)]
    for endpoint in DISTINCT_ENDPOINTS:
        twin = largest["datasette"].get(endpoint.name)
        portal = largest.get("distinct", {}).get(endpoint.name) or {}
        if twin is None:
            continue
        ratio, portal_rps, datasette_rps = datasette_ratio(portal, twin)

        def latency(result: dict[str, Any]) -> str:
            c1 = result.get("c1") or {}
            if result.get("status") != "ok":
                return f"**{result.get('status', '-')}**"
            return f"{_fmt(c1.get('p50_ms'))} / {_fmt(c1.get('p95_ms'))}"

        note = f" ({twin['shortfall']})" if twin.get("shortfall") else ""
        verdict = "-" if ratio is None else ("✅" if ratio >= MIN_DATASETTE_RATIO else "❌")
        lines.append(
            _row(
                [
                    endpoint.label,
                    endpoint.datasette + note,
                    latency(portal),
                    latency(twin),
                    portal_rps,
                    datasette_rps,
                    f"{ratio:.2f}x" if ratio is not None else "-",
                    verdict,
                ]
            )
        )
    return "\n".join(lines) + "\n"


def _misses(labels: dict[str, str], summary: dict[str, dict[str, Any]], prefix: str) -> list[str]:
    lines = []
    for name, label in labels.items():
        for check in (summary.get(name) or {}).get("checks", []):
            if not check["pass"]:
                lines.append(
                    f"- **{prefix}{label}** — {check['check']}: {check['measured']} "
                    f"(target {check['target']}). Limit: {check['limit']}."
                )
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    """The whole report: context, the three tables, every missed target with what limits it, memory."""
    meta = results.get("meta", {})
    sizes = sorted(int(size) for size in results.get("runs", {}))
    summary = evaluate(results)
    out = ["# Benchmark: the portal at catalog scale", ""]
    largest = results["runs"][str(sizes[-1])] if sizes else {}
    if sizes:
        shape = (largest.get("generation") or {}).get("shape", {})
        out.append(
            f"Run {meta.get('finished', '?')} on {meta.get('machine', '?')}, commit `{meta.get('commit', '?')}`. "
            f"Catalog: {shape.get('datasets', 0):,} datasets, {shape.get('volumes', 0):,} volumes, "
            f"{shape.get('crops', 0):,} crops, {shape.get('label_classes', 0)} label classes"
            + (f" (and a {sizes[0]:,}-dataset run for scaling)" if len(sizes) > 1 else "")
            + f". gunicorn, {meta.get('workers', 2)} sync workers, production settings, PostgreSQL + Redis; "
            f"load by {meta.get('tool', '?')} from a separate process, {meta.get('seconds', '?')} s per endpoint "
            "per concurrency level. Latencies at 1 client; throughput at 16 clients."
        )
        out.append("")
    out.append("### Repeated requests: the same few paths again and again (caches warm)")
    out.append("")
    out.append(render_table(results))
    distinct_table = render_distinct_table(results)
    if distinct_table:
        out.append("### Distinct requests: every request new, caches emptied before each run")
        out.append("")
        out.append(distinct_table)
    datasette_table = render_datasette_table(results)
    if datasette_table:
        server = largest.get("datasette_server") or {}
        out.append("### Side by side with datasette: the same distinct requests, one cell after the other")
        out.append("")
        out.append(
            f"datasette {server.get('version', '?')} (`{server.get('command', '?')}`), one process, serving the "
            "SQLite export of the same catalog (`bench/export.py`); the portal cell runs first, then datasette's."
        )
        out.append("")
        out.append(datasette_table)
    misses = _misses({e.name: e.label for e in ENDPOINTS}, summary["repeated"], "")
    misses += _misses({e.name: e.label for e in DISTINCT_ENDPOINTS}, summary["distinct"], "Distinct: ")
    rss = worker_checks(results)
    for check in rss:
        if not check["pass"]:
            misses.append(f"- **{check['check']}**: {check['measured']} (target {check['target']}).")
    out.append("")
    if misses:
        out.append("**Targets missed**, with the measured figure and what limits it:")
        out.append("")
        out.extend(misses)
    elif sizes:
        out.append("**Every measured target holds.**")

    def failing(mix: str, name: str) -> bool:
        return (largest.get(mix, {}).get(name) or {}).get("status") not in (None, "ok")

    unavailable = [e.label for e in ENDPOINTS if failing("endpoints", e.name)]
    unavailable += [f"distinct: {e.label}" for e in DISTINCT_ENDPOINTS if failing("distinct", e.name)]
    unavailable += [f"datasette: {e.label}" for e in DISTINCT_ENDPOINTS if failing("datasette", e.name)]
    if unavailable:
        out.append("")
        out.append("Not measured (endpoint not available or failing): " + ", ".join(unavailable) + ".")
    out.append("")
    if rss:
        out.append(
            "Worker memory after the whole run: "
            + "; ".join(f"{c['check']}: {c['measured']} ({'pass' if c['pass'] else 'FAIL'})" for c in rss)
            + "."
        )
    for size in sizes:
        run = results["runs"][str(size)]
        generation = run.get("generation") or {}
        phases = generation.get("phases") or {}
        line = (
            f"- {size:,} datasets: generated in {generation.get('seconds', '?')} s "
            f"({', '.join(f'{k} {v} s' for k, v in phases.items())}); "
        )
        if run.get("export"):
            line += f"exported to SQLite in {run['export'].get('seconds', '?')} s; "
        if run.get("pools"):
            line += f"distinct pools ({', '.join(f'{k} {v:,}' for k, v in run['pools'].items())}); "
        out.append(line + f"load average before measuring {run.get('load_average', '?')}.")
    out.append("")
    out.append(
        "Columns: p50/p95/p99 end-to-end latency at 1 client; cold p50 ms: one pass over every rotated path "
        "right after the catalog was loaded, before the measured runs (empty caches); req/s with 16 concurrent "
        "clients and as a ratio of the floor (a bare Django JSON view through the same server and middleware); "
        "cache hits: the share of the versioned cache's lookups that hit during the run (`unknown` until the "
        "portal counts them); distinct paths: the pool each distinct run walks through, each path asked once "
        "unless a run outlasts it; SQL queries per request counted in-process (per catalog size); SQL / view ms: "
        "median time in SQL and in the whole Django request, from the server's own headers. Reproduce with "
        "`make bench` (`make bench-small` for a quick look at 1,000 datasets). Machine noise matters: this is "
        "a shared 2-core machine and the load generator runs on it too."
    )
    return "\n".join(out) + "\n"


def update_readme(readme: Path, block: str) -> bool:
    """Replace what lies between the README's bench markers with ``block``; False when absent."""
    if not readme.exists():
        return False
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        return False
    replacement = f"{README_START}\n{block.strip()}\n{README_END}"
    new_text = pattern.sub(lambda _: replacement, text, count=1)
    if new_text != text:
        readme.write_text(new_text)
    return True


def readme_block(results: dict[str, Any]) -> str:
    """The README's excerpt: the table, the misses, and how to reproduce it."""
    markdown = render_markdown(results)
    body = markdown.split("\n", 2)[2] if markdown.startswith("# ") else markdown
    return (
        body.strip() + "\n\nFull results: [bench/latest.md](bench/latest.md), [bench/latest.json](bench/latest.json)."
    )


def baseline_from(results: dict[str, Any]) -> dict[str, Any]:
    """The repeated mix's figures of a run, per size and endpoint: what later runs must keep."""
    meta = results.get("meta", {})
    runs: dict[str, dict[str, dict[str, float]]] = {}
    for size, run in results.get("runs", {}).items():
        for name, result in run.get("endpoints", {}).items():
            c1, c16 = result.get("c1") or {}, result.get("c16") or {}
            if result.get("status") == "ok" and c1.get("p50_ms") is not None:
                figures = {"p50_ms": c1["p50_ms"], "p95_ms": c1["p95_ms"]}
                if c16.get("rps") is not None:
                    figures["rps"] = round(c16["rps"], 1)
                runs.setdefault(size, {})[name] = figures
    return {
        "source": f"commit {meta.get('commit', '?')}, run {meta.get('finished', '?')}",
        "load_average": {size: run.get("load_average") for size, run in results.get("runs", {}).items()},
        "runs": runs,
    }


def load_baseline(path: Path = BASELINE_PATH) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render a benchmark result (JSON) as Markdown.")
    parser.add_argument("result", nargs="?", default=str(Path(__file__).with_name("latest.json")))
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help=f"store the result's repeated-mix figures as the baseline later runs must keep ({BASELINE_PATH.name})",
    )
    args = parser.parse_args(argv)
    results = json.loads(Path(args.result).read_text())
    if args.write_baseline:
        BASELINE_PATH.write_text(json.dumps(baseline_from(results), indent=2, sort_keys=True) + "\n")
        print(f"wrote {BASELINE_PATH}")
        return 0
    results["summary"] = evaluate(results)
    sys.stdout.write(render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
