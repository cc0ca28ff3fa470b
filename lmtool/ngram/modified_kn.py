"""Interpolated modified Kneser-Ney, exactly as KenLM's ``lmplz`` computes it.

The stages follow lmplz (lm/builder: adjust_counts.cc, initial_probabilities.cc,
interpolate.cc), each a handful of array operations over every n-gram of an order at once:

1. **Adjusted counts** ``a``. Highest order: raw counts. Lower orders: the number of distinct
   words seen before the n-gram (continuation counts), except n-grams that begin with ``<s>``,
   which keep their raw counts (nothing can precede ``<s>``). The ``<s>`` unigram gets 0.
2. **Discounts** per order from the counts-of-counts ``n1..n4`` of the adjusted counts (pruned
   n-grams included), Chen & Goodman eq. 26: ``Y = n1 / (n1 + 2 n2)``,
   ``D_j = j - (j + 1) Y n_{j+1} / n_j``. When some ``n_j`` is 0 or some ``D_j`` falls outside
   ``[0, j]`` the order takes the fallback discounts (lmplz ``--discount_fallback``:
   D1 0.5, D2 1.0, D3+ 1.5) with a warning, or, without the fallback, a :class:`DataError`.
3. **Initial probabilities** per context ``h``: ``u(w|h) = (a(hw) - D(a(hw))) / sum_v a(hv)``
   and ``gamma(h) = (sum_j D_j N_j(h.) + pruned mass) / sum_v a(hv)``, where ``N_j(h.)``
   counts the kept continuations with adjusted count j (3 = 3 or more) and the pruned mass is
   the adjusted count of every pruned continuation (so the pruned model stays normalised).
4. **Interpolation** from the unigrams up: ``p(w) = u(w) + gamma() / (V - 1)`` (uniform over
   the vocabulary without ``<s>``; ``<unk>`` with no count gets just that share), and
   ``p(w|h) = u(w|h) + gamma(h) p(w|h[1:])``. The backoff weight of a context is its
   ``gamma``; ``<s>`` gets unigram probability 1 (log10 0, as lmplz writes it).

KenLM quirk, reproduced on purpose: when lmplz finishes its pass over the counts, the last
n-gram of each lower order (the suffixes of the last highest-order n-gram, in its suffix
order over word ids numbered by first appearance) enters the counts-of-counts with its raw
count instead of its adjusted count (adjust_counts.cc, the final flush). On large corpora this
moves no figure; on an 81-symbol character corpus it moves the unigram discounts by 0.03, so
lmtool does the same to produce lmplz's numbers (:func:`kenlm_statistics`).

Pruning (``prune=[0, 1, 1]`` like ``lmplz --prune 0 1 1``): an n-gram of order k >= 2 whose raw
count is at most ``prune[k-1]`` is dropped (the last threshold repeats for higher orders).
Thresholds must be non-decreasing so that every kept n-gram keeps its prefix and suffix.

``kneser-ney`` (one discount per order) is this estimator with ``D1 = D2 = D3+``: pass
``discounts=[(D, D, D), ...]``.
"""

from __future__ import annotations

import logging
import numpy as np

from lmtool.errors import DataError, UsageError
from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.tables import BackoffTables
from lmtool.text import BOS_ID

log = logging.getLogger(__name__)

#: lmplz's --discount_fallback defaults: D1, D2, D3+
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


def adjusted_counts(counts: NgramCounts) -> list[np.ndarray]:
    """Stage 1: KenLM's adjusted counts for every listed n-gram of every order."""
    adjusted = []
    for k in range(counts.order):
        if k == counts.order - 1:
            a = counts.counts[k].copy()
        else:
            a = np.bincount(counts.suffixes[k + 1], minlength=len(counts.ngrams[k])).astype(np.int64)
            bos_initial = counts.ngrams[k][:, 0] == BOS_ID
            a[bos_initial] = counts.counts[k][bos_initial]
        if k == 0:
            a[counts.ngrams[0][:, 0] == BOS_ID] = 0
        adjusted.append(a)
    return adjusted


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


def discounts_from_counts(adjusted: np.ndarray, order: int, fallback: bool) -> tuple[tuple[float, float, float], bool]:
    """Stage 2: (D1, D2, D3+) of one order, and whether the fallback was used."""
    n = np.bincount(np.clip(adjusted, 0, 5), minlength=6)[:5].astype(np.float64)
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


def _discount_of(a: np.ndarray, d: tuple[float, float, float]) -> np.ndarray:
    """D(a) for an array of adjusted counts: 0 for a = 0, D1, D2, D3+ for 1, 2, >= 3."""
    table = np.array([0.0, d[0], d[1], d[2]])
    return table[np.minimum(a, 3)]


def _table_rows(count_row_to_table: np.ndarray | None, count_rows: np.ndarray) -> np.ndarray:
    """Rows in the tables of the counts rows ``count_rows`` (None: the same rows)."""
    return count_rows if count_row_to_table is None else count_row_to_table[count_rows]


