"""End to end: a catalogued dataset opens in the self-hosted Neuroglancer and shows its data.

A blosc-compressed OME-Zarr image and a label volume go into the moto S3 server; the catalog
registers them; the portal runs in pytest-django's live server (which serves viewer/dist
under /static/neuroglancer/ through the staticfiles handler); headless Chromium opens the
dataset's ``neuroglancer_url``. Neuroglancer fetches the state from our API cross-origin
style (``#!<state URL>``) and the data from S3 through ``AWS_ENDPOINT_URL_S3``. Every layer
must load without error and the image panel must show the data, not the empty background.
"""

from __future__ import annotations

import json
import struct
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory
from PIL import Image

from catalog.models.base import ContentType, VolumeFormat, VolumeKind
from catalog.neuroglancer.links import neuroglancer_links
from tests.factories import CropFactory, DatasetFactory, LabelClassFactory, VolumeFactory
from tests.fixtures.browser import drawn_viewer, panel_box, skip_or_fail
from tests.fixtures.s3 import S3Server, write_ome_zarr
from tests.test_viewer_smoke import (
    MIN_GREY_LEVELS,
    MIN_STDDEV,
    make_test_volume,
    panel_stats,
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


def open_in_viewer(browser: Any, url: str, screenshot: Path) -> tuple[dict, list, str, dict | None, list[str]]:
    """Open a viewer link; return the load state, layer names, layout, first panel box and console."""
    with drawn_viewer(browser, url, screenshot) as viewer:
        names = viewer.page.evaluate("() => window.viewer.layerManager.managedLayers.map(l => l.name)")
        layout = viewer.page.evaluate("() => window.viewer.state.toJSON().layout")
        box = panel_box(viewer.page)
    return viewer.state, names, layout, box, viewer.console


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

    screenshot = artifacts_dir / "browser-viewer-dataset.png"
    state, names, layout, box, console = open_in_viewer(chromium_browser, links["neuroglancer_url"], screenshot)

    diag = f"url={links['neuroglancer_url']} screenshot={screenshot} console={console[-20:]}"
    assert state.get("ready"), f"layers did not load: {state} {diag}"
    assert names == ["em", "cells"], diag
    assert layout == "4panel", diag
    assert box is not None, diag
    assert box["width"] > 100, diag
    levels, stddev = panel_stats(screenshot, box)
    assert levels >= MIN_GREY_LEVELS, f"panel looks blank: {levels} grey levels {diag}"
    assert stddev >= MIN_STDDEV, f"panel looks blank: stddev {stddev:.1f} {diag}"


def test_crop_with_flipped_em_opens_centred_on_its_labels(
    s3_server: S3Server,
    chromium_browser: Any,
    artifacts_dir: Path,
    live_server: Any,
    settings: Any,
    viewer_build: Path,
) -> None:
    """A crop state: EM whose y axis the catalog flips, 4 nm labels at an offset, the box."""
    settings.AWS_ENDPOINT_URL_S3 = s3_server.endpoint_url
    settings.NEUROGLANCER_VIEWER_URL = ""
    bucket = s3_server.create_public_bucket()
    write_ome_zarr(
        s3_server.endpoint_url, bucket, "crop/crop.zarr/em", make_test_volume(SIZE), voxel_size_zyx_nm=(VOXEL_NM,) * 3
    )
    crop_root = "crop/crop.zarr/labels/groundtruth/crop4242"
    # Labels fill one x-y corner of the crop only, so the panel centre shows plain EM. The
    # "all" array holds class ids (900 = cell), a class array holds 1 where the class is.
    corner = np.zeros((32, 32, 32), dtype=np.uint16)
    corner[:, :12, :12] = 1
    for name, labels in (("all", corner * 900), ("cell", corner)):
        write_ome_zarr(
            s3_server.endpoint_url,
            bucket,
            f"{crop_root}/{name}",
            labels,
            voxel_size_zyx_nm=(4.0, 4.0, 4.0),
            translation_zyx_nm=(128.0, 128.0, 128.0),
            n_levels=1,
        )
    dataset = DatasetFactory(
        slug="crop-browser-test", voxel_size_x=VOXEL_NM, voxel_size_y=VOXEL_NM, voxel_size_z=VOXEL_NM
    )
    extent = SIZE * VOXEL_NM
    VolumeFactory(
        dataset=dataset,
        name="em",
        url=f"s3://{bucket}/crop/crop.zarr/em",
        **{f"shape_{a}": SIZE for a in "xyz"},
        scale_x=VOXEL_NM,
        scale_y=-VOXEL_NM,
        scale_z=VOXEL_NM,
        translation_x=0.0,
        translation_y=extent,
        translation_z=0.0,
        contrast_start=0,
        contrast_end=255,
    )
    crop = CropFactory(
        dataset=dataset,
        number=4242,
        voxel_size_x=4.0,
        voxel_size_y=4.0,
        voxel_size_z=4.0,
        translation_x=128.0,
        translation_y=128.0,
        translation_z=128.0,
        shape_x=32,
        shape_y=32,
        shape_z=32,
        labels_url=f"s3://{bucket}/{crop_root}",
    )
    crop.label_classes.add(LabelClassFactory(name="cell", label_id=900, colour="#ff00ff"))
    host = urllib.parse.urlsplit(live_server.url).netloc
    links = neuroglancer_links(RequestFactory().get("/", HTTP_HOST=host), "crop", crop.number)

    screenshot = artifacts_dir / "browser-viewer-crop.png"
    state, names, layout, box, console = open_in_viewer(chromium_browser, links["neuroglancer_url"], screenshot)

    diag = f"url={links['neuroglancer_url']} screenshot={screenshot} console={console[-20:]}"
    assert state.get("ready"), f"layers did not load: {state} {diag}"
    assert names == ["em", "crop4242/all", "crop4242/cell", "crop4242 box"], diag
    assert layout == "4panel", diag
    assert box is not None, diag
    levels, stddev = panel_stats(screenshot, box)
    assert levels >= MIN_GREY_LEVELS, f"panel looks blank: {levels} grey levels {diag}"
    assert stddev >= MIN_STDDEV, f"panel looks blank: stddev {stddev:.1f} {diag}"
    with Image.open(screenshot) as image:
        rgb = image.convert("RGB")
        # Just off the axis lines at the panel centre (the crop middle, 192 nm): with y
        # flipped that is EM voxel (24, 40, 24), a grey ~93; unflipped it would be the
        # white cube at (24, 24, 24).
        cx, cy = int(box["x"] + box["width"] / 2) + 12, int(box["y"] + box["height"] / 2) + 12
        centre = [rgb.getpixel((cx + dx, cy + dy)) for dx in range(-2, 3) for dy in range(-2, 3)]
        panel_pixels = rgb.crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
        magenta = sum(1 for r, g, b in panel_pixels.get_flattened_data() if r > 120 and b > 120 and g < 110)
    grey = sum(sum(p) / 3 for p in centre) / len(centre)
    assert 60 <= grey <= 130, f"EM at the crop middle is {grey:.0f}; is the flipped y axis applied? {diag}"
    assert magenta > 500, f"crop labels (magenta) not drawn: {magenta} pixels {diag}"


def write_rgb_ome_zarr(s3_server: S3Server, bucket: str, key: str, size: int = 32) -> None:
    """A three-channel (c, z, y, x) uint16 OME-Zarr 0.4: red, green and blue blocks.

    Neuroglancer needs every channel of a channel dimension in one chunk, so c is not chunked.
    """
    import tempfile

    import numcodecs
    import zarr

    from tests.fixtures.s3 import upload_directory

    data = np.zeros((3, size, size, size), dtype=np.uint16)
    half = size // 2
    data[0, :, :half, :half] = 4000
    data[1, :, :half, half:] = 4000
    data[2, :, half:, :] = 4000
    with tempfile.TemporaryDirectory() as tmp:
        root = zarr.open_group(zarr.storage.LocalStore(tmp), mode="w", zarr_format=2)
        array = root.create_array(
            "0",
            shape=data.shape,
            chunks=(3, size, size, size),
            dtype=data.dtype,
            fill_value=0,
            compressors=[numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)],
            chunk_key_encoding={"name": "v2", "separator": "/"},
        )
        array[...] = data
        root.attrs["multiscales"] = [
            {
                "version": "0.4",
                "name": "rgb",
                "axes": [
                    {"name": "c", "type": "channel"},
                    *({"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"),
                ],
                "datasets": [
                    {
                        "path": "0",
                        "coordinateTransformations": [{"type": "scale", "scale": [1.0, VOXEL_NM, VOXEL_NM, VOXEL_NM]}],
                    }
                ],
            }
        ]
        upload_directory(s3_server.endpoint_url, bucket, key, Path(tmp))


def test_multichannel_lm_opens_as_rgb(
    s3_server: S3Server,
    chromium_browser: Any,
    artifacts_dir: Path,
    live_server: Any,
    settings: Any,
    viewer_build: Path,
) -> None:
    """Brainbow-like data: three channels in one layer, each in its catalogued colour."""
    settings.AWS_ENDPOINT_URL_S3 = s3_server.endpoint_url
    settings.NEUROGLANCER_VIEWER_URL = ""
    bucket = s3_server.create_public_bucket()
    write_rgb_ome_zarr(s3_server, bucket, "brain/rgb.ome.zarr")
    dataset = DatasetFactory(
        slug="rgb-browser-test", voxel_size_x=VOXEL_NM, voxel_size_y=VOXEL_NM, voxel_size_z=VOXEL_NM
    )
    volume = VolumeFactory(
        dataset=dataset,
        name="brainbow",
        url=f"s3://{bucket}/brain/rgb.ome.zarr",
        content_type=ContentType.LM,
        dtype="uint16",
        axes="czyx",
        **{f"shape_{a}": 32 for a in "xyz"},
        **{f"scale_{a}": VOXEL_NM for a in "xyz"},
        contrast_min=0,
        contrast_max=65535,
        contrast_start=0,
        contrast_end=4000,
    )
    for index, colour in enumerate(("#ff0000", "#00ff00", "#0000ff")):
        volume.channels.create(index=index, name=colour, colour=colour)
    host = urllib.parse.urlsplit(live_server.url).netloc
    links = neuroglancer_links(RequestFactory().get("/", HTTP_HOST=host), "volume", volume.pk)

    screenshot = artifacts_dir / "browser-viewer-rgb.png"
    state, names, _, box, console = open_in_viewer(chromium_browser, links["neuroglancer_url"], screenshot)

    diag = f"url={links['neuroglancer_url']} screenshot={screenshot} console={console[-20:]}"
    assert state.get("ready"), f"layers did not load: {state} {diag}"
    assert names == ["brainbow"], diag
    assert box is not None, diag
    with Image.open(screenshot) as image:
        panel = image.convert("RGB").crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
        pixels = list(panel.get_flattened_data())
    for name, channel in (("red", 0), ("green", 1), ("blue", 2)):
        pure = sum(1 for p in pixels if p[channel] > 200 and max(p[i] for i in range(3) if i != channel) < 60)
        assert pure > 1000, f"no {name} block drawn ({pure} pixels) {diag}"


def write_n5(s3_server: S3Server, bucket: str, key: str, volume: np.ndarray, voxel_nm: float, block: int = 32) -> None:
    """A single-scale uint8 N5 group laid out like OpenOrganelle's (``scales``, ``s0``), raw blocks.

    N5 lists dimensions x first; a block is a big-endian header (mode, rank, block shape)
    followed by the voxels with x varying fastest, which is a (z, y, x) C-order array.
    """
    s3 = s3_server.client()
    z, y, x = volume.shape
    group = {
        "n5": "2.0.0",
        "scales": [[1, 1, 1]],
        "axes": ["x", "y", "z"],
        "units": ["nm", "nm", "nm"],
        "resolution": [voxel_nm] * 3,
    }
    dataset = {"dimensions": [x, y, z], "blockSize": [block] * 3, "dataType": "uint8", "compression": {"type": "raw"}}
    s3.put_object(Bucket=bucket, Key=f"{key}/attributes.json", Body=json.dumps(group).encode())
    s3.put_object(Bucket=bucket, Key=f"{key}/s0/attributes.json", Body=json.dumps(dataset).encode())
    for iz in range(0, z, block):
        for iy in range(0, y, block):
            for ix in range(0, x, block):
                chunk = np.ascontiguousarray(volume[iz : iz + block, iy : iy + block, ix : ix + block])
                header = struct.pack(">HH", 0, 3) + struct.pack(">3I", chunk.shape[2], chunk.shape[1], chunk.shape[0])
                path = f"{key}/s0/{ix // block}/{iy // block}/{iz // block}"
                s3.put_object(Bucket=bucket, Key=path, Body=header + chunk.tobytes())


def test_flipped_n5_volume_opens_the_right_way_up(
    s3_server: S3Server,
    chromium_browser: Any,
    artifacts_dir: Path,
    live_server: Any,
    settings: Any,
    viewer_build: Path,
) -> None:
    """An OpenOrganelle-style N5 whose catalogued y scale is negative (-8 nm, from 512 nm)."""
    settings.AWS_ENDPOINT_URL_S3 = s3_server.endpoint_url
    settings.NEUROGLANCER_VIEWER_URL = ""
    bucket = s3_server.create_public_bucket()
    write_n5(s3_server, bucket, "n5/n5.n5/em/fibsem-uint8", make_test_volume(SIZE), VOXEL_NM)
    dataset = DatasetFactory(
        slug="n5-browser-test", voxel_size_x=VOXEL_NM, voxel_size_y=VOXEL_NM, voxel_size_z=VOXEL_NM
    )
    volume = VolumeFactory(
        dataset=dataset,
        name="fibsem-uint8",
        url=f"s3://{bucket}/n5/n5.n5/em/fibsem-uint8",
        format=VolumeFormat.N5,
        **{f"shape_{a}": SIZE for a in "xyz"},
        scale_x=VOXEL_NM,
        scale_y=-VOXEL_NM,
        scale_z=VOXEL_NM,
        translation_x=0.0,
        translation_y=SIZE * VOXEL_NM,
        translation_z=0.0,
        contrast_start=0,
        contrast_end=255,
    )
    host = urllib.parse.urlsplit(live_server.url).netloc
    links = neuroglancer_links(RequestFactory().get("/", HTTP_HOST=host), "volume", volume.pk)

    screenshot = artifacts_dir / "browser-viewer-n5-flipped.png"
    state, names, _, box, console = open_in_viewer(chromium_browser, links["neuroglancer_url"], screenshot)

    diag = f"url={links['neuroglancer_url']} screenshot={screenshot} console={console[-20:]}"
    assert state.get("ready"), f"layers did not load: {state} {diag}"
    assert names == ["fibsem-uint8"], diag
    assert box is not None, diag
    # The view is centred on (260, 260) nm at z slice 32 and zoomed to 1.28 nm per pixel.
    # The bright block at voxels z 32..48, y 32..56, x 8..24 lies at y 64..256 nm once y is
    # flipped (at 256..448 nm if not); probe it at (128, 160) nm.
    probe_x = int(box["x"] + box["width"] / 2 + (128 - 260) / 1.28)
    probe_y = int(box["y"] + box["height"] / 2 + (160 - 260) / 1.28)
    with Image.open(screenshot) as image:
        grey = image.convert("L")
        values = [grey.getpixel((probe_x + dx, probe_y + dy)) for dx in range(-2, 3) for dy in range(-2, 3)]
    assert min(values) >= 200, f"flipped N5 block not where expected: {values} at {probe_x},{probe_y} {diag}"
