"""Maximum likelihood: relative frequencies, nothing held back for unseen events.

- unigrams: p(w) = c(w) / N over the predictable ids (N = tokens except ``<s>``); a word never
  seen in training gets 0 (log10 -inf, -99 in ARPA);
- a seen context h: p(w|h) = c(hw) / c(h.), where c(h.) = sum_v c(hv); unseen w get 0 (the
  context's backoff weight is 0, log10 -inf);
- a context never followed by anything in training (unlisted, or only seen at a segment end)
  falls back to the shorter context with weight 1.

Normalised, but any unseen event has probability 0, so held-out perplexity is usually infinite.
"""

from __future__ import annotations

import numpy as np

from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.estimators._grouping import assemble, back_off, dense_unigrams, per_context, require_tokens
from lmtool.ngram.tables import BackoffTables


def estimate_mle(counts: NgramCounts) -> BackoffTables:
    """Maximum-likelihood tables (see the module docstring)."""
    unigrams = dense_unigrams(counts) / require_tokens(counts)

    def step(k: int, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = counts.counts[k]
        total = per_context(counts, k, c)
        return back_off(counts, k, c / total[counts.prefixes[k]], np.zeros(len(total)), lower)

    return assemble(counts, unigrams, step)
