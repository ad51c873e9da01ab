"""Conversion through the catalog: platelet-em (from the reference catalog) and the confocal
dataset converted from real files into moto's S3, the volumes switched only when complete and
valid, the command, the staff API, and bad input that publishes nothing."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import tifffile
import zarr
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from catalog.conversion.store import S3Store
from catalog.models import ConversionRun, Volume, VolumeStatistics
from catalog.s3 import S3Writer, parse_s3_url
from catalog.services.conversion import run_conversion_now
from tests.factories import commit_catalog
from tests.fixtures.s3 import S3Server
from tests.test_conversion_engine import PLATELET_TABLE, class_stack, colours_of, em_stack

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

SMALL = (40, 48, 40)


@pytest.fixture
def publication(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> str:
    """A publication bucket on moto, an allow-listed source bucket, small parts, a private work dir."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    bucket = s3_server.create_public_bucket()
    settings.CONVERSION_OUTPUT_BUCKET = bucket
    settings.CONVERSION_WORK_DIR = tmp_path / "work"
    settings.CONVERSION_PART_BYTES = 48 * 40 * 2 * 32
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INGEST_ALLOWED_BUCKETS = [bucket]
    return bucket


def platelet_zip(path: Path, shape: tuple[int, int, int] = SMALL) -> tuple[Path, dict[str, np.ndarray]]:
    """images-and-labels.zip as the dataset page describes it, at ``shape``."""
    em = em_stack(shape)
    classes = class_stack(shape)
    instances = np.zeros((*shape, 3), dtype=np.uint8)
    instances[:, 2:20, 3:15] = (200, 10, 30)
    instances[1:, 25:40, 20:38] = (7, 250, 9)
    folder = path / "images-and-labels"
    folder.mkdir()
    tifffile.imwrite(folder / "50-images.tif", em)
    tifffile.imwrite(folder / "50-semantic.tif", colours_of(classes, PLATELET_TABLE), photometric="rgb")
    tifffile.imwrite(folder / "50-instance-cell.tif", instances, photometric="rgb")
    archive = path / "images-and-labels.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as output:
        for file in sorted(folder.iterdir()):
            output.write(file, f"images-and-labels/{file.name}")
    return archive, {"50-images": em, "50-semantic": classes, "50-instance-cell": instances}


def fit_platelet_shapes(shape: tuple[int, int, int]) -> None:
    """The reference catalog says 50x800x800; the small test stacks are smaller."""
    Volume.objects.filter(dataset__slug="platelet-em", name__startswith="50-").update(
        shape_z=shape[0], shape_y=shape[1], shape_x=shape[2]
    )


def read(url: str, path: str = "s0") -> np.ndarray:
    store = S3Store(S3Writer(), parse_s3_url(url))
    return np.asarray(zarr.open_array(store=store, path=path, mode="r")[...])


def test_platelet_zip_converts_every_matching_volume(reference_catalog: None, publication: str, tmp_path: Path) -> None:
    archive, data = platelet_zip(tmp_path)
    fit_platelet_shapes(SMALL)
    before = Volume.objects.get(dataset__slug="platelet-em", name="50-images")
    assert before.viewer_problem

    run = run_conversion_now(source=str(archive), dataset_slug="platelet-em")
    commit_catalog()

    assert run.status == "succeeded", run.error
    assert run.parts_done == run.parts_total > 3
    assert run.bytes_written > 0
    converted = {v.name: v for v in Volume.objects.filter(dataset__slug="platelet-em", name__in=data)}
    assert set(converted) == set(data)
    images = converted["50-images"]
    assert images.url.startswith(f"s3://{publication}/converted/platelet-em/50-images.run")
    assert (images.source_url, images.format, images.dtype) == ("50-images.tif", "ome-zarr-0.5", "uint16")
    assert (images.scale_z, images.scale_y, images.scale_x) == (40.0, 10.0, 10.0)
    assert images.viewer_problem == ""
    assert np.array_equal(read(images.url), data["50-images"])
    statistics = VolumeStatistics.objects.get(volume=images)
    assert statistics.thumbnail.read().startswith(b"\x89PNG")
    assert images.contrast_start == statistics.contrast_start
    semantic = converted["50-semantic"]
    assert semantic.dtype == "uint8"
    assert np.array_equal(read(semantic.url), data["50-semantic"])
    instances = read(converted["50-instance-cell"].url)
    assert len(np.unique(instances)) == 3
    assert np.all(instances[:, 2:20, 3:15] == (200 << 16 | 10 << 8 | 30))
    untouched = Volume.objects.get(dataset__slug="platelet-em", name="24-images")
    assert (untouched.url, untouched.format) == ("24-images.tif", "tiff")

    call_command("load_catalog", verbosity=0)  # the manifest still names the TIFF: the copy stays
    images.refresh_from_db()
    assert (images.url, images.format, images.source_url) == (
        converted["50-images"].url,
        "ome-zarr-0.5",
        "50-images.tif",
    )


