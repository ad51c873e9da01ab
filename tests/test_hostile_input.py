"""Hostile numbers and strings: NaN, infinities, NUL characters, lone surrogates and deep nesting are
refused with a 400 (or a loader error) naming the problem, and nothing is stored.

One stored NaN or Infinity used to break every read of its record (JSON cannot carry it), so every
float is checked three times: by the manifest models, on the API's write path, and by the database.
"""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q

from catalog import models as m
from catalog.models.base import FLOAT_MAX
from catalog.services.loading import REFERENCE_CATALOG
from tests import factories
from tests.test_api_fixtures import SmallCatalog, api, small_catalog, token_client  # noqa: F401
from tests.test_api_writes import dataset_payload

pytestmark = pytest.mark.django_db

NON_FINITE = ["Infinity", "-Infinity", "NaN", "inf", "nan"]


@pytest.fixture
def curator():
    return token_client(staff=True)


def refused(response, field: str) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "bad_request"
    fields = [error["field"] for error in body["errors"]]
    assert field in fields, body
    return body


def reads_still_work(client) -> None:
    for path in ("/api/datasets/", "/api/datasets/jrc_hela-2/", "/api/datasets/?q=hela", "/api/volumes/"):
        assert client.get(path).status_code == 200, path


# The API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", NON_FINITE)
def test_a_non_finite_extent_is_refused_and_nothing_is_stored(curator, small_catalog: SmallCatalog, value) -> None:
    payload = dataset_payload(imaging={"extent_nm": {"x": value, "y": 1, "z": 1}})
    body = refused(curator.post("/api/datasets/", payload, format="json"), "imaging.extent_nm.x")
    assert "finite" in body["detail"]
    assert not m.Dataset.objects.filter(slug="jrc_new-cell").exists()
    reads_still_work(curator)


# A JSON body that Python's parser turns into floats: NaN / Infinity literals and an overflowing exponent.
RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


@pytest.mark.parametrize("literal", RAW_NUMBERS)
@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("imaging", "voxel_size_nm", "y"), "imaging.voxel_size_nm.y"),
        (("imaging", "bias_voltage_v"), "imaging.bias_voltage_v"),
        (("volumes", 0, "scale_nm", "z"), "volumes.0.scale_nm.z"),
        (("volumes", 0, "translation_nm", "x"), "volumes.0.translation_nm.x"),
        (("views", 0, "orientation", 3), "views.0.orientation.3"),
        (("views", 0, "scale"), "views.0.scale"),
    ],
)
def test_non_finite_json_literals_are_refused_in_every_numeric_field(
    curator, small_catalog: SmallCatalog, literal, path, field
) -> None:
    payload = dataset_payload(views=[{"name": "overview", "orientation": [0, 0, 0, 1], "scale": 2.0}])
    payload["volumes"][0]["translation_nm"] = {"x": 0, "y": 0, "z": 0}
    payload["imaging"]["bias_voltage_v"] = 1.0
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "__HOLE__"
    text = json.dumps(payload).replace('"__HOLE__"', literal)
    response = curator.generic("POST", "/api/datasets/", text, content_type="application/json")
    if literal.lstrip("-").startswith("1e"):
        # Valid JSON that overflows to an infinite float: the field is named.
        refused(response, field)
    else:
        # Not JSON at all (RFC 8259 has no NaN or Infinity): the parser names the literal.
        assert response.status_code == 400, response.content
        assert literal.lstrip("-") in response.json()["detail"]
    assert not m.Dataset.objects.filter(slug="jrc_new-cell").exists()
    reads_still_work(curator)


def test_volume_and_crop_writes_refuse_non_finite_numbers(curator, small_catalog: SmallCatalog) -> None:
    volume = {
        "dataset": "jrc_hela-2",
        "name": "new-volume",
        "kind": "image",
        "content_type": "em",
        "scale_nm": {"x": 4, "y": 4, "z": 4},
        "display": {"contrast": {"min": 0, "max": "Infinity", "start": 0, "end": 1}},
    }
    refused(curator.post("/api/volumes/", volume, format="json"), "display.contrast.max")
    assert not m.Volume.objects.filter(name="new-volume").exists()
    existing = small_catalog.hela_em
    put = curator.put(
        f"/api/volumes/{existing.pk}/",
        {**volume, "name": existing.name, "display": None, "translation_nm": {"x": "NaN", "y": 0, "z": 0}},
        format="json",
    )
    refused(put, "translation_nm.x")
    existing.refresh_from_db()
    assert existing.translation_x == 0.0
    crop = {
        "dataset": "jrc_hela-2",
        "number": 9999,
        "split": "test",
        "voxel_size_nm": {"x": 4, "y": 4, "z": 4},
        "translation_nm": {"x": 0, "y": "-Infinity", "z": 0},
        "shape": {"x": 1, "y": 1, "z": 1},
    }
    refused(curator.post("/api/crops/", crop, format="json"), "translation_nm.y")
    assert not m.Crop.objects.filter(number=9999).exists()
    reads_still_work(curator)


