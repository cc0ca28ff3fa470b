"""The values of a compact model (log10 probabilities and backoffs), one column per order and kind.

A column is stored one of two ways, whichever is smaller:

- ``float32``: the values themselves, 32 bits each;
- a *codebook*: the column's distinct values (sorted float32, padded to a power of two) and,
  per row, a bit-packed index into them. Modified Kneser-Ney's backoffs take few distinct values (2,745 among Brown's
  271,047 bigrams: the weights are ratios of small counts-of-counts), so their 32 bits shrink
  to 12 with nothing lost; probabilities are mostly distinct and stay float32.

Both are exact for float32 values. :func:`quantise` makes the lossy codebook of the quantised
variant instead: ``2**bits`` centres per column, as KenLM's ``build_binary -q -b`` does (Federico
and Bertoldi 2006): the values are sorted and cut into bins of equal count, each bin's centre
is the mean of its values, and each value is stored as its nearest centre. Values that must
stay exact (a backoff of 0, which most non-context rows carry, and infinities) get codes of
their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lmtool.ngram.bitpack import pack, unpack
from lmtool.ngram.sorting import distinct


#: codebooks of at most 2**16 values (512 KiB as float64; most hold a few thousand) are kept as
#: float64 too while a model is scored
WIDE_CODEBOOK_WIDTH = 16
#: coded columns of at most this many rows (256 KiB as float64) are decoded whole when first
#: read from (:attr:`ValueColumn._decoded`)
DECODED_ROWS = 1 << 15


@dataclass
class ValueColumn:
    """Values of one (order, kind) column: ``codebook[unpack(codes)]``, or the float32 array itself
    when ``codebook`` is None."""

    codebook: np.ndarray | None
    codes: np.ndarray
    width: int
    count: int

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The values of ``rows`` as float64 (exactly the stored float32 values)."""
        if self.codebook is None:
            return self.codes.take(rows).astype(np.float64)
        if self.count <= DECODED_ROWS:
            return self._decoded.take(rows)
        codes = unpack(self.codes, self.width, rows).view(np.int64)  # below 2**32: an index as it is
        if self.width > WIDE_CODEBOOK_WIDTH:
            return self.codebook.take(codes).astype(np.float64)
        return self._wide_codebook.take(codes)

    @cached_property
    def _decoded(self) -> np.ndarray:
        """Every value as float64, decoded once for a short coded column (the unigrams'): a take
        from it is one gather, where a code is unpacked from two words first (Brown test x10
        reads 437,000 unigram probabilities and as many unigram backoffs)."""
        return self._wide_codebook.take(unpack(self.codes, self.width, np.arange(self.count)).view(np.int64))

    @cached_property
    def _wide_codebook(self) -> np.ndarray:
        """The codebook as float64, made once, so that a take gives the values with no pass more."""
        return self.codebook.astype(np.float64)

    def all(self) -> np.ndarray:
        """Every value, in row order."""
        if self.codebook is None:
            return np.asarray(self.codes, dtype=np.float64)
        return self.take(np.arange(self.count))


def code_width(n_codes: int) -> int:
    """Bits of an index into a codebook of ``n_codes`` values."""
    return int(n_codes - 1).bit_length() if n_codes > 1 else 0


#: every SAMPLE_STEP-th value of a column of at least SAMPLE_FROM values is looked at first
SAMPLE_STEP, SAMPLE_FROM = 64, 1 << 16


def encode_exact(values: np.ndarray) -> ValueColumn:
    """``values`` rounded to float32, as a raw column or a codebook, whichever takes fewer bytes
    (a long column whose every 64th value is mostly distinct is kept raw without sorting it all:
    its codebook would hold about as many values as the column)."""
    values32 = np.asarray(values, dtype=np.float32)
    every_64th = values32[::SAMPLE_STEP]
    sample = distinct(every_64th)
    if sample_mostly_distinct(len(sample), len(values32)):
        return _column(None, values32, 32)
    codebook = distinct(values32)
    if codebook_pays(len(codebook), len(values32)):
        return _column(codebook, codes_in(codebook, values32), code_width(len(codebook)))
    return _column(None, values32, 32)


