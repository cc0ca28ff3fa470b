"""Stage 3 of modified Kneser-Ney: initial probabilities (lmplz's initial_probabilities.cc).

For every context ``h`` (an n-gram of order k-1 seen before some word) and adjusted counts
``a`` (:mod:`.adjust`), discounted by ``D(a)`` (:mod:`.discounts`)::

    u(w|h)   = (a(hw) - D(a(hw))) / sum_v a(hv)                  kept n-grams only
    gamma(h) = (sum_j D_j N_j(h.) + pruned mass) / sum_v a(hv)

``N_j(h.)`` counts the kept continuations of ``h`` with adjusted count j (3 = 3 or more) and
the pruned mass is the adjusted count of every pruned continuation (:mod:`.prune`), so the
pruned model stays normalised: for every context, ``sum_w u(w|h) + gamma(h) = 1``. The
unigrams have one context, the empty one, over the whole vocabulary (ids never seen in training
have count 0).

The stage runs order by order and yields each order's result as soon as it is computed: the
interpolation (:mod:`.interpolate`) consumes it before the next order's denominators are
built, so only one order's temporaries are alive at a time (lmplz streams its stages too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.modified_kneser_ney.discounts import Discounts, discount_of


@dataclass
class InitialProbabilities:
    """u and gamma of one order (see the module docstring).

    ``order`` 1 (the unigrams): ``u`` is (V,) over every id, ``gamma`` a scalar, ``rows`` and
    ``contexts`` are None. ``order`` k+1 >= 2: ``rows`` are the counts rows of ``ngrams[k]``
    that survive pruning (``slice(None)`` when all do: views, no copies), ``u`` is aligned with
    them, ``gamma`` has one entry per counts row of ``ngrams[k-1]`` (0 where it is no context)
    and ``contexts`` lists the rows of ``ngrams[k-1]`` that are contexts.
    """

    order: int
    u: np.ndarray
    gamma: np.ndarray | float
    rows: slice | np.ndarray | None = None
    contexts: np.ndarray | None = None


def initial_probabilities(counts: NgramCounts, adjusted: list[np.ndarray], discounts: list[Discounts],
                          thresholds: list[int]) -> Iterator[InitialProbabilities]:
    """The initial probabilities of every order, the unigrams first, computed one order at a time
    as they are consumed; ``thresholds[k]`` is order k+1's pruning threshold (:mod:`.prune`).
    ``adjusted`` is consumed: each order's entry is set to None when its stage is computed, so
    that the adjusted counts of the orders done are freed while the interpolation builds the
    tables (the peak)."""
    yield initial_unigrams(counts, _take(adjusted, 0), discounts[0])
    for k in range(1, counts.order):
        # no name here holds the stage yielded or the counts taken: each is freed once its consumer is done
        yield initial_order(counts, k, _take(adjusted, k), discounts[k], counts.counts[k] > thresholds[k])


def _take(items: list, k: int):
    """``items[k]``, which the list lets go of (set to None)."""
    item, items[k] = items[k], None
    return item


def initial_unigrams(counts: NgramCounts, adjusted: np.ndarray, d: Discounts) -> InitialProbabilities:
    """u(w) over the whole vocabulary and gamma of the empty context."""
    a = np.zeros(counts.vocab_size, dtype=np.int64)
    a[counts.ngrams[0][:, 0]] = adjusted
    denominator = a.sum()
    discount = discount_of(a, d)
    return InitialProbabilities(order=1, u=(a - discount) / denominator, gamma=discount.sum() / denominator)


def initial_order(counts: NgramCounts, k: int, adjusted: np.ndarray, d: Discounts,
                  keep: np.ndarray) -> InitialProbabilities:
    """u of the kept n-grams of ``ngrams[k]`` (``keep``) and gamma of every context of order k."""
    prefix = counts.prefixes[k]
    m_prev = len(counts.ngrams[k - 1])
    # float64 arrays of the order's length are the peak of a fit: each is reused in place once
    # its value is no longer needed, and masses are only copied when pruning changes them
    den = np.bincount(prefix, weights=adjusted, minlength=m_prev).astype(np.float64, copy=False)  # int64 when empty
    discount = discount_of(adjusted, d)
    pruned = not keep.all()
    mass = np.where(keep, discount, adjusted) if pruned else discount  # pruned n-grams give all their mass
    gamma = np.bincount(prefix, weights=mass, minlength=m_prev).astype(np.float64, copy=False)  # int64 when empty
    del mass
    is_context = den > 0
    contexts = np.flatnonzero(is_context)
    np.divide(gamma, den, out=gamma, where=is_context)
    del is_context
    if pruned:
        rows = np.flatnonzero(keep)
        u = (adjusted[rows] - discount[rows]) / den[prefix[rows]]
    else:
        rows = slice(None)
        u = np.subtract(adjusted, discount, out=discount)
        u /= den[prefix]
    return InitialProbabilities(order=k + 1, u=u, gamma=gamma, rows=rows, contexts=contexts)
