"""Stage 1 of estimation: count every n-gram of orders 1..N with array sorts, no Python loops.

Layout (the contract every estimator builds on)::

    padded stream   <s> w1 w2 .. wT | <s> v1 .. vU | ...      one <s> before every segment
    ngrams[k]       (m_k, k+1) int32, unique rows, sorted lexicographically
    counts[k]       (m_k,) int64 raw occurrence counts
    prefixes[k]     (m_k,) int32: row in ngrams[k-1] of ngrams[k][r, :-1] (the context; all -1 at k=0)
    suffixes[k]     (m_k,) int32: row in ngrams[k-1] of ngrams[k][r, 1:]  (the backoff; all -1 at k=0)
                    (int64 only past 2**31 rows, see :func:`as_rows`: half the memory of two of the
                    largest arrays alive while a model is estimated; cast before arithmetic that
                    can pass 2**31, such as ``prefix * V``)
    first_seen      (V,) int64: rank of each id by first appearance in the stream, after <unk>
                    <s> </s> (= 0, 1, 2): the word ids KenLM's lmplz would assign (see modified_kneser_ney.discounts)

Each segment is preceded by ONE ``<s>`` (id 1), as KenLM and SRILM do: a line segment reads
``<s> w1 .. wT`` where ``wT`` is ``</s>``. So ``<s> <s>`` never occurs, n-grams beginning with
``<s>`` are sentence-initial, and ``<s>`` is never the last word of an n-gram. ``ngrams[0]``
lists only the unigrams that occur (with ``<s>`` counted once per segment); estimators add the
unseen vocabulary themselves.

How the rows are found: column j of padded position i holds 1 + the word at i + j, or 0 where
the segment ends first. One LSD radix sort of the positions by columns 0..N-1 (16-bit digits,
which numpy sorts by counting) orders them lexicographically by the N-gram they start, so for
every order k the positions starting one k-gram form a contiguous run: the first k columns
change at its first position. Runs give the rows and the counts of every order from that one
sort; a run's position gives its prefix row, and the row of the (k-1)-gram at the next
position gives its suffix row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lmtool.errors import UsageError
from lmtool.text import BOS_ID


@dataclass
class NgramCounts:
    """Raw n-gram counts of orders 1..``order`` (see the module docstring for the layout)."""

    order: int
    vocab_size: int
    ngrams: list[np.ndarray]
    counts: list[np.ndarray]
    prefixes: list[np.ndarray] = field(default_factory=list)
    suffixes: list[np.ndarray] = field(default_factory=list)
    first_seen: np.ndarray | None = None

    @property
    def n_tokens(self) -> int:
        """Number of predicted tokens (every unigram except the ``<s>`` padding)."""
        unigrams = self.ngrams[0][:, 0]
        return int(self.counts[0][unigrams != BOS_ID].sum())


def padded_stream(ids: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert one ``<s>`` before each segment.

    Returns ``(stream, segment_end)``: the padded ids (int64) and, for each padded position,
    the (exclusive) end of its segment in the padded stream.
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.diff(starts)
    stream = pad_segments(ids, starts, np.int64)
    padded_ends = starts[1:] + np.arange(1, len(lengths) + 1, dtype=np.int64)  # s + 1 <s> precede segment s's end
    return stream, np.repeat(padded_ends, lengths + 1)


def pad_segments(ids: np.ndarray, starts: np.ndarray, dtype: type = np.int32) -> np.ndarray:
    """``ids`` as ``dtype`` with one ``<s>`` before each segment's first token (empty segments too)."""
    return np.insert(np.asarray(ids, dtype=dtype), np.asarray(starts, dtype=np.int64)[:-1], BOS_ID)


