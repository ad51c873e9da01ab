"""The Neuroglancer recipe (catalog.neuroglancer), pinned state by state.

Expected states are written out by hand from the recipe's rules (voxel-grid global space,
per-source transforms, voxel-centre positions, 400-pixel panel fit), never produced by the
code under test. Every state must also be one the ``neuroglancer`` package reads in full.
"""

from __future__ import annotations

import json
import urllib.parse

import neuroglancer
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.neuroglancer import recipe as ng


def space(x: float, y: float, z: float, **extra: list) -> dict:
    """A coordinate space in metres, as Neuroglancer writes it."""
    return {"x": [x, "m"], "y": [y, "m"], "z": [z, "m"], **extra}


def matrix(*rows: list[float]) -> list[list[float]]:
    return [list(map(float, row)) for row in rows]


IDENTITY = matrix([1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0])


def assert_parses(state: dict) -> None:
    neuroglancer.ViewerState(state)
    ng.parse_state(state)
    assert neuroglancer.ViewerState(state).to_json() == state


# -- anisotropic EM (40 x 10 x 10 nm z, y, x) -------------------------------------------------

ANISO_DATASET = ng.DatasetInfo(slug="aniso", voxel_size=(10.0, 10.0, 40.0))
ANISO_EM = ng.VolumeInfo(
    id=1,
    name="em",
    url="s3://test-bucket/aniso/aniso.zarr/em",
    format="ome-zarr-0.4",
    kind="image",
    content_type="em",
    dtype="uint8",
    axes="zyx",
    shape=(1000, 800, 200),
    scale=(10.0, 10.0, 40.0),
    translation=(0.0, 0.0, 0.0),
    contrast_min=0,
    contrast_max=255,
    contrast_start=30,
    contrast_end=220,
)


def test_anisotropic_em_volume_state_is_pinned() -> None:
    state = ng.volume_state(ANISO_DATASET, ANISO_EM)

    aniso = space(1e-08, 1e-08, 4e-08)
    assert state == {
        "dimensions": aniso,
        "layout": "4panel",
        "layers": [
            {
                "type": "image",
                "source": [
                    {
                        "url": "zarr://s3://test-bucket/aniso/aniso.zarr/em",
                        "transform": {"inputDimensions": aniso, "outputDimensions": aniso, "matrix": IDENTITY},
                    }
                ],
                "opacity": 1.0,
                "shaderControls": {"normalized": {"range": [30, 220], "window": [0, 255]}},
                "name": "em",
            }
        ],
        "selectedLayer": {"layer": "em"},
        # OME-Zarr translation 0 is the centre of voxel 0, so voxel k spans k - 0.5 .. k + 0.5
        # and the middle voxel (500, 400, 100) has its centre on whole numbers.
        "position": [500.0, 400.0, 100.0],
        # The largest side, 10 um, over 400 px in 10 nm canonical voxels.
        "crossSectionScale": 2.5,
        "projectionScale": 1500.0,
    }
    assert_parses(state)


# -- EM with a flipped axis (OpenOrganelle N5 transforms) ----------------------------------------

