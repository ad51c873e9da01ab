"""Converted data in the real viewer: platelet-em, loaded from the reference catalog, converted
from a zip like its images-and-labels.zip, and the confocal Brainbow stack converted from HDF5.

The portal runs in pytest-django's live server with eager Celery, the copies go to moto's S3
server, and headless Chromium opens the volumes' ``neuroglancer_url`` in the self-hosted
Neuroglancer. Neuroglancer must load the OME-Zarr 0.5 (sharded) copies, place them on the
40 x 10 x 10 nm (z, y, x) grid, draw the EM as grey, the semantic labels in their class
colours (cyan mitochondria on the left, red dense granule bodies on the right) and the three
Brainbow channels in red, green and blue.
"""

# viewer_build is a fixture imported from tests.test_browser_viewer and used as a parameter.
# ruff: noqa: F811

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import tifffile
from django.core.management import call_command

from catalog.models import ConversionRun, Volume
from catalog.services.conversion import run_conversion_now
from tests.fixtures.browser import drawn_viewer, panel_box
from tests.fixtures.s3 import S3Server
from tests.test_browser_placement import link, pixel
from tests.test_browser_viewer import viewer_build  # noqa: F401
from tests.test_conversion import fit_platelet_shapes
from tests.test_conversion_engine import PLATELET_TABLE, colours_of, em_stack
from tests.test_viewer_smoke import panel_stats

pytestmark = [pytest.mark.browser, pytest.mark.s3, pytest.mark.django_db(transaction=True)]

SHAPE = (16, 128, 128)


