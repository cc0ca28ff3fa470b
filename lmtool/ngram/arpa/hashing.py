"""A hash table over 64-bit hashes, built and probed for whole arrays at once (linear probing).

Finding a million words or n-grams by binary search costs some twenty dependent, mostly
cache-missing steps each; an open-addressing table at load <= 1/2 costs one or two. The home
slot of a hash is its top bits, so sorting the hashes sorts them by home slot, and linear
probing's placement is then a running maximum: item i goes to max(home_i, place_{i-1} + 1)
(the table grows past its nominal end instead of wrapping). Lookups run in rounds over the
queries still unresolved, each round a few array operations. The table stores the hashes
themselves, so a hit means "same 64-bit hash": callers confirm the content (the bytes of a
word, the ids of an n-gram), which keeps every lookup exact whatever the hash does.
"""

from __future__ import annotations

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(29)


def mix(h: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``h`` updated with ``values`` (uint64 arrays; wrapping arithmetic, a multiply-xorshift step)."""
    h = (h ^ values) * _MIX
    return h ^ (h >> _SHIFT)


def hash_columns(columns: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of the (m, k) integer array ``columns``."""
    h = np.full(len(columns), columns.shape[1], dtype=np.uint64)
    for j in range(columns.shape[1]):
        h = mix(h, columns[:, j].astype(np.uint64))
    return h


class HashIndex:
    """Positions of 64-bit hashes: ``find(h)`` is the index ``i`` with ``hashes[i] == h``, or -1.

    ``unique`` is False when two of the indexed hashes are equal (then ``find`` may return
    either: callers check ``unique`` and take an exact slower path instead). With ``exact``
    False the hashes are ordered by their top bits only (a faster sort) and ``unique`` may miss
    a repeat: for callers that confirm every hit anyway.
    """

    def __init__(self, hashes: np.ndarray, slots_per_item: int = 2, exact: bool = True) -> None:
        n = len(hashes)
        bits = max(4, int(slots_per_item * n - 1).bit_length())  # load 1/slots_per_item or less
        self.shift = np.uint64(64 - bits)
        order = _order(hashes, bits, exact)
        ordered = hashes[order]
        self.unique = not (ordered[1:] == ordered[:-1]).any()
        rank = np.arange(n)
        place = np.maximum.accumulate((ordered >> self.shift).astype(np.int64) - rank) + rank if n else rank
        size = max(1 << bits, int(place[-1]) + 1 if n else 0) + 1  # an empty slot ends every run
        self.slot_hash = np.zeros(size, dtype=np.uint64)
        self.slot_item = np.full(size, -1, dtype=np.int32 if n < 2**31 else np.int64)
        self.slot_hash[place] = ordered
        self.slot_item[place] = order

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """Index of each hash among the indexed ones, -1 where absent."""
        slot = (hashes >> self.shift).astype(np.int64)
        item = self.slot_item.take(slot).astype(np.int64, copy=False)
        found = np.where(self.slot_hash.take(slot) == hashes, item, -1)
        pending = np.flatnonzero((found < 0) & (item >= 0))  # an occupied slot of another hash
        while len(pending):
            slot[pending] += 1
            item = self.slot_item.take(slot[pending])
            hit = (item >= 0) & (self.slot_hash.take(slot[pending]) == hashes[pending])
            found[pending[hit]] = item[hit]
            pending = pending[(item >= 0) & ~hit]
        return found


def _order(hashes: np.ndarray, bits: int, exact: bool) -> np.ndarray:
    """An order of ``hashes`` sorted by value (``exact``) or by their top ``64 - index bits``
    bits, which keeps them sorted by home slot (their top ``bits`` bits) when ``bits`` fits."""
    n = len(hashes)
    index_bits = max(1, (n - 1).bit_length())
    if exact or index_bits + bits > 64:
        return np.argsort(hashes)
    packed = ((hashes >> np.uint64(index_bits)) << np.uint64(index_bits)) | np.arange(n, dtype=np.uint64)
    packed.sort()
    return (packed & np.uint64((1 << index_bits) - 1)).astype(np.int64)
