"""Add-k (Lidstone) smoothing, and Laplace (k = 1), made a normalised model at every order.

With V' = V - 1 predictable ids (the vocabulary without ``<s>``):

- unigrams: p(w) = (c(w) + k) / (N + k V'), exactly Lidstone's estimate;
- a seen context h (with c(h.) = sum_v c(hv) and T(h) distinct continuations):
  every w seen after h gets exactly Lidstone's p(w|h) = (c(hw) + k) / (c(h.) + k V'), and the
  words not seen after h share exactly Lidstone's unseen mass
  left(h) = k (V' - T(h)) / (c(h.) + k V'), in proportion to the lower-order add-k model
  (backoff weight left(h) / (1 - sum_{w seen after h} p(w|h[1:])));
- an unseen context backs off to the shorter one with weight 1.

Why not pure Lidstone (k / (c(h.) + k V') for every unseen w, as ``nltk.lm.Lidstone`` does)? In
the backoff (ARPA) form an unseen word's probability is weight(h) x p(w|h[1:]), and the lower
order is not uniform, so the flat value is only reachable by listing every (h, w) pair, V' per
context. The choice above keeps every seen n-gram's Lidstone value and the total unseen mass of
each context, and only the split of that mass among unseen words follows the lower order (Katz's
backoff with Lidstone as the discount). For order 1 it is Lidstone exactly; for seen n-grams it
agrees with ``nltk.lm.Lidstone`` whenever nltk's vocabulary is the same V' ids; unlike nltk, an
unseen context uses the shorter context instead of the uniform distribution.
"""

from __future__ import annotations

import numpy as np

from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.estimators._grouping import (
    assemble,
    back_off,
    dense_unigrams,
    n_predictable,
    per_context,
    ratio,
    require_tokens,
)
from lmtool.ngram.tables import BackoffTables
from lmtool.text import BOS_ID


def estimate_add_k(counts: NgramCounts, k: float = 0.5) -> BackoffTables:
    """Add-``k`` tables (see the module docstring); ``k = 0`` is maximum likelihood."""
    size = n_predictable(counts)
    unigrams = (dense_unigrams(counts) + k) / (require_tokens(counts) + k * size)
    unigrams[BOS_ID] = 0.0

    def step(order_k: int, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = counts.counts[order_k]
        denominator = per_context(counts, order_k, c) + k * size
        left = ratio(k * (size - per_context(counts, order_k)), denominator)
        return back_off(counts, order_k, (c + k) / denominator[counts.prefixes[order_k]], left, lower)

    return assemble(counts, unigrams, step)


def estimate_laplace(counts: NgramCounts) -> BackoffTables:
    """Add-one (Laplace) tables: :func:`estimate_add_k` with k = 1."""
    return estimate_add_k(counts, k=1.0)