def test_full_size_platelet_images(reference_catalog: None, publication: str, tmp_path: Path, settings: Any) -> None:
    """The seed shape: 50x800x800 uint16 from a multipage TIFF, parts of 16 MiB."""
    settings.CONVERSION_PART_BYTES = 16 * 1024 * 1024
    data = em_stack((50, 800, 800))
    tifffile.imwrite(tmp_path / "50-images.tif", data)

    run = run_conversion_now(source=str(tmp_path / "50-images.tif"), dataset_slug="platelet-em")

    assert run.status == "succeeded", run.error
    volume = Volume.objects.get(dataset__slug="platelet-em", name="50-images")
    assert (volume.shape_z, volume.shape_y, volume.shape_x) == (50, 800, 800)
    assert np.array_equal(read(volume.url), data)
    assert volume.scale_levels >= 4


def test_confocal_channels_from_hdf5(reference_catalog: None, publication: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    stack = rng.integers(0, 4000, (12, 3, 40, 36)).astype(np.uint16)
    with h5py.File(tmp_path / "brainbow.h5", "w") as file:
        file.create_dataset("processed", data=np.moveaxis(stack, 1, -1))

    run = run_conversion_now(
        source=str(tmp_path / "brainbow.h5"),
        dataset_slug="mouse-brain-confocal",
        volume_name="brainbow-rgb",
        voxel_size={"z": 1000, "y": 300, "x": 300},
    )
    commit_catalog()

    assert run.status == "succeeded", run.error
    volume = Volume.objects.get(dataset__slug="mouse-brain-confocal", name="brainbow-rgb")
    assert (volume.axes, volume.format, volume.viewer_problem) == ("czyx", "ome-zarr-0.5", "")
    assert np.array_equal(read(volume.url), np.moveaxis(stack, 1, 0))
    store = S3Store(S3Writer(), parse_s3_url(volume.url))
    omero = zarr.open_group(store=store, mode="r").attrs.asdict()["ome"]["omero"]
    assert [channel["color"] for channel in omero["channels"]] == ["FF0000", "00FF00", "0000FF"]


def test_the_command_prints_what_it_published(reference_catalog: None, publication: str, tmp_path: Path) -> None:
    archive, _ = platelet_zip(tmp_path)
    fit_platelet_shapes(SMALL)
    from io import StringIO

    output = StringIO()
    call_command("convert", str(archive), "--dataset", "platelet-em", "--volume", "50-semantic", stdout=output)
    assert "50-semantic: s3://" in output.getvalue()
    assert "converted 1 volume(s)" in output.getvalue()


def _nothing_published(bucket: str) -> None:
    assert not Volume.objects.filter(url__startswith=f"s3://{bucket}/").exists()


def test_bad_input_fails_the_run_and_publishes_nothing(
    reference_catalog: None, publication: str, tmp_path: Path
) -> None:
    fit_platelet_shapes(SMALL)
    rgb = colours_of(class_stack(SMALL), PLATELET_TABLE)
    rgb[4, 7, 9] = (12, 34, 56)
    tifffile.imwrite(tmp_path / "50-semantic.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "50-images.tif", em_stack((40, 48, 41)))
    raw = (tmp_path / "50-images.tif").read_bytes()
    tifffile.imwrite(tmp_path / "whole.tif", em_stack(SMALL))
    whole = (tmp_path / "whole.tif").read_bytes()
    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "50-images.tif").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "50-images.czi").write_bytes(raw[:100])

    cases = {
        "50-semantic.tif": "colour #0c2238 (r=12, g=34, b=56) at voxel z=4, y=7, x=9 is not in the class table",
        "50-images.tif": "is 40x48x41 (z, y, x) but the catalog's volume 50-images is 40x48x40",
        "truncated/50-images.tif": "50-images.tif",
        "50-images.czi": "needs the Python package 'bioio-czi'",
    }
    for name, message in cases.items():
        run = run_conversion_now(source=str(tmp_path / name), dataset_slug="platelet-em")
        assert run.status == "failed", name
        assert message in run.error, (name, run.error)
    _nothing_published(publication)
    assert Volume.objects.get(dataset__slug="platelet-em", name="50-images").url == "50-images.tif"


