"""Interpolated modified Kneser-Ney, exactly as KenLM's ``lmplz`` computes it, in lmplz's stages.

The pipeline reads top to bottom as lmplz's builder (lm/builder) runs it, one module a stage,
each a handful of array operations over every n-gram of an order at once:

0. **count** (:mod:`lmtool.ngram.counting`, shared by every method): raw counts of orders
   1..N and the prefix/suffix links between orders.
1. **adjust** (:mod:`.adjust`): adjusted counts, i.e. continuation counts at the lower orders.
2. **discounts** (:mod:`.discounts`): D1, D2, D3+ per order from counts-of-counts (or the
   fallback, or fixed triples).
3. **initial probabilities** (:mod:`.initial`): ``u(w|h)`` and ``gamma(h)`` per order, with the
   pruned n-grams (:mod:`.prune`) giving their mass to ``gamma``.
4. **interpolate** (:mod:`.interpolate`): ``p(w|h) = u(w|h) + gamma(h) p(w|h[1:])`` from the
   unigrams up, into log10 backoff tables, which :mod:`lmtool.ngram.storage` and
   :mod:`lmtool.ngram.arpa` write.

The stages run in :mod:`.pipeline`, which the package's names load on first use: checking
``--prune`` (:mod:`.prune`) imports none of the stages.

``kneser-ney`` (one discount per order) is this estimator with ``D1 = D2 = D3+``: pass
``discounts=[(D, D, D), ...]``.
"""

from __future__ import annotations

from lmtool.lazy import lazy_names

__getattr__ = lazy_names(__name__, {name: f"{__name__}.pipeline" for name in ("check_vocabulary",
                                                                             "estimate_modified_kneser_ney")})

__all__ = ["check_vocabulary", "estimate_modified_kneser_ney"]