# The manifests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e400"])
def test_a_manifest_with_a_non_finite_number_fails_the_load_naming_the_field(tmp_path: Path, literal) -> None:
    partial = tmp_path / "partial"
    (partial / "datasets").mkdir(parents=True)
    source = REFERENCE_CATALOG / "datasets" / "platelet-em.json"
    shutil.copy(source, partial / "datasets")
    manifest = partial / "datasets" / "platelet-em.json"
    data = json.loads(manifest.read_text())
    data.setdefault("imaging", {})["extent_nm"] = {"x": "__HOLE__", "y": 1.0, "z": 1.0}
    manifest.write_text(json.dumps(data).replace('"__HOLE__"', literal))
    tables = {model: model.objects.count() for model in apps.get_app_config("catalog").get_models()}

    # manage.py prints a CommandError and exits with its returncode (run_from_argv; not called
    # here because it closes the database connection the test's transaction lives on).
    with pytest.raises(CommandError) as refusal:
        call_command("load_catalog", str(partial))

    assert refusal.value.returncode != 0
    error = str(refusal.value)
    assert "datasets/platelet-em.json" in error
    assert "imaging.extent_nm.x" in error
    assert "finite" in error
    assert {model: model.objects.count() for model in tables} == tables


# The database --------------------------------------------------------------------------------------


def _comparisons(condition: Q) -> set[str]:
    found = set()
    for child in condition.children:
        if isinstance(child, Q):
            found |= _comparisons(child)
        else:
            lookup, value = child
            if value in (FLOAT_MAX, -FLOAT_MAX):
                found.add(lookup)
    return found


def test_every_float_column_has_a_finite_check() -> None:
    missing = []
    for model in apps.get_app_config("catalog").get_models():
        checked: set[str] = set()
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.CheckConstraint):
                checked |= _comparisons(constraint.condition)
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FloatField) and not {f"{field.name}__lte", f"{field.name}__gte"} <= checked:
                missing.append(f"{model.__name__}.{field.name}")
    assert missing == []


def _refused_or_not_stored(record: models.Model, field: str, value: float) -> None:
    """The database refuses the value; SQLite may instead store NaN as NULL (unknown), never as NaN."""
    setattr(record, field, value)
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        return
    assert connection.vendor == "sqlite", f"{field}={value} was stored"
    assert math.isnan(value), f"{field}={value} was stored"
    record.refresh_from_db()
    assert getattr(record, field) is None


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_the_database_refuses_non_finite_floats(value) -> None:
    volume = factories.VolumeFactory()
    dataset = volume.dataset
    crop = factories.CropFactory(dataset=dataset)
    for record, field in [
        (dataset, "extent_x"),
        (dataset, "voxel_size_z"),
        (dataset, "bias_voltage_v"),
        (volume, "translation_y"),
        (volume, "contrast_end"),
        (crop, "translation_x"),
    ]:
        fresh = type(record).objects.get(pk=record.pk)
        _refused_or_not_stored(fresh, field, value)
    # NOT NULL columns refuse NaN on both engines.
    fresh = m.Crop.objects.get(pk=crop.pk)
    fresh.voxel_size_x = value
    with pytest.raises(IntegrityError), transaction.atomic():
        fresh.save()


# Saved states: anyone may post one --------------------------------------------------------------------

STATE = '{"dimensions": {"x": [4e-09, "m"], "y": [4e-09, "m"], "z": [4e-09, "m"]}, "title": %s, "layout": "xy"}'
HOSTILE_STATES = [
    ("nan", STATE % "NaN", "body", "NaN is not a JSON number"),
    ("infinity", STATE % "-Infinity", "body", "-Infinity is not a JSON number"),
    ("overflow", STATE % "1e400", "title", "Inf is not a finite number"),
    ("nul", STATE % '"a\\u0000b"', "title", "Contains a NUL character"),
    ("surrogate", STATE % '"a\\ud800b"', "title", "Contains a lone surrogate (\\ud800)"),
    ("key", '{"layout": "xy", "a\\u0000": 1}', "body", "A key contains a NUL character"),
    ("deep", STATE % ("[" * 40 + "]" * 40), "title" + ".0" * 31, "Nested deeper than 32 levels"),
    ("very deep", STATE % ("[" * 100_000 + "]" * 100_000), "body", "nested deeper than 32 levels"),
    ("not utf-8", b'{"title": "\xff"}', "body", "not UTF-8"),
]


