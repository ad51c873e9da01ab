"""A cut-out in the real viewer: the zipped OME-Zarr a cut-out job wrote to moto's S3 server
opens in the self-hosted Neuroglancer straight from its presigned link (Neuroglancer's ``zip:``
and ``zarr3:`` drivers), the EM and a class's labels placed where the crop is."""

# viewer_build and the crop fixtures are imported and used as parameters.
# ruff: noqa: F811

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rest_framework.test import APIClient

from tests.fixtures.browser import drawn_viewer, panel_box
from tests.fixtures.s3 import S3Server
from tests.test_browser_viewer import viewer_build  # noqa: F401
from tests.test_crop_contents import classes, crop_bucket, s3_env  # noqa: F401
from tests.test_crop_downloads import ingested  # noqa: F401
from tests.test_cutouts import results  # noqa: F401
from tests.test_viewer_smoke import panel_stats

pytestmark = [pytest.mark.browser, pytest.mark.s3, pytest.mark.django_db(transaction=True)]

GRID_JS = """() => {
  const space = window.viewer.coordinateSpace.value;
  const nm = i => space.scales[i] * 1e9;
  return {
    names: space.names,
    lower_nm: Array.from(space.bounds.lowerBounds).map((b, i) => b * nm(i)),
    upper_nm: Array.from(space.bounds.upperBounds).map((b, i) => b * nm(i)),
  };
}"""


def test_a_crop_cutout_opens_in_the_viewer_where_the_crop_is(
    results: str,
    s3_env: S3Server,
    settings: Any,
    chromium_browser: Any,
    artifacts_dir: Path,
    live_server: Any,
    viewer_build: Path,
) -> None:
    settings.AWS_ENDPOINT_URL_S3 = s3_env.endpoint_url
    response = APIClient().post("/api/cutouts/", {"crop": 7, "classes": ["mito"], "padding_nm": 40}, format="json")
    assert response.status_code == 202, response.content
    body = APIClient().get(response["Location"]).json()
    assert body["status"] == "succeeded", body["error"]
    link = body["download_url"]

    state = {
        "layers": [
            {"type": "image", "source": f"{link}|zip:|zarr3:", "name": "em"},
            {"type": "segmentation", "source": f"{link}|zip:labels/mito/|zarr3:", "name": "mito"},
        ],
        "dimensions": {axis: [4e-9, "m"] for axis in "xyz"},
        "position": [315 / 4, 202 / 4, 100.5 / 4],  # on mito object 1: z 99..101, y 199..205 nm
        "crossSectionScale": 0.05,
        "layout": "xy",
    }
    url = f"{live_server.url}/neuroglancer/#!{urllib.parse.quote(json.dumps(state))}"
    screenshot = artifacts_dir / "browser-cutout.png"
    with drawn_viewer(chromium_browser, url, screenshot) as viewer:
        grid = viewer.page.evaluate(GRID_JS)
        box = panel_box(viewer.page)
    loaded, console = viewer.state, viewer.console
    diag = f"loaded={loaded} grid={grid} console={console[-15:]}"
    assert loaded.get("ready"), diag
    assert grid["names"] == ["x", "y", "z"], diag
    # The EM cut covers voxels 65:94, 40:69, 15:40 of 4 nm (x, y, z): 258..374, 158..274, 58..158 nm;
    # the crop's labels (299..331, 199..231, 99..115 nm) lie inside it.
    assert grid["lower_nm"] == pytest.approx([258.0, 158.0, 58.0], abs=0.01), diag
    assert grid["upper_nm"] == pytest.approx([374.0, 274.0, 158.0], abs=0.01), diag
    levels, _spread = panel_stats(screenshot, box)
    assert levels >= 8, f"the EM is not drawn: {levels} grey levels {diag}"
    with Image.open(screenshot) as image:
        inside = image.convert("RGB").crop(
            (int(box["x"]) + 4, int(box["y"]) + 4, int(box["x"] + box["width"]) - 4, int(box["y"] + box["height"]) - 4)
        )
        coloured = sum(count for count, (r, g, b) in inside.getcolors(1 << 20) if max(r, g, b) - min(r, g, b) > 60)
    assert coloured > 500, f"the mito labels are not drawn over the EM: {coloured} coloured pixels {diag}"