def prune_thresholds(prune: list[int] | None, order: int) -> list[int]:
    """Per-order thresholds (index k for order k+1), the last given one repeated; validated."""
    if not prune:
        return [0] * order
    values = [int(p) for p in prune]
    if any(p < 0 for p in values):
        raise UsageError(f"prune thresholds must be >= 0, got {values}")
    if values[0] != 0:
        raise UsageError(f"unigram pruning is not supported: the first --prune threshold must be 0, got {values}")
    if any(b < a for a, b in zip(values, values[1:])):
        raise UsageError(f"prune thresholds must be non-decreasing (like lmplz), got {values}")
    return (values + [values[-1]] * order)[:order]


def estimate_modified_kneser_ney(
    counts: NgramCounts,
    *,
    prune: list[int] | None = None,
    discount_fallback: bool = False,
    discounts: list[tuple[float, float, float]] | None = None,
) -> tuple[BackoffTables, dict]:
    """Interpolated modified Kneser-Ney tables (lmplz's model) from raw counts.

    Returns the tables and ``{"discounts": [(D1, D2, D3+) per order], "fallback_orders": [...]}``.
    ``discounts`` fixes them instead of estimating them.
    """
    order, vocab = counts.order, counts.vocab_size
    if vocab < 4:
        raise DataError("the vocabulary has no word besides <unk>, <s> and </s>: the training text is empty")
    thresholds = prune_thresholds(prune, order)
    adjusted = adjusted_counts(counts)
    statistics = kenlm_statistics(counts, adjusted)
    if discounts is not None:
        if len(discounts) != order:
            raise UsageError(f"need one discount triple per order ({order}), got {len(discounts)}")
        chosen, fallback_orders = [tuple(float(x) for x in d) for d in discounts], []
    else:
        chosen, fallback_orders = [], []
        for k in range(order):
            d, fell_back = discounts_from_counts(statistics[k], k + 1, discount_fallback)
            chosen.append(d)
            if fell_back:
                fallback_orders.append(k + 1)

    # kept[k]: n-grams surviving pruning (raw count above the order's threshold)
    kept = [np.ones(len(counts.ngrams[0]), dtype=bool)]
    kept += [counts.counts[k] > thresholds[k] for k in range(1, order)]

    # unigrams over the whole vocabulary (ids absent from training have count 0)
    a0 = np.zeros(vocab, dtype=np.int64)
    a0[counts.ngrams[0][:, 0]] = adjusted[0]
    denominator = a0.sum()
    d0 = _discount_of(a0, chosen[0])
    gamma0 = d0.sum() / denominator
    p = (a0 - d0) / denominator + gamma0 / (vocab - 1)
    p[BOS_ID] = 1.0
    probs = [p]
    backoffs = [np.ones(vocab)]
    ngrams = [np.arange(vocab, dtype=np.int32)[:, None]]
    # count_row_to_table[k][r]: row in the tables of counts row r (-1 if pruned), or None when the
    # order lost nothing to pruning (the rows are the same); unigram rows are ids
    count_row_to_table: list[np.ndarray | None] = [counts.ngrams[0][:, 0].astype(np.int64)]
    for k in range(1, order):
        a = adjusted[k]
        prefix = counts.prefixes[k]
        m_prev = len(counts.ngrams[k - 1])
        den = np.bincount(prefix, weights=a, minlength=m_prev).astype(np.float64)  # int64 when empty
        keep = kept[k]
        discount = _discount_of(a, chosen[k])
        mass = np.where(keep, discount, a)  # pruned n-grams give all their mass
        gamma = np.bincount(prefix, weights=mass, minlength=m_prev).astype(np.float64)  # int64 when empty
        contexts = np.flatnonzero(den > 0)
        gamma[contexts] /= den[contexts]
        # the context's backoff weight is its gamma (tables rows of order k-1; a pruned context
        # has none)
        context_rows = _table_rows(count_row_to_table[k - 1], contexts)
        listed = context_rows >= 0
        backoffs[k - 1][context_rows[listed]] = gamma[contexts[listed]]
        if keep.all():
            rows, to_table = slice(None), None  # views, no copies
        else:
            rows = np.flatnonzero(keep)
            to_table = np.full(len(a), -1, dtype=np.int64)
            to_table[rows] = np.arange(len(rows))
        kept_prefix = prefix[rows]
        u = (a[rows] - discount[rows]) / den[kept_prefix]
        lower = probs[k - 1][_table_rows(count_row_to_table[k - 1], counts.suffixes[k][rows])]
        probs.append(u + gamma[kept_prefix] * lower)
        backoffs.append(np.ones(len(u)))
        ngrams.append(counts.ngrams[k][rows])
        count_row_to_table.append(to_table)
    with np.errstate(divide="ignore"):  # p(<s>) = 0 is meant: log10 -inf (ARPA writes it -99)
        log10_probs = [np.minimum(0.0, np.log10(p, out=p), out=p) for p in probs]  # in place: p is ours
        log10_backoffs = [np.log10(b) for b in backoffs]
    tables = BackoffTables(order=order, vocab_size=vocab, ngrams=ngrams, log10_probs=log10_probs,
                           log10_backoffs=log10_backoffs)
    return tables, {"discounts": chosen, "fallback_orders": fallback_orders}
