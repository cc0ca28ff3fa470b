"""Array helpers every estimator shares: per-context sums, lower-order lookups, table assembly.

The estimators work on the raw counts one order at a time, with the row links that
:func:`lmtool.ngram.counting.count_ngrams` provides::

    ngrams[k][r]   = h w                     (n-gram of order k+1)
    prefixes[k][r] = row of h       in ngrams[k-1]   (its context)
    suffixes[k][r] = row of h[1:] w in ngrams[k-1]   (the n-gram it backs off / interpolates to)

so "a value per context" is an array over the rows of the order below (length m_{k-1}; rows
that are never a context get an empty sum), a per-context sum is one ``np.bincount`` over
``prefixes[k]``, and the lower-order probability of every n-gram at once is
``probs[k-1][suffixes[k]]``. Loops run over orders only, never over n-grams.

Two shapes cover every method here (see :func:`interpolate` and :func:`back_off`):

- interpolated:  p(w|h) = alpha(hw) + gamma(h) p(w|h[1:]),  backoff weight of h = gamma(h)
- backoff:       p(w|h) = p*(hw) if hw was seen, else bow(h) p(w|h[1:]), where
                 bow(h) = left(h) / (1 - sum over seen w of p(w|h[1:])) spreads exactly the
                 mass ``left(h)`` the discounted estimates p* did not use.

Both give every context with continuations a distribution that sums to 1 over the V-1
predictable ids whenever the lower order does; contexts never seen keep backoff weight 1
(log10 0), which is the ARPA rule for unlisted contexts as well.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from lmtool.errors import DataError
from lmtool.ngram.counting import NgramCounts, counts_of_counts
from lmtool.ngram.tables import BackoffTables
from lmtool.text import BOS_ID

log = logging.getLogger("lmtool.ngram.estimators")

#: The discount used when counts-of-counts leave it undefined (lmplz --discount_fallback's D1).
FALLBACK_DISCOUNT = 0.5

#: Below this, the lower-order mass left for a context's unseen words counts as none (rounding):
#: the context's own estimates are then rescaled to sum to 1 (SRILM's ngram-count does the same).
NO_ROOM = 1e-12

#: step(k, lower) -> (probabilities of the rows of ngrams[k], backoff weights of the rows of
#: ngrams[k-1]); ``lower`` is p(w | h[1:]) for every row h w of ngrams[k].
Step = Callable[[int, np.ndarray], "tuple[np.ndarray, np.ndarray]"]


def n_predictable(counts: NgramCounts) -> int:
    """Number of ids a distribution spreads over: the vocabulary without ``<s>``."""
    return counts.vocab_size - 1


def dense_unigrams(counts: NgramCounts) -> np.ndarray:
    """Raw unigram counts over all V ids (0 for ids never seen), ``<s>`` zeroed."""
    dense = np.zeros(counts.vocab_size, dtype=np.int64)
    dense[counts.ngrams[0][:, 0]] = counts.counts[0]
    dense[BOS_ID] = 0
    return dense


def require_tokens(counts: NgramCounts) -> int:
    """The number of predicted training tokens; a :class:`DataError` when there are none."""
    n = counts.n_tokens
    if n == 0:
        raise DataError("the training split has no tokens: give a corpus with some text in its train split")
    return n


def per_context(counts: NgramCounts, k: int, values: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``values`` (default: 1, i.e. the number of listed continuations) per context row."""
    return np.bincount(counts.prefixes[k], weights=values, minlength=len(counts.ngrams[k - 1])).astype(np.float64)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` where the denominator is positive, else 0 (contexts with no data)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=np.asarray(denominator) > 0)
    return out


def uniform_interpolated_unigrams(counts: NgramCounts, alpha: np.ndarray, gamma: float) -> np.ndarray:
    """p(w) = alpha(w) + gamma / (V-1) over the predictable ids; ``<s>`` gets 0."""
    p = alpha + gamma / n_predictable(counts)
    p[BOS_ID] = 0.0
    return p


def interpolate(counts: NgramCounts, k: int, alpha: np.ndarray, gamma: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated step: p = alpha + gamma(h) p(w|h[1:]); the backoff weight of h is gamma(h).

    ``gamma`` is per context row; contexts without continuations get weight 1 whatever it says.
    """
    has_data = per_context(counts, k) > 0
    return alpha + gamma[counts.prefixes[k]] * lower, np.where(has_data, gamma, 1.0)


def back_off(counts: NgramCounts, k: int, p_star: np.ndarray, left: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backoff step: seen words keep ``p_star``; ``left`` (per context) goes to the unseen ones.

    The weight that gives the unseen words of h exactly ``left(h)`` in total is
    ``left(h) / (1 - sum_{seen w} p(w|h[1:]))``. When the lower order has no mass left for
    them (every word with lower-order probability was seen after h), ``p_star`` is rescaled
    to sum to 1 instead and the weight is 0.
    """
    prefix = counts.prefixes[k]
    has_data = per_context(counts, k) > 0
    room = 1.0 - per_context(counts, k, lower)
    spread = has_data & (left > 0) & (room > NO_ROOM)
    stuck = has_data & (left > 0) & (room <= NO_ROOM)
    weight = np.where(has_data, 0.0, 1.0)
    weight[spread] = left[spread] / room[spread]
    scale = np.ones(len(left))
    scale[stuck] = 1.0 / (1.0 - left[stuck])
    return p_star * scale[prefix], weight


def single_discount(values: np.ndarray, order: int, method: str) -> float:
    """One absolute discount for an order, D = n1 / (n1 + 2 n2) (Ney, Essen & Kneser 1994).

    ``values`` are the order's (positive) counts. When n1 or n2 is 0 (tiny or artificial
    corpora) D is undefined or degenerate; D falls back to 0.5 (lmplz's fallback D1) with a
    logged warning.
    """
    return discount_from_counts_of_counts(counts_of_counts(values, 2), len(values), order, method)


def discount_from_counts_of_counts(n: np.ndarray, n_values: int, order: int, method: str) -> float:
    """:func:`single_discount` from ``n[1]``, ``n[2]`` (the counts-of-counts of the ``n_values``
    counts, summed over partitions by the cluster's fit)."""
    if n[1] > 0 and n[2] > 0:
        return float(n[1] / (n[1] + 2.0 * n[2]))
    if n_values:
        log.warning(
            "%s: the %d-grams have n1=%d, n2=%d, so D = n1/(n1+2 n2) is undefined or 1; using D = %g",
            method, order, n[1], n[2], FALLBACK_DISCOUNT,
        )
    return FALLBACK_DISCOUNT


def _log10(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(values)


def assemble(counts: NgramCounts, unigrams: np.ndarray, step: Step) -> BackoffTables:
    """Build the tables from the unigram distribution (V,) up, one ``step`` per higher order.

    Every counted n-gram is listed; ``ngrams[0]`` is every id; ``<s>`` gets log10 -inf.
    """
    ids = counts.ngrams[0][:, 0].astype(np.int64)
    probs = [unigrams[ids]]  # per count row, to look suffixes up in
    log10_probs = [np.minimum(0.0, _log10(unigrams))]
    log10_probs[0][BOS_ID] = -np.inf
    log10_backoffs = []
    for k in range(1, counts.order):
        p, weight = step(k, probs[k - 1][counts.suffixes[k]])
        probs.append(p)
        log10_probs.append(np.minimum(0.0, _log10(p)))
        if k == 1:
            log10_backoffs.append(np.zeros(counts.vocab_size))
            log10_backoffs[0][ids] = _log10(weight)
        else:
            log10_backoffs.append(_log10(weight))
    log10_backoffs.append(np.zeros(len(log10_probs[-1])))
    ngrams = [np.arange(counts.vocab_size, dtype=np.int32)[:, None]] + list(counts.ngrams[1:])
    return BackoffTables(
        order=counts.order,
        vocab_size=counts.vocab_size,
        ngrams=ngrams,
        log10_probs=log10_probs,
        log10_backoffs=log10_backoffs,
    )
