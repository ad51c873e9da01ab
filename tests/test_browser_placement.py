"""In the real viewer: translated data is drawn, and framed, where it is.

OME-Zarr volumes go into the moto S3 server with a translation in their multiscales metadata
and are catalogued as ingest records them (the same translation). The portal runs in
pytest-django's live server and headless Chromium opens their ``neuroglancer_url`` in the
self-hosted Neuroglancer. Neuroglancer itself says where it put the data (the bounds of the
global coordinate space, which it computes from every layer's placement), and the pixels of
the first panel must show the data where the state frames it: the 8 nm 64-voxel volume
translated by 512 nm in x spans 508 .. 1020 nm, not 1020 .. 1532 nm (the translation added
twice); a translated crop's labels are drawn over the EM they annotate, inside their box.
"""

# viewer_build is a fixture imported from tests.test_browser_viewer and used as a parameter.
# ruff: noqa: F811

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import RequestFactory
from PIL import Image

from catalog.models.base import ContentType
from catalog.neuroglancer.links import neuroglancer_links
from tests.factories import CropFactory, DatasetFactory, LabelClassFactory, VolumeFactory
from tests.fixtures.browser import drawn_viewer, panel_box
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_browser_viewer import viewer_build  # noqa: F401
from tests.test_viewer_smoke import make_test_volume

pytestmark = [pytest.mark.browser, pytest.mark.s3, pytest.mark.django_db(transaction=True)]

SIZE = 64
VOXEL_NM = 8.0
SHIFT_NM = 512.0


def open_in_viewer(browser: Any, url: str, screenshot: Path) -> dict[str, Any]:
    """Open a viewer link and report what Neuroglancer made of it: load state, position, the
    bounds of the data (global voxels), the first panel's box, and the console."""
    with drawn_viewer(browser, url, screenshot) as viewer:
        report = viewer.page.evaluate(
            """() => {
              const space = window.viewer.coordinateSpace.value;
              return {
                names: space.names,
                lower: Array.from(space.bounds.lowerBounds),
                upper: Array.from(space.bounds.upperBounds),
                position: Array.from(window.viewer.position.value),
              };
            }"""
        )
        box = panel_box(viewer.page)
    return {**report, "loaded": viewer.state, "box": box, "console": viewer.console[-20:]}


def pixel(screenshot: Path, box: dict[str, float], dx_px: float, dy_px: float) -> tuple[int, int, int]:
    """The mean colour of a 5 x 5 patch at an offset from the panel's centre."""
    with Image.open(screenshot) as image:
        rgb = image.convert("RGB")
        cx, cy = box["x"] + box["width"] / 2 + dx_px, box["y"] + box["height"] / 2 + dy_px
        patch = [rgb.getpixel((int(cx) + i, int(cy) + j)) for i in range(-2, 3) for j in range(-2, 3)]
    return tuple(round(sum(p[c] for p in patch) / len(patch)) for c in range(3))  # type: ignore[return-value]


def _yellow(colour: tuple[int, int, int]) -> bool:
    return colour[0] > 200 and colour[1] > 200 and colour[2] < 80


def _magenta(colour: tuple[int, int, int]) -> bool:
    """Magenta labels blended over grey EM."""
    return colour[0] > 140 and colour[2] > 140 and colour[1] < 90


def _columns(screenshot: Path, box: dict[str, float], dy_px: float, match: Any) -> list[float]:
    """Offsets from the panel's centre of the pixels of one row (``dy_px`` below the centre)
    that ``match`` a colour, left to right."""
    with Image.open(screenshot) as image:
        rgb = image.convert("RGB")
        centre = box["x"] + box["width"] / 2
        row = int(box["y"] + box["height"] / 2 + dy_px)
        return [
            x - centre
            for x in range(int(box["x"]) + 2, int(box["x"] + box["width"]) - 2)
            if match(rgb.getpixel((x, row)))
        ]


def yellow_columns(screenshot: Path, box: dict[str, float], dy_px: float) -> list[float]:
    return _columns(screenshot, box, dy_px, _yellow)


