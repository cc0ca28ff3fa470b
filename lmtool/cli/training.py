"""What ``train-rnn`` and ``train-nnlm`` share: the training, budget and file options, the progress display and the run.

Each command adds its network's own options and a function that builds its config; the flags
below mean the same thing in both (one definition each), and :func:`run_training` does the
rest: check everything that can be checked before the corpus is read, load the corpus, call
:func:`lmtool.neural.train.train` (the one training entry point) and report.
"""

from __future__ import annotations

import math
from typing import Callable

import click

from lmtool.cli.options import apply_options, check_paths, corpus_kwargs, json_option, print_json
from lmtool.errors import UsageError
from lmtool.neural.config import (DEVICES, LAST_MODEL, OPTIMIZERS, RESUME_STATE, SCHEDULES, TrainOptions,
                                  check_placement, checkpoint_directory, default_cutoffs, parse_duration)


def parse_cutoffs(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--cutoffs {value!r}: write increasing integers such as 2000,10000") from None


def network_options(emb: int, hidden: int, layers: int, layers_help: str) -> Callable:
    """Sizes and the output layer, with the command's defaults: ``--emb``, ``--hidden``, ``--layers``,
    ``--tied``, ``--adaptive-softmax``, ``--cutoffs``."""
    return lambda function: apply_options([
        click.option("--emb", type=int, default=emb, show_default=True, help="Embedding size."),
        click.option("--hidden", type=int, default=hidden, show_default=True, help="Hidden size of every layer."),
        click.option("--layers", type=int, default=layers, show_default=True, help=layers_help),
        click.option("--tied", is_flag=True, help="Share input and output embeddings (needs --emb = --hidden)."),
        click.option("--adaptive-softmax", is_flag=True,
                     help="Adaptive softmax (Grave et al.): much faster for large vocabularies."),
        click.option("--cutoffs", default=None, metavar="A,B",
                     help="Adaptive-softmax cluster edges (default 2000,10000 or V/5,V/2)."),
    ], function)


def training_options(batch_size: int, batch_help: str, optimizer: str, lr_help: str, clip: float) -> Callable:
    """Optimisation, budgets and placement, with the command's defaults (see :class:`TrainOptions`)."""
    return lambda function: apply_options([
        click.option("--batch-size", type=int, default=batch_size, show_default=True, help=batch_help),
        click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=optimizer, show_default=True),
        click.option("--lr", type=float, default=None, help=lr_help),
        click.option("--schedule", type=click.Choice(SCHEDULES), default="auto", show_default=True,
                     help="auto: plateau (lr / --lr-decay when valid stops improving) for sgd, cosine for adam/adamw."),
        click.option("--warmup", type=int, default=0, show_default=True, help="Linear warm-up steps."),
        click.option("--lr-decay", type=float, default=4.0, show_default=True, help="Plateau and NaN-rollback divisor."),
        click.option("--clip", type=float, default=clip, show_default=True, help="Gradient-norm clipping (0: off)."),
        click.option("--weight-decay", type=float, default=0.0, show_default=True),
        click.option("--epochs", type=int, default=None, help="Epochs (default 10 when no other budget is given)."),
        click.option("--max-steps", type=int, default=None, help="Stop after this many optimiser steps."),
        click.option("--max-time", default=None, metavar="DURATION", help="Wall-clock budget: 90, 90s, 30m, 2h."),
        click.option("--patience", type=int, default=3, show_default=True,
                     help="Validations without improvement before stopping (0: never)."),
        click.option("--valid-every", type=int, default=None, help="Validate every N steps (default: each epoch)."),
        click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True),
        click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)."),
    ], function)


def output_options(function: Callable) -> Callable:
    """The model file, checkpoints and resume, the log, and what the terminal shows."""
    return apply_options([
        click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                     help="Model file to write (the best by validation)."),
        click.option("--checkpoint-dir", type=click.Path(file_okay=False), default=None,
                     help="Last model and resume checkpoint (default OUTPUT.ckpt)."),
        click.option("--resume", is_flag=True,
                     help="Continue the run saved in --checkpoint-dir (same options; --epochs, --max-steps, "
                          "--max-time may grow)."),
        click.option("--allow-option-changes", is_flag=True,
                     help="With --resume: continue even though options other than the budgets, or the corpus, "
                          "changed."),
        click.option("--log", "log_path", type=click.Path(dir_okay=False), default=None,
                     help="Append a JSON-lines training log."),
        click.option("--log-every", type=click.IntRange(min=1), default=10, show_default=True,
                     help="Steps between log lines."),
        json_option,
        click.option("-q", "--quiet", is_flag=True, help="No progress bar or validation lines."),
    ], function)


def train_options(p: dict, **network_specific) -> TrainOptions:
    """The :class:`TrainOptions` of a command's parsed ``p`` (``network_specific``: bptt, random windows)."""
    options = TrainOptions(batch_size=p["batch_size"], optimizer=p["optimizer"], lr=p["lr"], clip=p["clip"],
                           weight_decay=p["weight_decay"], schedule=p["schedule"], warmup=p["warmup"],
                           lr_decay=p["lr_decay"], epochs=p["epochs"], max_steps=p["max_steps"],
                           max_time=parse_duration(p["max_time"]), patience=p["patience"],
                           valid_every=p["valid_every"], seed=p["seed"] if p["seed"] is not None else 0,
                           **network_specific)
    options.validate()
    return options


