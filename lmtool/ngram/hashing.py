"""Exact key lookups that store about 1.7 bytes per key: a bijective hash split into bucket and quotient.

An n-gram of order k+1 is the pair (row of its prefix at order k, last word), i.e. the integer
key ``prefix_row * V + word`` below ``2**bits``. :func:`mix` is a bijection on ``bits``-bit
integers (multiply by an odd constant, then xor-shift: each step is invertible modulo
``2**bits``), so the hash ``h = mix(key)`` identifies the key exactly. Its top ``s`` bits pick
one of ``2**s`` buckets and only the remaining ``bits - s`` bits, the *quotient*, are stored:
the bucket is implied by where an entry sits (Cleary 1984's quotienting; the same idea makes
Elias-Fano codes small). Entries are stored sorted by ``h``, that is by bucket and then by
quotient, and a pointer array gives each bucket's first entry::

    pointers   (2**s + 1,) uint32              bucket b holds entries pointers[b]..pointers[b+1]-1
    quotients  (m,) bit-packed, width bits - s   h & (2**(bits-s) - 1) of each entry

A lookup hashes the key, reads the two pointers of its bucket, and the bucket's first
quotients with one 64-bit read (a bucket's quotients are consecutive fields, so one read holds
``64 // width`` of them: all of a typical bucket). The position of an entry in this order is
its *row*: the model's values are stored in the same order, and the row is what the next
order's keys use as their prefix. Nothing is probabilistic: a key that is not stored is never
found (unlike a Bloom filter or a fingerprint table).

With ``2**s`` chosen so that buckets hold 1.5 to 3 entries on average, pointers cost
``32 / load`` (about 13) bits per entry and quotients ``bits - s`` (about 15 for a
5-gram model of 2 million n-grams), against 34 bits for KenLM's trie (a 14-bit word id plus a
20-bit pointer) or 64 for its probing hash's stored key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from lmtool.ngram.bitpack import PACK_CHUNK, U64, pack_chunks, unpack, window
from lmtool.ngram.counting import as_rows
from lmtool.ngram.sorting import position_type, positions, sort_packed

#: the odd multiplier of the mixing step (2**64 over the golden ratio: Fibonacci hashing)
MULTIPLIER = 0x9E3779B97F4A7C15
#: most entries per bucket on average; the bucket count is the smallest power of two that keeps
#: the load at or below it (so the load lies in (MAX_LOAD/2, MAX_LOAD] for large tables)
MAX_LOAD = 3.0


def _mask(bits: int) -> np.uint64:
    return U64((1 << bits) - 1)


#: hashes whose top half is xor-ed into their bottom half at a time (a temporary of 512 KiB)
MIX_CHUNK = 1 << 16


def mix(keys: np.ndarray, bits: int, out: np.ndarray | None = None) -> np.ndarray:
    """A bijection of the ``bits``-bit integers (uint64 in, uint64 out, into ``out`` when given,
    which may be ``keys``): multiply by an odd constant modulo ``2**bits`` (whose top bits then
    depend on every key bit, so they pick buckets well), then xor the top half into the bottom half
    (a chunk at a time: the shifted copy of a whole order's hashes was the largest temporary of
    :meth:`BucketIndex.build`)."""
    h = np.multiply(keys, U64(MULTIPLIER), dtype=U64, casting="unsafe", out=out)
    h &= _mask(bits)
    for first in range(0, len(h), MIX_CHUNK):
        part = h[first : first + MIX_CHUNK]
        part ^= part >> U64((bits + 1) // 2)
    return h


def unmix(hashes: np.ndarray, bits: int) -> np.ndarray:
    """The inverse of :func:`mix`: ``unmix(mix(k, bits), bits) == k``."""
    shift = (bits + 1) // 2
    h = np.asarray(hashes, dtype=U64)
    h = h ^ (h >> U64(shift))  # a shift of at least half the bits undoes itself
    return (h * U64(pow(MULTIPLIER, -1, 1 << bits))) & _mask(bits)


def bucket_bits_for(entries: int, bits: int) -> int:
    """log2 of the bucket count of an index of ``entries`` keys of ``bits`` bits: the fewest
    buckets that keep the load at or below :data:`MAX_LOAD` (a cluster's workers, each
    writing a run of the buckets, compute it as :meth:`BucketIndex.build` does)."""
    bucket_bits = min(bits, max(0, int(np.ceil(np.log2(max(entries, 1) / MAX_LOAD)))))
    if bits - bucket_bits == 1 and bucket_bits > 0:
        bucket_bits -= 1  # quotients of one bit would make one read scan 64 of them
    return bucket_bits


def power_of_two_length(indices: np.ndarray) -> np.ndarray:
    """``indices``, if shorter than 1,024, padded to a power-of-two length by repeating its last
    entry (a duplicate index gives a duplicate result, written twice alike).

    numpy keeps up to 7 freed arrays of every size under 1 KiB for reuse. The loops over the
    lookups' tails (a long bucket read on, a hash probed again) derive a dozen arrays from each
    subset of positions, of sizes that every block makes anew: they piled up in that cache and
    pinned the heap around them (query's heap grew 0.75 MiB over Brown test x10). Derived from
    a padded subset, they come in ten sizes."""
    n = len(indices)
    size = 1 << max(n - 1, 0).bit_length()
    if n in (0, size) or n >= 1024:
        return indices
    padded = np.empty(size, dtype=indices.dtype)
    padded[:n] = indices
    padded[n:] = indices[n - 1]
    return padded


#: the offset a failed scan gives: far enough below zero that a row plus it stays negative
_ABSENT = -(1 << 62)


@functools.lru_cache(maxsize=None)
def _fields(width: int, per_read: int) -> tuple[np.uint64, np.uint64, np.ndarray, np.ndarray]:
    """For ``per_read`` fields of ``width`` bits in a word: 1 in each field's lowest bit, each
    field's bits but its top one, ``tops[s]``: the top bits of the first min(s, per_read) fields,
    and ``field_of[b]``: the field whose top bit is bit ``b`` (:data:`_ABSENT` for other bits,
    and for ``b`` = 64, the bit count of ``0 - 1``)."""
    repeat = sum(1 << (j * width) for j in range(per_read))
    top = repeat << (width - 1)
    tops = np.array([((1 << (j * width)) - 1) & top for j in range(per_read + 1)], dtype=U64)
    field_of = np.full(65, _ABSENT, dtype=np.int64)
    field_of[np.arange(per_read) * width + width - 1] = np.arange(per_read)
    return U64(repeat), U64(top - repeat), tops, field_of


#: sorted hashes counted into their buckets at a time (their bucket numbers and counts: under
#: 1 MiB of temporaries, beside the sorted hashes and the permutation)
BUCKET_CHUNK = 1 << 16


def _bucket_starts(hashes: np.ndarray, low_bits: int, bucket_bits: int) -> np.ndarray:
    """The stored pointers of the sorted ``hashes``: where each of the ``2**bucket_bits`` buckets
    (their bits above the ``low_bits`` lowest) starts, then the count. A chunk of hashes at a
    time, each chunk's buckets (a sorted run) are counted and the counts added into the uint32
    array, whose running sum, in place, gives the starts: no int64 counts of every bucket beside
    it. A binary search per bucket took four times as long (2**18 buckets over 700,000 hashes:
    8.6 ms against 2.3)."""
    pointers = np.zeros((1 << bucket_bits) + 1, dtype=np.uint32)
    for first in range(0, len(hashes), BUCKET_CHUNK):
        buckets = (hashes[first : first + BUCKET_CHUNK] >> U64(low_bits)).view(np.int64)
        lowest = int(buckets[0])
        buckets -= lowest
        counts = np.bincount(buckets)  # from the chunk's lowest bucket to its highest
        pointers[lowest + 1 : lowest + 1 + len(counts)] += counts.astype(np.uint32)
    np.cumsum(pointers, out=pointers)
    return pointers


@dataclass
class BucketIndex:
    """The pointers and quotients of one table (see the module docstring), stored or mapped."""

    entries: int
    bits: int
    bucket_bits: int
    pointers: np.ndarray
    quotients: np.ndarray

    #: pointers are plain uint32 (two takes read a bucket's bounds, no shifts): 12 bits more per
    #: bucket than packing them in bit_length(m) bits, about 0.6 bytes per n-gram, for a third of
    #: the lookup time
    pointer_width = 32

    @property
    def quotient_width(self) -> int:
        return self.bits - self.bucket_bits

    @classmethod
    def build(cls, keys: np.ndarray, bits: int, consume: bool = False) -> tuple["BucketIndex", np.ndarray]:
        """The index of the distinct ``keys`` (each below ``2**bits``) and the order of its rows:
        row ``r`` holds ``keys[order[r]]`` (uint32 for fewer than ``2**32`` keys). ``consume``:
        ``keys`` (uint64) is made for the call, and its memory is reused for the hashes (one
        array of the keys' size less at the peak).

        The hashes are sorted with their positions packed below them
        (:func:`~lmtool.ngram.sorting.sort_packed`); the bucket starts and the quotients are read
        through the packing, and the order is taken out last, into the hashes' own memory: the
        order returned is a view of it (8 bytes an entry, held as long as the order is). Beside
        the hashes, the build then holds only the pointers, the quotients and a chunk's
        temporaries: 16.9 -> 14.3 MiB of arrays at Brown order 5's 4-gram layout."""
        m = len(keys)
        if m >= 1 << 32:
            raise ValueError(f"{m:,} n-grams of one order: the compact format holds fewer than 2**32")
        bucket_bits = bucket_bits_for(m, bits)
        hashes = mix(keys, bits, out=keys if consume else None)
        del keys
        position_bits = sort_packed(hashes, bits)
        order = None
        if position_bits is None:  # a hash and its position need more than 64 bits: hashes are distinct, any sort will do
            order = np.argsort(hashes)
            hashes, position_bits = hashes[order], 0
        quotient_width = bits - bucket_bits
        pointers = _bucket_starts(hashes, quotient_width + position_bits, bucket_bits)  # stored as is: pointer_width is 32
        below, mask = U64(position_bits), _mask(quotient_width)  # the quotients: the hashes' low bits, in hash order
        quotients = pack_chunks(((hashes[first : first + PACK_CHUNK] >> below) & mask for first in range(0, m, PACK_CHUNK)),
                                m, quotient_width)
        if order is None:
            order = positions(hashes, position_bits, hashes.view(position_type(m))[:m])
        index = cls(m, bits, bucket_bits, pointers, quotients)
        return index, order

    def find(self, keys: np.ndarray, consume: bool = False) -> np.ndarray:
        """The row of each key, -1 where the key is not stored, as
        :func:`~lmtool.ngram.counting.row_type` has row numbers (int32 below 2**31 entries).
        ``consume``: ``keys`` (uint64) is made for the call, and its memory becomes the hashes'.

        One 64-bit read fetches the first ``64 // width`` quotients of a bucket (they are
        consecutive bits), which covers most buckets whole; the few longer ones read on. Every
        step works in place on a few arrays: the lookup is a chain of about 30 array passes,
        which, more than the memory reads, is its cost.
        """
        bits, width = self.bits, self.quotient_width
        h = np.multiply(keys, U64(MULTIPLIER), dtype=U64, casting="unsafe", out=keys if consume else None)  # mix()
        if bits < 64:
            h &= _mask(bits)
        h ^= h >> U64((bits + 1) // 2)
        # every index of a take is int64 (a view here): numpy's take copies other index types
        # into int64 first, a pass more
        bucket = (h >> U64(width)).view(np.int64)
        start = self.pointers.take(bucket)
        bucket += 1
        size = np.subtract(self.pointers.take(bucket), start, out=bucket, dtype=np.int64)  # in the bucket's memory
        del bucket
        if width == 0 or self.entries == 0:  # a bucket per key: a key is stored iff its bucket is not empty
            return as_rows(np.where(size > 0, start.astype(np.int64), -1), self.entries)
        h &= _mask(width)  # the quotients wanted
        per_read = max(1, 64 // width)
        # the first read serves every query (an empty bucket's read, clamped inside the data,
        # matches nothing); only queries whose bucket holds more than per_read entries go on
        bit = np.minimum(start, self.entries - 1, dtype=np.int64)
        bit *= width
        rows = self._scan(bit, size, h, per_read)
        rows += start
        np.maximum(rows, -1, out=rows)
        longer = power_of_two_length(np.flatnonzero(size > per_read))
        longer = power_of_two_length(longer[rows[longer] < 0])
        position = start[longer].astype(np.int64)
        end, wanted = position + size[longer], h[longer]
        del start, size, h
        while len(longer):
            position += per_read
            found = position + self._scan(position * width, end - position, wanted, per_read)
            rows[longer] = np.maximum(found, -1)
            more = power_of_two_length(np.flatnonzero((found < 0) & (end - position > per_read)))
            longer, position, end, wanted = longer[more], position[more], end[more], wanted[more]
        return as_rows(rows, self.entries)

    def _scan(self, bit: np.ndarray, size: np.ndarray, wanted: np.ndarray, per_read: int) -> np.ndarray:
        """Offset of ``wanted`` among the (at most ``per_read``) quotients read from bit ``bit``
        (int64) of the quotients on, counting only the first ``size`` of them; :data:`_ABSENT`
        where absent.

        All fields at once, SWAR-style (Lamport 1975): xor with ``wanted`` repeated in every
        field leaves a zero field exactly where it matches; adding each field's low bits to
        all-ones low bits sets its top bit iff they are not all zero, with no carry into the next
        field, so the zero fields are found exactly. A bucket's quotients are distinct, so at
        most one field matches: its top bit ``b`` alone is set, and ``b`` is the bit count of
        that word minus one (64 when none is set).
        """
        width = self.quotient_width
        repeat, lows, tops, field_of = _fields(width, per_read)
        x = window(self.quotients, bit)
        y = np.multiply(wanted, repeat)
        x ^= y
        np.bitwise_and(x, lows, out=y)
        y += lows
        y |= x
        np.invert(y, out=y)
        y &= tops.take(size, mode="clip")
        y -= U64(1)
        count = np.bitwise_count(y, out=y.view(np.int64))  # an int64 index (see find), in y's memory
        return field_of.take(count)

    def keys(self) -> np.ndarray:
        """Every stored key, in row order (the inverse of :meth:`build`)."""
        pointers = unpack(self.pointers, self.pointer_width, np.arange((1 << self.bucket_bits) + 1))
        buckets = np.repeat(np.arange(1 << self.bucket_bits, dtype=np.uint64), np.diff(pointers.astype(np.int64)))
        quotients = unpack(self.quotients, self.quotient_width, np.arange(self.entries), native=False)
        return unmix((buckets << U64(self.quotient_width)) | quotients, self.bits)
