"""The catalog loader: idempotent, exact, atomic, and loud about bad manifests."""

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from catalog import models as m
from catalog.services.loading import REFERENCE_CATALOG, ManifestError, load_catalog, read_catalog

pytestmark = pytest.mark.django_db


def table_snapshot() -> dict[str, list[tuple]]:
    """Every row of every catalog table, so two states of the database compare exactly."""
    snapshot = {}
    for model in apps.get_app_config("catalog").get_models():
        if not model._meta.managed:
            continue  # the search index: its columns differ per database (tests/test_filters.py reads it)
        snapshot[model._meta.db_table] = sorted(model.objects.values_list(), key=repr)
        for field in model._meta.many_to_many:
            through = field.remote_field.through
            snapshot[through._meta.db_table] = sorted(through.objects.values_list(), key=repr)
    return snapshot


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A private copy of the reference catalog that a test may edit."""
    target = tmp_path / "catalog"
    shutil.copytree(REFERENCE_CATALOG, target)
    return target


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_loading_an_empty_database_reports_every_row_as_created():
    out = io.StringIO()
    call_command("load_catalog", stdout=out)
    counts = {
        name: (int(created), int(updated), int(unchanged))
        for name, created, updated, unchanged in re.findall(
            r"^(.+): (\d+) created, (\d+) updated, (\d+) unchanged", out.getvalue(), flags=re.M
        )
    }
    # Institutions, cell types, treatments and publications are shared by many datasets.
    assert counts["institutions"] == (m.Institution.objects.count(), 0, 0)
    assert counts["cell types"] == (m.CellType.objects.count(), 0, 0)
    assert counts["treatments"] == (m.Treatment.objects.count(), 0, 0)
    assert counts["publications"] == (m.Publication.objects.count(), 0, 0)
    assert counts["datasets"] == (52, 0, 0)
    assert all(updated == unchanged == 0 for _, updated, unchanged in counts.values()), counts


def test_a_shared_row_counts_once_under_its_strongest_outcome(catalog_copy):
    call_command("load_catalog", str(catalog_copy))
    # The paper is named by several datasets; one of them now gives it another author line.
    edit_json(
        catalog_copy / "datasets" / "jrc_hela-3.json",
        lambda d: d["publications"][0].update(authors="Xu, C. S. et al."),
    )
    report = load_catalog(files=read_catalog(catalog_copy))
    assert report.counts["publications"]["updated"] == 1
    assert report.counts["publications"]["updated"] + report.counts["publications"]["unchanged"] == (
        m.Publication.objects.count()
    )
    assert report.counts["institutions"] == {"unchanged": m.Institution.objects.count()}


def test_loading_twice_leaves_every_row_unchanged():
    call_command("load_catalog")
    before = table_snapshot()
    report = load_catalog(files=read_catalog(REFERENCE_CATALOG))
    assert not report.changed
    assert table_snapshot() == before


def test_export_then_load_is_a_no_op(tmp_path):
    call_command("load_catalog")
    before = table_snapshot()
    call_command("export_catalog", str(tmp_path / "export"))
    report = load_catalog(files=read_catalog(tmp_path / "export"))
    assert not report.changed
    assert table_snapshot() == before
    exported = json.loads((tmp_path / "export" / "datasets" / "jrc_hela-2.json").read_text())
    assert len(exported["volumes"]) == 76


def test_creators_with_an_orcid_survive_export_then_load(catalog_copy, tmp_path):
    creator = {"name": "Josiah Carberry", "given_name": "Josiah", "family_name": "Carberry"}
    edit_json(
        catalog_copy / "datasets" / "jrc_hela-bfa.json",
        lambda d: d["creators"].insert(0, creator | {"orcid": "https://orcid.org/0000-0002-1825-0097"}),
    )
    call_command("load_catalog", str(catalog_copy))
    hela = m.Dataset.objects.get(slug="jrc_hela-bfa")
    assert hela.creators[0] == creator | {"orcid": "0000-0002-1825-0097"}
    assert [c["name"] for c in hela.creators[1:3]] == ["Aubrey Weigel", "Chi-Lun Chang"]
    before = table_snapshot()
    call_command("export_catalog", str(tmp_path / "export"))
    exported = json.loads((tmp_path / "export" / "datasets" / "jrc_hela-bfa.json").read_text())
    assert exported["creators"][0]["orcid"] == "0000-0002-1825-0097"
    assert not load_catalog(files=read_catalog(tmp_path / "export")).changed
    assert table_snapshot() == before


def test_an_edited_manifest_updates_exactly_what_changed(catalog_copy):
    call_command("load_catalog", str(catalog_copy))
    hela = m.Dataset.objects.get(slug="jrc_hela-bfa")
    untouched = m.Dataset.objects.get(slug="jrc_hela-2")

    def retitle(data):
        data["title"] = "BFA-treated HeLa cell, revised"
        data["volumes"][0]["description"] = "Revised description"

    edit_json(catalog_copy / "datasets" / "jrc_hela-bfa.json", retitle)
    report = load_catalog(files=read_catalog(catalog_copy))

    assert report.counts["datasets"]["updated"] == 1
    assert report.counts["volumes"]["updated"] == 1
    hela_after = m.Dataset.objects.get(pk=hela.pk)
    assert hela_after.title == "BFA-treated HeLa cell, revised"
    assert hela_after.updated_at > hela.updated_at
    assert m.Dataset.objects.get(pk=untouched.pk).updated_at == untouched.updated_at


def test_records_missing_from_the_manifests_are_kept_and_reported_unless_pruned(catalog_copy):
    call_command("load_catalog", str(catalog_copy))
    edit_json(catalog_copy / "datasets" / "jrc_hela-bfa.json", lambda d: d["volumes"].pop())
    report = load_catalog(files=read_catalog(catalog_copy))
    assert m.Volume.objects.filter(dataset__slug="jrc_hela-bfa").count() == 9
    assert any(name.startswith("volume jrc_hela-bfa/") for name in report.not_in_manifests)

    report = load_catalog(files=read_catalog(catalog_copy), prune=True)
    assert m.Volume.objects.filter(dataset__slug="jrc_hela-bfa").count() == 8
    assert len(report.deleted) == 1


BAD_MANIFESTS = [
    ("malformed file", lambda p: (p / "datasets" / "jrc_hela-bfa.json").write_text("{not json"), "not valid JSON"),
    (
        "unknown class",
        lambda p: edit_json(
            p / "datasets" / "jrc_hela-bfa.json", lambda d: d["volumes"][0].update(label_class="mitox")
        ),
        "unknown label class 'mitox'",
    ),
    (
        "negative voxel size",
        lambda p: edit_json(
            p / "datasets" / "jrc_hela-bfa.json", lambda d: d["imaging"]["voxel_size_nm"].update(x=-8.0)
        ),
        "imaging.voxel_size_nm.x",
    ),
    (
        "zero volume scale",
        lambda p: edit_json(p / "datasets" / "jrc_hela-bfa.json", lambda d: d["volumes"][1]["scale_nm"].update(z=0)),
        "must not be zero",
    ),
    (
        "duplicate slug",
        lambda p: shutil.copy(p / "datasets" / "jrc_hela-bfa.json", p / "datasets" / "jrc_hela-bfa-copy.json"),
        "does not match the file name",
    ),
    (
        "bad DOI",
        lambda p: edit_json(
            p / "datasets" / "jrc_hela-bfa.json", lambda d: d["dois"][0].update(doi="janelia.13469814")
        ),
        "is not a DOI",
    ),
    (
        "unknown field",
        lambda p: edit_json(p / "datasets" / "jrc_hela-bfa.json", lambda d: d.update(colour="red")),
        "Extra inputs are not permitted",
    ),
    (
        "ORCID with a wrong check digit",
        lambda p: edit_json(
            p / "datasets" / "jrc_hela-bfa.json",
            lambda d: d["creators"][0].update(orcid="0000-0002-1825-0098"),
        ),
        "creators['Aubrey Weigel'].orcid: Value error, '0000-0002-1825-0098' is not an ORCID iD: its check digit",
    ),
    (
        "ORCID on an organisation",
        lambda p: edit_json(
            p / "datasets" / "jrc_hela-2.json",
            lambda d: d["creators"][-1].update(orcid="0000-0002-1825-0097"),
        ),
        "an ORCID iD identifies a person",
    ),
    (
        "crop number claimed twice",
        lambda p: edit_json(
            p / "datasets" / "jrc_hela-3.json",
            lambda d: d["crops"].append(json.loads((p / "datasets" / "jrc_hela-2.json").read_text())["crops"][0]),
        ),
        "crop number already belongs to dataset 'jrc_hela-2'",
    ),
]


@pytest.mark.parametrize(("label", "break_it", "expected"), BAD_MANIFESTS, ids=[b[0] for b in BAD_MANIFESTS])
@pytest.mark.usefixtures("reference_catalog")
def test_a_broken_manifest_is_rejected_whole_and_changes_nothing(catalog_copy, label, break_it, expected):
    edit_json(catalog_copy / "datasets" / "jrc_hela-2.json", lambda d: d.update(title="Changed alongside the error"))
    before = table_snapshot()
    break_it(catalog_copy)

    with pytest.raises(CommandError) as error:
        call_command("load_catalog", str(catalog_copy))

    assert expected in str(error.value)
    assert "nothing was changed" in str(error.value)
    assert table_snapshot() == before


def test_errors_name_the_file_the_record_and_the_field(catalog_copy):
    edit_json(catalog_copy / "datasets" / "jrc_hela-bfa.json", lambda d: d["volumes"][2]["scale_nm"].update(x=0))
    with pytest.raises(ManifestError) as error:
        read_catalog(catalog_copy)
    name = json.loads((catalog_copy / "datasets" / "jrc_hela-bfa.json").read_text())["volumes"][2]["name"]
    assert error.value.problems == [
        f"datasets/jrc_hela-bfa.json: volumes[{name!r}].scale_nm.x: "
        "Value error, must not be zero (a negative value flips the axis)"
    ]


@pytest.mark.usefixtures("reference_catalog")
def test_a_database_refusal_rolls_back_the_whole_load(catalog_copy):
    before = table_snapshot()
    other_url = json.loads((catalog_copy / "datasets" / "jrc_hela-2.json").read_text())["volumes"][0]["url"]

    def steal_url(data):
        data["title"] = "Written before the refusal"
        data["volumes"][0]["url"] = other_url

    edit_json(catalog_copy / "datasets" / "jrc_hela-bfa.json", steal_url)
    with pytest.raises(ManifestError) as error:
        load_catalog(files=read_catalog(catalog_copy))
    assert "datasets/jrc_hela-bfa.json: volumes[" in str(error.value)
    assert table_snapshot() == before


@pytest.mark.usefixtures("reference_catalog")
def test_a_partial_catalog_directory_loads_against_classes_already_in_the_database(tmp_path):
    partial = tmp_path / "partial"
    (partial / "datasets").mkdir(parents=True)
    shutil.copy(REFERENCE_CATALOG / "datasets" / "platelet-em.json", partial / "datasets")
    report = load_catalog(files=read_catalog(partial))
    assert not report.changed
    assert any(name.startswith("dataset ") for name in report.not_in_manifests)
