"""End to end: a catalogued dataset opens in the self-hosted Neuroglancer and shows its data.

A blosc-compressed OME-Zarr image and a label volume go into the moto S3 server; the catalog
registers them; the portal runs in pytest-django's live server (which serves viewer/dist
under /static/neuroglancer/ through the staticfiles handler); headless Chromium opens the
dataset's ``neuroglancer_url``. Neuroglancer fetches the state from our API cross-origin
style (``#!<state URL>``) and the data from S3 through ``AWS_ENDPOINT_URL_S3``. Every layer
must load without error and the image panel must show the data, not the empty background.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory

from catalog.models.base import ContentType, VolumeKind
from catalog.viewer import neuroglancer_links
from tests.factories import DatasetFactory, LabelClassFactory, VolumeFactory
from tests.fixtures.browser import skip_or_fail
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_viewer_smoke import (
    MIN_GREY_LEVELS,
    MIN_STDDEV,
    VIEWPORT,
    make_test_volume,
    panel_stats,
    wait_for_layers,
)

pytestmark = [pytest.mark.browser, pytest.mark.s3, pytest.mark.django_db(transaction=True)]

SIZE = 64
VOXEL_NM = 8.0


@pytest.fixture
def viewer_build() -> Path:
    dist = Path(django_settings.VIEWER_DIST_DIR)
    if not (dist / "index.html").is_file():
        skip_or_fail(f"{dist / 'index.html'} is missing; run `make viewer` (bash viewer/build.sh)")
    return dist


def make_labels(size: int = SIZE) -> np.ndarray:
    """Two labelled blocks (ids 1 and 2) in an otherwise empty uint32 volume."""
    labels = np.zeros((size, size, size), dtype=np.uint32)
    labels[8:40, 8:40, 8:40] = 1
    labels[36:60, 30:58, 36:60] = 2
    return labels


def catalogue(s3_server: S3Server) -> Any:
    """Write the image and labels to S3 and register them as one dataset."""
    bucket = s3_server.create_public_bucket()
    image_key, labels_key = "browser/browser.zarr/em", "browser/browser.zarr/labels/cells"
    write_ome_zarr(s3_server.endpoint_url, bucket, image_key, make_test_volume(SIZE), voxel_size_zyx_nm=(VOXEL_NM,) * 3)
    write_ome_zarr(
        s3_server.endpoint_url,
        bucket,
        labels_key,
        make_labels(),
        voxel_size_zyx_nm=(VOXEL_NM,) * 3,
        n_levels=1,
    )
    extent = SIZE * VOXEL_NM
    dataset = DatasetFactory(
        slug="browser-test",
        voxel_size_x=VOXEL_NM,
        voxel_size_y=VOXEL_NM,
        voxel_size_z=VOXEL_NM,
        extent_x=extent,
        extent_y=extent,
        extent_z=extent,
    )
    geometry = {
        **{f"shape_{a}": SIZE for a in "xyz"},
        **{f"scale_{a}": VOXEL_NM for a in "xyz"},
        **{f"translation_{a}": 0.0 for a in "xyz"},
    }
    VolumeFactory(
        dataset=dataset,
        name="em",
        url=f"s3://{bucket}/{image_key}",
        contrast_min=0,
        contrast_max=255,
        contrast_start=0,
        contrast_end=255,
        **geometry,
    )
    VolumeFactory(
        dataset=dataset,
        name="cells",
        url=f"s3://{bucket}/{labels_key}",
        kind=VolumeKind.SEGMENTATION,
        content_type=ContentType.SEGMENTATION,
        dtype="uint32",
        label_class=LabelClassFactory(name="cell", label_id=900, colour="#ff00ff"),
        **geometry,
    )
    return dataset


def test_dataset_opens_in_the_self_hosted_viewer(
    s3_server: S3Server,
    chromium_browser: Any,
    artifacts_dir: Path,
    live_server: Any,
    settings: Any,
    viewer_build: Path,
) -> None:
    settings.AWS_ENDPOINT_URL_S3 = s3_server.endpoint_url
    settings.NEUROGLANCER_VIEWER_URL = ""
    dataset = catalogue(s3_server)
    host = urllib.parse.urlsplit(live_server.url).netloc
    links = neuroglancer_links(RequestFactory().get("/", HTTP_HOST=host), "dataset", dataset.slug)
    assert links["neuroglancer_url"].startswith(f"{live_server.url}/neuroglancer/#!{live_server.url}/api/states/")
    with urllib.request.urlopen(f"{live_server.url}/static/neuroglancer/index.html") as response:
        assert response.status == 200, "the live server must serve viewer/dist under /static/neuroglancer/"

    console: list[str] = []
    screenshot = artifacts_dir / "browser-viewer-dataset.png"
    context = chromium_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    try:
        page.goto(links["neuroglancer_url"], wait_until="load")
        state = wait_for_layers(page)
        if "ready" in state:
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.screenshot(path=str(screenshot))
        names = page.evaluate("() => window.viewer.layerManager.managedLayers.map(l => l.name)")
        layout = page.evaluate("() => window.viewer.state.toJSON().layout")
        panel = page.locator(".neuroglancer-rendered-data-panel").first
        panel.wait_for(state="visible", timeout=10_000)
        box = panel.bounding_box()
    finally:
        context.close()

    diag = f"url={links['neuroglancer_url']} screenshot={screenshot} console={console[-20:]}"
    assert state.get("ready"), f"layers did not load: {state} {diag}"
    assert names == ["em", "cells"], diag
    assert layout == "4panel", diag
    assert box is not None, diag
    assert box["width"] > 100, diag
    levels, stddev = panel_stats(screenshot, box)
    assert levels >= MIN_GREY_LEVELS, f"panel looks blank: {levels} grey levels {diag}"
    assert stddev >= MIN_STDDEV, f"panel looks blank: stddev {stddev:.1f} {diag}"
