"""Interpolated Kneser-Ney with one discount per order (Kneser & Ney 1995; Chen & Goodman 1998).

It is :func:`lmtool.ngram.modified_kneser_ney.estimate_modified_kneser_ney` (KenLM's stages) with
D1 = D2 = D3+ = D for each order, so the two share every line that matters:

- adjusted counts a: raw counts at the highest order; at lower orders the continuation count
  N1+(. h w) (distinct words seen before h w), except n-grams starting with ``<s>``, which keep
  their raw counts;
- D = n1 / (n1 + 2 n2) from the counts-of-counts of each order's adjusted counts (or the
  ``discount`` given, for every order; 0.5 with a warning when n1 or n2 is 0);
- p(w|h) = (a(hw) - D) / sum_v a(hv) + gamma(h) p(w|h[1:]), gamma(h) = D T(h) / sum_v a(hv),
  and the unigrams interpolate with the uniform distribution over the V-1 predictable ids.

``nltk.lm.KneserNeyInterpolated`` differs: fixed D = 0.1, no uniform at the unigram level (so
unseen words get 0), n-1 ``<s>`` of padding, and continuation counts for ``<s>``-initial n-grams.
"""

from __future__ import annotations

from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.estimators._grouping import require_tokens, single_discount
from lmtool.ngram.modified_kneser_ney import estimate_modified_kneser_ney
from lmtool.ngram.modified_kneser_ney.adjust import adjusted_counts
from lmtool.ngram.tables import BackoffTables


def kneser_ney_discounts(counts: NgramCounts) -> list[float]:
    """The estimated D of every order, from the adjusted counts (index k for order k+1)."""
    return [single_discount(a[a > 0], k + 1, "kneser-ney") for k, a in enumerate(adjusted_counts(counts))]


def estimate_kneser_ney(counts: NgramCounts, discount: float | None = None) -> tuple[BackoffTables, dict]:
    """Interpolated Kneser-Ney tables and ``{"discounts": [D per order]}`` (see the module docstring)."""
    require_tokens(counts)
    discounts = [discount] * counts.order if discount is not None else kneser_ney_discounts(counts)
    tables, _ = estimate_modified_kneser_ney(counts, discounts=[(d, d, d) for d in discounts])
    return tables, {"discounts": discounts}
