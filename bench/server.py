"""The system under test: a dedicated PostgreSQL database and the portal under gunicorn.

The launcher sets production settings (DEBUG off, manifest static files, PORTAL_PRODUCTION)
with the two things production would get from its proxy relaxed for plain loopback HTTP:
no SSL redirect, and loopback in ALLOWED_HOSTS. Nothing is installed and nothing but the
benchmark's own database (its name must contain "bench") is ever dropped.
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

    @property
    def host(self) -> str:
        return HOST

    def worker_pids(self) -> list[int]:
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


def start_server(environment: dict[str, str], *, workers: int = WORKERS, ready_path: str = "/bench/floor/") -> Server:
    """Start gunicorn on a free loopback port and wait until it answers ``ready_path``."""
    import http.client

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
    server = Server(process=process, port=port, log_path=log_path)
    deadline = time.time() + 90
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log_tail()}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", ready_path)
            status = connection.getresponse().status
            connection.close()
            if status == 200 and len(server.worker_pids()) >= workers:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer {ready_path} within 90 s:\n{server.log_tail()}")
