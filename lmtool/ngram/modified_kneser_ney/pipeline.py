"""The stages of :mod:`lmtool.ngram.modified_kneser_ney` run in lmplz's order, from raw counts to
backoff tables."""

from __future__ import annotations

from lmtool.errors import DataError
from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.modified_kneser_ney.adjust import adjusted_counts
from lmtool.ngram.modified_kneser_ney.discounts import Discounts, order_discounts
from lmtool.ngram.modified_kneser_ney.initial import initial_probabilities
from lmtool.ngram.modified_kneser_ney.interpolate import interpolate
from lmtool.ngram.modified_kneser_ney.prune import prune_thresholds
from lmtool.ngram.tables import BackoffTables


def check_vocabulary(vocab_size: int) -> None:
    """A :class:`DataError` when the vocabulary has no word to estimate (only ``<unk> <s> </s>``)."""
    if vocab_size < 4:
        raise DataError("the vocabulary has no word besides <unk>, <s> and </s>: the training text is empty")


def estimate_modified_kneser_ney(
    counts: NgramCounts,
    *,
    prune: list[int] | str | None = None,
    discount_fallback: bool = False,
    discounts: list[Discounts] | None = None,
) -> tuple[BackoffTables, dict]:
    """Interpolated modified Kneser-Ney tables (lmplz's model) from raw counts.

    Returns the tables and ``{"discounts": [(D1, D2, D3+) per order], "fallback_orders": [...]}``.
    ``discounts`` fixes them instead of estimating them.
    """
    check_vocabulary(counts.vocab_size)
    thresholds = prune_thresholds(prune, counts.order)
    adjusted = adjusted_counts(counts)
    chosen, fallback_orders = order_discounts(counts, adjusted, discount_fallback, discounts)
    tables = interpolate(counts, initial_probabilities(counts, adjusted, chosen, thresholds))
    if not any(thresholds):  # every counted n-gram is listed: above the unigrams, table rows are counts rows
        tables.prefixes = counts.prefixes
    # every suffix of a counted n-gram is counted, and pruning keeps it (its count is no lower,
    # its order's threshold no higher): scoring and the model file need not look for it
    tables.suffix_closed = True
    return tables, {"discounts": chosen, "fallback_orders": fallback_orders}
