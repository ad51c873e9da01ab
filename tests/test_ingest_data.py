"""Writers of small test volumes in S3 for the ingest tests (no tests here).

OME-Zarr comes from ``tests.fixtures.s3.write_ome_zarr`` (zarr-python); N5 and
precomputed volumes are written byte by byte after their published layouts, so the
readers under test are checked against the formats rather than against themselves.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from tests.fixtures.s3 import S3Server


def put_json(server: S3Server, bucket: str, key: str, document: Any) -> None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    server.client().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def get_json(server: S3Server, bucket: str, key: str) -> Any:
    return json.loads(server.client().get_object(Bucket=bucket, Key=key)["Body"].read())


def delete_prefix(server: S3Server, bucket: str, prefix: str) -> None:
    client = server.client()
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
    for entry in listing.get("Contents", []):
        client.delete_object(Bucket=bucket, Key=entry["Key"])


def gradient_volume(shape: Sequence[int] = (32, 48, 64), dtype: str = "uint8") -> np.ndarray:
    """A deterministic volume with a known intensity spread (0..250 for uint8)."""
    z, y, x = np.indices(shape)
    values = (x * 3 + y * 2 + z) % 251
    return values.astype(dtype)


def _n5_block(data_c_order: np.ndarray, compression: str) -> bytes:
    """One N5 block: mode 0, ndim, block size (fastest axis first), big-endian payload."""
    dims = tuple(reversed(data_c_order.shape))
    header = struct.pack(">HH", 0, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    payload = data_c_order.astype(data_c_order.dtype.newbyteorder(">")).tobytes()
    if compression == "gzip":
        payload = gzip.compress(payload, mtime=0)
    return header + payload


def write_n5_array(
    server: S3Server,
    bucket: str,
    key: str,
    array: np.ndarray,
    block: Sequence[int],
    compression: str = "gzip",
    extra: dict[str, Any] | None = None,
) -> None:
    """An N5 array; ``array`` and ``block`` are C order (z, y, x), N5 metadata is x-first."""
    client = server.client()
    attributes = {
        "dimensions": list(reversed(array.shape)),
        "blockSize": list(reversed(block)),
        "dataType": array.dtype.name,
        "compression": {"type": compression},
        **(extra or {}),
    }
    put_json(server, bucket, f"{key}/attributes.json", attributes)
    grid = [range(0, size, step) for size, step in zip(array.shape, block, strict=True)]
    for z in grid[0]:
        for y in grid[1]:
            for x in grid[2]:
                data = array[z : z + block[0], y : y + block[1], x : x + block[2]]
                index = (x // block[2], y // block[1], z // block[0])
                client.put_object(
                    Bucket=bucket, Key=f"{key}/{'/'.join(map(str, index))}", Body=_n5_block(data, compression)
                )


def write_n5_multiscale(
    server: S3Server,
    bucket: str,
    key: str,
    array: np.ndarray,
    voxel_size_zyx: Sequence[float],
    translation_zyx: Sequence[float] = (0.0, 0.0, 0.0),
    unit: str = "nm",
    levels: int = 2,
    style: str = "cosem",
) -> None:
    """A multiscale N5 group as the CellMap tools (``cosem``) or n5-viewer (``n5-viewer``) write it."""
    datasets = []
    data = array
    for level in range(levels):
        factor = 2**level
        if level:
            data = data[::2, ::2, ::2]
        transform = {
            "axes": ["z", "y", "x"],
            "units": [unit] * 3,
            "scale": [v * factor for v in voxel_size_zyx],
            "translate": list(translation_zyx),
        }
        extra = {"transform": transform} if style == "cosem" else {"downsamplingFactors": [factor] * 3}
        write_n5_array(server, bucket, f"{key}/s{level}", data, block=(32, 32, 32), extra=extra)
        datasets.append({"path": f"s{level}", "transform": transform})
    if style == "cosem":
        group = {"multiscales": [{"name": key.rsplit("/", 1)[-1], "datasets": datasets}]}
    else:
        group = {
            "scales": [[2**level] * 3 for level in range(levels)],
            "pixelResolution": {"dimensions": list(reversed(voxel_size_zyx)), "unit": unit},
        }
    put_json(server, bucket, f"{key}/attributes.json", group)


def write_precomputed(
    server: S3Server,
    bucket: str,
    key: str,
    array: np.ndarray,
    resolution_xyz: Sequence[float],
    voxel_offset_xyz: Sequence[int] = (0, 0, 0),
    volume_type: str = "image",
    chunk: int = 32,
) -> None:
    """An unsharded, raw-encoded, single-scale precomputed volume (``array`` is z, y, x)."""
    client = server.client()
    size = list(reversed(array.shape))
    scale_key = "_".join(str(int(value)) for value in resolution_xyz)
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": volume_type,
        "data_type": array.dtype.name,
        "num_channels": 1,
        "scales": [
            {
                "key": scale_key,
                "size": size,
                "resolution": list(resolution_xyz),
                "voxel_offset": list(voxel_offset_xyz),
                "chunk_sizes": [[chunk, chunk, chunk]],
                "encoding": "raw",
            }
        ],
    }
    put_json(server, bucket, f"{key}/info", info)
    ox, oy, oz = voxel_offset_xyz
    for z in range(0, array.shape[0], chunk):
        for y in range(0, array.shape[1], chunk):
            for x in range(0, array.shape[2], chunk):
                data = array[z : z + chunk, y : y + chunk, x : x + chunk]
                name = (
                    f"{x + ox}-{x + ox + data.shape[2]}_{y + oy}-{y + oy + data.shape[1]}_"
                    f"{z + oz}-{z + oz + data.shape[0]}"
                )
                client.put_object(
                    Bucket=bucket, Key=f"{key}/{scale_key}/{name}", Body=data.astype("<" + data.dtype.str[1:]).tobytes()
                )