HELA_DATASET = ng.DatasetInfo(slug="jrc_hela-2", voxel_size=(4.0, 4.0, 5.24), extent=(48000.0, 6000.0, 33000.0))
HELA_EM = ng.VolumeInfo(
    id=10,
    name="fibsem-uint16",
    url="s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.n5/em/fibsem-uint16",
    format="n5",
    kind="image",
    content_type="em",
    dtype="uint16",
    scale=(4.0, -4.0, 5.24),
    translation=(0.0, 6400.0, 0.0),
    contrast_min=0,
    contrast_max=65535,
    contrast_start=30000,
    contrast_end=40000,
    invert_lut=True,
)
HELA_ER = ng.VolumeInfo(
    id=11,
    name="er_seg",
    url="s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.n5/labels/er_seg",
    format="n5",
    kind="segmentation",
    content_type="segmentation",
    scale=(4.0, 4.0, 5.24),
    translation=(0.0, 0.0, 0.0),
    label_class="er",
    label_class_colour="#0000ff",
)
HELA_MITO_PRED = ng.VolumeInfo(
    id=12,
    name="mito-mem_pred",
    url="s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.n5/labels/mito-mem_pred",
    format="n5",
    kind="image",
    content_type="prediction",
    dtype="uint8",
    scale=(4.0, -4.0, 5.24),
    translation=(0.0, 6400.0, 0.0),
    contrast_min=0,
    contrast_max=255,
    contrast_start=0,
    contrast_end=255,
    display_colour="#00ff00",
)
HELA_MITO = ng.VolumeInfo(
    id=13,
    name="mito_seg",
    url="s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.n5/labels/mito_seg",
    format="n5",
    kind="segmentation",
    content_type="segmentation",
    scale=(4.0, 4.0, 5.24),
    translation=(0.0, 0.0, 0.0),
    label_class="mito",
    label_class_colour="#00ff00",
    meshes=(
        ng.MeshInfo(
            name="mito_seg",
            url="s3://janelia-cosem-datasets/jrc_hela-2/neuroglancer/mesh/mito_seg",
            format="neuroglancer_legacy_mesh",
        ),
    ),
)
HELA_TIFF = ng.VolumeInfo(
    id=14, name="raw-tiff", url="/groups/cosem/raw.tif", format="tiff", kind="image", content_type="em"
)


def test_flipped_em_dataset_state_is_pinned() -> None:
    result = ng.dataset_state(HELA_DATASET, [HELA_ER, HELA_EM, HELA_MITO_PRED, HELA_MITO, HELA_TIFF])

    hela = space(4e-09, 4e-09, 5.24e-09)
    root = "s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.n5"
    # y runs downwards from 6400 nm = 1600 voxels of 4 nm.
    flipped = matrix([1, 0, 0, 0], [0, -1, 0, 1600], [0, 0, 1, 0])
    assert result.state == {
        "dimensions": hela,
        "layout": "4panel",
        "layers": [
            {
                "type": "image",
                "source": [
                    {
                        "url": f"n5://{root}/em/fibsem-uint16",
                        "transform": {"inputDimensions": hela, "outputDimensions": hela, "matrix": flipped},
                    }
                ],
                "opacity": 1.0,
                "shader": "#uicontrol invlerp normalized\nvoid main() {\n  float v = 1.0 - normalized();\n"
                "  emitGrayscale(v);\n}\n",
                "shaderControls": {"normalized": {"range": [30000, 40000], "window": [0, 65535]}},
                "name": "fibsem-uint16",
            },
            {
                "type": "segmentation",
                "source": [
                    {
                        "url": f"n5://{root}/labels/er_seg",
                        "transform": {"inputDimensions": hela, "outputDimensions": hela, "matrix": IDENTITY},
                    }
                ],
                "segmentDefaultColor": "#0000ff",
                "name": "er_seg",
            },
            {
                "type": "image",
                "source": [
                    {
                        "url": f"n5://{root}/labels/mito-mem_pred",
                        "transform": {"inputDimensions": hela, "outputDimensions": hela, "matrix": flipped},
                    }
                ],
                "opacity": 1.0,
                "shader": '#uicontrol invlerp normalized\n#uicontrol vec3 color color(default="#00ff00")\n'
                "void main() {\n  float v = normalized();\n  emitRGB(color * v);\n}\n",
                "shaderControls": {"normalized": {"range": [0, 255], "window": [0, 255]}},
                "blend": "additive",
                "name": "mito-mem_pred",
                "visible": False,
            },
            {
                "type": "segmentation",
                "source": [
                    {
                        "url": f"n5://{root}/labels/mito_seg",
                        "transform": {"inputDimensions": hela, "outputDimensions": hela, "matrix": IDENTITY},
                    },
                    {"url": "precomputed://s3://janelia-cosem-datasets/jrc_hela-2/neuroglancer/mesh/mito_seg"},
                ],
                "segmentDefaultColor": "#00ff00",
                "name": "mito_seg",
            },
        ],
        "selectedLayer": {"layer": "fibsem-uint16"},
        # Centre of the 48 x 6 x 33 um extent: (24000, 3000, 16500) nm = voxel (6000, 750, 3148.9).
        "position": [6000.5, 750.5, 3148.5],
        "crossSectionScale": 30.0,
        "projectionScale": 18000.0,
    }
    assert [(volume.name, error.field) for volume, error in result.skipped] == [("raw-tiff", "format")]
    assert_parses(result.state)


