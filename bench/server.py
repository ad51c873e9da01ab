"""The systems under test: the portal under gunicorn on its PostgreSQL database, and datasette.

The launcher sets production settings (DEBUG off, manifest static files, PORTAL_PRODUCTION)
with the two things production would get from its proxy relaxed for plain loopback HTTP:
no SSL redirect, and loopback in ALLOWED_HOSTS. Nothing is installed and nothing but the
benchmark's own database (its name must contain "bench") is ever dropped.

datasette serves the SQLite export of the same catalog (``bench.export``) for the
side-by-side, configured the way its documentation tunes a read-only catalog: immutable
(``-i``, no locking, counts cacheable), suggested facets off, every requested facet and query
allowed to finish (the portal's are never cut short either), page size as the portal's.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
WORKERS = 2
# datasette --setting flags (https://docs.datasette.io/en/stable/settings.html).
DATASETTE_SETTINGS = {
    "suggest_facets": "off",
    "default_page_size": "24",
    "default_facet_size": "100",
    "facet_time_limit_ms": "10000",
    "sql_time_limit_ms": "10000",
    "cache_size_kb": "65536",
}


def bench_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment both this process and gunicorn run the portal with."""
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": "portal-bench",
        "PORTAL_PRODUCTION": "true",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": "/tmp/portal_bench_static",
        "PORTAL_BENCH": "1",
        "PORTAL_COUNT_QUERIES": "1",
        "LOG_LEVEL": "WARNING",
        # One loopback client is all the traffic: the anonymous throttle would answer 429s instead.
        "API_ANON_RATE": "1000000/second",
    }


def recreate_database(database_url: str) -> None:
    """Drop and create the benchmark database (refuses any name without 'bench')."""
    import psycopg2
    from psycopg2 import sql

    parsed = urllib.parse.urlparse(database_url)
    name = parsed.path.lstrip("/")
    if "bench" not in name:
        raise ValueError(f"refusing to recreate database {name!r}: its name must contain 'bench'")
    connection = psycopg2.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password or None,
        dbname="postgres",
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running gunicorn master and the log it writes."""

    process: subprocess.Popen
    port: int
    log_path: Path
    started_at: float = field(default_factory=time.time)
    # gunicorn serves from its children; datasette from its own (single) process.
    single_process: bool = False
    ready_path: str = "/bench/floor/"

    @property
    def host(self) -> str:
        return HOST

    def worker_pids(self) -> list[int]:
        if self.single_process:
            return [self.process.pid] if self.process.poll() is None else []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def worker_memory(self) -> list[dict[str, float]]:
        """Peak (VmHWM) and current (VmRSS) resident memory of each worker, in MB."""
        found = []
        for pid in self.worker_pids():
            values: dict[str, float] = {"pid": pid}
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    key, _, rest = line.partition(":")
                    if key in ("VmHWM", "VmRSS"):
                        values[key] = int(rest.split()[0]) / 1024
            except OSError:
                continue
            found.append(values)
        return found

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_until_ready(server: Server, *, processes: int, seconds: float = 90) -> Server:
    """Return ``server`` once it answers its ready path with 200 (and has its workers), else stop it and raise."""
    import http.client

    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.log_path.stem} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            connection = http.client.HTTPConnection(HOST, server.port, timeout=5)
            connection.request("GET", server.ready_path)
            status = connection.getresponse().status
            connection.close()
            if status == 200 and len(server.worker_pids()) >= processes:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(
        f"{server.log_path.stem} did not answer {server.ready_path} within {seconds:g} s:\n{server.log_tail()}"
    )


def start_server(environment: dict[str, str], *, workers: int = WORKERS, ready_path: str = "/bench/floor/") -> Server:
    """Start gunicorn on a free loopback port and wait until it answers ``ready_path``."""
    port = free_port()
    log_path = Path(f"/tmp/portal_bench_gunicorn_{port}.log")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"{HOST}:{port}",
        "--error-logfile",
        str(log_path),
        "--log-level",
        "warning",
        "--timeout",
        "120",
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env={**os.environ, **environment}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    return _wait_until_ready(
        Server(process=process, port=port, log_path=log_path, ready_path=ready_path), processes=workers
    )


def datasette_command(database: Path, port: int) -> list[str]:
    """``datasette serve`` of the export, immutable, with its metadata and ``DATASETTE_SETTINGS``."""
    from bench.export import METADATA_NAME

    command = [sys.executable, "-m", "datasette", "serve", "-i", str(database), "--host", HOST, "--port", str(port)]
    metadata = database.with_name(METADATA_NAME)
    if metadata.exists():
        command += ["--metadata", str(metadata)]
    for name, value in DATASETTE_SETTINGS.items():
        command += ["--setting", name, value]
    return command


def start_datasette(database: Path) -> Server:
    """Start datasette on the SQLite export ``database`` on a free loopback port; wait until it answers."""
    port = free_port()
    log_path = Path(f"/tmp/portal_bench_datasette_{port}.log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(datasette_command(database, port), cwd=database.parent, stdout=log, stderr=log)
    server = Server(process=process, port=port, log_path=log_path, single_process=True, ready_path="/-/versions.json")
    return _wait_until_ready(server, processes=1)
