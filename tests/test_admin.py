"""Every model is in the admin, and the changelists and change forms render for a curator."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse

from catalog import models as m
from catalog.models.derived import DERIVED_MODELS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reference_catalog")]


def test_every_catalog_record_is_registered_and_no_derived_table():
    unregistered = [
        model.__name__
        for model in apps.get_app_config("catalog").get_models()
        if not admin.site.is_registered(model) and model not in DERIVED_MODELS
    ]
    assert unregistered == []
    assert not [model for model in DERIVED_MODELS if admin.site.is_registered(model)], "derived rows are not edited"


@pytest.mark.parametrize(
    "model",
    [m.Dataset, m.Volume, m.Crop, m.CuratedView, m.LabelClass, m.Collection, m.Publication, m.Organism, m.Tissue],
)
def test_changelist_and_change_form_render(admin_client, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), {"q": "a"})
    assert changelist.status_code == 200
    record = model.objects.first()
    change = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk]))
    assert change.status_code == 200


def test_dataset_page_edits_volumes_and_crops_inline(admin_client):
    dataset = m.Dataset.objects.get(slug="jrc_hela-2")
    page = admin_client.get(reverse("admin:catalog_dataset_change", args=[dataset.pk])).content.decode()
    assert "volumes-TOTAL_FORMS" in page
    assert "crops-TOTAL_FORMS" in page
    assert "recon-1/em/fibsem-uint8" in page


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(reverse("admin:catalog_dataset_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def _incomplete(admin_client, value: str) -> set[str]:
    response = admin_client.get(reverse("admin:catalog_dataset_changelist"), {"incomplete": value})
    assert response.status_code == 200
    return {dataset.slug for dataset in response.context["cl"].queryset}


def test_incomplete_filter_lists_what_curators_must_fill(admin_client):
    no_species = _incomplete(admin_client, "organism")
    # "Monkey" names no species (the source says no more); jrc_ut21-1413-003 has no organism at all.
    assert {"jrc_cos7-11", "jrc_cos7-1a", "jrc_cos7-1b", "jrc_ut21-1413-003"} == no_species
    no_date = _incomplete(admin_client, "release_date")
    assert {"jrc_hela-2", "platelet-em"} <= no_date
    assert not {"jrc_mus-skin-1", "jrc_cos7-1a", "mouse-brain-confocal"} & no_date
    no_licence = _incomplete(admin_client, "licence")
    assert "jrc_hela-2" in no_licence
    assert "mouse-brain-confocal" not in no_licence
    no_voxels = _incomplete(admin_client, "voxel_size")
    assert {"mouse-brain-confocal", "jrc_cos7-1a"} <= no_voxels
    assert "jrc_hela-2" not in no_voxels
    assert _incomplete(admin_client, "any") == no_species | no_date | no_licence | no_voxels
    page = admin_client.get(reverse("admin:catalog_dataset_changelist")).content.decode()
    assert "missing organism (or its species)" in page


def test_creators_field_refuses_what_a_manifest_would():
    dataset = m.Dataset.objects.get(slug="jrc_hela-2")
    field = m.Dataset._meta.get_field("creators")
    field.run_validators(dataset.creators)
    with pytest.raises(ValidationError, match="check digit"):
        field.run_validators([{"name": "A B", "given_name": "A", "family_name": "B", "orcid": "0000-0002-1825-0098"}])
    with pytest.raises(ValidationError, match="blank strings where unknown"):
        field.run_validators([{"name": "COSEM Project Team"}])