# -- ground-truth crop ------------------------------------------------------------------------------

COS7_DATASET = ng.DatasetInfo(slug="jrc_cos7-1a")
COS7_EM = ng.VolumeInfo(
    id=20,
    name="fibsem-uint8",
    url="s3://janelia-cosem-datasets/jrc_cos7-1a/jrc_cos7-1a.zarr/recon-1/em/fibsem-uint8",
    format="ome-zarr-0.4",
    kind="image",
    content_type="em",
    dtype="uint8",
)
CROP = ng.CropInfo(
    number=234,
    voxel_size=(2.0, 2.0, 2.0),
    translation=(1000.0, 2000.0, 3000.0),
    shape=(400, 300, 200),
    labels_url="s3://janelia-cosem-datasets/jrc_cos7-1a/jrc_cos7-1a.zarr/recon-1/labels/groundtruth/crop234",
    label_classes=(
        ng.LabelClassInfo("mito", 3, "#00ff00"),
        ng.LabelClassInfo("nuc", 37, "#ff0000"),
    ),
)


def test_ground_truth_crop_state_is_pinned() -> None:
    result = ng.crop_state(COS7_DATASET, CROP, [COS7_EM])

    grid = space(2e-09, 2e-09, 2e-09)
    labels = "zarr://s3://janelia-cosem-datasets/jrc_cos7-1a/jrc_cos7-1a.zarr/recon-1/labels/groundtruth/crop234"
    assert result.state == {
        "dimensions": grid,
        "layout": "4panel",
        "layers": [
            {
                "type": "image",
                # No catalogued scale: the OME-Zarr metadata places the EM.
                "source": [{"url": "zarr://" + COS7_EM.url}],
                "opacity": 1.0,
                "shaderControls": {"normalized": {"range": [0, 255], "window": [0, 255]}},
                "name": "fibsem-uint8",
            },
            {
                "type": "segmentation",
                "source": [{"url": f"{labels}/all"}],
                "segmentColors": {"3": "#00ff00", "37": "#ff0000"},
                "segments": ["3", "37"],
                "name": "crop234/all",
            },
            {
                "type": "segmentation",
                "source": [{"url": f"{labels}/mito"}],
                "segmentDefaultColor": "#00ff00",
                "name": "crop234/mito",
                "visible": False,
            },
            {
                "type": "segmentation",
                "source": [{"url": f"{labels}/nuc"}],
                "segmentDefaultColor": "#ff0000",
                "name": "crop234/nuc",
                "visible": False,
            },
            {
                "type": "annotation",
                "source": [{"url": "local://annotations", "transform": {"outputDimensions": grid}}],
                "annotations": [
                    {
                        "type": "axis_aligned_bounding_box",
                        "id": "crop234",
                        # The labels' OME translation is the centre of voxel 0: the box starts
                        # half a label voxel before it, where Neuroglancer draws that voxel.
                        "pointA": [499.5, 999.5, 1499.5],
                        "pointB": [899.5, 1299.5, 1699.5],
                        "description": "crop234",
                    }
                ],
                "annotationColor": "#ffff00",
                "name": "crop234 box",
            },
        ],
        "selectedLayer": {"layer": "crop234/all"},
        # Box middle (1399, 2299, 3199) nm is the corner between label voxels; the centre of
        # label voxel (200, 150, 100) is at (1400, 2300, 3200) nm = (700, 1150, 1600) on the grid.
        "position": [700.0, 1150.0, 1600.0],
        "crossSectionScale": 1.0,
        "projectionScale": 600.0,
    }
    assert_parses(result.state)


# -- platelet semantic labels with class colours -----------------------------------------------------

