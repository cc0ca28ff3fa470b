"""``lmtool compare``: the whole experiment in one call, the Markov ladder from n-grams to an RNN.

Stages: load the corpus once; fit every (method, order) n-gram on train; train a feed-forward
neural n-gram (Bengio et al. 2003) for each of ``nnlm_orders`` and an RNN, each for a
wall-clock budget (best model by validation loss kept); score every model on valid and test
(the same ids, :mod:`lmtool.evaluate`'s accounting); mix the n-gram best on valid with the
neural n-gram best on valid, with the RNN, and with both (EM weights on valid); write a report
folder::

    results.json               corpus, options, table rows, mixture weights, training curves,
                               the context-length curve and the attribution tables
    perplexity_by_order.png    test perplexity against context length (order - 1): the n-gram
                               staircase, one line per method; the neural n-gram's curve; the RNN
                               and the mixtures as horizontal lines; for gen: corpora the floor
                               2 ** (true entropy rate)
    learning_curve.png         the RNN's validation (and training) perplexity against time
    context_curve.png          perplexity against the context K a model may see (lmtool.analysis)
    attribution.png            where the RNN's gain over the best n-gram comes from, in bits
    report.html                all of it in one self-contained page, with the colour view
    rnn.safetensors            the trained RNN (lmtool sample / eval accept it)
    nnlmN.safetensors          the neural n-gram of order N

The ladder separates two prices: the neural n-gram makes the n-gram's Markov assumption but
learns its smoothing, so the gap from the n-gram to it is the price of counting, and the gap
from it to the RNN the price of the Markov assumption.

The default corpus is generated (``gen:repeat``): a key symbol repeated after a gap longer than
any default n-gram order can see, which an LSTM learns to carry; its entropy rate is exact.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lmtool.analysis.attribution import attribute, plot_attribution
from lmtool.analysis.colour_view import colour_view
from lmtool.analysis.context_curve import context_curve, plot_context_curve
from lmtool.analysis.plots import finish_line_plot, save_figure
from lmtool.analysis.plots import pyplot as _pyplot
from lmtool.analysis.report import write_report
from lmtool.errors import DataError, UsageError
from lmtool.evaluate import Scored, em_weights, mix, mixture, table_row
from lmtool.files import atomic_write, json_text, temporary_directory
from lmtool.lm import perplexity
from lmtool.ngram import METHODS, fit_ngram
from lmtool.neural.config import NnlmConfig, RnnConfig, TrainOptions

#: the quick-start corpus: 8 keys, binary fillers, gap 10 -> H = (3 + 10) / 12 = 1.083 bits/char;
#: an n-gram of order <= 11 cannot see the opening key (about 1.33 bits/char at best).
DEFAULT_CORPUS = "gen:repeat:keys=8,fillers=2,gap=10,length=60000"
#: the context-length curve's K (a sample of CURVE_POSITIONS test targets), and the colour view's size
CURVE_CONTEXTS = (1, 2, 4, 8, 16, 32, 64)
CURVE_POSITIONS = 2000
VIEW_LINES, VIEW_TOKENS = 20, 600
#: the report's plots after its table (file, caption); context_curve.png and attribution.png join their sections
REPORT_IMAGES = [("perplexity_by_order.png", "Perplexity by n-gram order"),
                 ("learning_curve.png", "RNN learning curve")]
#: every file of the report folder (the commands check each before any work)
REPORT_FILES = ("results.json", "perplexity_by_order.png", "learning_curve.png", "context_curve.png", "attribution.png",
                "report.html", "rnn.safetensors")
#: the row-name prefix of each n-gram method (lmtool.ngram.METHODS), e.g. mkn3 for modified Kneser-Ney order 3
SHORT = {"modified-kneser-ney": "mkn", "kneser-ney": "kn", "absolute": "abs", "witten-bell": "wb", "katz": "katz",
         "add-k": "addk", "laplace": "laplace", "mle": "mle", "stupid-backoff": "sb"}
#: positions per batch of the neural n-grams (a batch of the RNN is batch_size x bptt tokens)
NNLM_BATCH = 256


@dataclass
class CompareOptions:
    """What to fit and train; every default is the quick-start's."""

    orders: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    methods: list[str] = field(default_factory=lambda: ["modified-kneser-ney"])
    rnn_time: float = 90.0  # seconds of RNN training (0 = no RNN)
    nnlm_orders: list[int] = field(default_factory=lambda: [3, 5])  # neural n-gram orders (context = order - 1)
    nnlm_time: float = 15.0  # seconds of training for each neural n-gram (0 = none)
    cell: str = "lstm"
    emb: int = 32
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.0
    optimizer: str = "adam"
    lr: float = 3e-3
    bptt: int = 50
    batch_size: int = 32
    valid_every: int = 25  # optimiser steps between validations (points of the learning curve)
    seed: int = 0
    reset_per_sentence: bool = False

    def validate(self) -> None:
        if not self.orders or any(o < 1 for o in self.orders):
            raise UsageError(f"--orders must be positive integers, got {self.orders}")
        unknown = [m for m in self.methods if m not in METHODS]
        if not self.methods or unknown:
            raise UsageError(f"unknown --methods {', '.join(unknown) or '(none)'}: choose from {', '.join(METHODS)}")
        if not (self.rnn_time >= 0 and math.isfinite(self.rnn_time)):
            raise UsageError(f"--rnn-time must be 0 (no RNN) or a positive duration, got {self.rnn_time}")
        if any(o < 2 for o in self.nnlm_orders):
            raise UsageError(f"--nnlm-orders must be 2 or more (a context of at least 1 token), got {self.nnlm_orders}")
        if not (self.nnlm_time >= 0 and math.isfinite(self.nnlm_time)):
            raise UsageError(f"--nnlm-time must be 0 (no neural n-gram) or a positive duration, got {self.nnlm_time}")


