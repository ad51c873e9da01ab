"""Access to S3, and the only module of the portal that imports boto3.

``S3Reader`` reads (listings, whole objects, byte ranges); ``S3Writer`` adds the few writes
that publishing converted data needs (put, delete, existence checks).

Endpoint and credentials come from boto3's standard configuration (``AWS_ENDPOINT_URL_S3``,
``AWS_ACCESS_KEY_ID``, profiles, instance roles ...). When no credentials are configured at
all, requests are sent unsigned so that public buckets can be read anonymously.

botocore's errors are translated into two exceptions so callers never need botocore:
``S3TransientError`` (throttling, timeouts, lost connections: worth retrying later) and
``S3Error`` (everything else: a missing bucket, denied access).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

T = TypeVar("T")
R = TypeVar("R")

BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
TRANSIENT_ERROR_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "InternalError",
        "503",
        "500",
    }
)
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
DEFAULT_MAX_WORKERS = 16


class S3Error(Exception):
    """S3 refused a request for a reason that retrying will not fix."""


class S3TransientError(S3Error):
    """Throttling, a timeout or a lost connection: the same request may succeed later."""


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key (or key prefix) inside it."""

    bucket: str
    key: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    def child(self, name: str) -> S3Location:
        """The location ``name`` below this one."""
        key = f"{self.key.rstrip('/')}/{name}" if self.key else name
        return S3Location(self.bucket, key.strip("/"))


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing says about one object."""

    key: str
    size: int
    etag: str


@dataclass
class DirectoryListing:
    """One level of a delimiter listing: the sub-"directories" and the objects directly inside."""

    prefixes: list[str] = field(default_factory=list)
    objects: dict[str, ObjectInfo] = field(default_factory=dict)

    def names(self) -> set[str]:
        """File names (last key segment) of the objects in this directory."""
        return {key.rsplit("/", 1)[-1] for key in self.objects}

    def subdirectory_names(self) -> set[str]:
        return {prefix.rstrip("/").rsplit("/", 1)[-1] for prefix in self.prefixes}


def parse_s3_url(url: str) -> S3Location:
    """Split ``s3://bucket/key`` into bucket and key; ValueError naming the problem otherwise."""
    if not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an s3:// URL")
    bucket, _, key = url[len("s3://") :].partition("/")
    if not BUCKET_NAME_RE.match(bucket):
        raise ValueError(f"{bucket!r} is not a valid S3 bucket name")
    key = key.strip("/")
    if any(part in {".", ".."} for part in key.split("/")):
        raise ValueError(f"{url!r} contains a relative path segment")
    return S3Location(bucket, key)


