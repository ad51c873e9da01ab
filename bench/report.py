"""Judge a benchmark run against the targets and render it: JSON in, Markdown table out.

Pure functions over the result dictionary that ``bench.run`` writes, so a committed
``bench/latest.json`` can be re-rendered (``python -m bench.report bench/latest.json``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from bench.endpoints import (
    ENDPOINTS,
    FLOOR,
    JSON_KINDS,
    MAX_QUERIES,
    MAX_SCALING,
    MAX_WORKER_RSS_MB,
    MIN_FLOOR_RATIO,
)

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"
_TARGETS = {e.name: e for e in ENDPOINTS}


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


def evaluate(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per endpoint: the checks at the largest size (and across sizes), each pass/fail with why."""
    sizes = sorted(int(size) for size in results.get("runs", {}))
    if not sizes:
        return {}
    largest = results["runs"][str(sizes[-1])]
    smallest = results["runs"][str(sizes[0])]
    floor = largest["endpoints"].get("floor", {})
    floor_rps = (floor.get("c16") or {}).get("rps")
    summary: dict[str, dict[str, Any]] = {}
    for name, result in largest["endpoints"].items():
        endpoint = _TARGETS.get(name)
        checks: list[dict[str, Any]] = []
        entry: dict[str, Any] = {"checks": checks, "status": result.get("status")}
        summary[name] = entry
        if result.get("status") != "ok" or endpoint is None:
            continue
        c1 = result.get("c1") or {}
        c16 = result.get("c16") or {}
        why = _limit(result)
        if endpoint.p50_ms is not None:
            p50 = c1.get("p50_ms")
            checks.append(_check("p50", f"<= {endpoint.p50_ms:g} ms", f"{_fmt(p50)} ms", p50 <= endpoint.p50_ms, why))
        if endpoint.p95_ms is not None:
            p95 = c1.get("p95_ms")
            tail = why
            if endpoint.p50_ms is not None and c1.get("p50_ms", 0) <= endpoint.p50_ms:
                tail = (
                    f"the tail, not the median ({_fmt(c1.get('p50_ms'))} ms): slow requests spend their time in "
                    "Python with no SQL (full garbage collections, see bench/README.md)"
                )
            checks.append(_check("p95", f"<= {endpoint.p95_ms:g} ms", f"{_fmt(p95)} ms", p95 <= endpoint.p95_ms, tail))
        if endpoint.kind != FLOOR:
            per_size = [_max_queries(results["runs"][str(size)]["endpoints"].get(name) or {}) for size in sizes]
            probes = results["runs"][str(sizes[-1])].get("page_size_probes", {}).get(name) or {}
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
                    "throughput",
                    f">= {MIN_FLOOR_RATIO:.2f} x floor",
                    "not measured (too slow at 1 client)",
                    False,
                    why,
                )
            )
        entry["scaling"] = None
        if len(sizes) > 1:
            small = smallest["endpoints"].get(name) or {}
            small_p50 = (small.get("c1") or {}).get("p50_ms")
            if small.get("status") == "ok" and small_p50 and c1.get("p50_ms"):
                ratio = c1["p50_ms"] / small_p50
                entry["scaling"] = ratio
                if endpoint.kind != FLOOR:
                    checks.append(
                        _check(
                            "scaling",
                            f"{sizes[-1] // sizes[0]}x catalog <= {MAX_SCALING:g}x p50",
                            f"{ratio:.2f}x",
                            ratio <= MAX_SCALING,
                            f"cost grows with catalog size: {why}",
                        )
                    )
    return summary


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