@pytest.fixture
def converting(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path, live_server: Any
) -> str:
    """The reference catalog, committed; a publication bucket on moto that the browser reads."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    settings.AWS_ENDPOINT_URL_S3 = s3_server.endpoint_url
    settings.NEUROGLANCER_VIEWER_URL = ""
    bucket = s3_server.create_public_bucket()
    settings.CONVERSION_OUTPUT_BUCKET = bucket
    settings.CONVERSION_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("load_catalog", verbosity=0)
    return bucket


def look(browser: Any, url: str, screenshot: Path) -> dict[str, Any]:
    """Open a link; what Neuroglancer loaded, its grid (names, nm per voxel, bounds) and the panel."""
    with drawn_viewer(browser, url, screenshot) as viewer:
        page = viewer.page
        grid = page.evaluate(
            """() => {
              const space = window.viewer.coordinateSpace.value;
              return {
                names: space.names,
                scales_nm: Array.from(space.scales).map(s => s * 1e9),
                extent: Array.from(space.bounds.upperBounds).map((u, i) => u - space.bounds.lowerBounds[i]),
                voxels_per_pixel: window.viewer.navigationState.zoomFactor.value,
              };
            }"""
        )
        box = panel_box(page)
    return {**grid, "loaded": viewer.state, "box": box, "console": viewer.console[-20:]}


def platelet_archive(folder: Path, semantic_rgb: np.ndarray) -> Path:
    """images-and-labels.zip with the EM and the semantic labels, in its own folder layout."""
    tifffile.imwrite(folder / "50-images.tif", em_stack(SHAPE))
    tifffile.imwrite(folder / "50-semantic.tif", semantic_rgb, photometric="rgb")
    archive = folder / "images-and-labels.zip"
    with zipfile.ZipFile(archive, "w") as output:
        for name in ("50-images.tif", "50-semantic.tif"):
            output.write(folder / name, f"images-and-labels/{name}")
    return archive


def test_platelet_em_converted_from_its_zip_renders_in_class_colours(
    converting: str, chromium_browser: Any, artifacts_dir: Path, live_server: Any, tmp_path: Path, viewer_build: Path
) -> None:
    # Halves of one class each (mitochondria left, dense granule bodies right): easy to find.
    classes = np.where(np.indices(SHAPE)[2] < SHAPE[2] // 2, 2, 5).astype(np.uint8)
    archive = platelet_archive(tmp_path, colours_of(classes, PLATELET_TABLE))
    fit_platelet_shapes(SHAPE)

    run = run_conversion_now(source=str(archive), dataset_slug="platelet-em")

    assert run.status == ConversionRun.Status.SUCCEEDED, run.error
    em = Volume.objects.get(dataset__slug="platelet-em", name="50-images")
    semantic = Volume.objects.get(dataset__slug="platelet-em", name="50-semantic")
    assert em.viewer_problem == semantic.viewer_problem == ""

    seen = look(chromium_browser, link(live_server, "volume", em.pk), artifacts_dir / "browser-convert-em.png")
    diag = f"seen={seen}"
    assert seen["loaded"].get("ready"), diag
    assert seen["names"] == ["x", "y", "z"], diag
    assert seen["scales_nm"] == pytest.approx([10.0, 10.0, 40.0]), diag
    assert seen["extent"] == pytest.approx([128, 128, 16]), diag
    levels, _spread = panel_stats(artifacts_dir / "browser-convert-em.png", seen["box"])
    assert levels >= 8, f"the EM is not drawn: {levels} grey levels {diag}"
    grey = pixel(artifacts_dir / "browser-convert-em.png", seen["box"], -120, 80)  # clear of the cross-hair
    assert max(grey) - min(grey) <= 6, f"EM should be grey: {grey} {diag}"

    screenshot = artifacts_dir / "browser-convert-semantic.png"
    seen = look(chromium_browser, link(live_server, "volume", semantic.pk), screenshot)
    diag = f"seen={seen}"
    assert seen["loaded"].get("ready"), diag
    assert seen["scales_nm"] == pytest.approx([10.0, 10.0, 40.0]), diag
    left, right = pixel(screenshot, seen["box"], -100, 80), pixel(screenshot, seen["box"], 100, 80)
    # Mitochondria (class 2) are cyan #00ffff, dense granule bodies (class 5) red #ff0000.
    assert left[0] < 40 < min(left[1], left[2]), f"left half not cyan: {left} {diag}"
    assert abs(left[1] - left[2]) < 30, f"left half not cyan: {left} {diag}"
    assert right[0] > 60 > max(right[1], right[2]), f"right half not red: {right} {diag}"

    both = f"{link(live_server, 'dataset', 'platelet-em')}"
    seen = look(chromium_browser, both, artifacts_dir / "browser-convert-dataset.png")
    assert seen["loaded"].get("ready"), f"the dataset state with the converted volumes does not load: {seen}"


def test_confocal_brainbow_channels_render_in_their_colours(
    converting: str, chromium_browser: Any, artifacts_dir: Path, live_server: Any, tmp_path: Path, viewer_build: Path
) -> None:
    shape = (8, 96, 96)
    stack = np.full((3, *shape), 100, dtype=np.uint16)
    for channel in range(3):
        stack[channel, :, :, channel * 32 : (channel + 1) * 32] = 3000
    with h5py.File(tmp_path / "brainbow.h5", "w") as file:
        file.create_dataset("stack", data=np.moveaxis(stack, 0, -1))

    run = run_conversion_now(
        source=str(tmp_path / "brainbow.h5"),
        dataset_slug="mouse-brain-confocal",
        volume_name="brainbow-rgb",
        voxel_size={"z": 1000.0, "y": 300.0, "x": 300.0},
    )

    assert run.status == ConversionRun.Status.SUCCEEDED, run.error
    volume = Volume.objects.get(dataset__slug="mouse-brain-confocal", name="brainbow-rgb")
    assert volume.viewer_problem == ""
    screenshot = artifacts_dir / "browser-convert-brainbow.png"
    seen = look(chromium_browser, link(live_server, "volume", volume.pk), screenshot)
    diag = f"seen={seen}"
    assert seen["loaded"].get("ready"), diag
    assert seen["scales_nm"][:3] == pytest.approx([300.0, 300.0, 1000.0]), diag
    third = 32 / seen["voxels_per_pixel"]
    colours = [pixel(screenshot, seen["box"], offset * third - 10, 60) for offset in (-1, 0, 1)]
    for index, (colour, name) in enumerate(zip(colours, ("red", "green", "blue"), strict=True)):
        others = [value for channel, value in enumerate(colour) if channel != index]
        assert colour[index] > 80, f"the {name} third is dark: {colours} {diag}"
        assert colour[index] > 2 * max(others), f"the {name} third is not {name}: {colours} {diag}"
