"""The one entry point that trains a neural language model: :func:`train`.

``lmtool train-rnn`` and ``lmtool compare`` both call it, and so does any Python user. It does
everything between a prepared corpus and a model file: checks the options, picks the device,
joins a ``torchrun`` job when there is one (:mod:`lmtool.neural.distributed`), sets torch's CPU
threads, seeds, builds the network for its config, runs the :class:`Trainer` (resuming when
asked), writes the JSON-lines event log (with the throughput), and returns the run's summary.

The network is chosen by the type of its config (:data:`NETWORKS`): :class:`RnnConfig` builds
the recurrent network, :class:`NnlmConfig` the feed-forward neural n-gram; another network kind
plugs in with its config class and module. Nothing here is specific to one kind.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import torch

from lmtool.errors import DataError, UsageError
from lmtool.files import directory_lock, json_text, write_error
from lmtool.neural import distributed
from lmtool.neural.checkpoint import FORMATS, seed_everything
from lmtool.neural.config import LOCK, TrainOptions, check_network_fits, check_placement, checkpoint_directory
from lmtool.neural.language_model import corpus_meta
from lmtool.neural.training import Trainer

#: network config class (RnnConfig, NnlmConfig) -> the torch module it configures
NETWORKS = {network.config_class: network for network in FORMATS.values()}


def network_class(config) -> type[torch.nn.Module]:
    """The torch module class that ``config`` configures (see :data:`NETWORKS`)."""
    try:
        return NETWORKS[type(config)]
    except KeyError:
        raise UsageError(f"no network is built from a {type(config).__name__}: "
                         f"give one of {', '.join(c.__name__ for c in NETWORKS)}") from None


def pick_device(name: str) -> torch.device:
    """The torch device for ``name`` (auto: cuda, then mps, then cpu)."""
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda" and not cuda or name == "mps" and not mps:
        raise UsageError(f"--device {name} is not available on this machine: use --device cpu or auto")
    return torch.device(name)


class Throughput:
    """Adds ``tokens_per_s`` to step events: tokens over wall time since this run's first step."""

    def __init__(self) -> None:
        self.tokens, self.first = 0, None

    def __call__(self, event: dict) -> None:
        if event["event"] != "step":
            return
        self.tokens += event["tokens"]
        if self.first is None:
            self.first = (event["elapsed"], self.tokens)
        seconds = event["elapsed"] - self.first[0]
        event["tokens_per_s"] = (self.tokens - self.first[1]) / seconds if seconds > 0 else float("nan")


class EventLog:
    """The JSON-lines training log: every event except ``step``, and every ``every``-th step."""

    def __init__(self, path: str | Path, every: int) -> None:
        try:
            self.file = open(path, "a", encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--log {path}: cannot write there ({error.strerror}): give a writable file") from None
        self.every = every

    def __call__(self, event: dict) -> None:
        if event["event"] != "step" or event["step"] % self.every == 0:
            try:
                self.file.write(json_text(event, indent=None) + "\n")
                self.file.flush()
            except OSError as error:
                raise write_error(self.file.name, error) from None

    def close(self) -> None:
        self.file.close()


def train(corpus, config, options: TrainOptions, *, output: str | Path, checkpoint_dir: str | Path | None = None,
          resume: bool = False, device: str = "auto", threads: int | None = None, log_path: str | Path | None = None,
          log_every: int = 10, on_event: Callable[[dict], None] | None = None,
          allow_option_changes: bool = False) -> dict | None:
    """Train the network ``config`` describes on ``corpus`` (a :class:`lmtool.text.PreparedCorpus`).

    The best model by validation goes to ``output``; the last model and the resume checkpoint
    to ``checkpoint_dir`` (default ``OUTPUT.ckpt``), which a lock keeps to one live run at a
    time. ``on_event`` and the log at ``log_path`` receive the trainer's events (rank 0 only).
    ``threads`` sets torch's CPU threads for the process. ``resume`` continues the run saved in
    the checkpoint directory, which must have been started with the same options (the budgets
    aside) on the same corpus unless ``allow_option_changes``; a run that already finished is
    left as it is. Returns the summary (paths, architecture, data sizes, then the trainer's
    summary: steps, epochs, best validation loss...) on rank 0, None on the other ranks of a job.
    """
    network = network_class(config)
    options.validate()
    config.validate()
    check_network_fits(config)
    check_placement(device, threads)
    train_split, valid = corpus.splits["train"], corpus.splits.get("valid")
    if train_split.n_tokens == 0:
        raise DataError(f"{corpus.source}: the train split has no tokens: give a corpus with text in it")
    if config.vocab_size != len(corpus.vocabulary):
        raise UsageError(f"the network predicts {config.vocab_size} ids but the corpus vocabulary has "
                         f"{len(corpus.vocabulary)}: build the config with vocab_size=len(corpus.vocabulary)")
    if threads:
        torch.set_num_threads(threads)
    output = Path(output)
    checkpoint_dir = checkpoint_directory(output, checkpoint_dir)
    device = pick_device(device)
    dist = distributed.setup(device)
    if device.type == "cuda":
        device = torch.device(f"cuda:{dist.local_rank}")
    try:
        seed_everything(options.seed)  # the network's initialisation
        log = EventLog(log_path, log_every) if log_path and dist.is_main else None
        listeners = [f for f in (Throughput(), on_event, log) if f is not None]

        def tell(event: dict) -> None:
            for listener in listeners:
                listener(event)

        try:
            with directory_lock(checkpoint_dir, LOCK, "training run") if dist.is_main else nullcontext():
                trainer = Trainer(network(config), train_split, valid,
                                  options, out_path=output, checkpoint_dir=checkpoint_dir, meta=corpus_meta(corpus),
                                  device=device, dist=dist, on_event=tell)
                if resume:
                    trainer.resume(allow_option_changes)
                summary = trainer.run()
        finally:
            if log is not None:
                log.close()
    except BaseException:
        dist.close(wait=False)
        raise
    dist.close()
    if not dist.is_main:
        return None
    return {"model": str(output), "checkpoint_dir": str(checkpoint_dir), "architecture": config.to_dict(),
            "vocab_size": config.vocab_size, "train_tokens": train_split.n_tokens,
            "valid_tokens": valid.n_tokens if valid is not None else 0, **summary}
