"""``lmtool train-rnn``: train an Elman RNN, LSTM or GRU language model by truncated BPTT."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import click

from lmtool.cli.options import corpus_kwargs, corpus_options, json_option, print_json
from lmtool.errors import DataError, UsageError

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def parse_duration(value: str | None) -> float | None:
    """``90``, ``90s``, ``30m``, ``2h`` -> seconds."""
    if value is None:
        return None
    match = DURATION.match(value)
    if not match:
        raise UsageError(f"--max-time {value!r} is not a duration: write e.g. 90, 90s, 30m or 2h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def parse_cutoffs(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--cutoffs {value!r}: write increasing integers such as 2000,10000") from None


def pick_device(name: str):
    """The torch device for ``--device`` (auto: cuda, then mps, then cpu); under torchrun each rank
    then takes the GPU of its local rank."""
    import torch

    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda" and not cuda or name == "mps" and not mps:
        raise UsageError(f"--device {name} is not available on this machine: use --device cpu or auto")
    return torch.device(name)


class Progress:
    """Terminal progress (tqdm on stderr), the JSON-lines log, and per-validation lines."""

    def __init__(self, show: bool, log_path: str | None, log_every: int) -> None:
        self.log_every, self.show, self.bar = log_every, show, None
        try:
            self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        except OSError as error:
            raise UsageError(f"--log {log_path}: cannot write there ({error.strerror}): give a writable file") from None
        self.tokens, self.window_start = 0, None

    def __call__(self, event: dict) -> None:
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
        if self.log and (kind != "step" or event["step"] % self.log_every == 0):
            self.log.write(json.dumps(event, default=str) + "\n")
            self.log.flush()

    def _step(self, event: dict) -> None:
        if self.bar.total is None and event["total_steps"]:
            self.bar.total = event["total_steps"]
        self.tokens += event["tokens"]
        if self.window_start is None:
            self.window_start = (event["elapsed"], self.tokens)
        seconds = event["elapsed"] - self.window_start[0]
        rate = (self.tokens - self.window_start[1]) / seconds if seconds > 0 else float("nan")
        event["tokens_per_s"] = rate
        postfix = {"loss": f"{event['loss']:.3f}", "ppl": f"{event['ppl']:.1f}", "tok/s": f"{rate:,.0f}",
                   "lr": f"{event['lr']:.3g}"}
        if event["max_time"]:
            postfix["time left"] = f"{max(0.0, event['max_time'] - event['elapsed']):.0f}s"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.log:
            self.log.close()


@click.command("train-rnn", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--corpus", "spec", required=True, help="Corpus SPEC (see `lmtool corpus --help`).")
@corpus_options
@click.option("--cell", type=click.Choice(["rnn-tanh", "rnn-relu", "lstm", "gru"]), default="lstm", show_default=True,
              help="Recurrent cell (rnn-*: the simple recurrent network h = f(U h + W x + b)).")
@click.option("--emb", type=int, default=200, show_default=True, help="Embedding size.")
@click.option("--hidden", type=int, default=200, show_default=True, help="Hidden size of every layer.")
@click.option("--layers", type=int, default=2, show_default=True, help="Stacked recurrent layers.")
@click.option("--dropout", type=float, default=0.2, show_default=True, help="Dropout on input, between layers and output.")
@click.option("--dropout-input", type=float, default=None, help="Dropout on the embeddings (default --dropout).")
@click.option("--dropout-between", type=float, default=None, help="Dropout between layers (default --dropout).")
@click.option("--dropout-output", type=float, default=None, help="Dropout before the softmax (default --dropout).")
@click.option("--tied", is_flag=True, help="Share input and output embeddings (needs --emb = --hidden).")
@click.option("--adaptive-softmax", is_flag=True, help="Adaptive softmax (Grave et al.): much faster for large vocabularies.")
@click.option("--cutoffs", default=None, metavar="A,B", help="Adaptive-softmax cluster edges (default 2000,10000 or V/5,V/2).")
@click.option("--bptt", type=int, default=35, show_default=True, help="Truncated-BPTT window (time steps).")
@click.option("--batch-size", type=int, default=20, show_default=True, help="Batch rows (global under torchrun).")
@click.option("--random-windows", is_flag=True, help="Random-start windows from a zero state instead of contiguous rows.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default="sgd", show_default=True)
@click.option("--lr", type=float, default=None, help="Learning rate (default 20 for sgd, 1e-3 for adam/adamw).")
@click.option("--schedule", type=click.Choice(["auto", "plateau", "cosine", "constant"]), default="auto", show_default=True,
              help="auto: plateau (lr / --lr-decay when valid stops improving) for sgd, cosine for adam/adamw.")
@click.option("--warmup", type=int, default=0, show_default=True, help="Linear warm-up steps.")
@click.option("--lr-decay", type=float, default=4.0, show_default=True, help="Plateau and NaN-rollback divisor.")
@click.option("--clip", type=float, default=0.25, show_default=True, help="Gradient-norm clipping (0: off).")
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--epochs", type=int, default=None, help="Epochs (default 10 when no other budget is given).")
@click.option("--max-steps", type=int, default=None, help="Stop after this many optimiser steps.")
@click.option("--max-time", default=None, metavar="DURATION", help="Wall-clock budget: 90, 90s, 30m, 2h.")
@click.option("--patience", type=int, default=3, show_default=True, help="Validations without improvement before stopping (0: never).")
@click.option("--valid-every", type=int, default=None, help="Validate every N steps (default: each epoch).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Model file to write (the best by validation).")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False), default=None,
              help="Last model and resume checkpoint (default OUTPUT.ckpt).")
@click.option("--resume", is_flag=True, help="Continue the run saved in --checkpoint-dir.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), default=None, help="Append a JSON-lines training log.")
@click.option("--log-every", type=click.IntRange(min=1), default=10, show_default=True, help="Steps between log lines.")
@json_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or validation lines.")
def train_rnn(spec: str, as_json: bool, quiet: bool, **params) -> None:
    """Train a recurrent language model on --corpus and write it to -o MODEL.

    --seed seeds both the corpus split (for corpora without their own) and training
    (initialisation, dropout, random windows): the same seed gives the same weights on CPU.
    A NaN/inf loss rolls back to the last validated state and divides the learning rate by
    --lr-decay; after 3 such rollbacks the run stops (exit 1), keeping the best model.
    Runs unchanged under `torchrun --nproc_per_node N` (DistributedDataParallel).

    Example: lmtool train-rnn --corpus brown-bengio2003 --cell lstm --emb 200 --hidden 200
    --adaptive-softmax --max-time 30m -o brown.rnn --log brown.jsonl
    """
    p = params
    max_time = parse_duration(p["max_time"])
    cutoffs = parse_cutoffs(p["cutoffs"])
    if cutoffs and not p["adaptive_softmax"]:
        raise UsageError("--cutoffs applies to the adaptive softmax: add --adaptive-softmax")
    if p["threads"] is not None and p["threads"] < 1:
        raise UsageError(f"--threads must be at least 1 (got {p['threads']})")

    from lmtool.neural.model import RnnConfig, RnnLM, default_cutoffs
    from lmtool.neural.rnn import corpus_meta
    from lmtool.neural.training import Trainer, TrainOptions

    drop = {name: p[f"dropout_{name}"] if p[f"dropout_{name}"] is not None else p["dropout"]
            for name in ("input", "between", "output")}

    def make_config(vocab_size: int, cutoffs: list[int]) -> RnnConfig:
        config = RnnConfig(vocab_size=vocab_size, cell=p["cell"], emb_size=p["emb"], hidden_size=p["hidden"],
                           layers=p["layers"], dropout_input=drop["input"], dropout_between=drop["between"],
                           dropout_output=drop["output"], tied=p["tied"], adaptive_cutoffs=cutoffs)
        config.validate()
        return config

    seed = p["seed"] if p["seed"] is not None else 0
    options = TrainOptions(bptt=p["bptt"], batch_size=p["batch_size"], optimizer=p["optimizer"], lr=p["lr"],
                           clip=p["clip"], weight_decay=p["weight_decay"], schedule=p["schedule"], warmup=p["warmup"],
                           lr_decay=p["lr_decay"], epochs=p["epochs"], max_steps=p["max_steps"], max_time=max_time,
                           patience=p["patience"], valid_every=p["valid_every"], seed=seed,
                           random_windows=p["random_windows"])
    options.validate()
    make_config(2**31 - 1, [])  # bad sizes, dropouts, tying: fail before the corpus is read

    from lmtool.text import load_corpus

    corpus = load_corpus(spec, **corpus_kwargs(p))
    train = corpus.splits["train"]
    if train.n_tokens == 0:
        raise DataError(f"{spec}: the train split has no tokens: give a corpus with text in it")
    vocab_size = len(corpus.vocabulary)
    config = make_config(vocab_size, (cutoffs or default_cutoffs(vocab_size)) if p["adaptive_softmax"] else [])

    import torch

    from lmtool.neural import distributed

    if p["threads"]:
        torch.set_num_threads(p["threads"])
    output = Path(p["output"])
    checkpoint_dir = Path(p["checkpoint_dir"]) if p["checkpoint_dir"] else output.with_name(output.name + ".ckpt")
    device = pick_device(p["device"])
    dist = distributed.setup(device)
    if device.type == "cuda":
        device = torch.device(f"cuda:{dist.local_rank}")
    try:
        torch.manual_seed(seed)
        valid = corpus.splits.get("valid")
        progress = Progress(show=dist.is_main and not quiet and not as_json,
                            log_path=p["log_path"] if dist.is_main else None, log_every=p["log_every"])
        try:
            trainer = Trainer(RnnLM(config), train.ids, valid.ids if valid is not None else None, options,
                              out_path=output, checkpoint_dir=checkpoint_dir, meta=corpus_meta(corpus),
                              device=device, dist=dist, on_event=progress)
            if p["resume"]:
                trainer.resume()
            summary = trainer.run()
        finally:
            progress.close()
    except BaseException:
        dist.close(wait=False)
        raise
    dist.close()
    if not dist.is_main:
        return
    summary = {"model": str(output), "checkpoint_dir": str(checkpoint_dir), "architecture": config.to_dict(),
               "vocab_size": vocab_size, "train_tokens": train.n_tokens, **summary}
    if as_json:
        print_json(summary)
    elif not quiet:
        best = summary["best_valid_ppl"]
        best_text = f"best valid ppl {best:.2f}" if best is not None and math.isfinite(best) else "no validation split"
        click.echo(f"{output}: {summary['steps']} steps, {summary['epochs']:.2f} epochs in {summary['elapsed_s']:.0f}s "
                   f"({summary['stopped']}); {best_text}")
