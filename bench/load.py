"""Drive load at the server from another process: wrk when installed, else a Python client.

Both drivers rotate over an endpoint's paths (and If-None-Match values for revalidation) and
return the same ``LoadResult``: request count, throughput and latency percentiles, and the
portal's cache lookups summed from its ``X-Cache-Hits`` / ``X-Cache-Misses`` headers. Each
client thread takes every n-th path from its own offset, so no path is asked twice before the
whole list has been asked once: with the distinct mix's thousands of paths, a run repeats a
request only when it outlasts its list. Traffic only ever goes to the loopback address the
launcher bound.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

RESULT_MARKER = "BENCH_RESULT"

_WRK_SCRIPT = """
local paths = {paths}
local etags = {etags}
local stride = {stride}
local threads = {{}}
local started = 0
function setup(thread)
  thread:set("offset", started)
  started = started + 1
  table.insert(threads, thread)
end
function init(args)
  position = offset
  hits, misses, counted, unknown = 0, 0, 0, 0
end
request = function()
  local i = (position % #paths) + 1
  position = position + stride
  local headers = nil
  if etags[i] ~= nil then headers = {{["If-None-Match"] = etags[i]}} end
  return wrk.format("GET", paths[i], headers)
end
response = function(status, headers, body)
  local h = headers["X-Cache-Hits"] or headers["x-cache-hits"]
  local m = headers["X-Cache-Misses"] or headers["x-cache-misses"]
  if h == "unknown" or m == "unknown" then
    unknown = unknown + 1
  elseif h ~= nil and m ~= nil and tonumber(h) ~= nil and tonumber(m) ~= nil then
    hits = hits + tonumber(h)
    misses = misses + tonumber(m)
    counted = counted + 1
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  local h, m, c, u = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    h = h + thread:get("hits")
    m = m + thread:get("misses")
    c = c + thread:get("counted")
    u = u + thread:get("unknown")
  end
  io.write(string.format("{marker} %d %d %d %d %d %.3f %d %d %d %d %d %d %d %d %d %d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout,
    h, m, c, u))
end
"""


@dataclass
class LoadResult:
    """What one load run measured; latencies in milliseconds."""

    tool: str
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: int
    cache_hits: int = 0
    cache_misses: int = 0
    cache_counted: int = 0
    cache_unknown: int = 0

    def as_dict(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass
class Probe:
    """One request's answer, with the server's own accounting headers."""

    status: int
    elapsed_ms: float
    body_bytes: int
    etag: str | None
    sql_queries: int | None
    sql_ms: float | None
    app_ms: float | None
    content_type: str
    cache_hits: int | None = None
    cache_misses: int | None = None
    cache_unknown: bool = False
    body: bytes = b""


def _cache_header(value: str | None) -> int | None:
    """A cache count header as a number; None when absent, "unknown" or malformed."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def probe(host: str, port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 60) -> Probe:
    """GET ``path`` once on a fresh connection."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        connection.close()

    def number(name: str, kind: type) -> int | float | None:
        value = response.getheader(name)
        return kind(value) if value not in (None, "") else None

    return Probe(
        status=response.status,
        elapsed_ms=elapsed,
        body_bytes=len(body),
        etag=response.getheader("ETag"),
        sql_queries=number("X-SQL-Queries", int),
        sql_ms=number("X-SQL-Time", float),
        app_ms=number("X-App-Time", float),
        content_type=response.getheader("Content-Type", ""),
        cache_hits=_cache_header(response.getheader("X-Cache-Hits")),
        cache_misses=_cache_header(response.getheader("X-Cache-Misses")),
        cache_unknown="unknown" in (response.getheader("X-Cache-Hits"), response.getheader("X-Cache-Misses")),
        body=body,
    )


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _lua_list(values: list[str] | None, count: int) -> str:
    if values is None:
        return "{}"
    assert len(values) == count
    return "{" + ", ".join(json.dumps(v) for v in values) + "}"


def run_wrk(
    host: str,
    port: int,
    paths: list[str],
    *,
    connections: int,
    seconds: float,
    etags: list[str] | None = None,
    timeout: float = 10,
) -> LoadResult:
    """Run wrk for ``seconds`` with ``connections`` open connections over the rotating paths."""
    threads = max(1, min(2, connections))
    script = _WRK_SCRIPT.format(
        paths=_lua_list(paths, len(paths)),
        etags=_lua_list(etags, len(paths)),
        stride=threads,
        marker=RESULT_MARKER,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = Path(handle.name)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        f"{max(1, round(timeout))}s",
        "-s",
        str(script_path),
        f"http://{host}:{port}{paths[0]}",
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + timeout + 60, check=False)
    finally:
        script_path.unlink(missing_ok=True)
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            fields = line.split()[1:]
            requests, duration_us, p50, p95, p99 = (int(x) for x in fields[:5])
            mean = float(fields[5])
            maximum, *errors = (int(x) for x in fields[6:12])
            hits, misses, counted, unknown = (int(x) for x in fields[12:16])
            duration = duration_us / 1e6
            return LoadResult(
                tool="wrk",
                connections=connections,
                seconds=duration,
                requests=requests,
                rps=requests / duration if duration else 0.0,
                p50_ms=p50 / 1000,
                p95_ms=p95 / 1000,
                p99_ms=p99 / 1000,
                mean_ms=mean / 1000,
                max_ms=maximum / 1000,
                errors=sum(errors),
                cache_hits=hits,
                cache_misses=misses,
                cache_counted=counted,
                cache_unknown=unknown,
            )
    raise RuntimeError(f"wrk printed no result (exit {completed.returncode}): {completed.stderr.strip()[:500]}")


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run_python(
    host: str,
    port: int,
    paths: list[str],
    *,
    connections: int,
    seconds: float,
    etags: list[str] | None = None,
    timeout: float = 10,
) -> LoadResult:
    """The fallback driver: one thread per connection, keep-alive when the server allows it.

    Python's GIL makes this client itself a bottleneck at high throughput; wrk is preferred.
    """
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    # Per slot: cache hits, misses, responses that counted them, responses that said "unknown".
    cache = [[0, 0, 0, 0] for _ in range(connections)]
    deadline = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        i = slot
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            headers = {"If-None-Match": etags[i % len(paths)]} if etags else {}
            i += connections
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    errors[slot] += 1
                hits_text, misses_text = response.getheader("X-Cache-Hits"), response.getheader("X-Cache-Misses")
                hits, misses = _cache_header(hits_text), _cache_header(misses_text)
                if "unknown" in (hits_text, misses_text):
                    cache[slot][3] += 1
                elif hits is not None and misses is not None:
                    cache[slot][0] += hits
                    cache[slot][1] += misses
                    cache[slot][2] += 1
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                errors[slot] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=timeout)
                continue
            latencies[slot].append((time.perf_counter() - started) * 1000)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.perf_counter() - started
    merged = sorted(value for values in latencies for value in values)
    return LoadResult(
        tool="python",
        connections=connections,
        seconds=duration,
        requests=len(merged),
        rps=len(merged) / duration if duration else 0.0,
        p50_ms=_percentile(merged, 0.50),
        p95_ms=_percentile(merged, 0.95),
        p99_ms=_percentile(merged, 0.99),
        mean_ms=sum(merged) / len(merged) if merged else 0.0,
        max_ms=merged[-1] if merged else 0.0,
        errors=sum(errors),
        cache_hits=sum(c[0] for c in cache),
        cache_misses=sum(c[1] for c in cache),
        cache_counted=sum(c[2] for c in cache),
        cache_unknown=sum(c[3] for c in cache),
    )


def run_load(
    host: str,
    port: int,
    paths: list[str],
    *,
    connections: int,
    seconds: float,
    etags: list[str] | None = None,
    tool: str = "auto",
    timeout: float = 10,
) -> LoadResult:
    """Run the preferred driver (``tool``: auto, wrk or python); ``timeout`` per request in seconds."""
    driver = run_wrk if tool == "wrk" or (tool == "auto" and wrk_available()) else run_python
    return driver(host, port, paths, connections=connections, seconds=seconds, etags=etags, timeout=timeout)
