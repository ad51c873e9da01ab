"""Smoke test: the self-hosted Neuroglancer build renders real OME-Zarr data from S3.

End to end without Django: a blosc-compressed OME-Zarr 0.4 image goes into the
moto S3 server, viewer/dist is served with the same URL layout Django uses
(page at /neuroglancer/, assets at /static/neuroglancer/), and headless Chromium
must draw actual voxels. This catches the failure modes that a build alone does
not: workers not bundled, decoder worker missing (chunks render grey), asset
URLs outside the static base, CORS problems.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageStat

from tests.fixtures.browser import REPO_ROOT, drawn_viewer, panel_box, skip_or_fail
from tests.fixtures.s3 import S3Server, write_ome_zarr

# Fixtures s3_server, chromium_browser and artifacts_dir come from the plugins
# registered in tests/conftest.py (pytest_plugins).
pytestmark = [pytest.mark.browser, pytest.mark.s3]

DIST_DIR = REPO_ROOT / "viewer" / "dist"
PAGE_PATH = "/neuroglancer/"
STATIC_PREFIX = "/static/neuroglancer/"

# A rendered panel counts as "showing data" above these; an empty or uniformly
# grey panel has ~1 grey level and ~0 standard deviation.
MIN_GREY_LEVELS = 16
MIN_STDDEV = 8.0
MIN_LEVEL_FRACTION = 0.0005


class _ViewerHandler(SimpleHTTPRequestHandler):
    """Serve viewer/dist like Django will: index at PAGE_PATH, files under STATIC_PREFIX."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".css": "text/css",
        ".html": "text/html",
    }

    def translate_path(self, path: str) -> str:
        path = urllib.parse.urlsplit(path).path
        if path in (PAGE_PATH, PAGE_PATH.rstrip("/")):
            return str(DIST_DIR / "index.html")
        if path.startswith(STATIC_PREFIX):
            return super().translate_path("/" + path[len(STATIC_PREFIX) :])
        return str(DIST_DIR / "__not_found__")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep pytest output quiet; failures are diagnosed from the page instead."""


@pytest.fixture(scope="module")
def viewer_url() -> Iterator[str]:
    """Base URL of viewer/dist served on loopback with the Django URL layout."""
    if not (DIST_DIR / "index.html").is_file():
        skip_or_fail(f"{DIST_DIR / 'index.html'} is missing; run make viewer")
    handler = partial(_ViewerHandler, directory=str(DIST_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def make_test_volume(size: int = 64) -> np.ndarray:
    """A uint8 (z, y, x) volume that cannot be mistaken for blank: gradient + bright cubes."""
    z, y, x = np.meshgrid(*(np.arange(size),) * 3, indexing="ij")
    volume = ((x + y) * (160 / (2 * size - 2)) + z * 0.5).astype(np.uint8)
    q = size // 4
    volume[q : 2 * q, q : 2 * q, q : 2 * q] = 255
    volume[2 * q : 3 * q, 2 * q : 3 * q + q // 2, q // 2 : q + q // 2] = 230
    return volume


def neuroglancer_state(source: str, size: int, voxel_nm: float) -> dict[str, Any]:
    """Viewer state: one image layer, single xy panel, no overlays besides data."""
    return {
        "dimensions": {axis: [voxel_nm * 1e-9, "m"] for axis in ("x", "y", "z")},
        "position": [size / 2, size / 2, size / 2],
        # Scale in voxels per screen pixel: the 64-voxel volume spans ~530 px.
        "crossSectionScale": 0.12,
        "layers": [{"type": "image", "source": source, "name": "smoke"}],
        "layout": "xy",
        "showAxisLines": False,
        "showScaleBar": False,
        "showDefaultAnnotations": False,
        "selectedLayer": {"visible": False},
    }


def panel_stats(screenshot: Path, box: dict[str, float]) -> tuple[int, float]:
    """Grey levels covering a real area, and grey-level standard deviation, in the panel."""
    with Image.open(screenshot) as img:
        # Inset a few pixels to stay clear of the panel border.
        left, top = int(box["x"]) + 4, int(box["y"]) + 4
        right, bottom = int(box["x"] + box["width"]) - 4, int(box["y"] + box["height"]) - 4
        region = img.convert("L").crop((left, top, right, bottom))
        # Only count grey levels covering a real area: antialiased overlay text
        # (axis labels, buttons) adds many levels with a handful of pixels each.
        min_pixels = region.width * region.height * MIN_LEVEL_FRACTION
        levels = sum(1 for count in region.histogram() if count >= min_pixels)
        return levels, ImageStat.Stat(region).stddev[0]


def render(browser: Any, url: str, screenshot: Path, console: list[str]) -> tuple[dict[str, Any], int, float]:
    """Open ``url``, wait for layers, screenshot; return (load state, levels, stddev)."""
    with drawn_viewer(browser, url, screenshot, console) as viewer:
        box = panel_box(viewer.page)
        assert box is not None, "rendered data panel has no bounding box"
        assert min(box["width"], box["height"]) > 100, f"panel too small: {box}"
        levels, stddev = panel_stats(screenshot, box)
        return viewer.state, levels, stddev


def _viewer_page_url(viewer_url: str, state: dict[str, Any]) -> str:
    return f"{viewer_url}{PAGE_PATH}#!{urllib.parse.quote(json.dumps(state))}"


@pytest.mark.parametrize(
    ("zarr_format", "screenshot_name"),
    [(2, "viewer-smoke.png"), (3, "viewer-smoke-zarr3.png")],
    ids=["ome-zarr-0.4", "ome-zarr-0.5"],
)
def test_viewer_renders_ome_zarr_from_s3(
    viewer_url: str,
    s3_server: S3Server,
    chromium_browser: Any,
    artifacts_dir: Path,
    zarr_format: int,
    screenshot_name: str,
) -> None:
    """The built viewer loads a blosc OME-Zarr image from S3 and draws real pixels.

    OME-Zarr 0.4 (Zarr v2) is the main case; 0.5 (Zarr v3) checks the other
    writer in tests/fixtures/s3.py produces data Neuroglancer accepts.
    """
    size, voxel_nm = 64, 8.0
    bucket = s3_server.create_public_bucket()
    key = "smoke/image.ome.zarr"
    write_ome_zarr(
        s3_server.endpoint_url,
        bucket,
        key,
        make_test_volume(size),
        voxel_size_zyx_nm=(voxel_nm,) * 3,
        compressor="blosc",
        zarr_format=zarr_format,
    )
    source = f"zarr://{s3_server.object_url(bucket, key)}"
    console: list[str] = []
    screenshot = artifacts_dir / screenshot_name

    state, levels, stddev = render(
        chromium_browser,
        _viewer_page_url(viewer_url, neuroglancer_state(source, size, voxel_nm)),
        screenshot,
        console,
    )

    diag = f"source={source} screenshot={screenshot} console={console[-20:]}"
    assert state.get("ready"), f"layers did not load: {state} {diag}"
    blank = f"panel looks blank: {levels} grey levels, stddev {stddev:.1f} {diag}"
    assert levels >= MIN_GREY_LEVELS, blank
    assert stddev >= MIN_STDDEV, blank


def test_blank_check_detects_missing_data(
    viewer_url: str,
    s3_server: S3Server,
    chromium_browser: Any,
    artifacts_dir: Path,
) -> None:
    """Guard for the smoke test itself: a nonexistent key must give an error and a blank panel."""
    bucket = s3_server.create_public_bucket()
    source = f"zarr://{s3_server.object_url(bucket, 'does/not/exist.ome.zarr')}"
    console: list[str] = []

    state, levels, stddev = render(
        chromium_browser,
        _viewer_page_url(viewer_url, neuroglancer_state(source, 64, 8.0)),
        artifacts_dir / "viewer-smoke-missing.png",
        console,
    )

    assert "error" in state, f"expected a data source error, got {state}"
    assert levels < MIN_GREY_LEVELS or stddev < MIN_STDDEV, (
        f"blank panel not detected as blank: {levels} grey levels, stddev {stddev:.1f}"
    )
