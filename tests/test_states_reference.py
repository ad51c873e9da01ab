"""Every dataset, volume, crop and view of the shipped reference catalog has a state.

Each state URL answers 200 with a state the ``neuroglancer`` package reads in full (or 409
with the reason, for data Neuroglancer cannot stream: the platelet TIFFs, the confocal HDF5,
volumes published without a location), always with CORS; crop states are centred on their
crop. Never a 500. What each answered is stored with its record (``catalog.indexing``).
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from catalog.models import Crop, CuratedView, Dataset, Volume
from catalog.models.base import VolumeFormat
from catalog.neuroglancer import recipe as ng
from tests.factories import commit_catalog

pytestmark = pytest.mark.django_db


def test_every_reference_record_has_a_viewer_state(client: Client) -> None:
    call_command("load_catalog", stdout=io.StringIO())
    commit_catalog()
    targets = (
        [("state-dataset", d.slug) for d in Dataset.objects.all()]
        + [("state-volume", v.pk) for v in Volume.objects.all()]
        + [("state-crop", c.number) for c in Crop.objects.all()]
        + [("state-view", v.pk) for v in CuratedView.objects.all()]
    )
    assert len(targets) > 800, "the reference catalog did not load"

    states: dict[tuple[str, object], dict] = {}
    conflicts: dict[tuple[str, object], dict] = {}
    for name, key in targets:
        response = client.get(reverse(name, args=[key]))
        assert response.status_code in (200, 409), (name, key, response.status_code, response.content[:300])
        assert response["Access-Control-Allow-Origin"] == "*"
        body = json.loads(response.content)
        if response.status_code == 200:
            ng.parse_state(body)
            states[(name, key)] = body
        else:
            assert body["detail"], (name, key)
            conflicts[(name, key)] = body

    # Only data Neuroglancer cannot stream is refused, and each such volume says why.
    for (name, key), body in conflicts.items():
        if name == "state-volume":
            volume = Volume.objects.get(pk=key)
            unstreamable = volume.format in (VolumeFormat.TIFF, VolumeFormat.HDF5, "") or not volume.url.startswith(
                ("s3://", "gs://", "http://", "https://")
            )
            assert unstreamable, (volume, body)
            assert volume.viewer_problem == body["detail"], "the write path stored the reason the state gives"
        else:
            assert body["errors"], (name, key, body)
    assert ("state-dataset", "jrc_hela-2") in states
    assert len([k for k in states if k[0] == "state-crop"]) == Crop.objects.count()
    assert len([k for k in states if k[0] == "state-view"]) >= CuratedView.objects.count() - 2

    for crop in Crop.objects.all():
        state = states[("state-crop", crop.number)]
        voxel = (crop.voxel_size_x, crop.voxel_size_y, crop.voxel_size_z)
        # The label voxels as drawn start half a voxel before the OME translation (a voxel centre).
        first = [getattr(crop, f"translation_{a}") / voxel[i] - 0.5 for i, a in enumerate("xyz")]
        middle = [first[i] + getattr(crop, f"shape_{a}") / 2 for i, a in enumerate("xyz")]
        assert all(abs(p - m) <= 0.5 + 1e-6 for p, m in zip(state["position"], middle, strict=True)), (
            crop,
            state["position"],
        )
        on_centres = [(p - f - 0.5) % 1.0 for p, f in zip(state["position"], first, strict=True)]
        assert all(min(v, 1 - v) < 1e-6 for v in on_centres), (crop, state["position"], "not a label voxel centre")
        assert state["dimensions"]["x"][0] == pytest.approx(crop.voxel_size_x * 1e-9)
        assert state["layers"][-1]["type"] == "annotation"

    # What each endpoint answered is what the write path stored with the record.
    records = {
        "state-dataset": (Dataset, "slug"),
        "state-volume": (Volume, "pk"),
        "state-crop": (Crop, "number"),
        "state-view": (CuratedView, "pk"),
    }
    for (name, key), state in states.items():
        model, field = records[name]
        record = model.objects.get(**{field: key})
        assert (record.viewer_problem, record.inline_state_length) == ("", len(ng.inline_fragment(state))), record
    for (name, key), body in conflicts.items():
        model, field = records[name]
        record = model.objects.get(**{field: key})
        assert (record.viewer_problem, record.inline_state_length) == (body["detail"], None), record
    assert Dataset.objects.get(slug="platelet-em").viewer_problem
    assert Dataset.objects.get(slug="mouse-brain-confocal").viewer_problem