def sample_mostly_distinct(distinct_count: int, count: int) -> bool:
    """Whether a column of ``count`` values is kept raw on its sample alone: it is long and the
    sample (every :data:`SAMPLE_STEP`-th value from the first) holds more than half
    ``distinct_count`` values."""
    return count >= SAMPLE_FROM and distinct_count > -(-count // SAMPLE_STEP) // 2


def codebook_pays(distinct_count: int, count: int) -> bool:
    """Whether a codebook of ``distinct_count`` float32 values and ``count`` codes into it take
    fewer bits than ``count`` raw float32 values (never, once ``distinct_count`` reaches about
    ``count``: a cluster's range of rows whose own distinct values fail this settles the whole column)."""
    width = code_width(distinct_count)
    return 32 * (1 << width) + width * count < 32 * count


#: values coded at once by :func:`codes_in`
CODE_CHUNK = 1 << 16


def codes_in(codebook: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's position in the sorted ``codebook`` (which holds them all), as uint32, found
    by binary search a chunk at a time: int64 codes of the whole column were a compact layout's
    peak. The codebook is the column's sorted distinct values, one sort of a float32 copy: half
    the time of completing the sample's codebook with the values it missed, which searched the
    column twice (Brown order 5's backoff columns: 12-22 ms -> 7-9 ms each)."""
    codes = np.empty(len(values), dtype=np.uint32)
    for first in range(0, len(values), CODE_CHUNK):
        codes[first : first + CODE_CHUNK] = np.searchsorted(codebook, values[first : first + CODE_CHUNK])
    return codes


def quantise(values: np.ndarray, bits: int, exact: tuple[float, ...] = ()) -> ValueColumn:
    """``values`` as ``2**bits`` equal-count bin centres (see the module docstring); values in
    ``exact`` and infinities keep codes of their own. A column with no more distinct values than
    codes is stored exactly."""
    values32 = np.asarray(values, dtype=np.float32)
    if len(values32) == 0:
        return encode_exact(values32)
    special = np.isin(values32, np.asarray(exact, dtype=np.float32)) | ~np.isfinite(values32)
    kept = np.unique(values32[special])
    rest = np.sort(values32[~special].astype(np.float64))
    n_bins = (1 << bits) - len(kept)
    if n_bins < 1:
        raise ValueError(f"{bits} bits leave no code for ordinary values")
    if len(np.unique(rest)) <= n_bins:
        centres = np.unique(rest).astype(np.float32)
    else:
        ends = (len(rest) * np.arange(1, n_bins + 1, dtype=np.int64)) // n_bins
        starts = np.concatenate([[0], ends[:-1]])
        filled = ends > starts
        sums = np.add.reduceat(rest, starts[filled])
        centres = (sums / (ends - starts)[filled]).astype(np.float32)
    codebook = np.unique(np.concatenate([centres, kept]))
    # each value's nearest centre (an exact value is its own centre)
    middles = (codebook[1:].astype(np.float64) + codebook[:-1]) / 2
    codes = np.searchsorted(middles, values32.astype(np.float64))
    codes = np.where(special, np.searchsorted(codebook, values32), codes)
    return _column(codebook, codes, code_width(len(codebook)))


def padded_codebook(codebook: np.ndarray, width: int) -> np.ndarray:
    """``codebook`` padded to ``2**width`` float32 entries (repeating its last value), so that no
    code a ``width``-bit field can hold indexes past its end."""
    return np.concatenate([codebook, np.repeat(codebook[-1:], (1 << width) - len(codebook))]).astype(np.float32)


def _column(codebook: np.ndarray | None, codes: np.ndarray, width: int) -> ValueColumn:
    """A column (a codebook padded, see :func:`padded_codebook`)."""
    if codebook is None:
        return ValueColumn(None, codes, 32, len(codes))
    return ValueColumn(padded_codebook(codebook, width), pack(codes, width), width, len(codes))