@pytest.mark.parametrize(
    ("body", "field", "words"), [c[1:] for c in HOSTILE_STATES], ids=[c[0] for c in HOSTILE_STATES]
)
def test_hostile_saved_states_are_refused_naming_the_problem(client, body, field, words) -> None:
    response = client.post("/api/states/saved/", data=body, content_type="application/json")

    assert response.status_code == 400, response.content
    envelope = response.json()
    assert envelope["error"] == "bad_request"
    assert words in envelope["detail"]
    assert envelope["errors"][0]["field"] == field
    assert m.SavedState.objects.count() == 0


def test_a_state_at_the_depth_limit_is_still_saved(client) -> None:
    nested = "[" * 30 + "1" + "]" * 30  # body -> title -> 30 arrays: 31 levels
    response = client.post("/api/states/saved/", data=STATE % nested, content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("body", ['{"volumes": [NaN]}', '{"volumes": %s}' % ("[" * 5000 + "]" * 5000)])
def test_custom_state_bodies_are_refused_the_same_way(client, body) -> None:
    response = client.post("/api/states/custom/", data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "body"


# The same on the API's write path (staff) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (json.dumps(dataset_payload(title="a\x00b")), "title", "NUL character"),
        (json.dumps(dataset_payload(tags=["ok", "\ud800"])), "tags.1", "lone surrogate"),
        (json.dumps(dataset_payload(description="[" * 50 + "]" * 50)), None, None),  # deep text is just text
        (
            json.dumps({**dataset_payload(), "x": "__DEEP__"}).replace('"__DEEP__"', "[" * 100_000 + "]" * 100_000),
            "body",
            "nested deeper than 32 levels",
        ),
        ('{"slug": "a", "title": "\\ud800"}', "title", "lone surrogate"),
    ],
)
def test_api_writes_refuse_unstorable_text_and_deep_nesting(curator, small_catalog, body, field, words) -> None:
    response = curator.generic("POST", "/api/datasets/", body, content_type="application/json")
    if field is None:
        assert response.status_code == 201, response.content
        return
    refused(response, field)
    assert words in json.dumps(response.json()["errors"], ensure_ascii=False)
    assert not m.Dataset.objects.filter(slug__in=["a", "jrc_new-cell"]).exists()


def test_api_writes_take_json_only(curator, small_catalog) -> None:
    response = curator.post("/api/datasets/", {"slug": "x"})  # multipart form
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["volumes"][0].update(shape={"x": 2**63, "y": 1, "z": 1}), "volumes.0.shape.x"),
        (lambda p: p["volumes"][0].update(scale_levels=2**15), "volumes.0.scale_levels"),
        (lambda p: p["imaging"].update(duration_days=2**31), "imaging.duration_days"),
        (
            lambda p: p["volumes"][0].update(segment_labels=[{"value": 2**31, "name": "n"}]),
            "volumes.0.segment_labels.0.value",
        ),
        (lambda p: p.update(crops=[{**CROP, "number": 2**31}]), "crops.0.number"),
    ],
)
def test_integers_beyond_their_columns_are_a_400_naming_the_field(curator, small_catalog, change, field) -> None:
    """A number the database column cannot hold is refused before any write (PostgreSQL would
    raise "integer out of range", a 500)."""
    payload = dataset_payload()
    change(payload)
    refused(curator.post("/api/datasets/", payload, format="json"), field)
    assert not m.Dataset.objects.filter(slug="jrc_new-cell").exists()


CROP = {
    "number": 5,
    "split": "test",
    "voxel_size_nm": {"x": 4, "y": 4, "z": 4},
    "translation_nm": {"x": 0, "y": 0, "z": 0},
    "shape": {"x": 1, "y": 1, "z": 1},
}


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_stored_non_finite_values_into_unknown() -> None:
    """A database written before the checks may hold an infinity (or, on PostgreSQL, a NaN) that
    breaks every read of its record: the migration that adds the checks makes such a value in a
    nullable column null (unknown), so the record reads again."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    target = next(key for key in executor.loader.disk_migrations if key[1].endswith("finite_numbers"))
    before = executor.loader.disk_migrations[target].dependencies
    latest = executor.loader.graph.leaf_nodes("catalog")
    try:
        executor.migrate([dep for dep in before if dep[0] == "catalog"])
        old = executor.loader.project_state([dep for dep in before if dep[0] == "catalog"]).apps
        dataset = old.get_model("catalog", "Dataset").objects.create(slug="poisoned", extent_x=math.inf)
        executor = MigrationExecutor(connection)
        executor.migrate([target])
        assert m.Dataset.objects.get(pk=dataset.pk).extent_x is None
    finally:
        MigrationExecutor(connection).migrate(latest)