def link(live_server: Any, kind: str, key: int) -> str:
    host = urllib.parse.urlsplit(live_server.url).netloc
    return neuroglancer_links(RequestFactory().get("/", HTTP_HOST=host), kind, key)["neuroglancer_url"]


def test_a_translated_ome_zarr_volume_is_framed_where_its_data_is(
    s3_server: S3Server, chromium_browser: Any, artifacts_dir: Path, live_server: Any, settings: Any, viewer_build: Path
) -> None:
    settings.AWS_ENDPOINT_URL_S3 = s3_server.endpoint_url
    settings.NEUROGLANCER_VIEWER_URL = ""
    bucket = s3_server.create_public_bucket()
    key = "shifted/shifted.zarr/em"
    write_ome_zarr(
        s3_server.endpoint_url,
        bucket,
        key,
        make_test_volume(SIZE),
        voxel_size_zyx_nm=(VOXEL_NM,) * 3,
        translation_zyx_nm=(0.0, 0.0, SHIFT_NM),
    )
    dataset = DatasetFactory(slug="shifted", voxel_size_x=VOXEL_NM, voxel_size_y=VOXEL_NM, voxel_size_z=VOXEL_NM)
    volume = VolumeFactory(
        dataset=dataset,
        name="em",
        url=f"s3://{bucket}/{key}",
        **{f"shape_{a}": SIZE for a in "xyz"},
        **{f"scale_{a}": VOXEL_NM for a in "xyz"},
        translation_x=SHIFT_NM,  # as ingest records it: the OME metadata's translation
        translation_y=0.0,
        translation_z=0.0,
        contrast_start=0,
        contrast_end=255,
    )
    url = link(live_server, "volume", volume.pk)
    screenshot = artifacts_dir / "browser-placement-volume.png"

    seen = open_in_viewer(chromium_browser, url, screenshot)

    diag = f"url={url} screenshot={screenshot} seen={seen}"
    assert seen["loaded"].get("ready"), diag
    assert seen["names"] == ["x", "y", "z"], diag
    # Neuroglancer's own bounds of the data, in 8 nm voxels: 508 .. 1020 nm in x, -4 .. 508 nm in y, z.
    assert seen["lower"] == pytest.approx([63.5, -0.5, -0.5]), diag
    assert seen["upper"] == pytest.approx([127.5, 63.5, 63.5]), diag
    # Framed on the data: the centre of its middle voxel, 768 nm (and 256 nm) from the origin.
    assert seen["position"] == pytest.approx([96.0, 32.0, 32.0]), diag
    # 1.28 nm per pixel (512 nm over 400 px). The 230-grey block of voxels z 32..47, y 32..55,
    # x 8..23 is cut by the z = 32 slice at x 572 .. 700 nm, y 252 .. 444 nm: probe (636, 350) nm.
    block = pixel(screenshot, seen["box"], (636 - 768) / 1.28, (350 - 256) / 1.28)
    assert min(block) >= 200, f"the block is not where its data is: {block} {diag}"
    # Neuroglancer outlines the data's bounds in yellow: the left one at 508 nm, 203 px left.
    edges = yellow_columns(screenshot, seen["box"], (350 - 256) / 1.28)
    assert edges, f"no bounds drawn {diag}"
    assert abs(edges[0] - (508 - 768) / 1.28) <= 2, f"data starts {edges[0]:.0f} px from the centre {diag}"