PLATELET_DATASET = ng.DatasetInfo(slug="platelet-em-1", voxel_size=(10.0, 10.0, 40.0))
PLATELET_LABELS = ng.VolumeInfo(
    id=30,
    name="semantic-labels",
    url="s3://test-bucket/platelet/platelet.zarr/labels/semantic",
    format="ome-zarr-0.4",
    kind="segmentation",
    content_type="groundtruth",
    dtype="uint8",
    shape=(800, 800, 250),
    scale=(10.0, 10.0, 40.0),
    translation=(0.0, 0.0, 0.0),
    segment_labels=(
        ng.SegmentLabelInfo(0, "Background"),
        ng.SegmentLabelInfo(1, "Cell", "#00008b"),
        ng.SegmentLabelInfo(2, "Mitochondrion", "#ff0000"),
        ng.SegmentLabelInfo(3, "Alpha granule", "#ffff00"),
    ),
)


def test_platelet_semantic_labels_state_is_pinned() -> None:
    state = ng.volume_state(PLATELET_DATASET, PLATELET_LABELS)

    grid = space(1e-08, 1e-08, 4e-08)
    assert state == {
        "dimensions": grid,
        "layout": "4panel",
        "layers": [
            {
                "type": "segmentation",
                "source": [
                    {
                        "url": "zarr://s3://test-bucket/platelet/platelet.zarr/labels/semantic",
                        "transform": {"inputDimensions": grid, "outputDimensions": grid, "matrix": IDENTITY},
                    }
                ],
                "segmentColors": {"1": "#00008b", "2": "#ff0000", "3": "#ffff00"},
                "segments": ["1", "2", "3"],
                "name": "semantic-labels",
            }
        ],
        "selectedLayer": {"layer": "semantic-labels"},
        # OME-Zarr: the middle voxel (400, 400, 125) is centred on whole numbers.
        "position": [400.0, 400.0, 125.0],
        "crossSectionScale": 2.5,
        "projectionScale": 1500.0,
    }
    assert_parses(state)


# -- multicolour confocal (Brainbow RGB) ---------------------------------------------------------------

BRAIN_DATASET = ng.DatasetInfo(slug="mouse-brain-brainbow")
BRAINBOW = ng.VolumeInfo(
    id=40,
    name="brainbow",
    url="s3://test-bucket/brain/brainbow.ome.zarr",
    format="ome-zarr-0.4",
    kind="image",
    content_type="lm",
    dtype="uint16",
    axes="czyx",
    shape=(512, 512, 64),
    scale=(250.0, 250.0, 1000.0),
    translation=(0.0, 0.0, 0.0),
    contrast_min=0,
    contrast_max=65535,
    contrast_start=0,
    contrast_end=4000,
    channels=(
        ng.ChannelInfo(0, "mCherry", "#ff0000"),
        ng.ChannelInfo(1, "EYFP", "#00ff00"),
        ng.ChannelInfo(2, "mTFP", "#0000ff"),
    ),
)


def test_multicolour_confocal_state_is_pinned() -> None:
    state = ng.volume_state(BRAIN_DATASET, BRAINBOW)

    grid = space(2.5e-07, 2.5e-07, 1e-06)
    shader = "\n".join(
        [
            "#uicontrol invlerp ch0(channel=0)",
            '#uicontrol vec3 color0 color(default="#ff0000")',
            "#uicontrol invlerp ch1(channel=1)",
            '#uicontrol vec3 color1 color(default="#00ff00")',
            "#uicontrol invlerp ch2(channel=2)",
            '#uicontrol vec3 color2 color(default="#0000ff")',
            "void main() {",
            "  vec3 rgb = vec3(0.0);",
            "  rgb += color0 * (ch0());",
            "  rgb += color1 * (ch1());",
            "  rgb += color2 * (ch2());",
            "  emitRGB(min(rgb, vec3(1.0)));",
            "}",
            "",
        ]
    )
    contrast = {"range": [0, 4000], "window": [0, 65535]}
    assert state == {
        # No dataset voxel size: the volume's own grid.
        "dimensions": grid,
        "layout": "4panel",
        "layers": [
            {
                "type": "image",
                "source": [
                    {
                        "url": "zarr://s3://test-bucket/brain/brainbow.ome.zarr",
                        "transform": {
                            # The OME channel axis c' becomes the channel dimension c^.
                            "inputDimensions": {**grid, "c'": [1.0, ""]},
                            "outputDimensions": {**grid, "c^": [1.0, ""]},
                            "matrix": matrix([1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]),
                        },
                    }
                ],
                "opacity": 1.0,
                "shader": shader,
                "shaderControls": {"ch0": contrast, "ch1": contrast, "ch2": contrast},
                "name": "brainbow",
            }
        ],
        "selectedLayer": {"layer": "brainbow"},
        "position": [256.0, 256.0, 32.0],
        "crossSectionScale": 1.28,
        "projectionScale": 768.0,
    }
    assert_parses(state)