def token_positions(starts: np.ndarray) -> np.ndarray:
    """Position in the padded stream (:func:`padded_stream`) of each original token."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.diff(starts)
    # token j of segment s moves to j + s + 1 (s + 1 <s> symbols precede it)
    return np.arange(starts[-1] - starts[0], dtype=np.int64) + np.repeat(np.arange(1, len(lengths) + 1), lengths)


#: the highest order lmtool estimates: every order costs its own pass and tables, so 100,000
#: would run for hours on any text (KenLM's default build stops at 6; characters want 10 to 20)
MAX_ORDER = 100


def check_order(order: Any) -> None:
    """An n-gram order is a whole number from 1 to :data:`MAX_ORDER`; a :class:`UsageError` otherwise."""
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise UsageError(f"--order must be at least 1 (a whole number), got {order!r}")
    if order > MAX_ORDER:
        raise UsageError(f"--order {order} is above lmtool's limit of {MAX_ORDER} (each order is a pass and a table "
                         f"of its own): give {MAX_ORDER} or less")


def count_ngrams(ids: np.ndarray, starts: np.ndarray, order: int, vocab_size: int) -> NgramCounts:
    """Count the n-grams of orders 1..``order`` of an encoded split (``ids``, ``starts``)."""
    check_order(order)
    starts = np.asarray(starts, dtype=np.int64)
    # segment s's <s> lands at padded position starts[s] + s (s <s> symbols precede it)
    return count_padded(pad_segments(ids, starts), starts[:-1] + np.arange(len(starts) - 1), order, vocab_size)


def count_padded(stream: np.ndarray, segment_starts: np.ndarray, order: int, vocab_size: int) -> NgramCounts:
    """Count the n-grams of a padded stream (see :func:`pad_segments`); n-grams never cross
    the ``segment_starts`` (padded positions where a segment begins). Shared with the
    out-of-core counter, which counts one chunk at a time.

    Each array of the stream's length is dropped as soon as its last use is past: with the
    tables of every order growing, those few MB each make the peak of a fit."""
    n = len(stream)
    first_seen = first_seen_ranks(stream, vocab_size)
    columns = word_columns(stream, segment_starts, order, vocab_size)
    perm = lexicographic_permutation(columns, vocab_size + 1)
    ngrams: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    prefixes: list[np.ndarray] = []
    suffixes: list[np.ndarray] = []
    new_run = np.zeros(n, dtype=bool)  # sorted position i starts a new k-gram run (first k columns differ)
    valid = np.ones(n, dtype=bool)  # sorted position i starts a k-gram inside its segment
    if n:
        new_run[0] = True
    row_in_run: np.ndarray | None = None  # order k-1: row of the run of each sorted position
    row_of_position: np.ndarray | None = None  # order k-1: row of the n-gram starting at each position
    for k in range(order):
        column = columns[k][perm]
        columns[k] = None  # sorted now
        np.logical_or(new_run[1:], column[1:] != column[:-1], out=new_run[1:])
        if k:
            valid &= column != 0
        run_starts = np.flatnonzero(new_run)
        inside = valid[run_starts]  # a run is inside its segments or not as a whole
        run_lengths = np.diff(run_starts, append=n)
        counts.append(run_lengths[inside].astype(np.int64))
        del run_lengths
        firsts = run_starts[inside]
        del run_starts, inside
        rows = np.empty((len(firsts), k + 1), dtype=np.int32)
        rows[:, k] = column[firsts]
        rows[:, k] -= 1  # columns hold 1 + the word
        if k:  # row_in_run and row_of_position are int32: as_rows of a table shorter than the stream
            prefixes.append(row_in_run[firsts])
            for j in range(k):  # the first k words are the prefix's (only this order's column is kept)
                rows[:, j] = ngrams[k - 1][:, j][prefixes[k]]
            # the suffix of the k-gram starting at i is the (k-1)-gram starting at i + 1
            next_positions = perm[firsts]
            next_positions += 1
            suffixes.append(row_of_position[next_positions])
            del next_positions
        else:
            prefixes.append(as_rows(np.full(len(firsts), -1), 0))
            suffixes.append(as_rows(np.full(len(firsts), -1), 0))
        ngrams.append(rows)
        del firsts
        row_in_run = row_of_position = None
        if k < order - 1:
            row_in_run = np.cumsum(new_run & valid, dtype=np.int32)
            row_in_run -= 1
            row_of_position = np.empty(n, dtype=np.int32)
            row_of_position[perm] = row_in_run
    return NgramCounts(order=order, vocab_size=vocab_size, ngrams=ngrams, counts=counts, prefixes=prefixes,
                       suffixes=suffixes, first_seen=first_seen)


def row_type(table_rows: int) -> type:
    """The type of row numbers into a table of ``table_rows`` rows: int32 (half the memory of
    int64) unless the table is too long for it."""
    return np.int32 if table_rows < 1 << 31 else np.int64


def as_rows(rows: np.ndarray, table_rows: int) -> np.ndarray:
    """Row numbers into a table of ``table_rows`` rows as the counts keep them (:func:`row_type`)."""
    return rows.astype(row_type(table_rows), copy=False)


def word_columns(stream: np.ndarray, segment_starts: np.ndarray, order: int, vocab_size: int) -> list[np.ndarray]:
    """Column j (j < ``order``): 1 + the word at padded position i + j, 0 where a segment starts
    in i + 1 .. i + j (or the stream ends first); uint16 when the vocabulary allows it (half the
    memory traffic)."""
    n = len(stream)
    dtype = np.uint16 if vocab_size < 1 << 16 else np.uint32
    words = stream.astype(dtype)
    words += dtype(1)
    begins = np.zeros(n + order, dtype=bool)  # a segment begins here, or the stream has ended
    begins[np.asarray(segment_starts, dtype=np.int64)] = True
    begins[n:] = True
    ended = np.zeros(n, dtype=bool)  # column j: a segment begins in i + 1 .. i + j
    columns = [words]
    for j in range(1, order):
        ended |= begins[j : j + n]
        column = np.zeros(n, dtype=dtype)
        column[: max(n - j, 0)] = words[j:]
        column[ended] = 0
        columns.append(column)
    return columns


def lexicographic_permutation(columns: list[np.ndarray], radix: int) -> np.ndarray:
    """The stable permutation that sorts positions by ``columns`` (values below ``radix``),
    column 0 most significant: an LSD radix sort on 16-bit digits, which numpy's stable argsort
    sorts by counting (2.5x ``argsort`` of one int64 key per pass on a million positions).

    Small radices pack several columns into one digit (a character model of order 10 takes 5
    passes, not 10); radices above 2**16 split each column into a high and a low digit.
    """
    digits = []  # most significant first
    if radix <= 1 << 16:
        per_digit = 1
        while radix ** (per_digit + 1) <= 1 << 16:
            per_digit += 1
        for first in range(0, len(columns), per_digit):
            digit = columns[first]  # uint16, and so is the packed digit: it stays below radix ** per_digit
            for column in columns[first + 1 : first + per_digit]:
                digit = digit * np.uint16(radix) + column
            digits.append(digit)
    else:
        for column in columns:
            digits += [(column >> 16).astype(np.uint16), (column & 0xFFFF).astype(np.uint16)]
    perm = np.argsort(digits[-1], kind="stable")
    for digit in reversed(digits[:-1]):
        perm = perm[np.argsort(digit[perm], kind="stable")]
    return perm


def first_seen_ranks(stream: np.ndarray, vocab_size: int) -> np.ndarray:
    """Rank of each id by first appearance in ``stream``; <unk> <s> </s> first, unseen ids last."""
    first = np.full(vocab_size, len(stream) + 3, dtype=np.int64)
    np.minimum.at(first, stream, np.arange(3, len(stream) + 3, dtype=np.int64))
    first[:3] = np.arange(min(3, vocab_size))
    ranks = np.empty(vocab_size, dtype=np.int64)
    ranks[np.argsort(first, kind="stable")] = np.arange(vocab_size)
    return ranks


def counts_of_counts(values: np.ndarray, up_to: int = 4) -> np.ndarray:
    """``n[c]`` = how many entries of ``values`` equal ``c``, for c = 0..``up_to``."""
    return np.bincount(np.clip(values, 0, up_to + 1), minlength=up_to + 2)[: up_to + 1].astype(np.int64)


def seen_lengths(counts: NgramCounts, ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For every token of an encoded split, the longest n <= ``counts.order`` for which the n-gram
    ending at it (inside its segment, ``<s>`` first, as counting pads it) occurs in ``counts``.

    0 means the token itself was never counted. The n-grams are found as :mod:`lmtool.ngram.tables`
    finds them: the (k+1)-gram ending at position p is its k-gram prefix ending at p - 1 (a row
    of order k) extended by the word at p, looked up as ``prefix row * V + word`` in the sorted
    keys of order k+1; one ``searchsorted`` over the whole split per order.
    """
    stream, _ = padded_stream(ids, starts)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.diff(starts)
    segment_begin = np.repeat(starts[:-1] + np.arange(len(lengths)), lengths + 1)  # padded position of its <s>
    positions = np.arange(len(stream), dtype=np.int64)
    target = token_positions(starts)
    row = _find(counts.ngrams[0][:, 0].astype(np.int64), stream)  # row of the unigram at each position
    found = (row[target] >= 0).astype(np.int64)
    for k in range(1, counts.order):
        prefix = np.full(len(stream), -1, dtype=np.int64)
        prefix[1:] = row[:-1]  # the k-gram ending just before
        prefix[positions - k < segment_begin] = -1  # a (k+1)-gram ending here would start before <s>
        keys = counts.prefixes[k].astype(np.int64) * counts.vocab_size + counts.ngrams[k][:, -1]
        row = np.where(prefix >= 0, _find(keys, prefix * counts.vocab_size + stream), -1)
        found[row[target] >= 0] = k + 1
    return found


def _find(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each ``query`` in the sorted ``keys``, -1 where absent."""
    if len(keys) == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    index = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[index] == query, index, -1)
