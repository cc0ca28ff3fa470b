"""Interpolated Witten-Bell smoothing (SRILM ``-wbdiscount -interpolate``, nltk.lm's
``WittenBellInterpolated``), raw counts at every order.

For a context h with c(h.) = sum_v c(hv) tokens and T(h) distinct continuations::

    gamma(h) = T(h) / (T(h) + c(h.))
    p(w|h)   = (c(hw) + T(h) p(w|h[1:])) / (c(h.) + T(h))
             = (1 - gamma(h)) c(hw)/c(h.) + gamma(h) p(w|h[1:])

The unigrams are the same formula with the uniform distribution over the V-1 predictable ids
as the lower order: p(w) = (c(w) + T / (V-1)) / (N + T), so words never seen in training (an
unused ``<unk>``) keep some probability. An unseen context backs off with weight 1.

Differences: ``nltk.lm`` stops at the plain relative-frequency unigram (unseen words get 0 and
its distributions then sum to less than 1) and pads with n-1 ``<s>``; SRILM applies its default
count cut-offs (-gt3min 2 ...), lmtool keeps every n-gram.
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
    uniform_interpolated_unigrams,
)
from lmtool.ngram.tables import BackoffTables


def estimate_witten_bell(counts: NgramCounts) -> BackoffTables:
    """Interpolated Witten-Bell tables (see the module docstring)."""
    c0 = dense_unigrams(counts)
    total, types = require_tokens(counts), np.count_nonzero(c0)
    unigrams = uniform_interpolated_unigrams(counts, c0 / (total + types), types / (total + types))

    def step(k: int, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = counts.counts[k]
        types = per_context(counts, k)
        denominator = per_context(counts, k, c) + types
        return interpolate(counts, k, c / denominator[counts.prefixes[k]], ratio(types, denominator), lower)

    return assemble(counts, unigrams, step)
