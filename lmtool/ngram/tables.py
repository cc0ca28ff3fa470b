"""The backoff form every normalised method compiles into (the ARPA form), and its scorers.

Layout::

    ngrams[k]          (m_k, k+1) int32 rows, sorted lexicographically; ngrams[0] lists every
                       vocabulary id 0..V-1 in order (so the row of unigram w is w)
    log10_probs[k]     (m_k,) float64: log10 p(w | h) of the listed n-gram h w
    log10_backoffs[k]  (m_k,) float64: log10 backoff weight of the n-gram used as a context
                       (0 when it is never a context)
    listed[k]          (m_k,) bool: False for context rows an ARPA file did not list (SRILM
                       pruned files); their prob is the backed-off value, so scores are exact,
                       and the ARPA writer skips them. None means all listed.

    p(w | h) = 10**prob[h w]                       if h w is listed
             = 10**backoff[h] * p(w | h[1:])       otherwise (backoff[h] = 0 if h is unlisted)

Distribution convention (every estimator must meet it; the sums-to-1 tests check it):
``<s>`` (id 1) is never predicted. It gets probability 0 (log -inf) whatever its unigram row
says (KenLM writes 0 there, SRILM -99; the value is kept only for lossless ARPA round trips),
and every conditional distribution sums to 1 over the other V-1 ids, ``<unk>`` and ``</s>``
included. Every prefix of a listed n-gram must be listed (as a context row at least): the
lookups below find an n-gram through its prefix's row.

Lookups: the n-gram of order k+1 with prefix row ``r`` and last word ``w`` has the key
``r * V + w``; ``keys[k]`` is sorted (rows are lexicographic), so ``np.searchsorted`` finds a
whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmtool.ngram.counting import padded_stream, token_positions
from lmtool.text import BOS_ID

LN10 = float(np.log(10.0))


@dataclass
class BackoffTables:
    """An n-gram model in backoff (ARPA) form; see the module docstring."""

    order: int
    vocab_size: int
    ngrams: list[np.ndarray]
    log10_probs: list[np.ndarray]
    log10_backoffs: list[np.ndarray]
    listed: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        self._keys: list[np.ndarray] | None = None

    @property
    def keys(self) -> list[np.ndarray]:
        """``keys[k][r]`` = prefix row * V + last word of ``ngrams[k][r]`` (keys[0] = the ids)."""
        if self._keys is None:
            # built order by order: the prefixes of order k are found with keys[:k] only
            keys = [self.ngrams[0][:, 0].astype(np.int64)]
            for k in range(1, self.order):
                grams = self.ngrams[k].astype(np.int64)
                rows = grams[:, 0]
                for j in range(1, k):
                    rows = _lookup(keys[j], rows * self.vocab_size + grams[:, j])
                if (rows < 0).any():
                    raise ValueError(f"order {k + 1} lists an n-gram whose prefix is not listed")
                keys.append(rows * self.vocab_size + grams[:, -1])
            self._keys = keys
        return self._keys

    def n_listed(self) -> list[int]:
        """Number of n-grams per order an ARPA file lists."""
        if self.listed is None:
            return [len(g) for g in self.ngrams]
        return [int(m.sum()) for m in self.listed]


def _lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each ``query`` key in the sorted ``keys``, -1 where absent."""
    if len(keys) == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    index = np.searchsorted(keys, query)
    index = np.minimum(index, len(keys) - 1)
    return np.where(keys[index] == query, index, -1).astype(np.int64)


