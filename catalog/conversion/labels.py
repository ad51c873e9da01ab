"""Label encodings: colour-coded label stacks become integer ids.

A semantic RGB stack maps each colour through the class table (the catalog's segment labels,
0 = background drawn black); a colour outside the table is an error naming the colour and the
first voxel that has it. An instance RGB stack (one colour per object) packs each colour into
one 24-bit id, ``r << 16 | g << 8 | b``: the same colour is the same id in every slice and in
every part, with no table to share between workers, and black stays 0 (background).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from catalog.conversion.errors import ConversionError


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 colours as uint32 ``r << 16 | g << 8 | b``."""
    values = rgb.astype(np.uint32)
    return (values[..., 0] << 16) | (values[..., 1] << 8) | values[..., 2]


def _rgb_part(slab: np.ndarray, what: str) -> np.ndarray:
    if slab.shape[-1] not in (3, 4) or slab.dtype != np.uint8:
        raise ConversionError(
            f"{what} must be an 8-bit RGB stack; this one has {slab.shape[-1]} samples of {slab.dtype}"
        )
    return slab[..., :3]


def semantic_ids(slab: np.ndarray, table: Mapping[tuple[int, int, int], int], *, z_offset: int = 0) -> np.ndarray:
    """Class ids of an RGB ``(z, y, x, 3)`` slab; ``table`` maps colours to ids."""
    rgb = _rgb_part(slab, "a semantic label stack")
    packed = pack_rgb(rgb)
    keys = np.array(sorted(pack_rgb(np.array(colour, dtype=np.uint8)) for colour in table), dtype=np.uint32)
    ids = np.array([table[colour] for colour in sorted(table, key=lambda c: (c[0] << 16) | (c[1] << 8) | c[2])])
    position = np.clip(np.searchsorted(keys, packed), 0, len(keys) - 1)
    known = keys[position] == packed
    if not known.all():
        z, y, x = (int(value) for value in np.argwhere(~known)[0])
        r, g, b = (int(value) for value in rgb[z, y, x])
        raise ConversionError(
            f"colour #{r:02x}{g:02x}{b:02x} (r={r}, g={g}, b={b}) at voxel z={z + z_offset}, y={y}, x={x} "
            "is not in the class table"
        )
    dtype = np.uint8 if max(table.values(), default=0) < 256 else np.uint32
    return ids[position].astype(dtype)


def instance_ids(slab: np.ndarray) -> np.ndarray:
    """Object ids of an RGB ``(z, y, x, 3)`` instance slab: each colour packed into one id."""
    return pack_rgb(_rgb_part(slab, "an RGB instance stack"))
