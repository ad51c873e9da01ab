"""catalog.s3 against the moto server: listings across pages, anonymous reads, error mapping."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.exceptions
import pytest

from catalog.s3 import S3Error, S3Location, S3Reader, S3TransientError, _translate, parse_s3_url
from tests.fixtures.s3 import DUMMY_CREDENTIALS, S3Server

pytestmark = pytest.mark.s3


@pytest.fixture
def reader(s3_server: S3Server) -> S3Reader:
    return S3Reader(endpoint_url=s3_server.endpoint_url)


def test_directory_listing_follows_every_page(s3_server: S3Server, reader: S3Reader) -> None:
    bucket = s3_server.create_public_bucket()
    client = s3_server.client()
    keys = [f"dir/file{index:04d}" for index in range(1001)] + [f"dir/sub{index:04d}/x" for index in range(1001)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=b"1"), keys))

    listing = reader.list_directory(S3Location(bucket, "dir"))

    assert len(listing.objects) == 1001
    assert len(listing.prefixes) == 1001
    assert "sub0999" in listing.subdirectory_names()
    assert "file1000" in listing.names()
    assert len(reader.list_objects(S3Location(bucket, "dir"))) == 2002


def test_get_many_fetches_concurrently_and_maps_missing_to_none(s3_server: S3Server, reader: S3Reader) -> None:
    bucket = s3_server.create_public_bucket()
    s3_server.client().put_object(Bucket=bucket, Key="a/info", Body=b"{}")

    found = reader.get_many([S3Location(bucket, "a/info"), S3Location(bucket, "a/none")])

    assert found == {S3Location(bucket, "a/info"): b"{}", S3Location(bucket, "a/none"): None}


def test_no_credentials_means_unsigned_requests(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    bucket = s3_server.create_public_bucket()
    s3_server.client().put_object(Bucket=bucket, Key="public/info", Body=b"{}")
    for name in DUMMY_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    anonymous = S3Reader()
    headers: list[dict] = []
    anonymous._client.meta.events.register("before-send.s3", lambda request, **_: headers.append(request.headers))

    assert anonymous.get(S3Location(bucket, "public/info")) == b"{}"

    assert anonymous.anonymous
    assert anonymous.endpoint_url == s3_server.endpoint_url
    assert headers
    assert "Authorization" not in headers[0]


def test_credentials_sign_requests(s3_server: S3Server, reader: S3Reader) -> None:
    bucket = s3_server.create_public_bucket()
    headers: list[dict] = []
    reader._client.meta.events.register("before-send.s3", lambda request, **_: headers.append(request.headers))

    reader.get(S3Location(bucket, "nothing"))

    assert not reader.anonymous
    assert "Authorization" in headers[0]


def test_connection_failures_are_transient() -> None:
    reader = S3Reader(endpoint_url="http://127.0.0.1:9")

    with pytest.raises(S3TransientError, match="Could not connect"):
        reader.get(S3Location("bucket", "key"))


def test_missing_bucket_is_a_permanent_error(reader: S3Reader) -> None:
    with pytest.raises(S3Error, match="NoSuchBucket") as raised:
        reader.list_directory(S3Location("no-such-bucket-at-all", ""))
    assert not isinstance(raised.value, S3TransientError)


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, "GetObject")


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("SlowDown", 503, True),
        ("Throttling", 400, True),
        ("RequestTimeout", 400, True),
        ("ServiceUnavailable", 503, True),
        ("InternalError", 500, True),
        ("AccessDenied", 403, False),
        ("NoSuchBucket", 404, False),
    ],
)
def test_client_errors_are_classified(code: str, status: int, transient: bool) -> None:
    error = _translate(_client_error(code, status), "reading s3://b/k")

    assert isinstance(error, S3TransientError) is transient
    assert isinstance(error, S3Error)
    assert code in str(error)


def test_closed_connections_are_transient() -> None:
    error = _translate(botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), "listing")

    assert isinstance(error, S3TransientError)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://bucket/key", "not an s3:// URL"),
        ("s3://UPPER/key", "not a valid S3 bucket name"),
        ("s3://b/key", "not a valid S3 bucket name"),
        ("s3://bucket/a/../b", "relative path segment"),
    ],
)
def test_bad_urls_are_rejected(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_s3_url(url)


def test_urls_are_normalised() -> None:
    location = parse_s3_url("s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.zarr/")

    assert location == S3Location("janelia-cosem-datasets", "jrc_hela-2/jrc_hela-2.zarr")
    assert location.child("recon-1").url == "s3://janelia-cosem-datasets/jrc_hela-2/jrc_hela-2.zarr/recon-1"
    assert parse_s3_url("s3://bucket").url == "s3://bucket"
