"""Stage 1 of estimation: count every n-gram of orders 1..N with array sorts, no Python loops.

Layout (the contract every estimator builds on)::

    padded stream   <s> w1 w2 .. wT | <s> v1 .. vU | ...      one <s> before every segment
    ngrams[k]       (m_k, k+1) int32, unique rows, sorted lexicographically
    counts[k]       (m_k,) int64 raw occurrence counts
    prefixes[k]     (m_k,) int64: row in ngrams[k-1] of ngrams[k][r, :-1] (the context; all -1 at k=0)
    suffixes[k]     (m_k,) int64: row in ngrams[k-1] of ngrams[k][r, 1:]  (the backoff; all -1 at k=0)
    first_seen      (V,) int64: rank of each id by first appearance in the stream, after <unk>
                    <s> </s> (= 0, 1, 2): the word ids KenLM's lmplz would assign (see modified_kn)

Each segment is preceded by ONE ``<s>`` (id 1), as KenLM and SRILM do: a line segment reads
``<s> w1 .. wT`` where ``wT`` is ``</s>``. So ``<s> <s>`` never occurs, n-grams beginning with
``<s>`` are sentence-initial, and ``<s>`` is never the last word of an n-gram. ``ngrams[0]``
lists only the unigrams that occur (with ``<s>`` counted once per segment); estimators add the
unseen vocabulary themselves.

How the rows are found: the k-gram starting at padded position ``i`` gets the key
``row_{k-1}(i) * V + word(i + k - 1)``, where ``row_{k-1}(i)`` is the rank of its (k-1)-gram
prefix. Because prefixes are ranked lexicographically, sorting the keys sorts the k-grams
lexicographically, and ``np.unique`` gives the rows, the counts and every position's row in one
sort per order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lmtool.errors import UsageError

BOS_ID = 1


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


def padded_stream(ids: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Insert one ``<s>`` before each segment.

    Returns ``(stream, segment_end, token_position)``: the padded ids (int64), for each padded
    position the (exclusive) end of its segment in the padded stream, and for each original
    token its position in the padded stream.
    """
    ids = np.asarray(ids, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.diff(starts)
    n_segments = len(lengths)
    # token j of segment s moves to j + s + 1 (s+1 <s> symbols precede it)
    segment_of_token = np.repeat(np.arange(n_segments, dtype=np.int64), lengths)
    token_position = np.arange(len(ids), dtype=np.int64) + segment_of_token + 1
    padded_starts = starts[:-1] + np.arange(n_segments, dtype=np.int64)
    stream = np.empty(len(ids) + n_segments, dtype=np.int64)
    stream[token_position] = ids
    stream[padded_starts] = BOS_ID
    padded_ends = padded_starts + lengths + 1
    segment_end = np.repeat(padded_ends, lengths + 1)
    return stream, segment_end, token_position


def count_ngrams(ids: np.ndarray, starts: np.ndarray, order: int, vocab_size: int) -> NgramCounts:
    """Count the n-grams of orders 1..``order`` of an encoded split (``ids``, ``starts``)."""
    if order < 1:
        raise UsageError(f"order must be at least 1, got {order}: pass --order 1 or more")
    stream, segment_end, _ = padded_stream(ids, starts)
    return count_padded(stream, segment_end, order, vocab_size)


def count_padded(stream: np.ndarray, segment_end: np.ndarray, order: int, vocab_size: int) -> NgramCounts:
    """Count the n-grams of a padded stream (see :func:`padded_stream`); n-grams never cross
    ``segment_end``. Shared with the out-of-core counter, which counts one chunk at a time."""
    room = segment_end - np.arange(len(stream), dtype=np.int64)  # tokens from each position to its segment end
    ngrams: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    prefixes: list[np.ndarray] = []
    suffixes: list[np.ndarray] = []
    # row_of[i]: row of the current-order n-gram starting at padded position i (-1 if it crosses
    # the segment end)
    row_of = np.full(len(stream), -1, dtype=np.int64)
    for k in range(order):
        valid = room > k
        if k:
            valid &= row_of >= 0
        at = np.flatnonzero(valid)  # start positions of this order's n-grams
        if k == 0:
            unique_keys, occurrence, inverse, n = _unique_ids(stream[at], vocab_size)
            rows = unique_keys[:, None]
        else:
            unique_keys, occurrence, inverse, n = _unique(row_of[at] * vocab_size + stream[at + k])
            rows = np.concatenate([ngrams[k - 1][unique_keys // vocab_size], (unique_keys % vocab_size)[:, None]], axis=1)
        previous_row_of = row_of
        row_of = np.full(len(stream), -1, dtype=np.int64)
        row_of[at] = inverse
        if k == 0:
            prefixes.append(np.full(len(unique_keys), -1, dtype=np.int64))
            suffixes.append(np.full(len(unique_keys), -1, dtype=np.int64))
        else:
            prefixes.append(unique_keys // vocab_size)
            # the suffix of the k-gram starting at i is the (k-1)-gram starting at i + 1
            suffixes.append(previous_row_of[at[occurrence] + 1])
        ngrams.append(rows.astype(np.int32))
        counts.append(n.astype(np.int64))
    return NgramCounts(order=order, vocab_size=vocab_size, ngrams=ngrams, counts=counts, prefixes=prefixes,
                       suffixes=suffixes, first_seen=first_seen_ranks(stream, vocab_size))


def first_seen_ranks(stream: np.ndarray, vocab_size: int) -> np.ndarray:
    """Rank of each id by first appearance in ``stream``; <unk> <s> </s> first, unseen ids last."""
    first = np.full(vocab_size, len(stream) + 3, dtype=np.int64)
    np.minimum.at(first, stream, np.arange(3, len(stream) + 3, dtype=np.int64))
    first[:3] = np.arange(min(3, vocab_size))
    ranks = np.empty(vocab_size, dtype=np.int64)
    ranks[np.argsort(first, kind="stable")] = np.arange(vocab_size)
    return ranks


def _unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index, return_inverse, return_counts)``, with one occurrence (not
    necessarily the first) as the index: that allows the fastest sort (:func:`sort_permutation`)."""
    if len(keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return keys, empty, empty, empty
    perm = sort_permutation(keys)
    ordered = keys[perm]
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[perm] = np.cumsum(new) - 1
    boundaries = np.flatnonzero(new)
    return ordered[new], perm[new], inverse, np.diff(np.append(boundaries, len(keys)))


def sort_permutation(keys: np.ndarray) -> np.ndarray:
    """A permutation that sorts the non-negative int64 ``keys``.

    Keys below 2**32 (bigrams and trigrams of most word vocabularies) take a two-pass LSD radix
    sort on 16-bit digits, which numpy sorts by counting: 2.5x faster than ``argsort`` on a
    million keys. Wider keys take ``argsort``, which beats three or four radix passes.
    """
    if len(keys) == 0 or int(keys.max()) >= 1 << 32:
        return np.argsort(keys)
    low = np.argsort(keys.astype(np.uint16), kind="stable")  # astype keeps the low 16 bits
    return low[np.argsort((keys[low] >> 16).astype(np.uint16), kind="stable")]


def _unique_ids(ids: np.ndarray, vocab_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_unique` for keys below ``vocab_size`` (the unigrams): a bincount, no sort."""
    n = np.bincount(ids, minlength=vocab_size)
    present = np.flatnonzero(n)
    row = np.full(vocab_size, -1, dtype=np.int64)
    row[present] = np.arange(len(present))
    return present.astype(np.int64), np.zeros(len(present), dtype=np.int64), row[ids], n[present]


def continuation_counts(counts: NgramCounts, k: int) -> np.ndarray:
    """N1+(. g) for every k-gram g of ``counts.ngrams[k]``: distinct words seen before it.

    Counted over the listed (k+1)-grams, so ``<s>``-initial n-grams get 0 (nothing precedes
    ``<s>``); Kneser-Ney estimators keep their raw counts instead. ``k`` must be below
    ``order - 1``.
    """
    return np.bincount(counts.suffixes[k + 1], minlength=len(counts.ngrams[k])).astype(np.int64)


def counts_of_counts(values: np.ndarray, up_to: int = 4) -> np.ndarray:
    """``n[c]`` = how many entries of ``values`` equal ``c``, for c = 0..``up_to``."""
    return np.bincount(np.clip(values, 0, up_to + 1), minlength=up_to + 2)[: up_to + 1].astype(np.int64)
