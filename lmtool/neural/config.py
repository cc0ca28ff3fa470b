"""What a neural training run is made of, without torch: the network configs (recurrent and
feed-forward), the training options, and every name the command line offers (cells,
optimisers, schedules, devices).

This module imports no torch, so the CLI can list choices and reject nonsense before torch
(and a corpus) is loaded; :func:`lmtool.neural.train` builds the network and trains it.
Both dataclasses are plain data, as nanoGPT's config: ``to_dict``/``asdict`` goes into the
model file, and ``validate`` raises :class:`UsageError` naming the flag to fix.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from lmtool.errors import UsageError
from lmtool.limits import check_fits
from lmtool.text import BOS_ID

CELLS = ("rnn-tanh", "rnn-relu", "lstm", "gru")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("auto", "plateau", "cosine", "constant")
DEVICES = ("auto", "cpu", "cuda", "mps")
ADAPTIVE_DIV = 4.0  # each adaptive-softmax tail cluster projects to hidden / 4**(i+1), as in Grave et al.
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
#: the files a run keeps in its checkpoint directory: the last model, the resume state, the run's lock
LAST_MODEL, RESUME_STATE, LOCK = "last.safetensors", "resume.pt", "lock"
#: the largest --seed (torch, numpy and Python all take it)
MAX_SEED = 2**63 - 1
#: the most CPU threads torch is asked for (it crashes on tens of thousands)
MAX_THREADS = 1024
#: copies of the weights a run holds at once: weights, gradients, Adam's two moments, and the
#: rollback snapshot of weights and moments (4 bytes each, float32)
TRAINING_COPIES = 7


@dataclass
class RnnConfig:
    """Everything that defines the recurrent network (and nothing about training)."""

    vocab_size: int = 10000  # V, the shared Vocabulary's size, <unk>/<s>/</s> included
    cell: str = "lstm"  # one of CELLS
    emb_size: int = 200  # embedding width
    hidden_size: int = 200  # width of every recurrent layer
    layers: int = 2  # stacked recurrent layers
    dropout_input: float = 0.2  # on the embeddings
    dropout_between: float = 0.2  # between recurrent layers (needs layers > 1 to matter)
    dropout_output: float = 0.2  # on the last layer's output, before the softmax
    tied: bool = False  # share the embedding with the output layer (needs emb_size == hidden_size)
    adaptive_cutoffs: list[int] = field(default_factory=list)  # [] = full softmax; else cluster edges

    def validate(self) -> None:
        """Raise :class:`UsageError` naming the first nonsensical field and how to fix it."""
        if self.cell not in CELLS:
            raise UsageError(f"unknown cell {self.cell!r}: choose one of {', '.join(CELLS)}")
        for name, flag in (("emb_size", "--emb"), ("hidden_size", "--hidden"), ("layers", "--layers")):
            if int(getattr(self, name)) < 1:
                raise UsageError(f"{flag} must be at least 1 (got {getattr(self, name)})")
        if self.vocab_size < 4:  # <unk> <s> </s> and at least one word
            raise UsageError(f"vocabulary of {self.vocab_size} ids is too small: the corpus has no tokens besides <unk> <s> </s>")
        for name in ("dropout_input", "dropout_between", "dropout_output"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise UsageError(f"{name.replace('_', ' ')} must be in [0, 1) (got {p}): set --dropout "
                                 f"or --{name.replace('_', '-')} to a probability below 1")
        if self.tied and self.emb_size != self.hidden_size:
            raise UsageError(
                f"tied weights need equal embedding and hidden sizes (got --emb {self.emb_size}, "
                f"--hidden {self.hidden_size}): make them equal or drop --tied")
        if self.adaptive_cutoffs:
            check_cutoffs(list(self.adaptive_cutoffs), self.vocab_size, self.hidden_size, self.tied)

    def parameter_count(self) -> int:
        """The network's weights, counted from the config (as :class:`lmtool.neural.RnnNetwork` builds them)."""
        gates = {"lstm": 4, "gru": 3}.get(self.cell, 1)
        E, H, V = self.emb_size, self.hidden_size, self.vocab_size
        count = V * E + gates * H * (E + H + 2) + (self.layers - 1) * gates * H * (2 * H + 2)
        return count + softmax_parameter_count(H, V, self.adaptive_cutoffs, self.tied)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RnnConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class NnlmConfig:
    """The feed-forward neural n-gram of Bengio et al. (2003), and nothing about training.

    ``y = b + W x + U tanh(d + H x)``: ``x`` is the concatenation of the embeddings of the
    ``context`` previous tokens (``<s>`` fills the window before a segment's start, as an n-gram
    pads), ``H``/``d`` the tanh hidden layer(s), ``U``/``b`` the softmax and ``W`` the optional
    direct connections from ``x`` to the output. A model of context K is a (K+1)-gram: it makes
    the n-gram's Markov assumption but smooths by learned similarity instead of by counts.
    """

    vocab_size: int = 10000  # V, the shared Vocabulary's size, <unk>/<s>/</s> included
    context: int = 4  # n - 1: tokens the model sees before the predicted one (4: a 5-gram)
    emb_size: int = 60  # m, each context token's embedding width (the paper: 30-60)
    hidden_size: int = 100  # h, width of every tanh hidden layer (the paper: 50-100)
    layers: int = 1  # tanh hidden layers
    dropout: float = 0.0  # on the concatenated embeddings and on every hidden layer's output
    direct: bool = False  # the paper's W: direct connections from the embeddings to the output (full softmax)
    tied: bool = False  # share the embedding with the output layer (needs emb_size == hidden_size)
    adaptive_cutoffs: list[int] = field(default_factory=list)  # [] = full softmax; else cluster edges

    def validate(self) -> None:
        """Raise :class:`UsageError` naming the first nonsensical field and how to fix it."""
        if int(self.context) < 1:
            raise UsageError(f"--context must be at least 1 (got {self.context}): the model predicts each token "
                             "from the K tokens before it (K = n - 1 of an n-gram)")
        for name, flag in (("emb_size", "--emb"), ("hidden_size", "--hidden"), ("layers", "--layers")):
            if int(getattr(self, name)) < 1:
                raise UsageError(f"{flag} must be at least 1 (got {getattr(self, name)})")
        if self.vocab_size < 4:
            raise UsageError(f"vocabulary of {self.vocab_size} ids is too small: the corpus has no tokens besides <unk> <s> </s>")
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"--dropout must be in [0, 1) (got {self.dropout})")
        if self.tied and self.emb_size != self.hidden_size:
            raise UsageError(
                f"tied weights need equal embedding and hidden sizes (got --emb {self.emb_size}, "
                f"--hidden {self.hidden_size}): make them equal or drop --tied")
        if self.adaptive_cutoffs:
            if self.direct:
                raise UsageError("--direct and --adaptive-softmax cannot be combined (direct connections feed a "
                                 "full softmax): drop one of them")
            check_cutoffs(list(self.adaptive_cutoffs), self.vocab_size, self.hidden_size, self.tied)

    @property
    def order(self) -> int:
        """n of the n-gram the model is: context + 1."""
        return int(self.context) + 1

    def parameter_count(self) -> int:
        """The network's weights, counted from the config (as :class:`lmtool.neural.NnlmNetwork` builds them)."""
        V, E, H, window = self.vocab_size, self.emb_size, self.hidden_size, int(self.context) * self.emb_size
        count = V * E + window * H + H + (self.layers - 1) * (H * H + H)  # embeddings and the tanh layers
        count += window * V if self.direct else 0
        return count + softmax_parameter_count(H, V, self.adaptive_cutoffs, self.tied)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NnlmConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def softmax_parameter_count(features: int, vocab_size: int, cutoffs: list[int], tied: bool) -> int:
    """Weights of the output layer over the vocabulary (:class:`lmtool.neural.softmax.VocabularySoftmax`) from
    ``features`` inputs: full (a tied matrix counted once, with the embedding) or adaptive (Grave et al.)."""
    if not cutoffs:
        return (0 if tied else features * vocab_size) + vocab_size
    edges = [*cutoffs, vocab_size]
    count = features * (edges[0] + len(edges) - 1)  # the head: frequent words and one logit per cluster
    for i, (low, high) in enumerate(zip(edges, edges[1:])):
        projection = features // int(ADAPTIVE_DIV ** (i + 1))
        count += features * projection + projection * (high - low)
    return count