# -- sources, links and edge cases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fmt", "endpoint", "expected"),
    [
        ("s3://bucket/a/b.zarr/em", "ome-zarr-0.4", "", "zarr://s3://bucket/a/b.zarr/em"),
        ("s3://bucket/a/b.zarr/em/", "zarr-v2", "", "zarr://s3://bucket/a/b.zarr/em"),
        ("s3://bucket/a.zarr", "ome-zarr-0.5", "", "zarr3://s3://bucket/a.zarr"),
        ("s3://bucket/a.zarr", "zarr-v3", "", "zarr3://s3://bucket/a.zarr"),
        ("s3://bucket/a.n5/em", "n5", "", "n5://s3://bucket/a.n5/em"),
        ("s3://bucket/seg", "precomputed", "", "precomputed://s3://bucket/seg"),
        ("s3://bucket/a.n5/em", "n5", "http://127.0.0.1:9000", "n5://http://127.0.0.1:9000/bucket/a.n5/em"),
        (
            "s3://bucket/a.zarr",
            "ome-zarr-0.4",
            "https://s3.example.org/",
            "zarr://https://s3.example.org/bucket/a.zarr",
        ),
        ("https://host/data.zarr", "ome-zarr-0.4", "http://127.0.0.1:9000", "zarr://https://host/data.zarr"),
        ("gs://bucket/seg", "precomputed", "", "precomputed://gs://bucket/seg"),
    ],
)
def test_volume_source_maps_format_and_storage(url: str, fmt: str, endpoint: str, expected: str) -> None:
    assert ng.volume_source(url, fmt, endpoint) == expected


@pytest.mark.parametrize(
    ("url", "fmt", "field", "invalid"),
    [
        ("s3://bucket/raw.tif", "tiff", "format", False),
        ("s3://bucket/raw.h5", "hdf5", "format", False),
        ("s3://bucket/raw", "klb", "format", True),
        ("/nrs/cosem/raw.zarr", "ome-zarr-0.4", "url", False),
        ("file:///nrs/raw.zarr", "ome-zarr-0.4", "url", False),
        ("", "ome-zarr-0.4", "url", False),
    ],
)
def test_unviewable_volumes_name_the_reason(url: str, fmt: str, field: str, invalid: bool) -> None:
    with pytest.raises(ng.NotViewableError) as caught:
        ng.volume_source(url, fmt)
    assert caught.value.field == field
    assert caught.value.invalid is invalid
    assert caught.value.message


def test_zero_or_non_finite_geometry_is_rejected() -> None:
    for bad in (
        {"scale": (4.0, 0.0, 4.0)},
        {"scale": (4.0, float("nan"), 4.0)},
        {"translation": (float("inf"), 0.0, 0.0)},
    ):
        volume = ng.VolumeInfo(**{**ANISO_EM.__dict__, **bad})
        with pytest.raises(ng.NotViewableError) as caught:
            ng.volume_state(ANISO_DATASET, volume)
        assert caught.value.invalid


def test_volume_without_shape_or_scale_and_dataset_without_geometry_still_parses() -> None:
    bare = ng.VolumeInfo(id=1, name="em", url="s3://b/em.zarr", format="ome-zarr-0.4", kind="image", content_type="em")
    state = ng.volume_state(ng.DatasetInfo(slug="bare"), bare)

    # Nothing says where the data is: a 1 nm x, y, z grid, and Neuroglancer centres on the data.
    assert state["dimensions"] == space(1e-09, 1e-09, 1e-09)
    assert "position" not in state
    assert "shaderControls" not in state["layers"][0]
    assert state["layers"][0]["source"] == [{"url": "zarr://s3://b/em.zarr"}]
    assert_parses(state)


