"""Pruning thresholds of modified Kneser-Ney, as ``lmplz --prune`` takes them: parsed and checked here once.

``prune=[0, 1, 1]`` (or the text ``"0 1 1"`` / ``"0,1,1"`` that ``fit-ngram --prune`` passes
through) drops every n-gram of order k >= 2 whose raw count is at most ``prune[k-1]``; the last
threshold repeats for higher orders. Unigrams are never pruned (the first threshold must be 0),
and thresholds must be non-decreasing so that every kept n-gram keeps its prefix and suffix.
The pruned n-grams still count in the adjusted counts and the discounts; the initial
probabilities give their mass to the backoff (:mod:`.initial`).
"""

from __future__ import annotations

from typing import Any

from lmtool.errors import UsageError


def check_prune(name: str, value: Any) -> list[int] | None:
    """The thresholds in ``value`` (a sequence of integers or a text of them separated by spaces
    or commas) as a list, or None for no pruning; a :class:`UsageError` naming ``--name`` otherwise."""
    parts = value.replace(",", " ").split() if isinstance(value, str) else value
    try:
        values = [int(v) for v in parts] if parts is not None else []
    except (TypeError, ValueError):
        raise UsageError(f"--{name} takes integer thresholds such as '0 1 1', got {value!r}") from None
    if not values:
        return None
    if any(p < 0 for p in values):
        raise UsageError(f"--{name} thresholds must be >= 0, got {values}")
    if values[0] != 0:
        raise UsageError(f"unigram pruning is not supported: the first --{name} threshold must be 0, got {values}")
    if any(b < a for a, b in zip(values, values[1:])):
        raise UsageError(f"--{name} thresholds must be non-decreasing (like lmplz), got {values}")
    return values


def prune_thresholds(prune: Any, order: int) -> list[int]:
    """Per-order thresholds (index k for order k+1), the last given one repeated; 0 (keep all)
    without pruning."""
    values = check_prune("prune", prune)
    if values is None:
        return [0] * order
    return (values + [values[-1]] * order)[:order]
