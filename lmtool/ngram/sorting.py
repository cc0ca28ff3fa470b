"""Sorting non-negative integer keys with their positions, by sorting one packed uint64 per key.

``np.argsort`` moves (key, index) pairs; when the key's bits and the index's bits fit in 64
together, packing each key above its index and sorting the packed integers gives the same
stable order five times as fast (a plain sort of one array, which numpy does with SIMD
instructions), and the sorted keys come out of the same array without a gather.
"""

from __future__ import annotations

import numpy as np


#: keys given their positions, or positions taken out, at a time (temporaries of 512 KiB at most)
CHUNK = 1 << 16


def sort_in_place(keys: np.ndarray, bits: int) -> np.ndarray | None:
    """Sort the uint64 ``keys`` (each below ``2**bits``) in place, stably; the position each
    came from (uint32 for fewer than ``2**32`` keys, else int64). None, the keys untouched,
    when a key and its position do not fit in 64 bits together.

    Each key is packed above its position in the keys' own memory, a chunk at a time, and the
    packed integers sorted (numpy's SIMD sort of uint64: 4 ms for 700,000, against 23 ms for
    ``np.argsort`` or three counting-sort passes of 16-bit digits); beside the keys, only the
    positions are held (no int64 argsort result, no reordered copy: about 10 MiB less at Brown
    order 5's 4-gram layout, the peak of an ARPA import)."""
    position_bits = sort_packed(keys, bits)
    if position_bits is None:
        return None
    order = positions(keys, position_bits, np.empty(len(keys), dtype=position_type(len(keys))))
    keys >>= np.uint64(position_bits)
    return order


def sort_packed(keys: np.ndarray, bits: int) -> int | None:
    """The first step of :func:`sort_in_place`: each uint64 key (below ``2**bits``) packed above
    its position, in place, and the packed integers sorted; the positions' bits, or None (the
    keys untouched) when a key and its position need more than 64 bits."""
    n = len(keys)
    position_bits = max(1, (n - 1).bit_length())
    if bits + position_bits > 64:
        return None
    keys <<= np.uint64(position_bits)
    for first in range(0, n, CHUNK):
        keys[first : first + CHUNK] |= np.arange(first, min(n, first + CHUNK), dtype=np.uint64)
    keys.sort()
    return position_bits


def position_type(n: int) -> np.dtype:
    """The type of the positions of ``n`` keys: uint32 below ``2**32``, else int64."""
    return np.dtype(np.uint32 if n < 1 << 32 else np.int64)


def positions(packed: np.ndarray, position_bits: int, out: np.ndarray) -> np.ndarray:
    """The positions of :func:`sort_packed`'s ``packed`` keys, into ``out`` (of
    :func:`position_type`), a chunk at a time. ``out`` may be the packed keys' own memory
    (``packed.view(type)[:len(packed)]``): each chunk is written below the bytes still to be read."""
    mask = np.uint64((1 << position_bits) - 1)
    for first in range(0, len(packed), CHUNK):
        np.bitwise_and(packed[first : first + CHUNK], mask, out=out[first : first + CHUNK], casting="unsafe")
    return out


def sort_with_order(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(keys[order], order)`` for ``order = np.argsort(keys, kind="stable")``, ``keys``
    non-negative integers (int64 or uint64); the sorted keys have the dtype of ``keys``, the
    order is uint32 or int64 (:func:`sort_in_place` on a copy)."""
    ordered = keys.astype(np.uint64)
    order = sort_in_place(ordered, int(keys.max()).bit_length() if len(keys) else 0)
    if order is None:
        order = np.argsort(keys, kind="stable")
        return keys[order], order
    return ordered.astype(keys.dtype, copy=False), order


def distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` of a 1-d array without NaN (sorted distinct values), by a sort and
    one comparison: numpy's own imports ``numpy.ma`` on first use, 8 ms of a short process's start."""
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