def test_dataset_state_outlines_its_crops_on_the_dataset_grid() -> None:
    state = ng.dataset_state(HELA_DATASET, [HELA_EM], crops=[CROP]).state

    layer = state["layers"][-1]
    box = layer.pop("annotations")
    assert layer == {
        "type": "annotation",
        "source": [{"url": "local://annotations", "transform": {"outputDimensions": space(4e-09, 4e-09, 5.24e-09)}}],
        "annotationColor": "#ffff00",
        "name": "crops",
    }
    assert [(b["type"], b["id"], b["description"]) for b in box] == [
        ("axis_aligned_bounding_box", "crop234", "crop234")
    ]
    # (999, 1999, 2999) .. (1799, 2599, 3399) nm (half a 2 nm label voxel before the OME
    # translation) on a 4 x 4 x 5.24 nm grid (stored as float32).
    assert box[0]["pointA"] == pytest.approx([249.75, 499.75, 572.328244], rel=1e-6)
    assert box[0]["pointB"] == pytest.approx([449.75, 649.75, 648.664122], rel=1e-6)
    assert_parses(state)


def test_dataset_without_extent_is_centred_on_its_focus_crop() -> None:
    bare = ng.VolumeInfo(id=1, name="em", url="s3://b/em.zarr", format="ome-zarr-0.4", kind="image", content_type="em")
    dataset = ng.DatasetInfo(slug="challenge", focus=((1000.0, 2000.0, 3000.0), (800.0, 600.0, 400.0)))

    state = ng.dataset_state(dataset, [bare]).state

    assert state["position"] == [1400.5, 2300.5, 3200.5]
    assert state["crossSectionScale"] == 2.0


def test_volume_without_shape_is_centred_on_the_dataset_extent() -> None:
    volume = ng.VolumeInfo(**{**ANISO_EM.__dict__, "shape": None})
    dataset = ng.DatasetInfo(slug="aniso", voxel_size=(10.0, 10.0, 40.0), extent=(2000.0, 4000.0, 8000.0))
    state = ng.volume_state(dataset, volume)

    assert state["position"] == [100.5, 200.5, 100.5]
    assert state["crossSectionScale"] == 2.0


def test_uint16_without_display_settings_uses_its_full_range() -> None:
    volume = ng.VolumeInfo(
        id=1, name="em", url="s3://b/em.zarr", format="ome-zarr-0.4", kind="image", content_type="em", dtype="uint16"
    )
    state = ng.volume_state(ANISO_DATASET, volume)

    assert state["layers"][0]["shaderControls"] == {"normalized": {"range": [0, 65535], "window": [0, 65535]}}


def test_dataset_state_shows_image_and_meshed_segmentations_and_hides_the_rest() -> None:
    segs = [
        ng.VolumeInfo(
            id=100 + i,
            name=f"seg{i}",
            url=f"s3://b/seg{i}",
            format="n5",
            kind="segmentation",
            content_type="segmentation",
            meshes=(ng.MeshInfo("m", f"s3://b/mesh{i}", "neuroglancer_legacy_mesh"),) if i >= 5 else (),
        )
        for i in range(8)
    ]
    second_image = ng.VolumeInfo(**{**HELA_EM.__dict__, "id": 99, "name": "fibsem-uint8", "url": "s3://b/em8"})
    result = ng.dataset_state(HELA_DATASET, [HELA_EM, second_image, *segs])

    visible = {layer["name"] for layer in result.state["layers"] if layer.get("visible", True)}
    assert visible == {"fibsem-uint16", "seg5", "seg6", "seg7", "seg0", "seg1"}
    assert result.state["layers"][1]["name"] == "fibsem-uint8"
    assert result.state["layers"][1]["blend"] == "additive"
    assert_parses(result.state)


def test_view_state_uses_position_scale_orientation_and_draws_images_first() -> None:
    view = ng.CuratedViewInfo(name="Mito", position=(24000.0, 3000.0, 16500.0), scale=8.0, orientation=(0, 0, 0, 2))
    result = ng.curated_view_state(HELA_DATASET, view, [HELA_MITO, HELA_EM])

    assert [layer["name"] for layer in result.state["layers"]] == ["fibsem-uint16", "mito_seg"]
    assert all(layer.get("visible", True) for layer in result.state["layers"])
    assert result.state["position"] == [6000.5, 750.5, 3148.5]
    assert result.state["crossSectionScale"] == 2.0
    assert result.state["crossSectionOrientation"] == [0.0, 0.0, 0.0, 1.0]
    assert_parses(result.state)


