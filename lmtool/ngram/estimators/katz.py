"""Katz backoff with Good-Turing discounts (Katz 1987), raw counts at every order.

Per order, from the counts-of-counts n_r of that order's counts and the threshold k (``gtmax``,
default 5 as Katz proposed; SRILM's ngram-count sets its own -gtNmax per order, pass ``gtmax`` to
match one of them), counts r <= k are discounted by::

    d_r = (r*/r - (k+1) n_{k+1}/n_1) / (1 - (k+1) n_{k+1}/n_1),   r* = (r+1) n_{r+1} / n_r

and counts above k are kept (d = 1). A seen context h keeps p*(w|h) = d_c c(hw) / c(h.) for
its seen words and gives left(h) = sum_w (1 - d_c) c(hw) / c(h.) to the unseen ones in
proportion to the lower order (backoff weight left(h) / (1 - sum_{seen w} p(w|h[1:]))). The
unigrams give the left-over mass uniformly to the predictable ids never seen in training, or,
when every id was seen, spread it over all of them (as SRILM does).

Fallbacks, each with a logged warning: when some d_r with n_r > 0 falls outside (0, 1] (or
n_1 = 0, or (k+1) n_{k+1} >= n_1), the order uses the largest smaller k >= 2 that works; when
none does (tiny corpora), d_r = (r - 0.5) / r for r <= k (absolute discount 0.5, lmplz's
fallback). k = 1 is not allowed: the formula then gives singletons probability 0.

One departure from Katz (and SRILM): a context whose continuations were all seen more than k
times frees no mass at all, so every word not seen after it would get probability 0 (and
held-out perplexity would be infinite; on Penn Treebank text a trigram model has hundreds of
such contexts, "dean" -> "witter" x 6). Those contexts discount their counts by 0.5 instead,
keeping 0.5 T(h) / c(h.) for their unseen words; likewise the unigrams, when some id was never
seen and no unigram count is at most k.
"""

from __future__ import annotations

import numpy as np

from lmtool.ngram.counting import NgramCounts, counts_of_counts
from lmtool.ngram.estimators._grouping import (
    FALLBACK_DISCOUNT,
    assemble,
    back_off,
    dense_unigrams,
    log,
    n_predictable,
    per_context,
    ratio,
    require_tokens,
)
from lmtool.ngram.tables import BackoffTables
from lmtool.text import BOS_ID


def _katz_ratios(n: np.ndarray, top: int, size: int) -> np.ndarray | None:
    """d_r for r = 0..size-1 with threshold ``top`` (1 outside 1..top), None if invalid."""
    if n[1] == 0:
        return None
    common = (top + 1) * n[top + 1] / n[1]
    if common >= 1.0:
        return None
    r = np.arange(1, top + 1)
    present = n[1 : top + 1] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        d = ((r + 1) * n[r + 1] / n[r] / r - common) / (1.0 - common)
    if not np.all((d[present] > 0.0) & (d[present] <= 1.0)):
        return None
    ratios = np.ones(size)
    ratios[1 : top + 1] = np.where(present, d, 1.0)
    return ratios


def good_turing_ratios(values: np.ndarray, order: int, gtmax: int) -> np.ndarray:
    """d[r] for r = 0..gtmax+1 (index gtmax+1 stands for every count above gtmax)."""
    n = counts_of_counts(values, gtmax + 1).astype(np.float64)
    for top in range(gtmax, 1, -1):
        ratios = _katz_ratios(n, top, gtmax + 2)
        if ratios is not None:
            if top < gtmax:
                log.warning("katz: Good-Turing discounts of the %d-grams are invalid with gtmax=%d; using gtmax=%d", order, gtmax, top)
            return ratios
    if len(values):
        log.warning(
            "katz: no valid Good-Turing discounts for the %d-grams (counts-of-counts %s); using an absolute discount of %g",
            order, n[1:].astype(int).tolist(), FALLBACK_DISCOUNT,
        )
    r = np.arange(gtmax + 2, dtype=np.float64)
    ratios = np.ones(gtmax + 2)
    ratios[1 : gtmax + 1] = (r[1 : gtmax + 1] - FALLBACK_DISCOUNT) / r[1 : gtmax + 1]
    return ratios


def _keep_mass_for_unseen(c: np.ndarray, d: np.ndarray, context: np.ndarray, n_contexts: int) -> np.ndarray:
    """``d``, with counts of contexts that freed no mass discounted by 0.5 (module docstring)."""
    closed = np.bincount(context, weights=(1.0 - d) * c, minlength=n_contexts) == 0
    return np.where(closed[context] & (c > 0), (c - FALLBACK_DISCOUNT) / np.maximum(c, 1), d)


def estimate_katz(counts: NgramCounts, gtmax: int = 5) -> tuple[BackoffTables, dict]:
    """Katz backoff tables and ``{"discounts": [[d_1 .. d_gtmax] per order]}`` (module docstring)."""
    c0 = dense_unigrams(counts)
    total = require_tokens(counts)
    positive = [c0[c0 > 0]] + list(counts.counts[1:])
    ratios = [good_turing_ratios(c, k + 1, gtmax) for k, c in enumerate(positive)]
    d0 = ratios[0][np.minimum(c0, gtmax + 1)]
    predictable = np.arange(counts.vocab_size) != BOS_ID
    unseen = predictable & (c0 == 0)
    if unseen.any():
        d0 = _keep_mass_for_unseen(c0, d0, np.zeros(len(c0), dtype=np.int64), 1)
    unigrams = d0 * c0 / total
    left = float(((1.0 - d0) * c0).sum() / total)
    if unseen.any():
        unigrams[unseen] = left / unseen.sum()
    else:
        unigrams[predictable] += left / n_predictable(counts)

    def step(k: int, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = counts.counts[k]
        d = _keep_mass_for_unseen(c, ratios[k][np.minimum(c, gtmax + 1)], counts.prefixes[k], len(counts.ngrams[k - 1]))
        context_total = per_context(counts, k, c)
        p_star = d * c / context_total[counts.prefixes[k]]
        return back_off(counts, k, p_star, ratio(per_context(counts, k, (1.0 - d) * c), context_total), lower)

    return assemble(counts, unigrams, step), {"discounts": [r[1 : gtmax + 1].tolist() for r in ratios]}
