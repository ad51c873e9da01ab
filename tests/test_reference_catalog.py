"""The shipped reference catalog: its counts and a sample of its facts, as loaded."""

import datetime

import pytest

from catalog import citations
from catalog import models as m
from catalog.models import Dataset
from catalog.models.base import axis_vector
from catalog.search import search_datasets

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reference_catalog")]


def test_counts():
    assert m.LabelClass.objects.count() == 77
    assert m.Dataset.objects.count() == 52
    assert m.Crop.objects.count() == 305
    assert m.Crop.objects.filter(split="train").count() == 289
    assert m.Crop.objects.filter(split="test").count() == 16
    assert m.CuratedView.objects.count() == 74
    openorganelle = m.Volume.objects.filter(dataset__provenance__contains="OpenOrganelle dataset manifest")
    assert openorganelle.exclude(name="recon-1/em/fibsem-uint8").count() == 409
    assert m.Mesh.objects.count() == 57


def test_collections():
    challenge = m.Collection.objects.get(slug="cellmap-segmentation-challenge")
    assert challenge.doi.value == "10.25378/janelia.c.7456966"
    assert challenge.datasets.count() == 22
    assert m.Crop.objects.filter(dataset__collections=challenge).count() == 305
    assert challenge.downloads.count() == 4
    p7 = m.Collection.objects.get(slug="p7-mouse-tissue")
    assert sorted(p7.datasets.values_list("slug", flat=True)) == [
        "jrc_mus-heart-1",
        "jrc_mus-hippocampus-1",
        "jrc_mus-kidney-3",
        "jrc_mus-liver-3",
        "jrc_mus-pancreas-4",
        "jrc_mus-skin-1",
        "jrc_mus-thymus-1",
    ]
    assert {t.name for d in p7.datasets.all() for t in d.tissues.all()} == {
        "Pancreas",
        "Liver",
        "Kidney",
        "Heart",
        "Thymus",
        "Hippocampus",
        "Skin",
    }


def test_label_classes_groups_overlap():
    mito = m.LabelClass.objects.get(name="mito")
    assert mito.label_id == 50
    assert sorted(mito.members.values_list("name", flat=True)) == ["mito_lum", "mito_mem", "mito_ribo"]
    assert mito.instance_scored
    assert mito.semantic_scored
    assert mito.colour == "#008000"
    ne_mem = m.LabelClass.objects.get(name="ne_mem")
    assert {"er", "ne", "nuc", "cell", "er_mem_all", "ne_mem_all"} <= set(
        ne_mem.member_of.values_list("name", flat=True)
    )
    assert m.LabelClass.objects.filter(semantic_scored=True).count() == 48
    nuc = m.LabelClass.objects.get(name="nuc")
    assert nuc.description == "Nucleus"
    assert "nucleus" in nuc.aliases
    assert m.LabelClass.objects.get(name="mito_lum").colour == ""


def test_anisotropic_openorganelle_dataset_with_flipped_axes():
    hela = m.Dataset.objects.get(slug="jrc_hela-2")
    assert axis_vector(hela, "voxel_size") == {"x": 4.0, "y": 4.0, "z": 5.24}
    assert hela.organism.name == "Homo sapiens"
    assert hela.organism.ncbi_taxonomy_id == 9606
    assert hela.modality == "efib-sem"
    assert hela.fixation == "hpf"
    assert hela.cell_types.get().name == "HeLa"
    assert {(d.doi.value, d.group) for d in hela.dataset_dois.select_related("doi")} == {
        ("10.25378/janelia.13114211", "em"),
        ("10.25378/janelia.13108343", "segmentations"),
    }
    assert hela.publications.count() == 2
    em = hela.volumes.get(name="fibsem-uint8")
    assert em.format == "precomputed"
    assert axis_vector(em, "scale") == {"x": 4.0, "y": -4.0, "z": 5.24}
    assert axis_vector(em, "translation") == {"x": 0.0, "y": 6400.0, "z": 0.0}
    mito = hela.volumes.get(name="mito_seg")
    assert mito.label_class.name == "mito"
    assert mito.kind == "segmentation"
    assert mito.meshes.count() == 1
    assert hela.crops.count() > 0
    assert hela.volumes.get(name="recon-1/em/fibsem-uint8").format == "ome-zarr-0.4"