@pytest.mark.parametrize("orientation", [None, [0, 0, 0, 0], [1, 2], ["a", "b", "c", "d"], [float("nan")] * 4])
def test_view_state_ignores_unusable_orientations(orientation: list | None) -> None:
    view = ng.CuratedViewInfo(name="v", position=None, scale=None, orientation=orientation)
    result = ng.curated_view_state(HELA_DATASET, view, [HELA_EM])

    assert "crossSectionOrientation" not in result.state
    assert_parses(result.state)


def test_mesh_with_its_own_scale_gets_a_transform() -> None:
    mesh = ng.MeshInfo(
        "m", "s3://b/mesh", "neuroglancer_multilod_draco", scale=(8.0, 8.0, 8.0), translation=(40.0, 0, 0)
    )
    volume = ng.VolumeInfo(**{**HELA_MITO.__dict__, "meshes": (mesh,)})
    state = ng.volume_state(HELA_DATASET, volume)

    assert state["layers"][0]["source"][1] == {
        "url": "precomputed://s3://b/mesh",
        "transform": {
            "inputDimensions": space(8e-09, 8e-09, 8e-09),
            "outputDimensions": space(4e-09, 4e-09, 5.24e-09),
            "matrix": matrix([1, 0, 0, 10], [0, 1, 0, 0], [0, 0, 1, 0]),
        },
    }
    assert_parses(state)


def test_links_put_the_state_url_or_the_state_itself_after_the_hash() -> None:
    assert ng.viewer_url("https://v.example/", "https://p.example/api/states/datasets/a/") == (
        "https://v.example/#!https://p.example/api/states/datasets/a/"
    )
    state = ng.volume_state(ANISO_DATASET, ANISO_EM)
    inline = ng.inline_neuroglancer_url("https://v.example/", state)
    base, _, fragment = inline.partition("#!")
    assert base == "https://v.example/"
    assert json.loads(urllib.parse.unquote(fragment)) == state


@pytest.mark.parametrize(
    "bad",
    [
        {"layers": 5},
        {"position": "abc"},
        {"layers": [{"name": "a", "type": "image", "source": "zarr://x", "opacity": "x"}]},
        {"layers": [{"name": "a", "type": "segmentation", "source": "zarr://x", "segments": ["abc"]}]},
    ],
)
def test_parse_state_reads_the_whole_state(bad: dict) -> None:
    with pytest.raises((TypeError, ValueError, KeyError, AttributeError)):
        ng.parse_state(bad)


def test_white_images_use_the_default_shader_and_whole_contrast_stays_integral() -> None:
    volume = ng.VolumeInfo(
        **{
            **ANISO_EM.__dict__,
            "dtype": "",
            "display_colour": "#ffffff",
            "contrast_start": 24444.0,
            "contrast_end": 34078.0,
            "contrast_max": 65535.0,
        }
    )
    layer = ng.volume_state(ANISO_DATASET, volume)["layers"][0]

    assert "shader" not in layer
    assert layer["shaderControls"] == {"normalized": {"range": [24444, 34078], "window": [0, 65535]}}


def test_default_visible_prefers_organelle_segmentations_over_contact_sites() -> None:
    contacts = ng.VolumeInfo(**{**HELA_MITO.__dict__, "id": 50, "name": "er_mito_contacts", "content_type": "analysis"})
    plain = ng.VolumeInfo(**{**HELA_ER.__dict__, "id": 51, "name": f"seg-{51}"})
    others = [ng.VolumeInfo(**{**HELA_MITO.__dict__, "id": 60 + i, "name": f"meshed-{i}"}) for i in range(4)]

    shown = ng.default_visible([contacts, plain, HELA_EM, *others])

    assert shown == {HELA_EM.id, plain.id, *(v.id for v in others)}


