"""Settings come from the environment; production refuses to start half-configured."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = {
    "PORTAL_PRODUCTION": "true",
    "SECRET_KEY": "test-only-production-key-7f3a9c2e1b8d4f6a0c5e9b3d7a1f4c8e2b6d0a9f3c7e1b5d",
    "ALLOWED_HOSTS": "portal.example.org",
    "DATABASE_URL": "sqlite:////tmp/unused-portal-settings-check.sqlite3",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}


# Service settings, and the async-safety switch that the browser tests set for Playwright.
SERVICE_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def run_django(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh interpreter with only ``env`` on top of a service-free environment."""
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "REDIS_URL"])
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run_django("check", **env)
    assert result.returncode != 0
    assert f"Production needs {missing}" in result.stderr


def test_deploy_checks_are_clean_in_production():
    result = run_django("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_defaults_need_no_services():
    script = "from django.conf import settings as s; print(s.DEBUG, s.CELERY_TASK_ALWAYS_EAGER, s.DATABASES)"
    result = run_django("shell", "--no-imports", "-c", script)
    assert result.returncode == 0, result.stderr
    debug, eager, databases = result.stdout.split(" ", 2)
    assert (debug, eager) == ("False", "True")
    assert "'ENGINE': 'django.db.backends.sqlite3'" in databases
    assert str(ROOT / "db.sqlite3") in databases


def test_media_go_to_s3_when_a_bucket_is_configured():
    script = (
        "from django.core.files.storage import default_storage as d; d._setup(); "
        "print(type(d._wrapped).__name__, d.url('thumbnails/a.png'))"
    )
    local = run_django("shell", "--no-imports", "-c", script)
    assert local.stdout.split()[0] == "FileSystemStorage", local.stderr
    remote = run_django("shell", "--no-imports", "-c", script, MEDIA_S3_BUCKET="portal-media")
    backend, url = remote.stdout.split()
    assert backend == "S3Storage"
    assert url == "https://portal-media.s3.amazonaws.com/media/thumbnails/a.png"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT must be 0 or more."),
        ("JOB_STALE_SECONDS", "600", "JOB_STALE_SECONDS must exceed the ingest task's hard time limit."),
    ],
)
def test_robustness_settings_refuse_values_that_cannot_work(variable: str, value: str, message: str) -> None:
    result = run_django("check", **{variable: value})
    assert result.returncode != 0
    assert message in result.stderr
