"""One owner for freshness: the catalog version every process sees, reads that never write, the
change hook that every writer goes through (the admin included), and one definition of
"annotated with class X"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import freshness
from catalog.models import CatalogVersion, Crop, Dataset, DatasetClass, Tissue, Volume
from catalog.search import search_datasets
from tests import factories
from tests.fixtures.browser import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
SERVICE_VARIABLES = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_KEY_PREFIX", "DJANGO_ALLOW_ASYNC_UNSAFE"}
WRITES = ("INSERT", "UPDATE", "DELETE")


# Two processes on one catalog ---------------------------------------------------------------------


class CatalogProcess:
    """A catalog process of its own (``tests.fixtures.catalog_process``) on a shared database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.catalog_process"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _ask(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, "the catalog process died"
        return json.loads(answer)

    def get(self, path: str) -> dict[str, Any]:
        answer = self._ask(f"GET {path}")
        assert answer["status"] == 200, answer
        return answer

    def run(self, code: str) -> None:
        assert self._ask(f"EXEC {json.dumps(code)}")["status"] == "ok"

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def _clean_env(**env: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES} | {"CI": "false"} | env


def _postgres_and_redis_env() -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database and a private Redis key prefix; dropped afterwards."""
    name = f"portal_fresh_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=3).ping()
    except (psycopg2.OperationalError, redis.RedisError) as error:
        skip_or_fail(f"PostgreSQL and Redis are not running here ({error}); CI runs this test")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "CACHE_KEY_PREFIX": name,
        }
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["embedded-sqlite", "postgresql-redis"])
def two_processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[CatalogProcess, CatalogProcess]]:
    """A reader and a writer process over one database: the embedded default (an SQLite file and a
    per-process memory cache each) or PostgreSQL with a shared Redis."""
    services = (
        _postgres_and_redis_env()
        if request.param == "postgresql-redis"
        else iter([{"DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.sqlite3'}"}])
    )
    env = _clean_env(**next(services))
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, capture_output=True
    )
    assert migrated.returncode == 0, migrated.stderr
    reader, writer = CatalogProcess(env), CatalogProcess(env)
    try:
        yield reader, writer
    finally:
        reader.close()
        writer.close()
        next(services, None)


SEED = """
from catalog.models import Dataset, LabelClass, Organism, Volume
organism = Organism.objects.create(name="Homo sapiens", slug="homo-sapiens")
dataset = Dataset.objects.create(slug="jrc_demo", title="Before the edit", organism=organism, modality="fib-sem")
Volume.objects.create(dataset=dataset, name="em", url="s3://bucket/jrc_demo/em.zarr", format="ome-zarr-0.4",
                      kind="image", content_type="em", scale_x=4, scale_y=4, scale_z=4)
"""
EDIT = """
from catalog.models import Dataset, LabelClass, Volume
dataset = Dataset.objects.get(slug="jrc_demo")
dataset.title = "After the edit"
dataset.save()
mito = LabelClass.objects.create(name="mito", long_name="Mitochondria", label_id=3)
Volume.objects.create(dataset=dataset, name="mito_seg", url="s3://bucket/jrc_demo/mito.zarr", format="ome-zarr-0.4",
                      kind="segmentation", content_type="segmentation", label_class=mito)
