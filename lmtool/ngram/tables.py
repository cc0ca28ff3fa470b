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

Scoring is written once over three methods every table store provides, ``child_rows(k,
prefix_rows, words)``, ``probs(k, rows)`` and ``backoffs(k, rows)``: :class:`BackoffTables`
answers them with the sorted keys, the memory-mapped compact file
(:class:`lmtool.ngram.compact.CompactTables`) with its hash index. Both hold float values
and sum them in the same order, so equal values give bit-identical scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmtool.ngram.counting import as_rows, pad_segments, row_type
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
    #: prefixes[k][r] (k >= 2): the row in ngrams[k-1] of ngrams[k][r]'s prefix, where the maker
    #: of the tables knows it (a fit's counts link the orders so): the keys, and the model file,
    #: are then made without a lookup per word (see :meth:`prefix_rows`). None: not known
    prefixes: list[np.ndarray] | None = None

    #: True when every listed n-gram's suffix (its words but the first) is known to be listed
    #: too, which lets scoring skip lookups bound to miss. A compact file records it (it costs a
    #: lookup of every n-gram to establish); tables read from an ARPA file in suffix order learn
    #: it while being built; otherwise in memory the tables say False ("not known")
    suffix_closed = False

    def __post_init__(self) -> None:
        self._keys: list[np.ndarray] | None = None

    @property
    def keys(self) -> list[np.ndarray]:
        """``keys[k][r]`` = prefix row * V + last word of ``ngrams[k][r]`` (keys[0] = the ids)."""
        if self._keys is None and self.prefixes is not None:
            keys = [self.ngrams[0][:, 0].astype(np.int64)]
            for k in range(1, self.order):
                key = self.prefix_rows(k).astype(np.int64)
                key *= self.vocab_size
                key += self.ngrams[k][:, -1]
                keys.append(key)
            self._keys = keys
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

    def prefix_rows(self, k: int) -> np.ndarray:
        """The row in ``ngrams[k-1]`` of the prefix of every n-gram of order ``k`` >= 1: a
        bigram's is its first word; above, from ``prefixes`` when known (no keys are made), else
        from the keys."""
        if k == 1:
            return self.ngrams[1][:, 0]
        return self.prefixes[k] if self.prefixes is not None else self.keys[k] // self.vocab_size

    def n_listed(self) -> list[int]:
        """Number of n-grams per order an ARPA file lists."""
        if self.listed is None:
            return [len(g) for g in self.ngrams]
        return [int(m.sum()) for m in self.listed]

    # -- the lookup methods scoring uses (see the module docstring) --------------------------
    def child_rows(self, k: int, prefix_rows: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Rows at order ``k`` (k >= 1) of the n-grams (prefix row at order k-1, word); -1 where
        not listed, as :func:`~lmtool.ngram.counting.row_type` has them. ``prefix_rows`` and
        ``words`` are non-negative (of any integer type: the keys are made in int64)."""
        keys = np.multiply(prefix_rows, self.vocab_size, dtype=np.int64)
        keys += words
        return as_rows(_lookup(self.keys[k], keys), len(self.keys[k]))

    def probs(self, k: int, rows: np.ndarray) -> np.ndarray:
        """log10 probabilities of ``rows`` at order ``k``."""
        return self.log10_probs[k].take(rows)

    def backoffs(self, k: int, rows: np.ndarray) -> np.ndarray:
        """log10 backoff weights of ``rows`` at order ``k``."""
        return self.log10_backoffs[k].take(rows)

    def backoff_tables(self) -> "BackoffTables":
        """The tables themselves (a compact store decodes into them)."""
        return self


def _lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each ``query`` key in the sorted ``keys``, -1 where absent."""
    if len(keys) == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    index = np.searchsorted(keys, query)
    index = np.minimum(index, len(keys) - 1)
    return np.where(keys[index] == query, index, -1).astype(np.int64)


def extend_rows(tables, k: int, prefix_rows: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Rows in ``ngrams[k]`` of (prefix, word) pairs whose prefix has row ``prefix_rows`` at order k-1.

    ``prefix_rows`` may hold -1 (absent prefix); the result is -1 there and wherever the n-gram
    is not listed. ``tables`` is any store with the lookup methods (see the module docstring).
    """
    words = np.asarray(words, dtype=np.int64)
    if k == 0:
        return np.where(words >= 0, words, -1)
    prefix_rows = np.asarray(prefix_rows, dtype=np.int64)
    rows = np.full(np.broadcast(prefix_rows, words).shape, -1, dtype=np.int64)
    prefix_rows, words = np.broadcast_arrays(prefix_rows, words)
    known = (prefix_rows >= 0) & (words >= 0)
    rows[known] = tables.child_rows(k, prefix_rows[known], words[known])
    return rows


def find_rows(tables, k: int, grams: np.ndarray) -> np.ndarray:
    """Rows in ``ngrams[k]`` of the (n, k+1) array ``grams``, -1 where not listed."""
    grams = np.asarray(grams, dtype=np.int64).reshape(-1, k + 1)
    rows = grams[:, 0]
    for j in range(1, k + 1):
        rows = extend_rows(tables, j, rows, grams[:, j])
    return rows


#: padded positions scored per pass of :func:`score_stream`: its arrays then stay in the caches
CHUNK = 1 << 16


def score_stream(tables, ids: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log10 p of every id of an encoded split, each segment starting from ``<s>``.

    Returns ``(log10_probs, ngram_length)``: the probability (float64) and the length of the
    longest listed n-gram used (int16; KenLM's ``query`` prints the same length). ``tables`` is
    any store with the lookup methods (see the module docstring). The padded stream is scored
    :data:`CHUNK` positions at a time, each window starting order-1 positions early for context.
    """
    starts = np.asarray(starts, dtype=np.int64)
    stream = pad_segments(ids, starts, row_type(tables.vocab_size))  # int32 ids: half the bytes to gather
    inner = np.ones(len(stream), dtype=bool)  # False at each segment's <s>, True at its tokens
    inner[starts[:-1] + np.arange(len(starts) - 1)] = False  # s <s> symbols precede segment s's own
    n = len(stream)
    if n <= CHUNK:  # one window (a block of query's): its arrays are the result, not copied into it
        log10, length = _score_window(tables, stream, inner)
        del stream
        return _tokens_only(log10, length, inner)
    log10 = np.empty(n, dtype=np.float64)
    length = np.empty(n, dtype=np.int16)
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        begin = max(0, lo - tables.order + 1)
        out = _score_window(tables, stream[begin:hi], inner[begin:hi])
        log10[lo:hi], length[lo:hi] = out[0][lo - begin :], out[1][lo - begin :]
    return _tokens_only(log10, length, inner)


def _tokens_only(log10: np.ndarray, length: np.ndarray, inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log10`` and ``length`` without the positions of the segments' ``<s>`` (where ``inner``
    is False), gathered by index: compressing by the mask, with a False every sentence or so,
    took half as long again (a block of Brown test: 97 us against 66)."""
    keep = np.flatnonzero(inner)
    return log10.take(keep), length.take(keep)


def _score_window(tables, stream: np.ndarray, inner: np.ndarray):
    """log10 p and n-gram length at every position of a window of the padded stream.

    ``inner[p]`` is False where a segment's ``<s>`` stands, so an n-gram from p fits in p's
    segment (and in the window) iff ``inner`` holds on the positions after p that it covers.
    ``rows[k][p]`` is the row at order k of the (k+1)-gram starting at p (-1 when not listed or
    crossing its segment's end) and ``longest[p]`` the length of the longest listed n-gram
    starting at p: every prefix of a listed n-gram is listed, so the n-gram of length l ending at
    p is listed iff ``longest[p - l + 1] >= l``. Everything
    after the lookups is shifted slices of these arrays, so no per-target gathers.
    """
    n, order = len(stream), tables.order
    rows = [stream]
    longest = np.ones(n, dtype=np.int16)
    fits = np.ones(n, dtype=bool)  # whether the (k+1)-gram at p fits in its segment and the window
    for k in range(1, order):
        # the (k+1)-gram at p is looked up if it fits and its prefix (the k-gram at p) is listed,
        # and, when suffixes are closed, its suffix (the k-gram at p+1) too: masks over every
        # position, so the only gathers are the lookups' own
        fitting = max(n - k, 0)  # positions with k more after them in the window
        fits[:fitting] &= inner[k:]
        fits[fitting:] = False
        wanted = rows[k - 1] >= 0
        if k >= 2 and tables.suffix_closed:
            wanted[:-1] &= wanted[1:]  # numpy reads an overlapping operand as it was before
        wanted &= fits  # False from n - k on: the prefix rows and the next words align under it
        at = np.flatnonzero(wanted)  # (indexing by a boolean mask is slower where it alternates)
        found = tables.child_rows(k, rows[k - 1].take(at), stream[k:].take(at))
        rows.append(np.full(n, -1, dtype=found.dtype))
        rows[k][at] = found
        del found, at
        longest += rows[k] >= 0
    # the match length at p: the longest listed n-gram ending at p (one that starts at q is
    # inside q's segment, so it never reaches p from an earlier segment)
    match = np.ones(n, dtype=np.int16)
    for l in range(2, min(order, n) + 1):
        if tables.suffix_closed:  # the listed lengths ending at p are 1..match[p]: count them
            match[l - 1 :] += longest[: n - l + 1] >= l
        else:
            match[l - 1 :][longest[: n - l + 1] >= l] = l
    log10 = np.empty(n, dtype=np.float64)
    for l in range(1, min(order, n) + 1):
        start = np.flatnonzero(match[l - 1 :] == l)  # where the matched l-gram ending at start + l - 1 starts
        log10[l - 1 :][start] = tables.probs(l - 1, rows[l - 1].take(start))
    # backing off from length j + 1 to j at p: the context of length j ending at p - 1 (starting at
    # p - j) is listed and no longer n-gram matched. At a segment's <s> this adds the previous
    # segment's backoffs: harmless, a <s> is never scored
    for j in range(1, min(order, n)):
        start = np.flatnonzero((match[j:] <= j) & (longest[: n - j] >= j))
        np.add.at(log10[j:], start, tables.backoffs(j - 1, rows[j - 1].take(start)))  # (faster than += on a subset)
    return log10, match


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


def log10_prob(tables, grams: np.ndarray) -> np.ndarray:
    """log10 p(last word | the words before it) for each row of the (n, L) array ``grams``.

    Negative entries mean "no word" (left padding); ``tables`` is any store with the lookup
    methods. For small batches (single queries, ARPA
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
        out[hit] += tables.probs(L - 1, r[hit])
        resolved |= hit
        if L >= 2:
            c = find_rows(tables, L - 2, grams[:, width - L : width - 1])
            miss = ~resolved & (c >= 0)
            out[miss] += tables.backoffs(L - 2, c[miss])
    return out
