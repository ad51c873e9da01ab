"""``make bench-convert``: conversion throughput with 1 and 2 workers, and peak memory per worker.

A uint16 stack (2 GB by default) and an RGB semantic label stack (512 MB, platelet-em's seven
colours) are written as multipage TIFFs, then converted to OME-Zarr 0.5 in a moto S3 server of
their own process, exactly as the Celery parts do it (``catalog.conversion.engine``: plan,
metadata, every part, the finish), with the parts spread over a pool of 1 or 2 worker
processes. Reported: MB/s of source data, the speed-up from 1 to 2 workers, and each worker's
peak resident memory (``ru_maxrss``). Targets (issue 13): at least 1.8x from 1 to 2 workers and
under 1 GB per worker. The numbers are machine-dependent; nothing here is asserted by a test.

    python -m bench.convert [--megabytes 2048] [--label-megabytes 512] [--workers 1,2]

The reference is ngff-zarr in one process (its dask threads), when it is installed
(``pip install ngff-zarr==0.50.0``; not a project dependency): it writes only to local
directories, so its number is to local disk while ours goes through S3.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

SLICE = (1024, 1024)
PLATELET_COLOURS = [(0, 0, 0), (0, 0, 139), (0, 255, 255), (0, 128, 0), (255, 255, 0), (255, 0, 0), (128, 0, 128)]
OUTPUT = Path(__file__).resolve().parent / "convert-latest.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_stack(path: Path, slices: int, *, rgb: bool) -> int:
    """A multipage TIFF written slice by slice (never whole in memory); its data bytes."""
    import tifffile

    rng = np.random.default_rng(0)
    y, x = np.indices(SLICE)
    with tifffile.TiffWriter(path, bigtiff=True) as tiff:
        for z in range(slices):
            if rgb:
                ids = ((x // 97 + y // 89 + z // 7) % len(PLATELET_COLOURS)).astype(np.uint8)
                plane = np.asarray(PLATELET_COLOURS, dtype=np.uint8)[ids]
                tiff.write(plane, photometric="rgb", contiguous=True)
            else:
                plane = (1000 + 3 * x + 2 * y + z + rng.integers(0, 200, SLICE)).astype(np.uint16)
                tiff.write(plane, contiguous=True)
    return slices * SLICE[0] * SLICE[1] * (3 if rgb else 2)


def _worker_init(endpoint: str) -> None:
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint


def _write_part(arguments: tuple[str, str, dict[str, Any], int]) -> tuple[int, int]:
    """One part in a pool process: (bytes written, peak RSS of this process in bytes)."""
    from catalog.conversion import engine
    from catalog.s3 import S3Writer, parse_s3_url

    source_path, output_url, plan_json, index = arguments
    plan = engine.Plan.from_json(plan_json)
    source = engine.open_staged(source_path, Path(tempfile.gettempdir()))
    try:
        written = engine.write_part(S3Writer(), parse_s3_url(output_url), plan, source, plan.parts[index])
    finally:
        source.close()
    return written, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def convert(source: Path, output_url: str, *, kind: str, workers: int, endpoint: str) -> dict[str, Any]:
    from catalog.conversion import engine, writer
    from catalog.s3 import S3Writer, parse_s3_url

    client = S3Writer(endpoint_url=endpoint)
    output = parse_s3_url(output_url)
    volume = engine.open_staged(str(source), Path(tempfile.gettempdir()))
    table = {colour: value for value, colour in enumerate(PLATELET_COLOURS)} if kind == "segmentation" else {}
    plan = engine.plan(volume, kind=kind, voxel_size_nm=(40.0, 10.0, 10.0), translation_nm=(0, 0, 0), table=table)
    volume.close()
    display = writer.Display(
        channels=[{"label": "em", "color": "FFFFFF", "active": True}] if kind == "image" else [],
        labels=[{"value": v, "name": str(v), "rgba": [*c, 255]} for c, v in table.items()],
        is_label=kind != "image",
    )
    started = time.perf_counter()
    engine.start(client, output, plan, display)
    jobs = [(str(source), output_url, plan.as_json(), part.index) for part in plan.parts]
    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(endpoint,)) as pool:
        results = list(pool.map(_write_part, jobs))
    engine.finish(client, output, plan, display)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "parts": len(plan.parts),
        "levels": len(plan.layout.levels),
        "peak_rss": max(rss for _, rss in results),
    }


def reference(source: Path, folder: Path) -> float | None:
    """Seconds ngff-zarr takes for the same stack (bin-shrink mean pyramid, OME-Zarr 0.5 with
    shards) into a local directory; None when ngff-zarr is not installed."""
    try:
        import dask.array
        import ngff_zarr
    except ImportError:
        return None
    import tifffile
    import zarr

    started = time.perf_counter()
    with tifffile.TiffFile(source) as tiff:
        array = dask.array.from_zarr(zarr.open_array(tiff.series[0].aszarr(), mode="r"))
        image = ngff_zarr.to_ngff_image(array, dims=["z", "y", "x"], scale={"z": 40.0, "y": 10.0, "x": 10.0})
        multiscales = ngff_zarr.to_multiscales(image, method=ngff_zarr.Methods.DASK_BIN_SHRINK, chunks=(32, 128, 128))
        ngff_zarr.to_ngff_zarr(
            str(folder / "reference.ome.zarr"), multiscales, version="0.5", chunks_per_shard=(1, 8, 8)
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=2048, help="size of the uint16 stack")
    parser.add_argument("--label-megabytes", type=int, default=512, help="size of the RGB label stack")
    parser.add_argument("--workers", default="1,2")
    arguments = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    for key, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ[key] = value
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto_server = Path(sys.executable).with_name("moto_server")
    server = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    rows: list[str] = []
    try:
        time.sleep(2)
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
        workers = [int(value) for value in arguments.workers.split(",")]
        with tempfile.TemporaryDirectory() as folder:
            stacks = []
            slices = max(1, arguments.megabytes * 1024 * 1024 // (SLICE[0] * SLICE[1] * 2))
            stacks.append(("uint16 image", "image", Path(folder) / "image.tif", slices, False))
            slices = max(1, arguments.label_megabytes * 1024 * 1024 // (SLICE[0] * SLICE[1] * 3))
            stacks.append(("RGB semantic labels", "segmentation", Path(folder) / "labels.tif", slices, True))
            for title, kind, path, count, rgb in stacks:
                size = write_stack(path, count, rgb=rgb)
                single = None
                for number in workers:
                    result = convert(
                        path, f"s3://bench/{kind}-{number}.ome.zarr", kind=kind, workers=number, endpoint=endpoint
                    )
                    rate = size / 1e6 / result["seconds"]
                    single = single or rate
                    rows.append(
                        f"| {title} | {size / 1e9:.2f} GB ({count} x {SLICE[0]} x {SLICE[1]}) | {number} | "
                        f"{result['parts']} | {result['levels']} | {result['seconds']:.1f} | {rate:.1f} | "
                        f"{rate / single:.2f}x | {result['peak_rss'] / 2**20:.0f} MiB |"
                    )
                    print(rows[-1], flush=True)
                if kind == "image":
                    seconds = reference(path, Path(folder))
                    if seconds is None:
                        rows.append(f"| {title} | reference: ngff-zarr is not installed | | | | | | | |")
                    else:
                        rate = size / 1e6 / seconds
                        rows.append(
                            f"| {title}, ngff-zarr reference (1 process, local disk) | {size / 1e9:.2f} GB | 1 | | | "
                            f"{seconds:.1f} | {rate:.1f} | {rate / single:.2f}x | |"
                        )
                    print(rows[-1], flush=True)
                path.unlink()
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = "\n".join(
        [
            f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, moto S3 in its own "
            "process on loopback, OME-Zarr 0.5 with sharding, 128 MiB parts.",
            "",
            "| stack | size | workers | parts | levels | seconds | MB/s | vs 1 worker | peak RSS per worker |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs slow the "
            "workers down and the one-process moto server serves every request, so scaling is a lower bound).",
            "",
            "Targets: at least 1.8x from 1 to 2 workers; peak RSS per worker under 1 GB; throughput at least the "
            "reference's (ngff-zarr, one process; it writes to local disk only, ours through S3).",
            "",
        ]
    )
    OUTPUT.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