def check_cutoffs(cutoffs: list[int], vocab_size: int, hidden_size: int, tied: bool) -> None:
    """Raise :class:`UsageError` for adaptive-softmax cutoffs that cannot make clusters over ``vocab_size`` ids."""
    if tied:
        raise UsageError("--tied and --adaptive-softmax cannot be combined: drop one of them")
    if cutoffs != sorted(set(cutoffs)) or cutoffs[0] <= BOS_ID or cutoffs[-1] >= vocab_size:
        raise UsageError(
            f"adaptive-softmax cutoffs {cutoffs} must increase strictly and lie between 2 and "
            f"the vocabulary size - 1 ({vocab_size - 1}): pass smaller --cutoffs")
    if hidden_size // int(ADAPTIVE_DIV ** len(cutoffs)) < 1:
        raise UsageError(
            f"hidden size {hidden_size} is too small for {len(cutoffs)} adaptive-softmax "
            f"clusters (the last projects to hidden/{int(ADAPTIVE_DIV ** len(cutoffs))}): use fewer --cutoffs")


def default_cutoffs(vocab_size: int) -> list[int]:
    """Cluster edges for the adaptive softmax: a 2,000-word head then 10,000, like Grave et al. on PTB-sized vocabularies.

    Smaller vocabularies get proportionally smaller clusters (a fifth and a half of V).
    """
    if vocab_size > 20000:
        return [2000, 10000]
    return sorted({max(2, vocab_size // 5), max(3, vocab_size // 2)})


@dataclass
class TrainOptions:
    """How to train (the network itself is a config such as :class:`RnnConfig`)."""

    bptt: int = 35  # truncated-BPTT window (time steps)
    batch_size: int = 20  # global batch rows (split across ranks under torchrun)
    optimizer: str = "sgd"  # one of OPTIMIZERS
    lr: float | None = None  # None: 20 for SGD (PyTorch's example), 1e-3 for Adam/AdamW
    clip: float = 0.25  # max gradient norm; 0 = no clipping
    weight_decay: float = 0.0  # on matrices only (2-D and up), never on biases
    schedule: str = "auto"  # one of SCHEDULES
    warmup: int = 0  # linear warm-up steps
    lr_decay: float = 4.0  # plateau and rollback divisor
    epochs: int | None = None  # None with no other budget: 10
    max_steps: int | None = None
    max_time: float | None = None  # seconds of wall clock
    patience: int = 3  # scheduled validations without improvement before stopping; 0 = never
    valid_every: int | None = None  # steps; None = each epoch
    eval_batch_size: int = 10  # rows of the streamed validation
    seed: int = 1234
    random_windows: bool = False
    max_rollbacks: int = 3

    def validate(self) -> None:
        """Raise :class:`UsageError` naming the first nonsensical option."""
        for name in ("bptt", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {self.optimizer!r}: choose {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.schedule!r}: choose {', '.join(SCHEDULES)}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise UsageError(f"--lr must be positive and finite (got {self.lr})")
        for name in ("clip", "weight_decay", "lr_decay"):
            if not math.isfinite(getattr(self, name)):
                raise UsageError(f"--{name.replace('_', '-')} must be a finite number (got {getattr(self, name)})")
        if self.clip < 0 or self.weight_decay < 0 or self.warmup < 0 or self.patience < 0:
            raise UsageError("--clip, --weight-decay, --warmup and --patience cannot be negative")
        if self.lr_decay <= 1:
            raise UsageError(f"--lr-decay must be above 1 (got {self.lr_decay})")
        if not 0 <= self.seed <= MAX_SEED:
            raise UsageError(f"--seed must be between 0 and 2**63 - 1 (got {self.seed})")
        for name in ("epochs", "max_steps", "valid_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1 (got {value})")
        if self.max_time is not None and not self.max_time > 0:
            raise UsageError(f"--max-time must be positive (got {self.max_time})")
        if self.schedule == "cosine" and self.epochs is None and self.max_steps is None:
            raise UsageError("--schedule cosine needs --epochs or --max-steps to know where the cosine ends")

    @property
    def base_lr(self) -> float:
        return self.lr if self.lr is not None else (20.0 if self.optimizer == "sgd" else 1e-3)


def check_placement(device: str, threads: int | None) -> None:
    """Raise :class:`UsageError` for a device name lmtool does not know or fewer than one thread."""
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}: choose {', '.join(DEVICES)}")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise UsageError(f"--threads must be at least 1 and at most {MAX_THREADS} (got {threads})")


def parse_duration(value: str | None, flag: str = "--max-time") -> float | None:
    """``90``, ``90s``, ``30m``, ``2h`` -> seconds (None stays None); ``flag`` names the option in errors."""
    if value is None:
        return None
    match = DURATION.match(value)
    if not match:
        raise UsageError(f"{flag} {value!r} is not a duration: write e.g. 90, 90s, 30m or 2h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def checkpoint_directory(output: str | Path, checkpoint_dir: str | Path | None = None) -> Path:
    """Where a run writing the model ``output`` keeps its checkpoints: ``checkpoint_dir``, else ``OUTPUT.ckpt``."""
    output = Path(output)
    return Path(checkpoint_dir) if checkpoint_dir else output.with_name(output.name + ".ckpt")


def check_network_fits(config) -> None:
    """Refuse a network whose weights and training state (:data:`TRAINING_COPIES`) exceed this
    machine's memory, before torch tries to allocate them."""
    check_fits(f"a network of {config.parameter_count():,} weights", 4 * TRAINING_COPIES * config.parameter_count(),
               "use smaller --emb, --hidden or --layers (or --adaptive-softmax for a large vocabulary)")