def test_crop_geometry_is_kept_as_floats_per_axis():
    crop = m.Crop.objects.get(number=234)
    assert crop.dataset.slug == "jrc_cos7-1a"
    assert axis_vector(crop, "voxel_size") == {"x": 2.0, "y": 2.0, "z": 2.0}
    assert axis_vector(crop, "translation") == {"x": 10670.0, "y": 5160.0, "z": 2760.0}
    assert axis_vector(crop, "shape") == {"x": 400, "y": 400, "z": 400}
    assert crop.labels_url.endswith("jrc_cos7-1a/jrc_cos7-1a.zarr/recon-1/labels/groundtruth/crop234")
    assert crop.label_classes.filter(name="mito_ribo").exists()
    test_crop = m.Crop.objects.get(number=557)
    assert test_crop.split == "test"
    assert test_crop.labels_url == ""
    assert axis_vector(test_crop, "voxel_size") == {"x": 2.0, "y": 2.0, "z": 1.74}


def test_upstream_defects_are_recorded_not_dropped():
    view = m.CuratedView.objects.get(dataset__slug="jrc_hela-2", name="Microtubule predictions")
    assert [layer.name for layer in view.layers.all()] == ["mt-out_pred", "mt-out_seg", "fibsem-uint16"]
    assert view.layers.get(name="mt-out_pred").volume is None
    assert "mt-out_pred" in view.validation_errors[0]["message"]
    h89 = m.Dataset.objects.get(slug="jrc_hela-h89-1")
    assert h89.validation_errors[0]["field"] == "imaging.voxel_size_nm"
    fly = m.Dataset.objects.get(slug="jrc_fly-mb-z0419-20")
    assert "mixed up nm and µm" in fly.validation_errors[0]["message"]
    hela1 = m.Dataset.objects.get(slug="jrc_hela-1")
    assert "Segementations" in hela1.known_issues[0]["message"]


def test_p7_release():
    skin = m.Dataset.objects.get(slug="jrc_mus-skin-1")
    assert skin.organism.name == "Mus musculus"
    assert axis_vector(skin, "voxel_size") == {"x": 8.0, "y": 8.0, "z": 8.0}
    nuclei = skin.volumes.get(name="nuclei-cellpose")
    assert nuclei.provenance.startswith("Cellpose nuclei model")
    assert nuclei.label_class.name == "nuc"
    assert nuclei.status == "invalid"
    assert nuclei.validation_errors[0]["field"] == "url"
    assert skin.volumes.filter(name="tem-qc", content_type="em").exists()
    heart = m.Dataset.objects.get(slug="jrc_mus-heart-1")
    em = heart.volumes.get(name="recon-1/em/fibsem-uint8")
    assert axis_vector(em, "scale") == {"x": 8.0, "y": 8.0, "z": 8.0}
    assert em.status == "ok"


def test_platelet_em():
    platelet = m.Dataset.objects.get(slug="platelet-em")
    assert platelet.modality == "sbf-sem"
    assert axis_vector(platelet, "voxel_size") == {"x": 10.0, "y": 10.0, "z": 40.0}
    images = platelet.volumes.get(name="50-images")
    assert (images.dtype, images.format) == ("uint16", "tiff")
    assert axis_vector(images, "shape") == {"x": 800, "y": 800, "z": 50}
    assert platelet.volumes.get(name="24-images").shape_z == 24
    semantic = platelet.volumes.get(name="50-semantic")
    labels = {s.value: (s.name, s.colour) for s in semantic.segment_labels.all()}
    assert labels == {
        0: ("Background", ""),
        1: ("Cell", "#00008b"),
        2: ("Mitochondria", "#00ffff"),
        3: ("Alpha granule", "#008000"),
        4: ("Canalicular vessel", "#ffff00"),
        5: ("Dense granule body", "#ff0000"),
        6: ("Dense granule core", "#800080"),
    }
    assert semantic.segment_labels.get(value=2).label_class.name == "mito"
    assert platelet.volumes.filter(name__contains="instance").count() == 4


def test_mouse_brain_confocal_keeps_placeholders_empty():
    brain = m.Dataset.objects.get(slug="mouse-brain-confocal")
    assert brain.modality == "confocal"
    assert brain.licence.startswith("Open Data Commons Attribution")
    assert brain.contact == "Foysal.mdkamrulhasan@mayo.edu"
    assert brain.atlas == "Allen Brain Atlas"
    assert brain.metrics == ["iou", "accuracy", "precision", "recall", "f1"]
    assert "HDF5" in brain.data_formats
    assert axis_vector(brain, "voxel_size") is None
    assert brain.benchmark_results.count() == 0
    rgb = brain.volumes.get(name="brainbow-rgb")
    assert [c.colour for c in rgb.channels.all()] == ["#ff0000", "#00ff00", "#0000ff"]
    assert any("'X x X x X micrometers'" in issue["message"] for issue in brain.known_issues)