def render_table(results: dict[str, Any]) -> str:
    """The main table: one row per endpoint at the largest size, with scaling and verdict."""
    sizes = sorted(int(size) for size in results.get("runs", {}))
    if not sizes:
        return "_No results._\n"
    largest = results["runs"][str(sizes[-1])]
    summary = results.get("summary") or evaluate(results)
    scaled = len(sizes) > 1
    header = [
        "Endpoint",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "cold p50 ms",
        "req/s @16",
        "x floor",
        "SQL queries",
        "SQL / view ms",
    ]
    if scaled:
        header.append(f"p50 {sizes[-1] // 1000}k / {sizes[0] // 1000}k")
    header.append("Targets")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for endpoint in ENDPOINTS:
        result = largest["endpoints"].get(endpoint.name)
        if result is None:
            continue
        entry = summary.get(endpoint.name, {})
        if result.get("status") != "ok":
            cells = [endpoint.label, *(["-"] * (len(header) - 2)), f"**{result.get('status')}**"]
            if result.get("detail"):
                cells[-1] += f" ({result['detail']})"
            lines.append("| " + " | ".join(cells) + " |")
            continue
        c1 = result.get("c1") or {}
        c16 = result.get("c16") or {}
        if scaled:
            per_size = [results["runs"][str(s)]["endpoints"].get(endpoint.name) or {} for s in sizes]
            query_text = " → ".join(_queries_text(q) for q in per_size)
        else:
            query_text = _queries_text(result)
        ratio = entry.get("rps_ratio")
        checks = entry.get("checks", [])
        if not checks:
            verdict = "reference"
        elif all(c["pass"] for c in checks):
            verdict = "✅ pass"
        else:
            verdict = "❌ " + ", ".join(f"{c['check']} {c['measured']}" for c in checks if not c["pass"])
        cells = [
            endpoint.label,
            _fmt(c1.get("p50_ms")),
            _fmt(c1.get("p95_ms")),
            _fmt(c1.get("p99_ms")),
            _fmt(result.get("cold_p50_ms", result.get("first_ms"))),
            _fmt(c16.get("rps"), 0),
            "1.00" if endpoint.kind == FLOOR else (f"{ratio:.2f}" if ratio is not None else "-"),
            query_text,
            f"{_fmt(result.get('sql_ms'))} / {_fmt(result.get('app_ms'))}",
        ]
        if scaled:
            scaling = entry.get("scaling")
            cells.append(f"{scaling:.2f}x" if scaling is not None else "-")
        cells.append(verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_markdown(results: dict[str, Any]) -> str:
    """The whole report: context, the table, every missed target with what limits it, memory."""
    meta = results.get("meta", {})
    sizes = sorted(int(size) for size in results.get("runs", {}))
    summary = results.get("summary") or evaluate(results)
    out = ["# Benchmark: the portal at catalog scale", ""]
    if sizes:
        largest = results["runs"][str(sizes[-1])]
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
    out.append(render_table(results))
    misses = []
    for endpoint in ENDPOINTS:
        entry = summary.get(endpoint.name) or {}
        for check in entry.get("checks", []):
            if not check["pass"]:
                misses.append(
                    f"- **{endpoint.label}** — {check['check']}: {check['measured']} "
                    f"(target {check['target']}). Limit: {check['limit']}."
                )
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
    unavailable = [
        e.label
        for e in ENDPOINTS
        if sizes and (results["runs"][str(sizes[-1])]["endpoints"].get(e.name) or {}).get("status") not in (None, "ok")
    ]
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
        out.append(
            f"- {size:,} datasets: generated in {generation.get('seconds', '?')} s "
            f"({', '.join(f'{k} {v} s' for k, v in phases.items())}); "
            f"load average before measuring {run.get('load_average', '?')}."
        )
    out.append("")
    out.append(
        "Columns: p50/p95/p99 end-to-end latency at 1 client; cold p50 ms: one pass over every rotated path "
        "right after the catalog was loaded, before the measured runs (empty caches); req/s with 16 concurrent "
        "clients and as a ratio of "
        "the floor (a bare Django JSON view through the same server and middleware); SQL queries per request "
        "counted in-process (per catalog size); SQL / view ms: median time in SQL and in the whole Django "
        "request, from the server's own headers. Reproduce with `make bench` (about 15 minutes; `make bench-small` "
        "for a quick look at 1,000 datasets). Machine noise matters: this is a shared 2-core machine and the load "
        "generator runs on it too."
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


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    path = Path(args[0]) if args else Path(__file__).with_name("latest.json")
    results = json.loads(path.read_text())
    results["summary"] = evaluate(results)
    sys.stdout.write(render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
