"""Per-token attribution between two models: where, in bits, model B gains on model A.

Both models score the same ids with lmtool's token accounting (:mod:`lmtool.evaluate`); the
gain of B at a token is ``log2 p_B - log2 p_A`` bits (positive where B is better). Its sum over
the split is the difference of the two cross-entropies times the number of tokens. Each
grouping below puts every token in exactly one group, so every grouping's rows add up to that
total (the tests check it):

- ``frequency``: how often the token occurs in the training split (``<unk>`` stands for all
  the rare words it replaced, so it has its own row);
- ``novelty``: the longest n for which the token's n-gram (its context and itself, within the
  sentence, ``<s>`` first) occurs in the training text, up to ``novelty_order``; 0 when the
  token itself never occurs (:func:`lmtool.ngram.counting.seen_lengths`). Low novelty is where
  counting has nothing to go on;
- ``distance``: tokens since the same token last occurred in the evaluated text (the cache
  effect of Kuhn and De Mori 1990), or its first occurrence;
- ``position``: the token's position in its sentence (1 = the first word; ``</s>`` counts);
  left out for one continuous text (stream units).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lmtool.analysis.plots import pyplot, save_figure
from lmtool.errors import DataError, UsageError
from lmtool.lm import LN2
from lmtool.ngram.counting import count_ngrams, seen_lengths
from lmtool.text import UNK_ID

GROUPINGS = ("frequency", "novelty", "distance", "position")
#: lower edges of the frequency, distance and position buckets (each bucket runs to the next edge)
FREQUENCY_EDGES = (0, 1, 10, 100, 1000, 10000)
DISTANCE_EDGES = (1, 5, 20, 100, 500, 2000)
POSITION_EDGES = (1, 2, 3, 4, 7, 11, 21, 41)
COLUMNS = {"group": "group", "tokens": "tokens", "share": "share%", "bits_gained": "bits gained",
           "bits_per_token": "bits/token gained", "bits_a": "A bits/token", "bits_b": "B bits/token"}


@dataclass
class Attribution:
    """The gain of ``model_b`` over ``model_a`` on one split, in total and grouped."""

    model_a: str
    model_b: str
    tokens: int
    bits_a: float  # -sum log2 p_A over the split
    bits_b: float
    bits_gained: float  # bits_a - bits_b: what B saves over the split
    groups: dict[str, list[dict]] = field(default_factory=dict)  # grouping -> rows (see COLUMNS)

    def to_json(self) -> dict:
        return asdict(self)


def range_labels(edges, last: str = "+") -> list[str]:
    """``(1, 5, 20)`` as ``["1-4", "5-19", "20+"]`` (a one-value bucket is just the value)."""
    labels = []
    for low, high in zip(edges, list(edges[1:]) + [None]):
        if high is None:
            labels.append(f"{low:,}{last}")
        else:
            labels.append(f"{low:,}" if high - low == 1 else f"{low:,}-{high - 1:,}")
    return labels


def bucket(values: np.ndarray, edges) -> np.ndarray:
    """Index of the bucket of each value: the last edge not above it."""
    return np.searchsorted(np.asarray(edges), values, side="right") - 1


def distances(ids: np.ndarray) -> np.ndarray:
    """Tokens since the previous occurrence of the same id (0 at its first occurrence)."""
    ids = np.asarray(ids)
    order = np.argsort(ids, kind="stable")  # positions grouped by id, increasing within each id
    out = np.zeros(len(ids), dtype=np.int64)
    same = ids[order[1:]] == ids[order[:-1]]
    out[order[1:][same]] = order[1:][same] - order[:-1][same]
    return out


def positions_in_segment(starts: np.ndarray) -> np.ndarray:
    """1-based position of every token in its segment."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.diff(starts)
    return np.arange(starts[-1] - starts[0], dtype=np.int64) - np.repeat(starts[:-1] - starts[0], lengths) + 1