def test_loading_fills_the_search_index():
    for words in ("hela", "mitochondria"):
        assert "jrc_hela-2" in {d.slug for d in search_datasets(m.Dataset.objects.all(), words, query_text=words)}


def _citation_record(slug: str) -> citations.CitationRecord:
    dataset = Dataset.objects.for_citation().get(slug=slug)
    return citations.dataset_record(dataset, url="https://catalog.example.org/", publisher="Test")


def test_citation_years_come_from_the_sources_or_are_unknown():
    released = dict(m.Dataset.objects.exclude(release_date=None).values_list("slug", "release_date"))
    p7 = {"heart-1", "hippocampus-1", "kidney-3", "liver-3", "pancreas-4", "skin-1", "thymus-1"}
    assert {slug for slug, day in released.items() if day == datetime.date(2024, 9, 6)} == {
        f"jrc_mus-{tissue}" for tissue in p7
    }
    # First published by the challenge (not in OpenOrganelle's catalog): the challenge post's date.
    assert {slug for slug, day in released.items() if day == datetime.date(2024, 12, 16)} == {
        "jrc_cos7-1a",
        "jrc_cos7-1b",
        "jrc_fly-mb-1a",
        "jrc_fly-vnc-1",
        "jrc_mus-kidney-glomerulus-2",
        "jrc_mus-liver-zon-1",
        "jrc_mus-liver-zon-2",
        "jrc_mus-nacc-1",
        "jrc_sum159-4",
        "jrc_ut21-1413-003",
        "jrc_zf-cardiac-1",
    }
    assert released["mouse-brain-confocal"] == datetime.date(2024, 5, 24)
    assert len(released) == 19
    # OpenOrganelle data the challenge re-used is older than the challenge: dated by its papers.
    hela = _citation_record("jrc_hela-2")
    assert (hela.issued, hela.published_year) == (None, 2021)
    assert _citation_record("jrc_choroid-plexus-2").published_year == 2018
    assert _citation_record("jrc_mus-kidney").published_year is None
    years = [_citation_record(slug).published_year for slug in m.Dataset.objects.values_list("slug", flat=True)]
    assert sum(year is not None for year in years) == 41


def test_creators_are_the_contributors_the_sources_name_in_order():
    hela = m.Dataset.objects.get(slug="jrc_hela-2")
    assert [c["name"] for c in hela.creators] == ["Aubrey Weigel", "Gleb Shtengel", "C. Shan Xu", "COSEM Project Team"]
    assert hela.creators[2] == {"name": "C. Shan Xu", "given_name": "C. Shan", "family_name": "Xu", "orcid": ""}
    assert hela.creators[3]["family_name"] == ""
    jurkat = m.Dataset.objects.get(slug="jrc_jurkat-1")
    assert jurkat.creators[1]["family_name"] == "van Engelenburg"
    larva = m.Dataset.objects.get(slug="jrc_fly-larva-1")
    assert [c["name"] for c in larva.creators][-2:] == ["David Peale", "Harald Hess"]
    cos7 = m.Dataset.objects.get(slug="jrc_cos7-11")
    assert "EM" not in [c["name"] for c in cos7.creators]
    skin = m.Dataset.objects.get(slug="jrc_mus-skin-1")
    assert skin.creators == [{"name": "CellMap Project Team", "given_name": "", "family_name": "", "orcid": ""}]
    assert m.Dataset.objects.exclude(creators=[]).count() == 39
    # Nobody named: the institution stands in; nothing named at all: no author rather than an invented one.
    assert _citation_record("mouse-brain-confocal").creators == [
        citations.Creator(name="ENSP, Mayo Clinic, Rochester, MN")
    ]
    assert _citation_record("jrc_cos7-1a").creators == []


def test_monkey_gets_a_species_only_where_the_source_names_it():
    vero = m.Dataset.objects.get(slug="jrc_ccl81-covid-1")
    assert (vero.organism.name, vero.organism.ncbi_taxonomy_id) == ("Chlorocebus aethiops", 9534)
    for slug in ("jrc_cos7-11", "jrc_cos7-1a", "jrc_cos7-1b"):
        organism = m.Dataset.objects.get(slug=slug).organism
        assert (organism.name, organism.ncbi_taxonomy_id) == ("Monkey", None)


def test_the_challenge_about_drops_the_source_s_stale_promotions():
    about = m.Collection.objects.get(slug="cellmap-segmentation-challenge").description
    assert "Submissions will open in early 2025" not in about
    assert "enhanced version" not in about
    assert "Follow submission guidelines to share your results." in about
    assert "### 🔍 View the Data" in about
    assert "---\n\n---" not in about
