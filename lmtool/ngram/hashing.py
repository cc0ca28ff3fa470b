"""Exact key lookups that store about 1.7 bytes per key: a bijective hash split into bucket and quotient.

An n-gram of order k+1 is the pair (row of its prefix at order k, last word), i.e. the integer
key ``prefix_row * V + word`` below ``2**bits``. :func:`mix` is a bijection on ``bits``-bit
integers (multiply by an odd constant, xor-shift, twice: each step is invertible modulo
``2**bits``), so the hash ``h = mix(key)`` identifies the key exactly. Its top ``s`` bits pick
one of ``2**s`` buckets and only the remaining ``bits - s`` bits, the *quotient*, are stored:
the bucket is implied by where an entry sits (Cleary 1984's quotienting; the same idea makes
Elias-Fano codes small). Entries are stored sorted by ``h``, that is by bucket and then by
quotient, and a pointer array gives each bucket's first entry::

    pointers   (2**s + 1,) bit-packed, width bit_length(m)   bucket b holds entries pointers[b]..pointers[b+1]-1
    quotients  (m,) bit-packed, width bits - s               h & (2**(bits-s) - 1) of each entry

A lookup hashes the key, reads the two pointers of its bucket with one 64-bit read and scans
the bucket's quotients (about 1 + load/2 reads for a hit, fewer for a miss: a bucket is sorted,
so the scan stops at the first larger quotient). The position of an entry in this order is
its *row*: the model's values are stored in the same order, and the row is what the next
order's keys use as their prefix. Nothing is probabilistic: a key that is not stored is never
found (unlike a Bloom filter or a fingerprint table).

With ``2**s`` chosen so that buckets hold 1.5 to 3 entries on average, pointers cost
``bit_length(m) / load`` (about 10) bits per entry and quotients ``bits - s`` (about 15 for a
5-gram model of 2 million n-grams), against 34 bits for KenLM's trie (a 14-bit word id plus a
20-bit pointer) or 64 for its probing hash's stored key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmtool.ngram.bitpack import U64, pack, unpack, unpack_pairs

#: odd multipliers of the two mixing rounds (SplitMix64's; any odd constants give a bijection)
MULTIPLIERS = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
#: most entries per bucket on average; the bucket count is the smallest power of two that keeps
#: the load at or below it (so the load lies in (MAX_LOAD/2, MAX_LOAD] for large tables)
MAX_LOAD = 3.0


def _mask(bits: int) -> np.uint64:
    return U64((1 << bits) - 1)


def mix(keys: np.ndarray, bits: int) -> np.ndarray:
    """A bijection of the ``bits``-bit integers (uint64 in, uint64 out), well spread in the top bits."""
    mask, shift = _mask(bits), U64((bits + 1) // 2)
    h = np.asarray(keys, dtype=U64)
    for multiplier in MULTIPLIERS:
        h = (h * U64(multiplier)) & mask
        h ^= h >> shift
    return h


def unmix(hashes: np.ndarray, bits: int) -> np.ndarray:
    """The inverse of :func:`mix`: ``unmix(mix(k, bits), bits) == k``."""
    mask, shift = _mask(bits), (bits + 1) // 2
    k = np.asarray(hashes, dtype=U64)
    for multiplier in reversed(MULTIPLIERS):
        # undo k ^= k >> shift: after each step k == x ^ (x >> step) for the original x
        y, step = k, shift
        while step < bits:
            k = y ^ (k >> U64(shift))
            step += shift
        k = (k * U64(pow(multiplier, -1, 1 << bits))) & mask
    return k


@dataclass
class BucketIndex:
    """The pointers and quotients of one table (see the module docstring), stored or mapped."""

    entries: int
    bits: int
    bucket_bits: int
    pointers: np.ndarray
    quotients: np.ndarray

    @property
    def pointer_width(self) -> int:
        return int(self.entries).bit_length()

    @property
    def quotient_width(self) -> int:
        return self.bits - self.bucket_bits

    @classmethod
    def build(cls, keys: np.ndarray, bits: int) -> tuple["BucketIndex", np.ndarray]:
        """The index of the distinct ``keys`` (each below ``2**bits``) and the order of its rows:
        row ``r`` holds ``keys[order[r]]``."""
        m = len(keys)
        bucket_bits = min(bits, max(0, int(np.ceil(np.log2(max(m, 1) / MAX_LOAD)))))
        hashes = mix(keys, bits)
        order = np.argsort(hashes, kind="stable")
        hashes = hashes[order]
        quotient_width = bits - bucket_bits
        buckets = (hashes >> U64(quotient_width)).astype(np.int64)
        pointers = np.zeros((1 << bucket_bits) + 1, dtype=np.int64)
        np.cumsum(np.bincount(buckets, minlength=1 << bucket_bits), out=pointers[1:])
        index = cls(m, bits, bucket_bits, pack(pointers, int(m).bit_length()),
                    pack(hashes & _mask(quotient_width), quotient_width))
        return index, order

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, -1 where the key is not stored."""
        hashes = mix(keys, self.bits)
        width = self.quotient_width
        wanted = hashes & _mask(width)
        start, end = unpack_pairs(self.pointers, self.pointer_width, (hashes >> U64(width)).astype(np.int64))
        rows = np.full(len(hashes), -1, dtype=np.int64)
        active = np.flatnonzero(end > start)
        position, end, wanted = start[active].astype(np.int64), end[active].astype(np.int64), wanted[active]
        while len(active):
            stored = unpack(self.quotients, width, position)
            hit = stored == wanted
            rows[active[hit]] = position[hit]
            position += 1
            more = (stored < wanted) & (position < end)
            active, position, end, wanted = active[more], position[more], end[more], wanted[more]
        return rows

    def keys(self) -> np.ndarray:
        """Every stored key, in row order (the inverse of :meth:`build`)."""
        pointers = unpack(self.pointers, self.pointer_width, np.arange((1 << self.bucket_bits) + 1))
        buckets = np.repeat(np.arange(1 << self.bucket_bits, dtype=np.uint64), np.diff(pointers.astype(np.int64)))
        quotients = unpack(self.quotients, self.quotient_width, np.arange(self.entries))
        return unmix((buckets << U64(self.quotient_width)) | quotients, self.bits)