def token_groups(split, train, vocab_size: int, novelty_order: int) -> dict[str, tuple[np.ndarray, list[str]]]:
    """For each grouping, the group index of every token of ``split`` and the groups' labels.

    ``train`` (the training split, same vocabulary) is needed for frequency and novelty; without
    it those groupings are left out, and position without sentences.
    """
    ids = np.asarray(split.ids, dtype=np.int64)
    groups = {}
    if train is not None:
        counts = np.bincount(np.asarray(train.ids, dtype=np.int64), minlength=vocab_size)[ids]
        index = np.where(ids == UNK_ID, len(FREQUENCY_EDGES), bucket(counts, FREQUENCY_EDGES))
        groups["frequency"] = (index, range_labels(FREQUENCY_EDGES) + ["<unk>"])
        grams = count_ngrams(train.ids, train.starts, novelty_order, vocab_size)
        seen = seen_lengths(grams, ids, split.starts)
        groups["novelty"] = (seen, [f"{n}" for n in range(novelty_order + 1)])
    gaps = distances(ids)
    groups["distance"] = (np.where(gaps == 0, len(DISTANCE_EDGES), bucket(np.maximum(gaps, 1), DISTANCE_EDGES)),
                          range_labels(DISTANCE_EDGES) + ["first in text"])
    if split.n_segments > 1:  # one continuous text (stream units) has no sentences
        groups["position"] = (bucket(positions_in_segment(split.starts), POSITION_EDGES), range_labels(POSITION_EDGES))
    return groups


def attribute(log_probs_a: np.ndarray, log_probs_b: np.ndarray, split, train=None, *, vocab_size: int,
              names: tuple[str, str] = ("A", "B"), novelty_order: int = 5) -> Attribution:
    """Group the per-token gain of B over A (natural-log scores of the same ``split`` ids)."""
    a = np.asarray(log_probs_a, dtype=np.float64)
    b = np.asarray(log_probs_b, dtype=np.float64)
    n = len(a)
    if n == 0:
        raise DataError("the split is empty: there is nothing to attribute")
    if len(b) != n or n != split.n_tokens:
        raise UsageError("the two models' scores cover different tokens: score one split with one vocabulary")
    if novelty_order < 1:
        raise UsageError(f"--novelty-order must be at least 1, got {novelty_order}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("a model gives some token probability 0: its gain there is infinite; "
                        "compare smoothed models (not mle)")
    bits_a, bits_b = -a / LN2, -b / LN2
    gain = bits_a - bits_b  # (N,)
    result = Attribution(names[0], names[1], n, float(bits_a.sum()), float(bits_b.sum()), float(gain.sum()))
    for name, (index, labels) in token_groups(split, train, vocab_size, novelty_order).items():  # empty groups left out
        size = len(labels)
        tokens = np.bincount(index, minlength=size)
        sums = [np.bincount(index, weights=w, minlength=size) for w in (gain, bits_a, bits_b)]
        result.groups[name] = [
            {"group": label, "tokens": int(tokens[g]), "share": tokens[g] / n, "bits_gained": float(sums[0][g]),
             "bits_per_token": float(sums[0][g] / tokens[g]), "bits_a": float(sums[1][g] / tokens[g]),
             "bits_b": float(sums[2][g] / tokens[g])}
            for g, label in enumerate(labels) if tokens[g]]
    return result


def summary_line(result: Attribution) -> str:
    """The total the groups add up to, in bits and in cross-entropy."""
    per = result.bits_gained / result.tokens
    better = result.model_b if per > 0 else result.model_a
    return (f"{result.model_b} vs {result.model_a} over {result.tokens:,} tokens: {result.bits_gained:+,.1f} bits "
            f"({per:+.4f} bits/token: {result.bits_a / result.tokens:.4f} -> {result.bits_b / result.tokens:.4f}); "
            f"{better} is better; each grouping's rows add up to this total")


GROUP_TITLES = {"frequency": "training frequency of the token", "novelty": "longest n-gram seen in training",
                "distance": "tokens since the same token last occurred", "position": "position in the sentence"}


def plot_attribution(result: Attribution, path: str | Path) -> None:
    """One bar chart per grouping: total bits gained by B in each group (above zero: B better)."""
    plt = pyplot()
    names = list(result.groups)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        rows = result.groups[name]
        values = [r["bits_gained"] for r in rows]
        ax.bar(range(len(rows)), values, color=["tab:blue" if v >= 0 else "tab:orange" for v in values])
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r["group"] for r in rows], rotation=45, ha="right", fontsize=7)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(GROUP_TITLES.get(name, name), fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"bits gained by {result.model_b}", fontsize=8)
    fig.suptitle(f"{result.model_b} vs {result.model_a}: {result.bits_gained:+,.0f} bits in all", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