class Collect(logging.Handler):
    """Keeps the estimators' warnings (e.g. fallback discounts on a small alphabet) for the report."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def fit_ngrams(corpus, options: CompareOptions) -> tuple[dict, list[str]]:
    """``{name: NgramModel}`` for every method and order (names like ``mkn3``), and the estimators' warnings.

    Modified Kneser-Ney runs with lmplz's ``--discount_fallback``: generated corpora over a few
    symbols leave some counts-of-counts empty. The warnings go to results.json, not the terminal.
    """
    models, collect = {}, Collect()
    logger = logging.getLogger("lmtool.ngram")
    logger.addHandler(collect)
    propagate, logger.propagate = logger.propagate, False
    try:
        for method in options.methods:
            params = {"discount_fallback": True} if method == "modified-kneser-ney" else {}
            for order in sorted(set(options.orders)):
                name = f"{SHORT[method]}{order}"
                start = len(collect.messages)
                models[name] = fit_ngram(corpus, order=order, method=method, **params)
                collect.messages[start:] = [f"{name}: {m}" for m in collect.messages[start:]]
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
    return models, collect.messages


def train_rnn(corpus, options: CompareOptions, out_path: Path, threads: int | None = None):
    """Train an RNN on the corpus for ``options.rnn_time`` seconds on the CPU; return the loaded best model."""
    config = RnnConfig(vocab_size=len(corpus.vocabulary), cell=options.cell, emb_size=options.emb,
                       hidden_size=options.hidden, layers=options.layers, dropout_input=options.dropout,
                       dropout_between=options.dropout, dropout_output=options.dropout)
    train_options = TrainOptions(bptt=options.bptt, batch_size=options.batch_size, optimizer=options.optimizer,
                                 lr=options.lr, schedule="constant", max_time=options.rnn_time, patience=0,
                                 valid_every=options.valid_every, seed=options.seed)
    return train_network(corpus, config, train_options, out_path, threads)


def train_nnlm(corpus, options: CompareOptions, order: int, out_path: Path, threads: int | None = None):
    """Train a neural n-gram of ``order`` (the RNN's embedding and hidden sizes) for ``options.nnlm_time`` seconds."""
    config = NnlmConfig(vocab_size=len(corpus.vocabulary), context=order - 1, emb_size=options.emb,
                        hidden_size=options.hidden, dropout=options.dropout)
    train_options = TrainOptions(batch_size=NNLM_BATCH, optimizer=options.optimizer, lr=options.lr,
                                 schedule="constant", max_time=options.nnlm_time, patience=0,
                                 valid_every=options.valid_every, seed=options.seed)
    return train_network(corpus, config, train_options, out_path, threads)


def train_network(corpus, config, train_options: TrainOptions, out_path: Path, threads: int | None):
    """Train ``config``'s network on the CPU (checkpoints in a temporary folder); return the loaded best model."""
    from lmtool.models import load_model
    from lmtool.neural.train import train

    with temporary_directory("lmtool-compare") as checkpoints:
        train(corpus, config, train_options, output=out_path, checkpoint_dir=checkpoints, device="cpu",
              threads=threads)
    return load_model(out_path)


def score_all(models: dict, corpus, options: CompareOptions) -> tuple[list[Scored], dict]:
    """Test-split :class:`Scored` per model, and each model's valid log-probabilities."""
    test, valid = corpus.splits["test"], corpus.splits["valid"]
    reset = options.reset_per_sentence
    scored, valid_scores = [], {}
    for name, model in models.items():
        scored.append(Scored.of(name, model, test, model.score(test, reset_per_sentence=reset), unit=corpus.unit,
                                reset_per_sentence=reset))
        valid_scores[name] = model.score(valid, reset_per_sentence=reset)
    return scored, valid_scores


def compare(spec: str | None, out_dir: str | Path, options: CompareOptions | None = None,
            corpus_options: dict | None = None, on_stage=lambda message: None, threads: int | None = None) -> dict:
    """Run the experiment and write the report folder; return the results (as in results.json).

    ``threads`` sets torch's CPU threads for the neural models (default: torch's choice).
    """
    from lmtool.text import load_corpus

    options = options or CompareOptions()
    options.validate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = spec or DEFAULT_CORPUS
    started = time.perf_counter()
    on_stage(f"loading {spec}")
    corpus = load_corpus(spec, **(corpus_options or {}))
    missing = [s for s in ("train", "valid", "test") if s not in corpus.splits or corpus.splits[s].n_tokens == 0]
    if missing:
        raise DataError(f"compare needs train, valid and test splits; {spec} has none for {', '.join(missing)}: "
                        "give --split-fractions such as 0.8,0.1,0.1")
    on_stage(f"fitting {len(options.methods) * len(set(options.orders))} n-gram models")
    models, notes = fit_ngrams(corpus, options)
    nnlm_names, rnn_name = train_ladder(models, corpus, options, out_dir, on_stage, threads)
    on_stage("scoring every model on valid and test")
    scored, valid_scores = score_all(models, corpus, options)
    rows = [table_row(s) for s in scored]
    for row, name in zip(rows, models):
        row["valid_perplexity"] = perplexity(valid_scores[name])[1]
    neural = ([best_on_valid(nnlm_names, valid_scores)] if nnlm_names else []) + ([rnn_name] if rnn_name else [])
    mixtures = ladder_mixtures(models, neural, scored, valid_scores) if neural else []
    for mixed in mixtures:
        rows.append(table_row(mixed.pop("scored")))
        rows[-1]["valid_perplexity"] = mixed["valid_perplexity"]
    results = {
        "corpus": corpus_summary(spec, corpus),
        "options": asdict(options),
        "rows": rows,
        "mixtures": mixtures,
        # the RNN + best n-gram mixture on its own, as reports before the neural n-gram had it
        "mixture": next((m for m in mixtures if m["models"][1:] == [rnn_name]), None),
        "rnn": rnn_report(models[rnn_name]) if rnn_name else None,
        "nnlm": {name: rnn_report(models[name]) for name in nnlm_names},
        "notes": notes,
        "seconds": round(time.perf_counter() - started, 1),
    }
    on_stage("analysing: context-length curve, attribution, colour view")
    # attribution and the colour view: the RNN's gain over the n-gram it is mixed with, else the neural n-gram's
    pair = (results["mixture"] or (mixtures[0] if mixtures else {})).get("models", [])[:2] or None
    view = analyse(models, corpus, options, results, out_dir, {s.name: s.log_probs for s in scored}, pair=pair)
    results["seconds"] = round(time.perf_counter() - started, 1)
    on_stage(f"writing the report to {out_dir}")
    write_json(out_dir / "results.json", results)
    plot_perplexity_by_order(results, out_dir / "perplexity_by_order.png")
    plot_learning_curve(results, out_dir / "learning_curve.png")
    write_report(results, out_dir, images=REPORT_IMAGES, view=view)
    return results


def analyse(models: dict, corpus, options: CompareOptions, results: dict, out_dir: Path, test_scores: dict,
            pair: list[str] | None) -> str | None:
    """The analyses of :mod:`lmtool.analysis` that compare adds to its results, with their plots.

    The context-length curve of the first normalised method's n-grams and of every model that is
    not an n-gram (the RNN, and any other family compare fits), on a sample of test targets so
    the quick start stays quick; with a ``pair`` (A, B: the n-gram and the RNN that were mixed),
    the attribution of B's gain over A and the colour view of the first test lines.
    ``test_scores`` are the models' test log-probabilities, already computed. Returns the view's
    HTML fragment (None without a pair).
    """
    test, reset = corpus.splits["test"], options.reset_per_sentence
    orders = sorted(set(options.orders))
    methods = [SHORT[m] for m in options.methods if models[f"{SHORT[m]}{orders[0]}"].normalised]
    curve_models = {f"{methods[0]}{o}": models[f"{methods[0]}{o}"] for o in orders} if methods else {}
    curve_models.update({n: m for n, m in models.items() if m.kind != "ngram" and m.normalised})
    results["context_curve"] = results["attribution"] = None
    if curve_models:
        curve = context_curve(curve_models, test, CURVE_CONTEXTS, reset_per_sentence=reset,
                              positions=CURVE_POSITIONS, scores=test_scores)
        results["context_curve"] = curve.to_json()
        plot_context_curve(curve, out_dir / "context_curve.png", floor=results["corpus"]["floor_perplexity"],
                           title=f"Perplexity by context length: {results['corpus']['spec']}")
    if pair is None:
        return None
    scores = {name: test_scores[name] for name in pair}
    attribution = attribute(*scores.values(), test, corpus.splits["train"], vocab_size=len(corpus.vocabulary),
                            names=tuple(pair), novelty_order=max(orders))
    results["attribution"] = attribution.to_json()
    plot_attribution(attribution, out_dir / "attribution.png")
    return colour_view({name: models[name] for name in pair}, test, lines=VIEW_LINES, reset_per_sentence=reset,
                       log_probs=scores, max_tokens=VIEW_TOKENS)


def train_ladder(models: dict, corpus, options: CompareOptions, out_dir: Path, on_stage,
                 threads: int | None) -> tuple[list[str], str | None]:
    """Train the neural n-grams of ``options.nnlm_orders`` and the RNN into ``models``; return their row names."""
    nnlm_names = []
    for order in sorted(set(options.nnlm_orders)) if options.nnlm_time > 0 else []:
        on_stage(f"training a neural {order}-gram for {options.nnlm_time:g}s")
        nnlm_names.append(f"nnlm{order}")
        models[nnlm_names[-1]] = train_nnlm(corpus, options, order, out_dir / f"nnlm{order}.safetensors", threads)
    rnn_name = None
    if options.rnn_time > 0:
        on_stage(f"training an {options.cell.upper()} for {options.rnn_time:g}s")
        rnn_name = options.cell
        models[rnn_name] = train_rnn(corpus, options, out_dir / "rnn.safetensors", threads)
    return nnlm_names, rnn_name


def best_on_valid(names: list[str], valid_scores: dict) -> str:
    """The one of ``names`` with the lowest valid perplexity."""
    return min(names, key=lambda n: perplexity(valid_scores[n])[1])


def ladder_mixtures(models: dict, neural: list[str], scored: list[Scored], valid_scores: dict) -> list[dict]:
    """The normalised n-gram of lowest valid perplexity mixed with each of the ``neural`` models, then with all of
    them (when there are two or more), EM weights on valid: e.g. KN+neural n-gram, KN+RNN, KN+neural n-gram+RNN."""
    candidates = [n for n, m in models.items() if m.kind == "ngram" and m.normalised]
    if not candidates:
        raise UsageError("no normalised n-gram to mix with the neural models: add a method other than stupid-backoff")
    best = best_on_valid(candidates, valid_scores)
    groups = [[best, name] for name in neural] + ([[best, *neural]] if len(neural) > 1 else [])
    members = {s.name: s for s in scored}
    out = []
    for names in groups:
        valid = np.stack([valid_scores[n] for n in names])
        weights = em_weights(valid)
        out.append({"name": "+".join(names), "models": names, "weights": [float(w) for w in weights],
                    "valid_perplexity": perplexity(mix(valid, weights))[1],
                    "scored": mixture("+".join(names), [members[n] for n in names], weights, "tuned by EM on valid")})
    return out


def corpus_summary(spec: str, corpus) -> dict:
    """What the report says about the corpus, with the floor perplexity of a generated one."""
    rate = corpus.entropy_rate_bits
    return {"spec": spec, "unit": corpus.unit, "tokenizer": corpus.tokenizer.kind,
            "vocab_size": len(corpus.vocabulary), "fingerprint": corpus.fingerprint,
            "tokens": {name: split.n_tokens for name, split in corpus.splits.items()},
            "entropy_rate_bits": rate,
            "floor_perplexity": 2.0 ** rate if rate is not None and corpus.tokenizer.kind == "char" else None}


def rnn_report(model) -> dict:
    """Architecture, training summary and curves of a trained network, the RNN or a neural n-gram (from its model file)."""
    meta = model.meta
    return {"architecture": meta.get("architecture"), "training": meta.get("training"),
            "curves": meta.get("curves", {})}


def write_json(path: Path, payload: dict) -> None:
    """Write ``payload`` atomically (temp file, fsync, rename); non-finite floats become null."""
    atomic_write(path, lambda out: out.write(json_text(payload).encode("utf-8")))


def plot_perplexity_by_order(results: dict, path: Path) -> None:
    """Test perplexity against context length (order - 1): the n-gram staircase per method, the neural n-gram's
    curve; the RNN, the mixtures and the entropy floor as horizontal lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    options = results["options"]
    by_name = {r["model"]: r for r in results["rows"]}
    orders = sorted(set(options["orders"]))
    nnlm_orders = sorted(int(name[len("nnlm"):]) for name in results["nnlm"])
    for method in options["methods"]:
        values = [by_name[f"{SHORT[method]}{o}"]["perplexity"] for o in orders]
        ax.plot([o - 1 for o in orders], values, marker="o", label=f"{method} n-gram")
    if nnlm_orders:
        values = [by_name[f"nnlm{o}"]["perplexity"] for o in nnlm_orders]
        ax.plot([o - 1 for o in nnlm_orders], values, marker="s", color="tab:green", label="neural n-gram (Bengio et al.)")
    mixtures = [r for r in results["rows"] if r["kind"] == "mixture"]
    shades = plt.get_cmap("Purples")(np.linspace(0.5, 0.9, max(1, len(mixtures))))
    for row, shade in zip(mixtures, shades):
        ax.axhline(row["perplexity"], color=shade, linestyle="-.", label=f"{row['model']} ({row['perplexity']:.3f})")
    for row in results["rows"]:
        if row["kind"] == "rnn":
            ax.axhline(row["perplexity"], color="tab:red", linestyle="--",
                       label=f"{row['model']}, unbounded context ({row['perplexity']:.3f})")
    floor = results["corpus"]["floor_perplexity"]
    if floor is not None:
        ax.axhline(floor, color="black", linestyle=":", label=f"true entropy rate floor 2^H ({floor:.3f})")
    ax.set_xticks(sorted({o - 1 for o in orders + nnlm_orders}))
    finish_line_plot(fig, ax, path, "context length (tokens before the predicted one: order - 1)",
                     "test perplexity (per token)",
                     f"The Markov ladder, perplexity by context length: {results['corpus']['spec']}")


def plot_learning_curve(results: dict, path: Path) -> None:
    """The RNN's validation and training perplexity against training time (a note when there is no RNN)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves = (results["rnn"] or {}).get("curves") or {}
    if curves.get("elapsed"):
        elapsed = np.array(curves["elapsed"], dtype=float)
        for key, label in (("valid_loss", "valid"), ("train_loss", "train")):
            values = np.array([v if v is not None else np.nan for v in curves[key]], dtype=float)
            ax.plot(elapsed, np.exp(values), marker=".", label=f"RNN {label} perplexity")
        best = min((r for r in results["rows"] if r["kind"] == "ngram"), key=lambda r: r["valid_perplexity"])
        ax.axhline(best["valid_perplexity"], color="gray", linestyle="--",
                   label=f"best n-gram on valid: {best['model']} ({best['valid_perplexity']:.3f})")
        ax.set_xlabel("training time (s)")
        ax.set_ylabel("perplexity")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    else:
        ax.text(0.5, 0.5, "no RNN was trained (--rnn-time 0)", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("RNN learning curve", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
