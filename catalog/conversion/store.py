"""A zarr-python 3 ``Store`` on top of ``catalog.s3``, so zarr reads and writes through the
project's one S3 layer (its endpoint, credentials and error translation) instead of s3fs.

Keys map to objects below a prefix. Byte ranges (sharded reads fetch a shard's index from its
end, then single chunks) become ranged GETs. boto3 is synchronous: each call runs in a thread so
zarr's concurrent chunk requests still overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

from catalog.s3 import S3Location, S3Reader, S3Writer


class S3Store(Store):
    """The objects below ``location`` as a zarr store (writable when ``client`` can write)."""

    supports_writes = True
    supports_deletes = True
    supports_partial_writes = False
    supports_listing = True

    def __init__(self, client: S3Reader, location: S3Location, *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only or not isinstance(client, S3Writer))
        self.client = client
        self.location = location

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Store) and other.location == self.location and other.client is self.client

    def __repr__(self) -> str:
        return f"S3Store({self.location.url})"

    def _object(self, key: str) -> S3Location:
        return self.location.child(key)

    def with_read_only(self, read_only: bool = False) -> S3Store:
        return S3Store(self.client, self.location, read_only=read_only)

    async def get(
        self, key: str, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        prototype = prototype or default_buffer_prototype()
        location = self._object(key)
        if byte_range is None:
            data = await asyncio.to_thread(self.client.get, location)
        elif isinstance(byte_range, RangeByteRequest):
            data = await asyncio.to_thread(self.client.get_range, location, byte_range.start, byte_range.end)
        elif isinstance(byte_range, OffsetByteRequest):
            data = await asyncio.to_thread(self.client.get_range, location, byte_range.offset, None)
        elif isinstance(byte_range, SuffixByteRequest):
            data = await asyncio.to_thread(self.client.get_range, location, None, byte_range.suffix)
        else:
            raise TypeError(f"unexpected byte range {byte_range!r}")
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(key, prototype, byte_range) for key, byte_range in key_ranges)))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.client.exists, self._object(key))

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        assert isinstance(self.client, S3Writer)
        content_type = "application/json" if key.endswith(".json") or key.rsplit("/", 1)[-1].startswith(".z") else ""
        await asyncio.to_thread(
            self.client.put,
            self._object(key),
            value.to_bytes(),
            content_type=content_type or "application/octet-stream",
        )

    async def delete(self, key: str) -> None:
        self._check_writable()
        assert isinstance(self.client, S3Writer)
        await asyncio.to_thread(self.client.delete, self._object(key))

    async def _relative_keys(self, prefix: str) -> list[str]:
        base = self.location.child(prefix.rstrip("/")) if prefix.strip("/") else self.location
        objects = await asyncio.to_thread(self.client.list_objects, base)
        start = len(self.location.key) + 1 if self.location.key else 0
        return [item.key[start:] for item in objects]

    async def list(self) -> AsyncIterator[str]:
        for key in await self._relative_keys(""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in await self._relative_keys(prefix.rsplit("/", 1)[0] if "/" in prefix else ""):
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        base = self.location.child(prefix) if prefix else self.location
        listing = await asyncio.to_thread(self.client.list_directory, base)
        for name in sorted(listing.names() | listing.subdirectory_names()):
            yield name