def test_a_translated_crop_is_drawn_over_the_em_it_annotates(
    s3_server: S3Server, chromium_browser: Any, artifacts_dir: Path, live_server: Any, settings: Any, viewer_build: Path
) -> None:
    """EM translated by 512 nm in x; 4 nm labels whose OME translation puts label voxel 0's
    centre at (638, 126, 126) nm, so the crop covers 636 .. 764 x 124 .. 252 x 124 .. 252 nm
    of the EM. The labels (class 900, magenta) fill its x < 700, y < 188 nm quarter."""
    settings.AWS_ENDPOINT_URL_S3 = s3_server.endpoint_url
    settings.NEUROGLANCER_VIEWER_URL = ""
    bucket = s3_server.create_public_bucket()
    em_key = "annotated/annotated.zarr/recon-1/em/fibsem-uint8"
    write_ome_zarr(
        s3_server.endpoint_url,
        bucket,
        em_key,
        np.full((SIZE, SIZE, SIZE), 100, dtype=np.uint8),
        voxel_size_zyx_nm=(VOXEL_NM,) * 3,
        translation_zyx_nm=(0.0, 0.0, SHIFT_NM),
    )
    crop_root = "annotated/annotated.zarr/recon-1/labels/groundtruth/crop4243"
    quarter = np.zeros((32, 32, 32), dtype=np.uint16)
    quarter[:, :16, :16] = 1
    for name, labels in (("all", quarter * 900), ("cell", quarter)):
        write_ome_zarr(
            s3_server.endpoint_url,
            bucket,
            f"{crop_root}/{name}",
            labels,
            voxel_size_zyx_nm=(4.0, 4.0, 4.0),
            translation_zyx_nm=(126.0, 126.0, 638.0),
            n_levels=1,
        )
    dataset = DatasetFactory(slug="annotated", voxel_size_x=VOXEL_NM, voxel_size_y=VOXEL_NM, voxel_size_z=VOXEL_NM)
    VolumeFactory(
        dataset=dataset,
        name="fibsem-uint8",
        url=f"s3://{bucket}/{em_key}",
        content_type=ContentType.EM,
        **{f"shape_{a}": SIZE for a in "xyz"},
        **{f"scale_{a}": VOXEL_NM for a in "xyz"},
        translation_x=SHIFT_NM,
        translation_y=0.0,
        translation_z=0.0,
        contrast_start=0,
        contrast_end=255,
    )
    crop = CropFactory(
        dataset=dataset,
        number=4243,
        **{f"voxel_size_{a}": 4.0 for a in "xyz"},
        translation_x=638.0,
        translation_y=126.0,
        translation_z=126.0,
        **{f"shape_{a}": 32 for a in "xyz"},
        labels_url=f"s3://{bucket}/{crop_root}",
    )
    crop.label_classes.add(LabelClassFactory(name="cell", label_id=900, colour="#ff00ff"))
    url = link(live_server, "crop", crop.number)
    screenshot = artifacts_dir / "browser-placement-crop.png"

    seen = open_in_viewer(chromium_browser, url, screenshot)

    diag = f"url={url} screenshot={screenshot} seen={seen}"
    assert seen["loaded"].get("ready"), diag
    # The grid is the crop's 4 nm label voxel; the EM spans 508 .. 1020 nm in x, -4 .. 508 in y, z.
    assert seen["lower"] == pytest.approx([127.0, -1.0, -1.0]), diag
    assert seen["upper"] == pytest.approx([255.0, 127.0, 127.0]), diag
    # The centre of the middle label voxel 16: (702, 190, 190) nm.
    assert seen["position"] == pytest.approx([175.5, 47.5, 47.5]), diag
    # 0.32 nm per pixel (128 nm over 400 px) around (702, 190) nm. Upper left: labels over EM;
    # lower right: the EM alone, grey 100 (not the empty black of EM drawn 512 nm further on).
    labelled = pixel(screenshot, seen["box"], -40, -40)
    em_only = pixel(screenshot, seen["box"], 40, 40)
    assert _magenta(labelled), f"no labels over the EM: {labelled} {diag}"
    assert all(80 <= value <= 120 for value in em_only), f"no EM under the crop: {em_only} {diag}"
    # The crop box (yellow) is drawn where the labels' voxels are: its left edge at x = 636 nm,
    # like the left edge of the labelled quarter, 206 px left of the centre.
    edge = (636 - 702) / 0.32
    box_edges = yellow_columns(screenshot, seen["box"], -40)
    labels = _columns(screenshot, seen["box"], -40, _magenta)
    assert box_edges, f"no crop box edge {diag}"
    assert labels, f"no labels {diag}"
    assert abs(box_edges[0] - edge) <= 3, f"box edge at {box_edges[0]:.0f} px, not {edge:.0f} {diag}"
    assert abs(labels[0] - edge) <= 3, f"labels start at {labels[0]:.0f} px, not {edge:.0f} {diag}"
