"""Where memory pays: SRN vs LSTM vs GRU on long-range structure, and the context curve on Brown.

Cells (default; about 10 minutes on 2 cores)::

    .venv/bin/python bench/bench_memory.py --cells --steps 2000 --out memory-bench

On ``gen:repeat:keys=8,fillers=2,gap=G,length=60000`` for G = 10, 20, 40 (a key that must be
repeated G + 1 symbols later), trains a tanh SRN, an LSTM and a GRU of the same size (embedding
16, hidden 64, one layer, Adam 3e-3, BPTT 100 so that truncation never hides the key, batch 32)
for the same number of steps, seeded. For each: the validation bits per character against steps
(the learning curve), beside the exact entropy rate and a modified Kneser-Ney 5-gram fitted on
the same text (the n-gram level, blind to the key); and the gradient flow through time, the mean
||d loss_t / d state_(t-k)|| for k = 0..64 on 256 validation windows, at initialisation and
after training. Prints a table and writes ``cells.png`` and ``cells.json`` to ``--out``.

Brown (the context curve up to K = 64 over the whole test split, timed)::

    NLTK_DATA=../shared/nltk_data .venv/bin/python bench/bench_memory.py --brown brown.rnn --out memory-bench

Fits modified Kneser-Ney n-grams of orders 1 to 5, then the curve of the n-grams and the RNN for
K = 1, 2, 4, ..., 64 over every test token, per sentence (windows stop at the sentence start;
Chelba et al.'s setting) and carried (windows run across sentences; Khandelwal et al.'s), what
a sentence's first word costs in each regime, and the attribution of the RNN's gain over the
5-gram; prints tables with the minutes each took and writes ``brown_*.png`` and ``brown.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("LMTOOL_SHARED", REPO.parent / "shared"))
os.environ.setdefault("NLTK_DATA", str(SHARED / "nltk_data"))

from lmtool.analysis.attribution import COLUMNS, GROUP_TITLES, attribute, plot_attribution, summary_line  # noqa: E402
from lmtool.analysis.context_curve import context_curve, curve_table, describe_sample, plot_context_curve  # noqa: E402
from lmtool.analysis.gradient_flow import gradient_flow  # noqa: E402
from lmtool.analysis.plots import pyplot  # noqa: E402
from lmtool.evaluate import render_table  # noqa: E402
from lmtool.lm import LN2  # noqa: E402
from lmtool.ngram import fit_ngram  # noqa: E402
from lmtool.text import load_corpus  # noqa: E402

CELLS = ("rnn-tanh", "lstm", "gru")
GAPS = (10, 20, 40)
SPAN = 64
BROWN_CONTEXTS = (1, 2, 4, 8, 16, 32, 64)


def train_cell(corpus, cell: str, args, workdir: Path):
    """Train one cell for ``args.steps`` steps; return the model and its (step, valid bits/char) curve."""
    from lmtool.neural import RnnConfig, TrainOptions, load_rnn
    from lmtool.neural.train import train

    config = RnnConfig(vocab_size=len(corpus.vocabulary), cell=cell, emb_size=16, hidden_size=args.hidden, layers=1,
                       dropout_input=0.0, dropout_between=0.0, dropout_output=0.0)
    options = TrainOptions(bptt=100, batch_size=32, optimizer="adam", lr=3e-3, schedule="constant",
                           max_steps=args.steps, valid_every=args.valid_every, patience=0, seed=args.seed)
    curve = []

    def listen(event: dict) -> None:
        if event["event"] == "valid":
            curve.append((event["step"], event["valid_loss"] / LN2))

    path = workdir / f"{cell}.rnn"
    train(corpus, config, options, output=path, checkpoint_dir=workdir / f"{cell}.ckpt", device="cpu",
          threads=args.threads, on_event=listen)
    return load_rnn(path), curve


def cells(args) -> dict:
    """The SRN / LSTM / GRU study on gen:repeat (see the module docstring)."""
    results = {"steps": args.steps, "hidden": args.hidden, "seed": args.seed, "gaps": {}}
    for gap in GAPS:
        spec = f"gen:repeat:keys=8,fillers=2,gap={gap},length=60000"
        corpus = load_corpus(spec)
        valid = corpus.splits["valid"]
        kn5 = fit_ngram(corpus, order=5, discount_fallback=True)
        entry = {"spec": spec, "floor_bits": corpus.entropy_rate_bits,
                 "kn5_bits": -float(np.mean(kn5.score(valid))) / LN2, "cells": {}}
        for cell in CELLS:
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="bench-memory-") as workdir:
                model, curve = train_cell(corpus, cell, args, Path(workdir))
            trained_s = time.perf_counter() - started
            flow = gradient_flow(model, valid, span=SPAN, positions=256, seed=0)
            entry["cells"][cell] = {"curve": curve, "final_bits": curve[-1][1], "best_bits": min(b for _, b in curve),
                                    "gradient": flow.curves, "train_seconds": round(trained_s, 1)}
            print(f"gap {gap} {cell}: {curve[-1][1]:.3f} bits/char after {args.steps} steps ({trained_s:.0f} s)",
                  file=sys.stderr)
        results["gaps"][gap] = entry
    return results


def print_cells(results: dict) -> None:
    rows = []
    for gap, entry in results["gaps"].items():
        for cell, r in entry["cells"].items():
            k = int(gap) + 1  # the opening key, seen from the closing one
            ratio = {label: curve[k] / curve[0] for label, curve in r["gradient"].items()}
            rows.append({"gap": gap, "cell": cell, "final": r["final_bits"], "best": r["best_bits"],
                         "kn5": entry["kn5_bits"], "floor": entry["floor_bits"],
                         "init": ratio["initialisation"], "trained": ratio["trained"], "seconds": r["train_seconds"]})
    print(render_table(rows, {"gap": "gap", "cell": "cell", "final": "valid bits/char", "best": "best",
                              "kn5": "KN 5-gram", "floor": "floor", "init": "grad k=gap+1 / k=0, init",
                              "trained": "trained", "seconds": "train s"}))


def plot_cells(results: dict, path: Path) -> None:
    """One row per gap: gradient norms by k (init dashed, trained solid), and the learning curves."""
    plt = pyplot()
    gaps = list(results["gaps"])
    fig, axes = plt.subplots(len(gaps), 2, figsize=(11, 3.3 * len(gaps)), squeeze=False)
    colours = dict(zip(CELLS, ("tab:red", "tab:blue", "tab:green")))
    for row, gap in zip(axes, gaps):
        entry = results["gaps"][gap]
        for cell, r in entry["cells"].items():
            for label, style in (("initialisation", ":"), ("trained", "-")):
                norms = np.maximum(np.asarray(r["gradient"][label]), 1e-30)
                row[0].plot(np.arange(len(norms)), norms, style, color=colours[cell], label=f"{cell}, {label}")
            steps, bits = zip(*r["curve"])
            row[1].plot(steps, bits, "-", color=colours[cell], label=cell)
        row[0].axvline(int(gap) + 1, color="gray", linestyle="--", linewidth=0.8)
        row[0].set_yscale("log")
        row[0].set_ylabel("mean ||d loss_t / d state_(t-k)||", fontsize=8)
        row[0].set_title(f"gap {gap}: gradient flow (dashed line: the key, k = {int(gap) + 1})", fontsize=9)
        row[1].axhline(entry["kn5_bits"], color="gray", linestyle="--", label=f"KN 5-gram ({entry['kn5_bits']:.3f})")
        row[1].axhline(entry["floor_bits"], color="black", linestyle=":", label=f"floor ({entry['floor_bits']:.3f})")
        row[1].set_ylabel("valid bits/char", fontsize=8)
        row[1].set_title(f"gap {gap}: learning curves", fontsize=9)
        for ax in row:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    axes[-1][0].set_xlabel("k (steps back)")
    axes[-1][1].set_xlabel("training step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def brown(args) -> dict:
    """The Brown context curves and attribution (see the module docstring), timed."""
    from lmtool.neural import load_rnn

    corpus = load_corpus("brown-bengio2003")
    test, train = corpus.splits["test"], corpus.splits["train"]
    rnn = load_rnn(args.brown)
    if rnn.fingerprint != corpus.fingerprint:
        raise SystemExit(f"{args.brown} was not trained on brown-bengio2003's vocabulary")
    started = time.perf_counter()
    ngrams = {f"kn{n}": fit_ngram(corpus, order=n, discount_fallback=True) for n in range(1, 6)}  # order 1 needs it
    results = {"model": str(args.brown), "fit_seconds": round(time.perf_counter() - started, 1), "curves": {}}
    for reset in (True, False):
        started = time.perf_counter()
        curve = context_curve({**ngrams, "lstm": rnn}, test, BROWN_CONTEXTS, reset_per_sentence=reset,
                              positions=args.positions)
        minutes = (time.perf_counter() - started) / 60
        results["curves"][curve.regime] = {**curve.to_json(), "minutes": round(minutes, 2)}
        plot_context_curve(curve, args.out / f"brown_curve_{curve.regime}.png",
                           title=f"brown-bengio2003 test, {curve.regime}: perplexity by context length")
        print(render_table(*curve_table(curve)))
        print(f"{describe_sample(curve)}; {minutes:.1f} minutes with {args.threads} torch thread(s)\n")
    results["first_words"] = first_words(rnn, test)
    started = time.perf_counter()
    scores = [ngrams["kn5"].score(test), rnn.score(test, reset_per_sentence=True)]
    result = attribute(*scores, test, train, vocab_size=len(corpus.vocabulary), names=("kn5", "lstm"))
    results["attribution"] = {**result.to_json(), "seconds": round(time.perf_counter() - started, 1)}
    plot_attribution(result, args.out / "brown_attribution.png")
    print(summary_line(result))
    for name, rows in result.groups.items():
        print(f"\nby {GROUP_TITLES[name]}:")
        print(render_table([{**r, "share": f"{100 * r['share']:.1f}"} for r in rows], COLUMNS))
    return results


def first_words(rnn, test) -> dict:
    """What a sentence's first word costs the RNN scored per sentence (zero state, ``<s>`` as input), fed
    ``</s>`` instead, and with its state carried; and the perplexity of the other tokens in both regimes."""
    from lmtool.neural.batching import input_stream
    from lmtool.neural.memory import window_log_probs
    from lmtool.text import EOS_ID

    ids, first = np.asarray(test.ids, dtype=np.int64), np.asarray(test.starts[:-1], dtype=np.int64)
    inputs = input_stream(ids)
    inputs[first] = EOS_ID
    scores = {"reset": rnn.score(test, reset_per_sentence=True), "carried": rnn.score(test, reset_per_sentence=False),
              "fed_eos": window_log_probs(rnn.net, inputs, first, np.zeros_like(first), ids[first])}
    rest = np.ones(len(ids), dtype=bool)
    rest[first] = False
    out = {"first_bits_reset": -float(np.mean(scores["reset"][first])) / LN2,
           "first_bits_fed_eos": -float(np.mean(scores["fed_eos"])) / LN2,
           "first_bits_carried": -float(np.mean(scores["carried"][first])) / LN2,
           "other_ppl_reset": 2 ** (-float(np.mean(scores["reset"][rest])) / LN2),
           "other_ppl_carried": 2 ** (-float(np.mean(scores["carried"][rest])) / LN2)}
    print("first words, bits/token: per sentence {first_bits_reset:.2f}, fed </s> from a zero state "
          "{first_bits_fed_eos:.2f}, state carried {first_bits_carried:.2f}; perplexity of the other tokens: "
          "per sentence {other_ppl_reset:.1f}, carried {other_ppl_carried:.1f}\n".format(**out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", action="store_true", help="the SRN / LSTM / GRU study on gen:repeat")
    parser.add_argument("--brown", type=Path, default=None, help="an LSTM trained on brown-bengio2003")
    parser.add_argument("--steps", type=int, default=2000, help="training steps per cell (the step budget)")
    parser.add_argument("--valid-every", type=int, default=100, help="steps between points of the learning curves")
    parser.add_argument("--hidden", type=int, default=64, help="hidden units of every cell")
    parser.add_argument("--seed", type=int, default=1, help="seed of every training run")
    parser.add_argument("--positions", type=int, default=None, help="Brown: sample this many test targets")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: tiny cells run fastest on one)")
    parser.add_argument("--out", type=Path, default=Path("memory-bench"), help="folder for the PNG and JSON files")
    args = parser.parse_args()
    if not args.cells and args.brown is None:
        args.cells = True
    args.out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.cells:
        started = time.perf_counter()
        results = cells(args)
        print_cells(results)
        print(f"cells: {(time.perf_counter() - started) / 60:.1f} minutes in all")
        plot_cells(results, args.out / "cells.png")
        (args.out / "cells.json").write_text(json.dumps(results, indent=1, default=float))
    if args.brown is not None:
        results = brown(args)
        (args.out / "brown.json").write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
