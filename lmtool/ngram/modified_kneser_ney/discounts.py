"""Stage 2 of modified Kneser-Ney: the discounts D1, D2, D3+ of every order (lmplz's adjust_counts.cc).

Per order, from the counts-of-counts ``n1..n4`` of the adjusted counts (pruned n-grams
included), Chen & Goodman eq. 26: ``Y = n1 / (n1 + 2 n2)``, ``D_j = j - (j + 1) Y n_{j+1} / n_j``.
When some ``n_j`` is 0 or some ``D_j`` falls outside ``[0, j]`` the order takes the fallback
discounts (lmplz ``--discount_fallback``: D1 0.5, D2 1.0, D3+ 1.5) with a warning, or, without
the fallback, a :class:`DataError` that names the option.

KenLM quirk, reproduced on purpose: when lmplz finishes its pass over the counts, the last
n-gram of each lower order (the suffixes of the last highest-order n-gram, in its suffix order
over word ids numbered by first appearance) enters the counts-of-counts with its raw count
instead of its adjusted count (adjust_counts.cc, the final flush). On large corpora this moves
no figure; on an 81-symbol character corpus it moves the unigram discounts by 0.03, so lmtool
does the same to produce lmplz's numbers (:func:`kenlm_statistics`).
"""

from __future__ import annotations

import logging

import numpy as np

from lmtool.errors import DataError, UsageError
from lmtool.ngram.counting import NgramCounts, counts_of_counts
from lmtool.text import BOS_ID

log = logging.getLogger(__name__)

#: lmplz's --discount_fallback defaults: D1, D2, D3+
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)

Discounts = tuple[float, float, float]


def order_discounts(counts: NgramCounts, adjusted: list[np.ndarray], fallback: bool,
                    fixed: list[Discounts] | None = None) -> tuple[list[Discounts], list[int]]:
    """(D1, D2, D3+) of every order, and the orders that took the fallback discounts.

    ``fixed`` gives the triples instead of estimating them (``kneser-ney`` passes D, D, D).
    """
    if fixed is not None:
        if len(fixed) != counts.order:
            raise UsageError(f"need one discount triple per order ({counts.order}), got {len(fixed)}")
        return [tuple(float(x) for x in d) for d in fixed], []
    chosen, fallback_orders = [], []
    for k, statistics in enumerate(kenlm_statistics(counts, adjusted)):
        d, fell_back = discounts_from_counts(statistics, k + 1, fallback)
        chosen.append(d)
        if fell_back:
            fallback_orders.append(k + 1)
    return chosen, fallback_orders


def kenlm_statistics(counts: NgramCounts, adjusted: list[np.ndarray]) -> list[np.ndarray]:
    """The counts each order's counts-of-counts are taken over, as lmplz takes them.

    Equal to ``adjusted`` except for the quirk in the module docstring: the chain
    g1 = the unigram seen last for the first time, g_j = the greatest j-gram (by first-appearance
    rank of its first word) whose suffix is g_{j-1}, stopping at an n-gram that starts with
    ``<s>``, gets raw counts, and raw counts of 5 or more are not counted at all.
    """
    stats = [a.copy() for a in adjusted]
    if counts.order < 2 or counts.first_seen is None or len(counts.ngrams[0]) == 0:
        return stats
    rank = counts.first_seen
    row = int(np.argmax(rank[counts.ngrams[0][:, 0]]))
    for k in range(counts.order - 1):
        raw = counts.counts[k][row]
        stats[k][row] = raw if raw < 5 else 5  # 5 stands for "not counted": only n1..n4 are used
        if counts.ngrams[k][row, 0] == BOS_ID or k + 1 == counts.order - 1:
            break
        candidates = np.flatnonzero(counts.suffixes[k + 1] == row)
        if len(candidates) == 0:
            break
        row = int(candidates[np.argmax(rank[counts.ngrams[k + 1][candidates, 0]])])
    return stats


def discounts_from_counts(adjusted: np.ndarray, order: int, fallback: bool) -> tuple[Discounts, bool]:
    """(D1, D2, D3+) of one order from its adjusted counts, and whether the fallback was used."""
    return discounts_from_counts_of_counts(counts_of_counts(adjusted, 4), order, fallback)


def discounts_from_counts_of_counts(n: np.ndarray, order: int, fallback: bool) -> tuple[Discounts, bool]:
    """(D1, D2, D3+) of one order from ``n[c]``, c = 0..4, the counts-of-counts of its adjusted counts
    (summed over partitions by the cluster's fit), and whether the fallback was used."""
    n = np.asarray(n, dtype=np.float64)
    problem = None
    if (n[1:4] == 0).any():
        j = int(np.argmax(n[1:4] == 0)) + 1
        problem = f"no {order}-grams with adjusted count {j}"
    else:
        y = n[1] / (n[1] + 2.0 * n[2])
        d = tuple(float(j - (j + 1) * y * n[j + 1] / n[j]) for j in (1, 2, 3))
        bad = [j for j in (1, 2, 3) if not 0.0 <= d[j - 1] <= j]
        if not bad:
            return d, False
        problem = f"{order}-gram discount out of range for adjusted count {bad[0]}: {d[bad[0] - 1]:.4g}"
    if not fallback:
        raise DataError(
            f"cannot estimate Kneser-Ney discounts ({problem}); the corpus is too small or artificial: "
            "use --discount-fallback (D1=0.5 D2=1 D3+=1.5) or more text"
        )
    log.warning("%s: using fallback discounts D1=0.5 D2=1 D3+=1.5 for order %d", problem, order)
    return FALLBACK_DISCOUNTS, True


def discount_of(adjusted: np.ndarray, d: Discounts) -> np.ndarray:
    """D(a) for an array of adjusted counts: 0 for a = 0, D1, D2, D3+ for 1, 2, >= 3."""
    table = np.array([0.0, d[0], d[1], d[2]])
    return table[np.minimum(adjusted, 3)]
