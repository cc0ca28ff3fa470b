"""Context-length curves: a model's perplexity when it may see only the last K tokens.

For a recurrent model this is the method of Khandelwal et al. (2018, "Sharp Nearby, Fuzzy Far
Away"): every scored target is predicted from a fresh state that reads exactly the K inputs
before it (:meth:`lmtool.lm.LanguageModel.score_contexts`). Two regimes:

- per-sentence (``reset_per_sentence`` in line units): windows stop at the sentence start, so a
  K at least as long as the sentence gives the ordinary per-sentence score, and every target is
  scored for every K;
- carried (and stream units): windows run back across sentence boundaries; the first
  max(K) - 1 targets, which have fewer inputs before them, are skipped, so that every K scores
  the same targets (Khandelwal et al. do the same).

A model of bounded context (an n-gram of order n sees K = n - 1 tokens, ``<s>`` counted; a
neural n-gram its window) gives one point, and is flat beyond it: the n-grams of several
orders draw the staircase. ``full`` is each model's ordinary score on the same targets. Long
texts can be sampled (``positions``): the targets are drawn uniformly without replacement,
seeded, and the sample size travels with the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lmtool.analysis.corpus import check_one_vocabulary
from lmtool.analysis.plots import finish_line_plot, pyplot
from lmtool.errors import DataError, UsageError
from lmtool.lm import perplexity

#: the contexts of the curve unless told otherwise: powers of two, as Khandelwal et al. plot them
DEFAULT_CONTEXTS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass
class ContextCurve:
    """Perplexity by context length for each model, over one set of targets."""

    contexts: list[int]
    regime: str  # "per-sentence", "carried" or "stream" (see the module docstring)
    tokens: int  # tokens of the split
    eligible: int  # targets every K can score
    scored: int  # targets scored: all eligible ones, or a sample of them
    rows: list[dict]  # per model: model, kind, method (n-grams), context_size, perplexity (one per K,
    #                   None below its context), bits_per_token (per K), full, full_bits

    def to_json(self) -> dict:
        return asdict(self)


def parse_contexts(text: str) -> list[int]:
    """``"1,2,4,8"`` as sorted distinct context lengths, each at least 1."""
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise UsageError(f"--contexts takes whole numbers like 1,2,4,8, got {text!r}") from None
    if not values or values[0] < 1:
        raise UsageError(f"every context K must be at least 1 token, got {text!r}")
    return values


def choose_targets(n_tokens: int, skip: int, positions: int | None, seed: int) -> tuple[np.ndarray, int]:
    """The target positions to score and how many were eligible: all from ``skip`` on, or a sample."""
    if n_tokens == 0:
        raise DataError("the split is empty: there is nothing to score")
    eligible = np.arange(skip, n_tokens, dtype=np.int64)
    if len(eligible) == 0:
        raise DataError(f"the split has {n_tokens} tokens, no more than the largest context needs before a "
                        f"target ({skip}): give smaller contexts or a longer split")
    if positions is not None and positions < 1:
        raise UsageError(f"--positions must be at least 1, got {positions}")
    if positions is None or positions >= len(eligible):
        return eligible, len(eligible)
    picked = np.random.default_rng(seed).choice(len(eligible), size=positions, replace=False)
    return eligible[np.sort(picked)], len(eligible)


def context_curve(models: dict, split, contexts, *, reset_per_sentence: bool = True, positions: int | None = None,
                  seed: int = 0, scores: dict | None = None) -> ContextCurve:
    """The curve of every model of ``{name: LanguageModel}`` (one vocabulary) on the encoded ``split``.

    ``scores`` may hold models' ordinary scores of the whole split (:meth:`score` with the same
    ``reset_per_sentence``) when the caller has them already.
    """
    contexts = sorted({int(k) for k in contexts})
    if not contexts or contexts[0] < 1:
        raise UsageError(f"every context K must be at least 1 token, got {contexts}")
    check_one_vocabulary(models)
    unit = next(iter(models.values())).unit
    regime = "stream" if unit == "stream" else "per-sentence" if reset_per_sentence else "carried"
    skip = 0 if regime == "per-sentence" else contexts[-1] - 1
    targets, eligible = choose_targets(int(split.n_tokens), skip, positions, seed)
    rows = []
    for name, model in models.items():
        if not model.normalised:
            raise UsageError(f"{name} gives scores, not probabilities (stupid backoff): it has no perplexity curve")
        whole = (scores or {}).get(name)
        full = (whole if whole is not None else model.score(split, reset_per_sentence=reset_per_sentence))[targets]
        bound = model.context_size
        usable = [k for k in contexts if bound is None or k >= bound]
        truncated = (model.score_contexts(split, usable, targets, reset_per_sentence=reset_per_sentence)
                     if usable else np.empty((0, len(targets))))
        by_k = dict(zip(usable, truncated))
        rows.append({"model": name, "kind": model.kind, "method": getattr(model, "method", None), "context_size": bound,
                     "perplexity": [perplexity(by_k[k])[1] if k in by_k else None for k in contexts],
                     "bits_per_token": [perplexity(by_k[k])[0] if k in by_k else None for k in contexts],
                     "full": perplexity(full)[1], "full_bits": perplexity(full)[0]})
    return ContextCurve(contexts, regime, int(split.n_tokens), eligible, len(targets), rows)


def curve_table(curve: ContextCurve) -> tuple[list[dict], dict]:
    """The curve as table rows and columns for :func:`lmtool.evaluate.render_table`."""
    columns = {"model": "model", "kind": "kind", "sees": "sees"}
    columns.update({f"k{k}": f"K={k}" for k in curve.contexts})
    columns["full"] = "full"
    rows = []
    for row in curve.rows:
        out = {"model": row["model"], "kind": row["kind"],
               "sees": "all" if row["context_size"] is None else str(row["context_size"])}
        out.update({f"k{k}": "-" if p is None else p for k, p in zip(curve.contexts, row["perplexity"])})
        out["full"] = row["full"]
        rows.append(out)
    return rows, columns


def describe_sample(curve: ContextCurve) -> str:
    """One line saying which targets the figures are over (the sample size, the regime)."""
    sample = (f"all {curve.scored:,} eligible targets" if curve.scored == curve.eligible
              else f"a sample of {curve.scored:,} of {curve.eligible:,} eligible targets")
    skipped = curve.tokens - curve.eligible
    windows = {"per-sentence": "windows stop at the sentence start",
               "carried": "windows cross sentence boundaries",
               "stream": "one continuous text"}[curve.regime]
    extra = f"; the first {skipped:,} skipped so every K scores the same targets" if skipped else ""
    return f"Perplexity over {sample} of {curve.tokens:,} tokens ({windows}{extra})"


def plot_context_curve(curve: ContextCurve, path: str | Path, *, floor: float | None = None,
                       title: str = "") -> None:
    """Perplexity against context K (symmetric-log x, so an n-gram's K = 0 shows): n-grams as a
    staircase, other bounded models flat beyond their window, unbounded ones as a curve with
    their full-context value dashed, and the entropy floor where known."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ks = np.array(curve.contexts, dtype=float)
    right = ks[-1] * 1.5
    staircases = {}  # one per smoothing method
    for row in curve.rows:
        if row["kind"] == "ngram":
            staircases.setdefault(row["method"], []).append(row)
    for (method, rows), colour in zip(staircases.items(), ["tab:blue", "tab:cyan", "tab:olive", "tab:gray"] * 9):
        rows = sorted(rows, key=lambda r: r["context_size"])
        xs, ys = [r["context_size"] for r in rows], [r["full"] for r in rows]
        ax.step(xs + [right], ys + ys[-1:], where="post", color=colour, label=f"{method} n-grams (K = order - 1)")
        ax.plot(xs, ys, "o", color=colour)
    colours = iter(["tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink"])
    for row in curve.rows:
        if row["kind"] == "ngram":
            continue
        colour = next(colours, "tab:gray")
        if row["context_size"] is not None:
            ax.plot([row["context_size"], right], [row["full"]] * 2, "-", marker="o", markevery=[0],
                    color=colour, label=f"{row['model']} (sees {row['context_size']})")
            continue
        points = [(k, p) for k, p in zip(ks, row["perplexity"]) if p is not None]
        ax.plot(*zip(*points), "-", marker="o", color=colour, label=f"{row['model']}, last K tokens")
        ax.axhline(row["full"], color=colour, linestyle="--", label=f"{row['model']}, full context ({row['full']:.2f})")
    if floor is not None:
        ax.axhline(floor, color="black", linestyle=":", label=f"entropy floor ({floor:.3f})")
    ax.set_xscale("symlog", linthresh=1)
    ticks = [0] + [k for k in curve.contexts]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks], fontsize=8)
    ax.set_xlim(-0.2, right)
    finish_line_plot(fig, ax, path, "context K (tokens the model may see)", "perplexity",
                     title or "Perplexity by context length")
