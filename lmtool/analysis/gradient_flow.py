"""Gradient flow through time: how strongly the loss at t reaches back to the recurrent state at t - k.

For a recurrent model, the mean over sampled windows of ||d loss_t / d s_(t-k)|| for k = 0..K,
where s is the whole recurrent state (:mod:`lmtool.neural.memory` computes it with torch). A
tanh SRN's curve falls geometrically with k (the vanishing gradient of Bengio et al. 1994):
its training signal cannot tie a prediction to a symbol k steps back, so it stalls at what an
n-gram of its reach would do; an LSTM's or GRU's additive state update keeps the curve up
(Hochreiter and Schmidhuber 1997). Measured at initialisation (the weights the training seed
gives) and after training, on the same windows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lmtool.analysis.plots import finish_line_plot, pyplot
from lmtool.errors import ModelFileError, UsageError


@dataclass
class GradientFlow:
    """Mean state-gradient norm by distance k = 0..span, per network (e.g. at initialisation, trained)."""

    span: int
    windows: int
    curves: dict  # label -> list of span + 1 mean norms (index k)

    def to_json(self) -> dict:
        return asdict(self)


def require_rnn(name: str, model) -> None:
    """Gradients through time need a recurrent state: refuse any other kind of model file."""
    if model.kind != "rnn":
        raise ModelFileError(f"{name}: an {model.kind} model has no recurrent state to take gradients through; "
                             "give an RNN model file (lmtool train-rnn writes one)")


def gradient_flow(model, split, *, span: int = 50, positions: int = 256, seed: int = 0,
                  initial: bool = True, name: str = "model") -> GradientFlow:
    """The trained ``model``'s curve on ``split`` (windows of ``span`` + 1 inputs), and with ``initial`` the
    curve of the same network at initialisation (the seed its training recorded, else 0), on the same windows."""
    from lmtool.neural.memory import initial_network, sample_gradient_norms

    require_rnn(name, model)
    if span < 1 or positions < 1:
        raise UsageError(f"--span and --positions must be at least 1 (got {span}, {positions})")
    curves = {}
    if initial:
        seed_used = model.meta.get("training", {}).get("options", {}).get("seed", 0)
        net = initial_network(model.net.config, seed_used)
        curves["initialisation"] = sample_gradient_norms(net, split.ids, span, positions, seed).mean(axis=0).tolist()
    norms = sample_gradient_norms(model.net, split.ids, span, positions, seed)
    curves["trained"] = norms.mean(axis=0).tolist()
    return GradientFlow(span, len(norms), curves)


def summary_rows(flow: GradientFlow, distances=None) -> tuple[list[dict], dict]:
    """Rows of the mean norm at a few distances (powers of two up to the span), for a text table."""
    ks = distances or sorted({0, *(2 ** i for i in range(int(np.log2(flow.span)) + 1)), flow.span})
    columns = {"k": "k", **{label: label for label in flow.curves}}
    rows = [{"k": k, **{label: float(curve[k]) for label, curve in flow.curves.items()}} for k in ks]
    return rows, columns


def plot_gradient_flow(curves: dict, path: str | Path, *, title: str = "", marks: dict | None = None) -> None:
    """Mean norm against k (log y), one line per ``{label: norms}``; ``marks`` draws labelled vertical lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, norms in curves.items():
        ax.plot(np.arange(len(norms)), np.maximum(np.asarray(norms, dtype=float), 1e-30), label=label)
    for label, k in (marks or {}).items():
        ax.axvline(k, color="gray", linestyle=":", label=label)
    ax.set_yscale("log")
    finish_line_plot(fig, ax, path, "k (steps back from the predicted token)", "mean ||d loss_t / d state_(t-k)||",
                     title or "Gradient flow through time")
