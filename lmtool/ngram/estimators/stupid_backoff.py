"""Stupid backoff (Brants, Popat, Xu, Och & Dean 2007): NOT a probability distribution.

Scores S(w|h) = c(hw) / c(h.) when hw was seen (c(h.) = sum_v c(hv)), else alpha S(w|h[1:]);
S(w) = c(w) / N. In the backoff form: listed n-grams carry the relative frequency and every
listed n-gram of the lower orders has backoff weight alpha (log10 alpha), so a seen context
that lacks w multiplies by alpha as Brants et al. do. One difference from the paper (and from
``nltk.lm.StupidBackoff``): a context never seen in training is unlisted, and an unlisted
context backs off with weight 1 (the ARPA rule), so no alpha is paid for it. That factor is the
same for every w of the context, so rankings, the use the method was made for, are unchanged.

Scores of a context sum to more than 1 whenever it lacks some word, and unseen words get 0:
the registry marks the method ``normalised=False`` and reports must say so.
"""

from __future__ import annotations

import numpy as np

from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.estimators._grouping import assemble, dense_unigrams, per_context, require_tokens
from lmtool.ngram.tables import BackoffTables


def estimate_stupid_backoff(counts: NgramCounts, alpha: float = 0.4) -> BackoffTables:
    """Stupid-backoff score tables (see the module docstring)."""
    unigrams = dense_unigrams(counts) / require_tokens(counts)

    def step(k: int, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = counts.counts[k]
        return c / per_context(counts, k, c)[counts.prefixes[k]], np.full(len(counts.ngrams[k - 1]), alpha)

    tables = assemble(counts, unigrams, step)
    for weights in tables.log10_backoffs[:-1]:
        weights[:] = np.log10(alpha)  # also the unigram rows of ids never seen in training
    return tables
