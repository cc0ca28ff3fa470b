"""Fixed-width unsigned fields bit-packed into uint64 words, read back with vectorised gathers.

Layout: field ``i`` of width ``w`` occupies bits ``i*w .. i*w + w - 1`` of the little-endian
bit string formed by the words (bit ``j`` is bit ``j % 64`` of word ``j // 64``). One zero word
follows the last field, so every read may fetch two neighbouring words without a bounds check.
Widths 8, 16 and 32 are stored as plain ``uint8``/``uint16``/``uint32`` arrays instead (the same
bits in the same order, read with one gather and no shifts); width 0 stores nothing and reads 0.

KenLM's ``util/bit_packing.hh`` reads its fields with one unaligned 64-bit load; numpy has no
unaligned gather, so a field that straddles two words is assembled from both (two ``take``
calls and three shifts, about the cost of one unaligned load on a numpy array).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

U64 = np.uint64
NATIVE = {8: np.uint8, 16: np.uint16, 32: np.uint32}
#: fields :func:`pack` packs at a time: pack_slice's half-dozen temporaries of 8 bytes a field
#: stay under 1 MB, whatever the array's length (a model's layout packs its quotients and codes
#: while its keys and permutation are held)
PACK_CHUNK = 1 << 14


def words_for(count: int, width: int, native: bool = True) -> int:
    """Length of the stored array for ``count`` fields of ``width`` bits (see :func:`pack`)."""
    if native and width in NATIVE:
        return count
    return 0 if width == 0 else (count * width + 63) // 64 + 1


def stored_dtype(width: int, native: bool = True) -> np.dtype:
    """The numpy type of the stored array of ``width``-bit fields."""
    return np.dtype(NATIVE.get(width, U64) if native else U64)


def pack(values: np.ndarray, width: int, native: bool = True) -> np.ndarray:
    """``values`` (non-negative, each below ``2**width``) as the stored array of :func:`unpack`;
    ``native=False`` keeps widths 8, 16 and 32 in uint64 words too (for :func:`window` reads)."""
    values = np.asarray(values)
    count = len(values)
    if native and width in NATIVE:
        return values.astype(NATIVE[width])
    return pack_chunks((values[first : first + PACK_CHUNK] for first in range(0, count, PACK_CHUNK)), count, width)


def pack_chunks(chunks: Iterable[np.ndarray], count: int, width: int) -> np.ndarray:
    """:func:`pack` of ``count`` values given as consecutive chunks (made as they are packed, by
    a caller that derives the values from a larger array), into uint64 words always."""
    out = np.zeros(words_for(count, width, native=False), dtype=U64)
    first = 0
    for values in chunks:
        if width:  # pack_slice's temporaries, a chunk's worth
            words = pack_slice(values, width, first)
            out[first * width // 64 : first * width // 64 + len(words)] |= words
        first += len(values)
    return out


def pack_slice(values: np.ndarray, width: int, first: int) -> np.ndarray:
    """The words of a bit-packed array that hold fields ``first .. first + len(values) - 1``
    when those fields are ``values``: word 0 of the result is word ``first * width // 64`` of the
    whole array. Slices packed apart (by the workers of a cluster, each its share of the rows)
    join into the whole array by OR-ing the words where neighbours meet (:func:`join_slices`)."""
    values = np.asarray(values).astype(U64)
    start = first * width % 64
    out = np.zeros((start + len(values) * width + 63) // 64, dtype=U64)
    if width == 0 or len(values) == 0:
        return out
    offset = U64(start) + np.arange(len(values), dtype=U64) * U64(width)
    offset &= U64(63)
    low = values << offset
    # the part that spills into the next word (a shift by 64 gives 0 in numpy)
    high = values >> (U64(64) - offset)
    # fields never overlap, so OR-ing the parts of one word is adding them. Fields start at most
    # 64 bits apart, so every word up to the last field's holds a field's start: word j's first
    # field is the first to start at or after bit 64j, found by arithmetic, not by a pass
    last_word = (start + (len(values) - 1) * width) >> 6
    firsts = np.arange(last_word + 1, dtype=np.int64)
    firsts *= 64
    firsts += width - 1 - start
    firsts //= width
    firsts[0] = 0
    out[: last_word + 1] += np.add.reduceat(low, firsts)
    spilled = min(last_word + 2, len(out)) - 1  # words receiving a spill: 1 .. last_word + 1, inside out
    out[1 : spilled + 1] += np.add.reduceat(high, firsts)[:spilled]
    return out


def join_slices(slices, total_words: int):
    """The words of a whole bit-packed array from its :func:`pack_slice` pieces, in field order
    (an iterable of ``(first word, words)``), yielded as arrays without holding the whole: a
    word two neighbours share is OR-ed; the trailing zero word (and words no slice covers) are zeros."""
    pending, at = None, 0  # the last word of the previous slice, which the next may share; its index
    for start, words in slices:
        if not len(words):
            continue
        words = np.array(words, dtype=U64)
        if pending is not None and start == at:
            words[0] |= pending
        elif pending is not None:
            yield np.array([pending], dtype=U64)
            at += 1
        if start > at:
            yield np.zeros(start - at, dtype=U64)
        yield words[:-1]
        pending, at = words[-1], start + len(words) - 1
    if pending is not None:
        yield np.array([pending], dtype=U64)
        at += 1
    yield np.zeros(total_words - at, dtype=U64)


def unpack(stored: np.ndarray, width: int, index: np.ndarray, native: bool = True) -> np.ndarray:
    """Fields number ``index`` (an integer array) of a :func:`pack`-ed array, as uint64."""
    index = np.asarray(index)
    if native and width in NATIVE:
        return stored.take(index).astype(U64)
    if width == 0:
        return np.zeros(index.shape, dtype=U64)
    bit = index.astype(np.int64)  # a copy, turned into the bit offsets in place
    bit *= width
    fields = window(stored, bit)
    fields &= U64((1 << width) - 1)
    return fields


def window(stored: np.ndarray, bit: np.ndarray) -> np.ndarray:
    """The 64 bits starting at bit ``bit`` (a non-negative int64 array) of an array packed in
    uint64 words (high bits past the end of the data read as 0)."""
    word = bit >> 6
    low = stored.take(word)
    word += 1
    high = stored.take(word)
    offset = np.bitwise_and(bit, 63, out=word).view(U64)  # word's memory: three arrays live, not four
    low >>= offset
    high <<= np.subtract(U64(64), offset, out=offset)
    low |= high
    return low
