"""Readers of the source formats a curator can convert, all through well-kept libraries:
tifffile (multipage TIFF, OME-TIFF, folders of per-slice TIFFs) and h5py (a named HDF5 dataset).

Every reader presents the same thing: a 3-D stack with samples last, ``(z, y, x, c)``, read in
slabs of z so that memory stays bounded by the slab, plus the voxel size in nm when the file
states one. Formats whose reader package is not installed (ND2, CZI, OIB) fail with a
``ConversionError`` that names the package, never with an ImportError.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from catalog.conversion.errors import ConversionError

TIFF_SUFFIXES = (".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
MISSING_READERS = {
    ".nd2": ("ND2", "nd2"),
    ".czi": ("CZI", "bioio-czi"),
    ".oib": ("Olympus OIB", "oiffile"),
    ".oif": ("Olympus OIF", "oiffile"),
}
"""Suffix -> (format, package that reads it). None of these packages is installed here."""
UNIT_TO_NM = {"nm": 1.0, "µm": 1000.0, "um": 1000.0, "micron": 1000.0, "mm": 1e6, "m": 1e9, "Å": 0.1}
_NATURAL_RE = re.compile(r"(\d+)")


class SourceVolume(ABC):
    """A 3-D stack, ``(z, y, x, c)``; ``c`` is 1 for greyscale, 3 for RGB or the channel count."""

    shape: tuple[int, int, int, int]
    dtype: np.dtype
    voxel_size_nm: dict[str, float] | None = None
    description: str = ""

    @abstractmethod
    def read(self, z0: int, z1: int) -> np.ndarray:
        """Slices ``z0`` to ``z1`` (exclusive), as a C-ordered ``(z, y, x, c)`` array."""

    def close(self) -> None:  # noqa: B027 - readers without open files need nothing
        """Release open files."""


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in _NATURAL_RE.split(name)]


class TiffVolume(SourceVolume):
    """One TIFF (multipage, OME or ImageJ hyperstack) read through tifffile's zarr view of its
    first series, so a slab reads only the pages it covers."""

    def __init__(self, path: Path) -> None:
        import tifffile
        import zarr

        try:
            self._file = tifffile.TiffFile(path)
            series = self._file.series[0]
            axes = series.axes.upper()
            self._array = zarr.open_array(series.aszarr(), mode="r")
        except (tifffile.TiffFileError, OSError, ValueError, IndexError, KeyError) as error:
            raise ConversionError(f"{path.name}: not a readable TIFF ({error})") from error
        self._axes, self.shape = _layout(axes, tuple(series.shape), path.name)
        self.dtype = np.dtype(series.dtype)
        self.description = f"TIFF {path.name} ({axes} {tuple(series.shape)} {self.dtype})"
        self.voxel_size_nm = _ome_voxel_size(self._file.ome_metadata) if self._file.is_ome else None

    def read(self, z0: int, z1: int) -> np.ndarray:
        try:
            return _slab(self._array, self._axes, z0, z1)
        except (OSError, ValueError, IndexError, KeyError, RuntimeError) as error:
            raise ConversionError(f"{self.description}: cannot read slices {z0}-{z1} ({error})") from error

    def close(self) -> None:
        self._file.close()


class TiffSequenceVolume(SourceVolume):
    """A folder of per-slice TIFFs, in natural name order (slice 2 before slice 10)."""

    def __init__(self, files: list[Path]) -> None:
        import tifffile

        if not files:
            raise ConversionError("the folder holds no .tif or .tiff files")
        self._files = sorted(files, key=lambda path: _natural_key(path.name))
        first = self._read_file(self._files[0], tifffile)
        if first.ndim == 2:
            first = first[..., None]
        if first.ndim != 3:
            raise ConversionError(f"{self._files[0].name}: a slice must be 2-D (or 2-D RGB), not {first.shape}")
        self.shape = (len(self._files), *first.shape)
        self.dtype = first.dtype
        self.description = f"{len(self._files)} TIFF slices ({self._files[0].name} ...)"

    @staticmethod
    def _read_file(path: Path, tifffile: Any) -> np.ndarray:
        try:
            return np.asarray(tifffile.imread(path))
        except (tifffile.TiffFileError, OSError, ValueError) as error:
            raise ConversionError(f"{path.name}: not a readable TIFF ({error})") from error

    def read(self, z0: int, z1: int) -> np.ndarray:
        import tifffile

        slab = np.empty((z1 - z0, *self.shape[1:]), dtype=self.dtype)
        for index in range(z0, z1):
            plane = self._read_file(self._files[index], tifffile)
            if plane.ndim == 2:
                plane = plane[..., None]
            if plane.shape != self.shape[1:] or plane.dtype != self.dtype:
                raise ConversionError(
                    f"{self._files[index].name}: slice {index} is {plane.shape} {plane.dtype}, "
                    f"the first slice is {self.shape[1:]} {self.dtype}"
                )
            slab[index - z0] = plane
        return slab


class Hdf5Volume(SourceVolume):
    """A named dataset of an HDF5 file; its axes come from ``axes`` or its shape."""

    def __init__(self, path: Path, member: str = "", axes: str = "") -> None:
        import h5py

        try:
            self._file = h5py.File(path, "r")
        except OSError as error:
            raise ConversionError(f"{path.name}: not a readable HDF5 file ({error})") from error
        datasets: list[str] = []
        self._file.visititems(lambda name, item: datasets.append(name) if isinstance(item, h5py.Dataset) else None)
        if not member:
            candidates = [name for name in datasets if self._file[name].ndim >= 3]
            if len(candidates) != 1:
                self._file.close()
                raise ConversionError(
                    f"{path.name}: name the dataset to convert (--member); it holds {', '.join(datasets) or 'none'}"
                )
            member = candidates[0]
        if member.strip("/") not in datasets:
            self._file.close()
            raise ConversionError(f"{path.name}: no dataset {member!r}; it holds {', '.join(datasets) or 'none'}")
        self._dataset = self._file[member]
        shape = tuple(int(n) for n in self._dataset.shape)
        self._axes, self.shape = _layout((axes or _guess_axes(shape)).upper(), shape, f"{path.name}:{member}")
        self.dtype = np.dtype(self._dataset.dtype)
        self.description = f"HDF5 {path.name}:{member} ({self._axes} {shape} {self.dtype})"
        size = self._dataset.attrs.get("element_size_um")
        if size is not None and len(size) == 3:
            self.voxel_size_nm = {axis: float(value) * 1000.0 for axis, value in zip("zyx", size, strict=True)}

    def read(self, z0: int, z1: int) -> np.ndarray:
        return _slab(self._dataset, self._axes, z0, z1)

    def close(self) -> None:
        self._file.close()


def _guess_axes(shape: tuple[int, ...]) -> str:
    """zyx for 3-D; for 4-D the small axis (at most 4 long) is the channel axis."""
    if len(shape) == 3:
        return "ZYX"
    if len(shape) == 4:
        if shape[-1] <= 4:
            return "ZYXC"
        if shape[0] <= 4:
            return "CZYX"
        if shape[1] <= 4:
            return "ZCYX"
    raise ConversionError(f"cannot tell the axes of a {len(shape)}-D dataset of shape {shape}; give them (--axes)")


def _layout(axes: str, shape: tuple[int, ...], name: str) -> tuple[str, tuple[int, int, int, int]]:
    """Map a reader's axes onto z, y, x and c: Q and I (page sequences) count as z, S (samples)
    and C as channels; other axes must have length 1."""
    axes = axes.replace("Q", "Z").replace("I", "Z").replace("S", "C")
    if len(axes) != len(shape):
        raise ConversionError(f"{name}: axes {axes!r} do not match the shape {shape}")
    sizes: dict[str, int] = {}
    for axis, size in zip(axes, shape, strict=True):
        if axis in sizes:
            raise ConversionError(f"{name}: two {axis} axes in {axes!r}; cannot read it as a 3-D stack")
        sizes[axis] = size
    for axis, size in sizes.items():
        if axis not in "ZYXC" and size != 1:
            raise ConversionError(f"{name}: axis {axis} has {size} entries; only z, y, x and channels convert")
    if "Y" not in sizes or "X" not in sizes:
        raise ConversionError(f"{name}: no y and x axes in {axes!r}")
    return axes, (sizes.get("Z", 1), sizes["Y"], sizes["X"], sizes.get("C", 1))


def _slab(array: Any, axes: str, z0: int, z1: int) -> np.ndarray:
    """``array[z0:z1]`` along its z axis, reordered to ``(z, y, x, c)``."""
    index = tuple(slice(z0, z1) if axis == "Z" else slice(None) if axis in "YXC" else 0 for axis in axes)
    data = np.asarray(array[index])
    kept = [axis for axis in axes if axis in "ZYXC"]
    if "Z" not in kept:
        data, kept = data[None], ["Z", *kept]
    if "C" not in kept:
        data, kept = data[..., None], [*kept, "C"]
    return np.ascontiguousarray(np.transpose(data, [kept.index(axis) for axis in "ZYXC"]))


def _ome_voxel_size(xml: str | None) -> dict[str, float] | None:
    """PhysicalSizeX/Y/Z of the first OME image, in nm (the OME default unit is µm)."""
    if not xml:
        return None
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None
    pixels = next((element for element in root.iter() if element.tag.endswith("}Pixels")), None)
    if pixels is None:
        return None
    sizes: dict[str, float] = {}
    for axis in "zyx":
        value = pixels.get(f"PhysicalSize{axis.upper()}")
        factor = UNIT_TO_NM.get(pixels.get(f"PhysicalSize{axis.upper()}Unit", "µm"))
        if value is None or factor is None:
            return None
        sizes[axis] = float(value) * factor
    return sizes


def open_source(path: Path, *, member: str = "", axes: str = "") -> SourceVolume:
    """The reader for a local file or folder, chosen by suffix; a clear error otherwise."""
    if path.is_dir():
        files = [child for child in path.iterdir() if child.suffix.lower() in TIFF_SUFFIXES and child.is_file()]
        return TiffSequenceVolume(files)
    if not path.exists():
        raise ConversionError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return TiffVolume(path)
    if suffix in HDF5_SUFFIXES:
        return Hdf5Volume(path, member, axes)
    if suffix in MISSING_READERS:
        kind, package = MISSING_READERS[suffix]
        raise ConversionError(
            f"{path.name}: reading {kind} files needs the Python package {package!r}, which is not installed; "
            "export the stack as TIFF or HDF5, or install the package"
        )
    raise ConversionError(
        f"{path.name}: unknown format {suffix or '(no suffix)'!r}; convertible: TIFF (.tif, .tiff, OME-TIFF), "
        "a folder of TIFF slices, HDF5 (.h5, .hdf5), or a .zip of these"
    )