def _translate(error: Exception, what: str) -> S3Error:
    """Map a botocore exception onto S3Error / S3TransientError with a readable message."""
    if isinstance(
        error,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectionClosedError
        | botocore.exceptions.ConnectTimeoutError
        | botocore.exceptions.ReadTimeoutError
        | botocore.exceptions.ConnectionError
        | botocore.exceptions.HTTPClientError,
    ):
        return S3TransientError(f"{what}: {error}")
    if isinstance(error, botocore.exceptions.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in TRANSIENT_ERROR_CODES or status in {500, 503}:
            return S3TransientError(f"{what}: {code or status} ({error})")
        return S3Error(f"{what}: {code or status} ({error})")
    return S3Error(f"{what}: {error}")


class S3Reader:
    """A thread-safe, read-only S3 client with listing and concurrent fetch helpers."""

    def __init__(self, *, endpoint_url: str | None = None, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        session = boto3.session.Session()
        config = Config(
            max_pool_connections=max_workers,
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=60,
        )
        self.anonymous = session.get_credentials() is None
        if self.anonymous:
            config = config.merge(Config(signature_version=UNSIGNED))
        self._client = session.client("s3", endpoint_url=endpoint_url or None, config=config)
        self.max_workers = max_workers

    @property
    def endpoint_url(self) -> str:
        """The endpoint boto3 resolved (explicit argument, AWS_ENDPOINT_URL_S3 or AWS)."""
        return self._client.meta.endpoint_url

    def list_directory(self, location: S3Location) -> DirectoryListing:
        """All sub-prefixes and objects directly under ``location``, across every page."""
        prefix = f"{location.key}/" if location.key else ""
        listing = DirectoryListing()
        for page in self._pages(location.bucket, prefix, delimiter="/"):
            listing.prefixes.extend(entry["Prefix"] for entry in page.get("CommonPrefixes", []))
            for entry in page.get("Contents", []):
                listing.objects[entry["Key"]] = ObjectInfo(entry["Key"], entry["Size"], entry.get("ETag", ""))
        return listing

    def list_objects(self, location: S3Location) -> list[ObjectInfo]:
        """Every object below ``location`` (recursively), across every page."""
        prefix = f"{location.key}/" if location.key else ""
        return [
            ObjectInfo(entry["Key"], entry["Size"], entry.get("ETag", ""))
            for page in self._pages(location.bucket, prefix, delimiter=None)
            for entry in page.get("Contents", [])
        ]

    def _pages(self, bucket: str, prefix: str, delimiter: str | None) -> Iterator[dict]:
        paginator = self._client.get_paginator("list_objects_v2")
        arguments = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = delimiter
        try:
            yield from paginator.paginate(**arguments)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise _translate(error, f"listing s3://{bucket}/{prefix}") from error

    def get(self, location: S3Location) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        try:
            response = self._client.get_object(Bucket=location.bucket, Key=location.key)
            return response["Body"].read()
        except botocore.exceptions.ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in NOT_FOUND_CODES:
                return None
            raise _translate(error, f"reading {location.url}") from error
        except botocore.exceptions.BotoCoreError as error:
            raise _translate(error, f"reading {location.url}") from error

    def get_range(self, location: S3Location, start: int | None, end: int | None) -> bytes | None:
        """Bytes ``start``..``end`` (exclusive) of an object; ``start`` None means the last ``end``
        bytes, ``end`` None means up to the end. None when there is no such object."""
        if start is None:
            byte_range = f"bytes=-{end}"
        elif end is None:
            byte_range = f"bytes={start}-"
        else:
            if end <= start:
                return b""
            byte_range = f"bytes={start}-{end - 1}"
        try:
            response = self._client.get_object(Bucket=location.bucket, Key=location.key, Range=byte_range)
            return response["Body"].read()
        except botocore.exceptions.ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in NOT_FOUND_CODES:
                return None
            raise _translate(error, f"reading {location.url} ({byte_range})") from error
        except botocore.exceptions.BotoCoreError as error:
            raise _translate(error, f"reading {location.url}") from error

    def download(self, location: S3Location, path: Path, *, chunk_size: int = 8 * 1024 * 1024) -> None:
        """Stream an object into a local file (never whole in memory)."""
        try:
            response = self._client.get_object(Bucket=location.bucket, Key=location.key)
            with path.open("wb") as output:
                for chunk in response["Body"].iter_chunks(chunk_size):
                    output.write(chunk)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise _translate(error, f"reading {location.url}") from error

    def exists(self, location: S3Location) -> bool:
        """Whether the object exists (a HEAD request)."""
        try:
            self._client.head_object(Bucket=location.bucket, Key=location.key)
        except botocore.exceptions.ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in NOT_FOUND_CODES:
                return False
            raise _translate(error, f"checking {location.url}") from error
        except botocore.exceptions.BotoCoreError as error:
            raise _translate(error, f"checking {location.url}") from error
        return True

    def get_many(self, locations: Iterable[S3Location]) -> dict[S3Location, bytes | None]:
        """Fetch many objects concurrently; missing ones map to None."""
        unique = list(dict.fromkeys(locations))
        return dict(zip(unique, self.map(self.get, unique), strict=True))

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Apply ``function`` to ``items`` on the thread pool, keeping order; errors propagate."""
        items = list(items)
        if len(items) <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(items))) as pool:
            return list(pool.map(function, items))


class S3Writer(S3Reader):
    """An S3 client that may also write: used to publish converted data, never to read sources."""

    def put(self, location: S3Location, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` at ``location`` (replacing what was there)."""
        try:
            self._client.put_object(Bucket=location.bucket, Key=location.key, Body=data, ContentType=content_type)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise _translate(error, f"writing {location.url}") from error

    def delete(self, location: S3Location) -> None:
        """Remove one object (absent objects are fine)."""
        try:
            self._client.delete_object(Bucket=location.bucket, Key=location.key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise _translate(error, f"deleting {location.url}") from error