def test_staff_api_starts_a_conversion_and_reports_progress(
    reference_catalog: None, publication: str, tmp_path: Path, s3_server: S3Server, django_capture_on_commit_callbacks
) -> None:
    archive, data = platelet_zip(tmp_path)
    fit_platelet_shapes(SMALL)
    s3_server.client().upload_file(str(archive), publication, "uploads/images-and-labels.zip")
    staff = get_user_model().objects.create_user("curator", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)

    source = f"s3://{publication}/uploads/images-and-labels.zip"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/conversions/", {"source": source, "dataset": "platelet-em", "volume": "50-images"}, format="json"
        )

    assert response.status_code == 202, response.content
    detail = client.get(response["Location"]).json()
    assert detail["status"] == "succeeded", detail
    assert detail["progress"]["done"] == detail["progress"]["total"] > 1
    assert detail["progress"]["bytes_written"] >= data["50-images"].nbytes
    assert detail["targets"][0]["volume_name"] == "50-images"
    assert client.get("/api/conversions/").json()["count"] == 1


def test_api_refuses_sources_outside_the_allow_list(reference_catalog: None, publication: str, tmp_path: Path) -> None:
    staff = get_user_model().objects.create_user("curator", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    cases = {
        "s3://some-other-bucket/x.zip": "is not allowed for conversion",
        str(tmp_path / "x.tif"): "local paths can be converted only with manage.py convert",
        "ftp://example.org/x.tif": "only local paths, s3:// and https://",
    }
    for source, message in cases.items():
        response = client.post("/api/conversions/", {"source": source, "dataset": "platelet-em"}, format="json")
        assert response.status_code == 400, source
        assert message in response.json()["detail"], response.json()
    assert not ConversionRun.objects.exists()
    anonymous = APIClient().post("/api/conversions/", {"source": "s3://x/y", "dataset": "platelet-em"}, format="json")
    assert anonymous.status_code in (401, 403)


def test_the_command_names_a_missing_dataset(publication: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no dataset with slug 'nope'"):
        call_command("convert", str(tmp_path), "--dataset", "nope")


def test_the_api_shows_why_a_run_failed(
    reference_catalog: None, publication: str, tmp_path: Path, s3_server: S3Server, django_capture_on_commit_callbacks
) -> None:
    fit_platelet_shapes(SMALL)
    rgb = colours_of(class_stack(SMALL), PLATELET_TABLE)
    rgb[0, 1, 2] = (250, 250, 250)
    tifffile.imwrite(tmp_path / "50-semantic.tif", rgb, photometric="rgb")
    s3_server.client().upload_file(str(tmp_path / "50-semantic.tif"), publication, "uploads/50-semantic.tif")
    staff = get_user_model().objects.create_user("curator", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/conversions/",
            {"source": f"s3://{publication}/uploads/50-semantic.tif", "dataset": "platelet-em"},
            format="json",
        )

    detail = client.get(response["Location"]).json()
    assert detail["status"] == "failed"
    assert "colour #fafafa (r=250, g=250, b=250) at voxel z=0, y=1, x=2 is not in the class table" in detail["error"]
    assert detail["targets"][0]["status"] == "failed"
    _nothing_published(publication)
    assert Volume.objects.get(dataset__slug="platelet-em", name="50-semantic").url == "50-semantic.tif"


def test_the_admin_shows_runs_with_their_progress_and_parts(
    reference_catalog: None, publication: str, tmp_path: Path, client: Any
) -> None:
    archive, _ = platelet_zip(tmp_path)
    fit_platelet_shapes(SMALL)
    run = run_conversion_now(source=str(archive), dataset_slug="platelet-em", volume_name="50-images")
    admin = get_user_model().objects.create_superuser("admin", "admin@example.org", "pw")
    client.force_login(admin)

    listing = client.get("/admin/catalog/conversionrun/")
    detail = client.get(f"/admin/catalog/conversionrun/{run.pk}/change/")
    parts = client.get("/admin/catalog/conversionpart/")

    assert listing.status_code == detail.status_code == parts.status_code == 200
    assert f"{run.parts_done} / {run.parts_total} parts" in listing.content.decode()
    assert run.targets.get().output_url in detail.content.decode()
    assert f"{run.parts_total} conversion parts" in parts.content.decode()


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (cryptography comes with moto)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_an_https_source_is_downloaded_once_and_converted(
    reference_catalog: None, publication: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools
    import ssl
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    data = em_stack(SMALL)
    tifffile.imwrite(served / "50-images.tif", data)
    fit_platelet_shapes(SMALL)
    cert, key = _self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            requests.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/50-images.tif"
        run = run_conversion_now(source=url, dataset_slug="platelet-em")
    finally:
        server.shutdown()

    assert run.status == "succeeded", run.error
    assert run.parts_total > 1
    assert requests == ["/50-images.tif"], "every part reads the one downloaded copy"
    volume = Volume.objects.get(dataset__slug="platelet-em", name="50-images")
    assert np.array_equal(read(volume.url), data)
    assert volume.source_url == "50-images.tif"