"""


def test_a_write_in_one_process_is_seen_by_another_at_once(
    two_processes: tuple[CatalogProcess, CatalogProcess],
) -> None:
    reader, writer = two_processes
    writer.run(SEED)
    paths = ("/api/datasets/jrc_demo/", "/datasets/jrc_demo/", "/api/states/datasets/jrc_demo/", "/api/volumes/")
    before = {path: reader.get(path)["body"] for path in paths}
    assert {path: reader.get(path)["body"] for path in paths} == before, "served again (from the reader's cache)"
    assert "Before the edit" in before["/datasets/jrc_demo/"]

    writer.run(EDIT)  # another process writes, as `manage.py ingest` or a second worker would

    assert json.loads(reader.get("/api/datasets/jrc_demo/")["body"])["title"] == "After the edit"
    assert "After the edit" in reader.get("/datasets/jrc_demo/")["body"]
    state = json.loads(reader.get("/api/states/datasets/jrc_demo/")["body"])
    assert [layer["name"] for layer in state["layers"]] == ["em", "mito_seg"]
    assert [volume["name"] for volume in json.loads(reader.get("/api/volumes/")["body"])["results"]] == [
        "em",
        "mito_seg",
    ]
    found = json.loads(reader.get("/api/datasets/?organelle=mito")["body"])["results"]
    assert [dataset["slug"] for dataset in found] == ["jrc_demo"], "derived rows follow the write"
    found = json.loads(reader.get("/api/datasets/?q=edit")["body"])["results"]
    assert [dataset["slug"] for dataset in found] == ["jrc_demo"], "search texts follow the write"


# Reads that never write ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("reference_catalog")
@pytest.mark.parametrize(
    "name",
    [
        "state-dataset:jrc_hela-2",
        "state-dataset:platelet-em",
        "state-crop:first",
        "state-volume:tiff",
        "state-view:first",
    ],
)
def test_a_state_get_changes_no_row_and_no_cache_version(client, name: str) -> None:
    route, _, which = name.partition(":")
    if route == "state-crop":
        key: Any = Crop.objects.order_by("number").first().number
    elif route == "state-volume":
        key = Volume.objects.filter(format="tiff").order_by("pk").first().pk
    elif route == "state-view":
        key = Dataset.objects.get(slug="jrc_hela-2").views.order_by("pk").first().pk
    else:
        key = which
    version = freshness.catalog_version()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(route, args=[key]))
    assert response.status_code in (200, 409)
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]
    assert writes == []
    assert freshness.catalog_version() == version
    assert client.get(reverse(route, args=[key])).content == response.content


# One change hook for every writer -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("reference_catalog")
def test_an_admin_edit_is_found_by_search(admin_client, django_capture_on_commit_callbacks) -> None:
    tissue = Tissue.objects.get(slug="liver")
    version = freshness.catalog_version()
    assert admin_client.get("/api/datasets/?q=hepatic").json()["count"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:catalog_tissue_change", args=[tissue.pk]),
            {"name": "hepatic lobule", "slug": tissue.slug, "uberon_id": tissue.uberon_id},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert freshness.catalog_version() != version
    found = {dataset["slug"] for dataset in admin_client.get("/api/datasets/?q=hepatic").json()["results"]}
    assert found == set(Dataset.objects.filter(tissues=tissue).values_list("slug", flat=True))
    assert found, "the reference catalog has liver datasets"


@pytest.mark.django_db
def test_reads_inside_a_writing_transaction_see_their_writes_and_cache_nothing(client) -> None:
    dataset = factories.DatasetFactory(slug="jrc_cached", title="First")
    factories.commit_catalog()
    with transaction.atomic():
        freshness.cache_set("test", "key", "old")
        assert freshness.cache_get("test", "key") == "old"
    with transaction.atomic():
        dataset.title = "Second"
        dataset.save()
        assert freshness.cache_bypassed()
        assert freshness.cache_get("test", "key") is freshness.MISSING
        freshness.cache_set("test", "key", "written inside")
        transaction.set_rollback(True)
    assert not freshness.cache_bypassed(), "a rolled-back change set is forgotten"
    assert freshness.cache_get("test", "key") == "old", "nothing cached from uncommitted data"


@pytest.mark.django_db
def test_one_flush_per_transaction_moves_the_version_once(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        dataset = factories.DatasetFactory(slug="jrc_many")
        for index in range(5):
            factories.VolumeFactory(dataset=dataset, name=f"v{index}")
    hooks = [callback for callback in callbacks if isinstance(callback, freshness.PendingChanges)]
    assert len(hooks) == 1
    assert hooks[0].dataset_ids == {dataset.pk}
    version = freshness.catalog_version()
    hooks[0]()
    assert freshness.catalog_version() != version


@pytest.mark.django_db
def test_moving_a_volume_refreshes_the_dataset_it_leaves(django_capture_on_commit_callbacks) -> None:
    mito = factories.LabelClassFactory(name="mito", label_id=3)
    first, second = factories.DatasetFactory(slug="jrc_first"), factories.DatasetFactory(slug="jrc_second")
    factories.commit_catalog()
    with django_capture_on_commit_callbacks(execute=True):
        volume = factories.VolumeFactory(dataset=first, name="mito_seg", label_class=mito)
    rows = DatasetClass.objects.filter(dataset__in=[first, second])
    assert list(rows.values_list("dataset__slug", flat=True)) == ["jrc_first"]
    with django_capture_on_commit_callbacks(execute=True):
        volume.dataset = second
        volume.save()
    assert list(rows.values_list("dataset__slug", flat=True)) == ["jrc_second"]


@pytest.mark.django_db
def test_migrate_rebuilds_derived_rows_when_their_recipe_changes() -> None:
    factories.DatasetFactory(slug="jrc_upgraded", title="Upgraded")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_datasetsearch")
    assert not search_datasets(Dataset.objects.all(), "upgraded", query_text="upgraded").exists()
    CatalogVersion.objects.filter(pk=CatalogVersion.SINGLETON_ID).update(derived_revision=0)
    freshness.ensure_derived_current()
    found = search_datasets(Dataset.objects.all(), "upgraded", query_text="upgraded")
    assert [dataset.slug for dataset in found] == ["jrc_upgraded"]
    assert CatalogVersion.objects.get().derived_revision == freshness.DERIVED_REVISION


# One definition of "annotated with class X" ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("reference_catalog")
def test_the_annotated_with_sites_agree_on_platelet_em(client) -> None:
    """platelet-em names mito and cell through segment labels of its semantic TIFFs only."""
    direct = set(
        DatasetClass.objects.filter(dataset__slug="platelet-em", direct=True).values_list(
            "label_class__name", flat=True
        )
    )
    assert direct == {"cell", "mito"}

    def listed(path: str) -> set[str]:
        return {item["slug"] for item in client.get(path).json()["results"]}

    assert "platelet-em" in listed("/api/datasets/?organelle=mito&page_size=100")
    assert "platelet-em" in listed("/api/datasets/?organelle=cell&page_size=100")
    assert "platelet-em" in listed("/api/datasets/?q=mitochondria&page_size=100")
    assert set(client.get("/api/datasets/platelet-em/").json()["organelles"]) == direct
    facets = client.get("/api/datasets/facets/?q=platelet").json()
    assert facets["total"] == 1
    assert {value["value"]: value["count"] for value in facets["organelle"]} == {
        name: 1
        for name in DatasetClass.objects.filter(dataset__slug="platelet-em").values_list("label_class__name", flat=True)
    }
    page = client.get(reverse("catalog:dataset-detail", args=["platelet-em"])).content.decode()
    for name in direct:
        assert reverse("catalog:organelle-detail", args=[name]) in page
    assert "platelet-em" in client.get(reverse("catalog:organelle-detail", args=["mito"])).content.decode()