def extend_rows(tables: BackoffTables, k: int, prefix_rows: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Rows in ``ngrams[k]`` of (prefix, word) pairs whose prefix has row ``prefix_rows`` at order k-1.

    ``prefix_rows`` may hold -1 (absent prefix); the result is -1 there and wherever the n-gram
    is not listed.
    """
    if k == 0:
        return np.where(np.asarray(words) >= 0, words, -1).astype(np.int64)
    prefix_rows = np.asarray(prefix_rows, dtype=np.int64)
    words = np.asarray(words, dtype=np.int64)
    found = _lookup(tables.keys[k], prefix_rows * tables.vocab_size + words)
    return np.where((prefix_rows >= 0) & (words >= 0), found, -1)


def find_rows(tables: BackoffTables, k: int, grams: np.ndarray) -> np.ndarray:
    """Rows in ``ngrams[k]`` of the (n, k+1) array ``grams``, -1 where not listed."""
    grams = np.asarray(grams, dtype=np.int64).reshape(-1, k + 1)
    rows = grams[:, 0]
    for j in range(1, k + 1):
        rows = extend_rows(tables, j, rows, grams[:, j])
    return rows


def score_stream(tables: BackoffTables, ids: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log10 p of every id of an encoded split, each segment starting from ``<s>``.

    Returns ``(log10_probs, ngram_length)``: the probability and the length of the longest
    listed n-gram used (KenLM's ``query`` prints the same length). One searchsorted pass per
    order over the whole stream: ``row[L][i]`` is the row of the L-gram starting at padded
    position i (-1 when unlisted or crossing the segment end).
    """
    stream, segment_end = padded_stream(ids, starts)
    target = token_positions(starts)
    n = len(stream)
    lengths = np.diff(np.asarray(starts, dtype=np.int64))
    # the padded position of each target's segment <s>
    segment_start = np.repeat(np.asarray(starts[:-1], dtype=np.int64) + np.arange(len(lengths)), lengths)
    keys = tables.keys
    rows = [stream]
    alive = np.flatnonzero(stream >= 0)  # positions whose L-gram is listed, for the current L
    for k in range(1, tables.order):
        alive = alive[alive + k < segment_end[alive]]
        nxt = np.full(n, -1, dtype=np.int64)
        found = _lookup(keys[k], rows[k - 1][alive] * tables.vocab_size + stream[alive + k])
        nxt[alive] = found
        alive = alive[found >= 0]
        rows.append(nxt)
    log10 = np.zeros(len(target), dtype=np.float64)
    length = np.zeros(len(target), dtype=np.int64)
    pending = np.arange(len(target))  # targets without a listed n-gram of the lengths tried so far
    # longest match first: the n-gram of length L ending at target t starts at t - L + 1
    for L in range(tables.order, 0, -1):
        begin = target[pending] - L + 1
        inside = begin >= segment_start[pending]  # an L-gram that fits in the segment
        r = np.where(inside, rows[L - 1][np.where(inside, begin, 0)], -1)
        hit = r >= 0
        log10[pending[hit]] += tables.log10_probs[L - 1][r[hit]]
        length[pending[hit]] = L
        # not matched at length L: back off through the context of length L-1 ending at t-1
        miss = inside & ~hit
        if L >= 2 and miss.any():
            c = rows[L - 2][begin[miss]]
            listed = c >= 0
            log10[pending[miss][listed]] += tables.log10_backoffs[L - 2][c[listed]]
        pending = pending[~hit]
    return log10, length


def log10_distribution(tables: BackoffTables, contexts: np.ndarray) -> np.ndarray:
    """log10 p(w | h) for every w, for a batch of contexts: (B, V), ``<s>`` column -inf.

    ``contexts`` is (B, c) int of the last c words (only the last order-1 columns matter);
    negative entries mean "no word" (left padding of short histories). A history that starts a
    segment should begin with ``<s>``, as scoring does. Built from the unigrams up: at each order the whole row is multiplied by
    the context's backoff, then the listed continuations of that context overwrite their
    entries.
    """
    contexts = np.asarray(contexts, dtype=np.int64)
    if contexts.ndim == 1:
        contexts = contexts[None, :]
    width = min(contexts.shape[1], tables.order - 1)
    contexts = contexts[:, contexts.shape[1] - width :]
    batch, vocab = contexts.shape[0], tables.vocab_size
    out = np.tile(tables.log10_probs[0], (batch, 1))
    for j in range(1, width + 1):
        # row of the suffix of length j, i.e. the context's last j words
        c = find_rows(tables, j - 1, contexts[:, width - j :])
        found = c >= 0
        bo = np.zeros(batch)  # indexing only found rows: an order's table may be empty
        bo[found] = tables.log10_backoffs[j - 1][c[found]]
        out += bo[:, None]
        keys = tables.keys[j]
        lo = np.searchsorted(keys, np.where(found, c * vocab, -1))
        hi = np.searchsorted(keys, np.where(found, c * vocab + vocab, -1))
        lengths = hi - lo
        which = np.repeat(np.arange(batch), lengths)
        entries = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(lo, lengths)
        out[which, keys[entries] % vocab] = tables.log10_probs[j][entries]
    out[:, BOS_ID] = -np.inf
    return out


def log10_prob(tables: BackoffTables, grams: np.ndarray) -> np.ndarray:
    """log10 p(last word | the words before it) for each row of the (n, L) array ``grams``.

    Negative entries mean "no word" (left padding). For small batches (single queries, ARPA
    repair); whole splits go through :func:`score_stream`, which shares work between positions.
    """
    grams = np.asarray(grams, dtype=np.int64)
    if grams.ndim == 1:
        grams = grams[None, :]
    width = min(grams.shape[1], tables.order)
    grams = grams[:, grams.shape[1] - width :]
    out = np.zeros(len(grams), dtype=np.float64)
    resolved = np.zeros(len(grams), dtype=bool)
    for L in range(width, 0, -1):
        r = find_rows(tables, L - 1, grams[:, width - L :])
        hit = (r >= 0) & ~resolved
        out[hit] += tables.log10_probs[L - 1][r[hit]]
        resolved |= hit
        if L >= 2:
            c = find_rows(tables, L - 2, grams[:, width - L : width - 1])
            miss = ~resolved & (c >= 0)
            out[miss] += tables.log10_backoffs[L - 2][c[miss]]
    return out