def test_multichannel_without_catalogued_scale_renames_the_channel_axis_in_array_order() -> None:
    volume = ng.VolumeInfo(**{**BRAINBOW.__dict__, "scale": None, "translation": None})
    dataset = ng.DatasetInfo(slug="brain", voxel_size=(250.0, 250.0, 1000.0))

    source = ng.volume_state(dataset, volume)["layers"][0]["source"][0]

    assert source["transform"] == {
        "outputDimensions": {"c^": [1.0, ""], "z": [1e-06, "m"], "y": [2.5e-07, "m"], "x": [2.5e-07, "m"]}
    }
    assert list(source["transform"]["outputDimensions"]) == ["c^", "z", "y", "x"]


def test_colours_that_are_not_hex_never_reach_the_shader() -> None:
    channels = (ng.ChannelInfo(0, "a", 'red"); }'), ng.ChannelInfo(1, "b", "#00FF00"))
    volume = ng.VolumeInfo(**{**BRAINBOW.__dict__, "channels": channels, "display_colour": "x"})

    shader = ng.volume_state(BRAIN_DATASET, volume)["layers"][0]["shader"]

    assert 'color0 color(default="#ff0000")' in shader
    assert 'color1 color(default="#00ff00")' in shader
    assert "red" not in shader


# -- any metadata: a parseable state or a named reason, nothing else ------------------------------------

_numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64))
_vectors = st.one_of(st.none(), st.tuples(_numbers, _numbers, _numbers))
_volumes = st.builds(
    ng.VolumeInfo,
    id=st.integers(1, 10**6),
    name=st.text(min_size=1, max_size=20),
    url=st.one_of(st.sampled_from(["s3://b/k.zarr", "https://h/k", "/local/k", "", "s3://"]), st.text(max_size=30)),
    format=st.one_of(st.sampled_from([*ng.SOURCE_PREFIXES, "tiff", "hdf5", ""]), st.text(max_size=10)),
    kind=st.one_of(st.sampled_from(["image", "segmentation", "mesh", "annotation"]), st.text(max_size=10)),
    content_type=st.sampled_from(["em", "lm", "prediction", "segmentation", "groundtruth", "analysis"]),
    dtype=st.sampled_from(["", "uint8", "uint16", "float32", "uint64", "weird"]),
    axes=st.sampled_from(["", "zyx", "czyx", "tczyx"]),
    shape=_vectors,
    scale=_vectors,
    translation=_vectors,
    contrast_min=_numbers,
    contrast_max=_numbers,
    contrast_start=_numbers,
    contrast_end=_numbers,
    display_colour=st.one_of(st.sampled_from(["", "#00ff00", "#ffffff"]), st.text(max_size=8)),
    invert_lut=st.booleans(),
    label_class_colour=st.sampled_from(["", "#ff0000"]),
    channels=st.lists(
        st.builds(ng.ChannelInfo, index=st.integers(0, 5), colour=st.text(max_size=8)),
        max_size=4,
        unique_by=lambda c: c.index,
    ).map(tuple),
    segment_labels=st.lists(
        st.builds(
            ng.SegmentLabelInfo,
            value=st.integers(0, 2**32),
            name=st.text(max_size=5),
            colour=st.sampled_from(["", "#123456"]),
        ),
        max_size=3,
        unique_by=lambda s: s.value,
    ).map(tuple),
)
_datasets = st.builds(ng.DatasetInfo, slug=st.just("d"), voxel_size=_vectors, extent=_vectors)


@settings(max_examples=150, deadline=None)
@given(dataset=_datasets, volume=_volumes)
def test_any_volume_gives_a_parseable_state_or_a_reason(dataset: ng.DatasetInfo, volume: ng.VolumeInfo) -> None:
    try:
        state, reason = ng.volume_state(dataset, volume), None
    except ng.NotViewableError as error:
        state, reason = None, error
    if reason is not None:
        assert reason.field
        assert reason.message
    else:
        ng.parse_state(state)
        assert len(state["layers"]) == 1


@settings(max_examples=60, deadline=None)
@given(dataset=_datasets, volumes=st.lists(_volumes, max_size=5, unique_by=lambda v: v.name))
def test_any_dataset_gives_a_parseable_state(dataset: ng.DatasetInfo, volumes: list[ng.VolumeInfo]) -> None:
    result = ng.dataset_state(dataset, volumes)

    ng.parse_state(result.state)
    assert len(result.state["layers"]) + len(result.skipped) == len(volumes)
