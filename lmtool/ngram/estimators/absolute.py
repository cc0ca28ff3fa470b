"""Interpolated absolute discounting (Ney, Essen & Kneser 1994), raw counts at every order.

One discount per order, D = n1 / (n1 + 2 n2) from that order's counts-of-counts (or the
``discount`` given, for every order; 0.5 with a warning when n1 or n2 is 0). For a context h
with c(h.) = sum_v c(hv) and T(h) distinct continuations::

    p(w|h)   = (c(hw) - D) / c(h.) + gamma(h) p(w|h[1:]),   gamma(h) = D T(h) / c(h.)

(0 < D <= 1 and every listed count is >= 1, so c(hw) - D >= 0). The unigrams interpolate with
the uniform distribution over the V-1 predictable ids: p(w) = max(c(w) - D, 0) / N + D T / N / (V-1).
This is Kneser-Ney without the continuation counts (``nltk.lm.AbsoluteDiscountingInterpolated``
uses a fixed D = 0.75 and an uninterpolated unigram).
"""

from __future__ import annotations

import numpy as np

from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.estimators._grouping import (
    assemble,
    dense_unigrams,
    interpolate,
    per_context,
    ratio,
    require_tokens,
    single_discount,
    uniform_interpolated_unigrams,
)
from lmtool.ngram.tables import BackoffTables


def estimate_absolute(counts: NgramCounts, discount: float | None = None) -> tuple[BackoffTables, dict]:
    """Interpolated absolute-discounting tables and ``{"discounts": [D per order]}``."""
    c0 = dense_unigrams(counts)
    total = require_tokens(counts)
    positive = [c0[c0 > 0]] + list(counts.counts[1:])
    discounts = [discount if discount is not None else single_discount(c, k + 1, "absolute") for k, c in enumerate(positive)]
    d0 = discounts[0]
    unigrams = uniform_interpolated_unigrams(counts, np.maximum(c0 - d0, 0.0) / total, d0 * np.count_nonzero(c0) / total)

    def step(k: int, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = counts.counts[k]
        context_total = per_context(counts, k, c)
        alpha = (c - discounts[k]) / context_total[counts.prefixes[k]]
        return interpolate(counts, k, alpha, ratio(discounts[k] * per_context(counts, k), context_total), lower)

    return assemble(counts, unigrams, step), {"discounts": discounts}
