"""States put the data where it is: one placement convention for every format, in the JSON.

Neuroglancer 2.41 places a source by its own metadata (OME-Zarr: multiscales scale and
translation, the translation being the centre of voxel 0; precomputed: ``voxel_offset``; N5
and plain Zarr: the origin). The catalog's translation is read from that same metadata, so a
layer's transform adds it only where the metadata does not carry it. Expected values are
worked out by hand here; the real viewer checks them in tests/test_browser_placement.py.
"""

from __future__ import annotations

import neuroglancer
import pytest

from catalog.neuroglancer import recipe as ng

GRID_NM = 8.0
DATASET = ng.DatasetInfo(slug="translated", voxel_size=(GRID_NM,) * 3)


def volume(format: str, translation: tuple[float, float, float], **extra: object) -> ng.VolumeInfo:
    """An 8 nm, 64-voxel cube of ``format`` at ``translation`` (nm)."""
    return ng.VolumeInfo(
        id=1,
        name="em",
        url="s3://bucket/translated/em",
        format=format,
        kind="image",
        content_type="em",
        dtype="uint8",
        shape=(64.0, 64.0, 64.0),
        scale=(GRID_NM,) * 3,
        translation=translation,
        **extra,  # type: ignore[arg-type]
    )


def added_translation(state: dict) -> list[float]:
    """The translation column of the first layer's source transform, in grid voxels."""
    return [row[3] for row in state["layers"][0]["source"][0]["transform"]["matrix"]]


@pytest.mark.parametrize("format", ["ome-zarr-0.4", "ome-zarr-0.5"])
def test_ome_zarr_translation_is_left_to_its_metadata(format: str) -> None:
    state = ng.volume_state(DATASET, volume(format, (512.0, 0.0, 0.0)))

    # Neuroglancer reads the 512 nm from the OME metadata; adding it again drew the data at 1024.
    assert added_translation(state) == [0.0, 0.0, 0.0]
    # Voxel 0's centre is at 512 nm, so the data spans 508 .. 1020 nm in x (-4 .. 508 in y, z):
    # the middle voxel 32 is centred on 768 nm = grid 96 (and on 256 nm = grid 32 in y, z).
    assert state["position"] == [96.0, 32.0, 32.0]


def test_n5_translation_is_added_by_the_transform() -> None:
    state = ng.volume_state(DATASET, volume("n5", (512.0, 0.0, 0.0)))

    # Neuroglancer reads no offset from N5 attributes: the transform puts voxel 0's corner at 512 nm.
    assert added_translation(state) == [64.0, 0.0, 0.0]
    assert state["position"] == [96.5, 32.5, 32.5]


def test_precomputed_voxel_offset_is_left_to_its_info() -> None:
    state = ng.volume_state(DATASET, volume("precomputed", (512.0, 0.0, 0.0)))

    # Ingest read the 512 nm from the info's voxel_offset (64 voxels), which Neuroglancer applies.
    assert added_translation(state) == [0.0, 0.0, 0.0]
    assert state["position"] == [96.5, 32.5, 32.5]


@pytest.mark.parametrize("format", ["n5", "precomputed"])
def test_a_flipped_axis_is_applied_as_openorganelle_applies_it(format: str) -> None:
    flipped = ng.VolumeInfo(**{**volume(format, (0.0, 512.0, 0.0)).__dict__, "scale": (8.0, -8.0, 8.0)})

    state = ng.volume_state(DATASET, flipped)

    # y runs downwards from 512 nm: mirrored, then shifted by the catalogued 512 nm = 64 voxels.
    transform = state["layers"][0]["source"][0]["transform"]["matrix"]
    assert transform[1] == [0.0, -1.0, 0.0, 64.0]
    assert state["position"] == [32.5, 32.5, 32.5]


def test_crop_box_and_centre_sit_on_the_label_voxels_as_drawn() -> None:
    crop = ng.CropInfo(
        number=7,
        voxel_size=(4.0, 4.0, 4.0),
        translation=(130.0, 130.0, 130.0),
        shape=(32.0, 32.0, 32.0),
        labels_url="s3://bucket/translated/labels/crop7",
    )

    state = ng.crop_state(DATASET, crop, [volume("ome-zarr-0.4", (512.0, 0.0, 0.0))]).state

    box = state["layers"][-1]["annotations"][0]
    # The labels' OME translation (130 nm) is the centre of label voxel 0: it spans 128 .. 132.
    assert box["pointA"] == [32.0, 32.0, 32.0]
    assert box["pointB"] == [64.0, 64.0, 64.0]
    # The middle label voxel 16 spans 192 .. 196 nm: the position is its centre, 194 nm = 48.5.
    assert state["position"] == [48.5, 48.5, 48.5]
    # The EM keeps the placement its OME metadata gives it.
    assert added_translation(state) == [0.0, 0.0, 0.0]


def test_dataset_outline_of_a_crop_matches_the_crop_state() -> None:
    crop = ng.CropInfo(
        number=7, voxel_size=(4.0, 4.0, 4.0), translation=(130.0, 2.0, 2.0), shape=(32.0, 32.0, 32.0), labels_url=""
    )

    state = ng.dataset_state(DATASET, [volume("n5", (0.0, 0.0, 0.0))], crops=[crop]).state

    outline = state["layers"][-1]["annotations"][0]
    assert outline["pointA"] == [16.0, 0.0, 0.0]
    assert outline["pointB"] == [32.0, 16.0, 16.0]


def _crowded(count: int) -> list[ng.VolumeInfo]:
    em = volume("n5", (0.0, 0.0, 0.0))
    segmentations = [
        ng.VolumeInfo(
            id=10 + n,
            name=f"seg{n}",
            url=f"s3://bucket/seg{n}",
            format="n5",
            kind="segmentation",
            content_type="prediction",
        )
        for n in range(count - 1)
    ]
    return [em, *segmentations]


def test_a_crowded_dataset_state_archives_the_layers_hidden_by_default() -> None:
    state = ng.dataset_state(DATASET, _crowded(ng.LAYER_BAR_CAPACITY + 5)).state

    shown = [layer["name"] for layer in state["layers"] if not layer.get("archived")]
    archived = [layer for layer in state["layers"] if layer.get("archived")]
    assert shown == ["em"], "only what is drawn stays in the layer bar"
    assert len(archived) == ng.LAYER_BAR_CAPACITY + 4
    assert all("visible" not in layer for layer in archived), "archived implies hidden"
    # The neuroglancer package reads the flag back and keeps the layers hidden.
    viewer_state = neuroglancer.ViewerState(ng.parse_state(state))
    assert [layer.archived for layer in viewer_state.layers][1:] == [True] * len(archived)
    assert not any(layer.visible for layer in viewer_state.layers[1:])
    assert viewer_state.to_json() == state


def test_a_small_dataset_state_keeps_its_hidden_layers_in_the_bar() -> None:
    state = ng.dataset_state(DATASET, _crowded(4)).state

    assert not any(layer.get("archived") for layer in state["layers"])
    assert [layer.get("visible", True) for layer in state["layers"]] == [True, False, False, False]