def run_training(spec: str, p: dict, options: TrainOptions, make_config: Callable[[int, list[int]], object]) -> None:
    """Check, load the corpus, train the network ``make_config(vocab_size, cutoffs)`` describes, report.

    ``make_config`` must validate what it builds: it is called once with a huge vocabulary
    before the corpus is read, so that bad sizes, dropouts or tying fail at once.
    """
    cutoffs = parse_cutoffs(p["cutoffs"])
    if cutoffs and not p["adaptive_softmax"]:
        raise UsageError("--cutoffs applies to the adaptive softmax: add --adaptive-softmax")
    check_placement(p["device"], p["threads"])
    if p["allow_option_changes"] and not p["resume"]:
        raise UsageError("--allow-option-changes applies to --resume: add --resume or drop it")
    checkpoints = checkpoint_directory(p["output"], p["checkpoint_dir"])
    check_paths({"-o": p["output"], "--log": p["log_path"],
                 "--checkpoint-dir": [checkpoints / LAST_MODEL, checkpoints / RESUME_STATE]},
                corpus=spec, directories={"--checkpoint-dir": checkpoints})
    make_config(2**31 - 1, [])  # bad sizes, dropouts, tying: fail before the corpus is read

    from lmtool.neural.train import train
    from lmtool.text import load_corpus

    corpus = load_corpus(spec, **corpus_kwargs(p))
    vocab_size = len(corpus.vocabulary)
    config = make_config(vocab_size, (cutoffs or default_cutoffs(vocab_size)) if p["adaptive_softmax"] else [])
    progress = Progress(show=not p["quiet"] and not p["as_json"])
    try:
        summary = train(corpus, config, options, output=p["output"], checkpoint_dir=p["checkpoint_dir"],
                        resume=p["resume"], device=p["device"], threads=p["threads"], log_path=p["log_path"],
                        log_every=p["log_every"], on_event=progress, allow_option_changes=p["allow_option_changes"])
    finally:
        progress.close()
    if summary is None:  # another rank of a torchrun job: rank 0 reports
        return
    if p["as_json"]:
        print_json(summary)
    elif summary.get("already_finished"):
        click.echo(f"{summary['checkpoint_dir']}: the run already finished at step {summary['steps']} "
                   f"({summary['stopped']}); nothing to do, {summary['model']} is unchanged (raise --max-steps, "
                   "--epochs or --max-time to train further)", err=True)
    elif not p["quiet"]:
        best = summary["best_valid_ppl"]
        best_text = (f"best valid ppl {best:.2f}" if best is not None and math.isfinite(best)
                     else "no validation split" if not summary["valid_tokens"] else "no finite validation loss")
        click.echo(f"{summary['model']}: {summary['steps']} steps, {summary['epochs']:.2f} epochs in "
                   f"{summary['elapsed_s']:.0f}s ({summary['stopped']}); {best_text}")


class Progress:
    """Terminal progress: a tqdm bar on stderr and one line per validation (the log file is the library's)."""

    def __init__(self, show: bool) -> None:
        self.show, self.bar = show, None

    def __call__(self, event: dict) -> None:
        if event["event"] == "end":  # the summary is printed by the command (and a finished run has no bar)
            return
        if self.bar is None:  # opened at the first event, after the corpus, the model and any resume
            from tqdm import tqdm

            start = event["step"] - 1 if event["event"] == "step" else event.get("step", 0)
            self.bar = tqdm(initial=start, unit="step", dynamic_ncols=True, disable=not self.show, leave=True)
        kind = event["event"]
        if kind == "step":
            self._step(event)
        elif kind == "valid" and self.show:
            mark = " *" if event["improved"] else ""
            ppl = "-" if event["valid_ppl"] is None else f"{event['valid_ppl']:.2f}"
            train = "-" if event["train_loss"] is None else f"{event['train_loss']:.4f}"
            self.bar.write(f"step {event['step']} epoch {event['epoch']}: valid ppl {ppl}, "
                           f"train loss {train}, lr {event['lr']:.3g}{mark}")
        elif kind == "rollback" and self.show:
            self.bar.write(f"step {event['step']}: non-finite loss, rolled back to the last validated "
                           f"state, lr now {event['lr']:.3g}")

    def _step(self, event: dict) -> None:
        if self.bar.total is None and event["total_steps"]:
            self.bar.total = event["total_steps"]
        rate = event["tokens_per_s"]
        postfix = {"loss": f"{event['loss']:.3f}", "ppl": f"{event['ppl']:.1f}", "tok/s": f"{rate:,.0f}",
                   "lr": f"{event['lr']:.3g}"}
        if event["max_time"]:
            postfix["time left"] = f"{max(0.0, event['max_time'] - event['elapsed']):.0f}s"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
