"""Trained neural networks as :class:`lmtool.lm.LanguageModel` objects, and how to load them.

>>> model = load_rnn("brown.rnn")                       # doctest: +SKIP
>>> model.perplexity(split)                              # exact, lmtool's token accounting
>>> model.log_prob("the cat sat on the mat")             # natural log, </s> included (line units)
>>> model.next_token_distribution("the cat")             # {token: probability}, state carried

The base class provides that API; this module gives it each network's scoring and stepping:
:class:`RnnModel` for the recurrent networks, :class:`NnlmModel` for the feed-forward neural
n-gram (``load_nnlm``), both over :class:`NeuralModel`, which holds what they share.

Scoring convention (the token accounting of :mod:`lmtool.evaluate`): the input for position t is
the previous id; ``<s>`` starts the split and, with ``reset_per_sentence``, every segment, each
from a zero hidden state. :meth:`RnnModel.score` runs many sequences side by side (sentences
sorted by length, padded at the end, which a causal network cannot see; a row leaves when its
sequence ends) and long sequences in time chunks with the state carried, so its figures equal
one token-by-token pass exactly up to float rounding. A carried split is one sequence, one row:
its recurrence is sequential, and cutting it into rows would change its figures;
:meth:`RnnModel.score_splits` runs several splits' sequences side by side instead (valid and
test, carried, as two rows). The sampling state is batched: (layers, rows, hidden), all rows
advanced by one forward step. The neural n-gram has no state to carry: it always scores per
sentence, each position from its own window (``<s>`` before the segment start, as an n-gram
pads), all positions in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from lmtool.errors import ModelFileError, UsageError
from lmtool.lm import LanguageModel
from lmtool.neural.batching import input_stream
from lmtool.neural.checkpoint import read_model_file
from lmtool.neural.feedforward import NnlmNetwork, score_windows
from lmtool.neural.memory import window_log_probs, window_top
from lmtool.neural.network import RnnNetwork
from lmtool.text import BOS_ID, EOS_ID, Vocabulary, tokenizer_from_json


@dataclass(frozen=True)
class RnnState:
    """Sampling state of ``rows`` sequences: the hidden state after each row's last input, and the recurrent
    stack's output there, which the softmax turns into the next distribution when asked (a row costs H
    floats between steps, not V)."""

    hidden: Any  # (layers, rows, hidden), a pair of them for an LSTM
    output: Any  # (rows, hidden)


class NeuralModel(LanguageModel):
    """A network with its tokenizer and vocabulary, and the model file's metadata (what both neural kinds share)."""

    def __init__(self, net, tokenizer, vocabulary: Vocabulary, meta: dict) -> None:
        super().__init__(tokenizer, vocabulary, meta.get("unit", "line"))
        self.net = net.eval()
        self.meta = meta

    def describe(self) -> dict:
        parameters = sum(p.numel() for p in self.net.parameters())
        return {"kind": self.kind, "format": self.meta["format"], "format_version": self.meta["format_version"],
                "architecture": self.net.config.to_dict(), "parameters": parameters, "unit": self.unit,
                "vocabulary_size": len(self._vocabulary), "tokenizer": self._tokenizer.to_json(),
                "fingerprint": self.fingerprint, "training": self.meta.get("training", {})}


#: fewest time steps per scoring pass while there are rows to put side by side (see RnnModel._score_sequences)
MIN_WIDTH = 32


class RnnModel(NeuralModel):
    """A recurrent network (RNN, LSTM, GRU) as a language model."""

    kind = "rnn"

    # ----- what the LanguageModel base asks of a family ---------------------------------------

    def score(self, split, *, reset_per_sentence: bool = True, chunk_tokens: int = 2048) -> np.ndarray:
        """Natural-log probability of every id of ``split`` (float64), by lmtool's token accounting.

        ``chunk_tokens`` bounds rows x time steps per forward pass (memory: that many V-wide rows).
        Carried (``reset_per_sentence`` false), the split is one sequence: each state depends on
        the one before, so it runs as one row in time chunks and cannot be split without
        changing its figures (:meth:`score_splits` runs several splits side by side).
        """
        return self.score_splits([split], reset_per_sentence=reset_per_sentence, chunk_tokens=chunk_tokens)[0]

    def score_splits(self, splits: Sequence[Any], *, reset_per_sentence: bool = True,
                     chunk_tokens: int = 2048) -> list[np.ndarray]:
        """:meth:`score` of each split, their independent sequences side by side as rows of the same passes.

        A sequence is a segment under ``reset_per_sentence``, else a whole split (the state is
        carried within a split, never from one split into another): carried, the valid and test
        splits run as two rows at once. The figures equal each split's :meth:`score` up to float
        rounding.
        """
        ids = np.concatenate([np.asarray(s.ids, dtype=np.int64) for s in splits])
        offsets = np.cumsum([0] + [len(s.ids) for s in splits])
        bounds = [np.asarray(s.starts, dtype=np.int64) if reset_per_sentence else np.array([0, len(s.ids)])
                  for s in splits]
        begins = np.concatenate([b[:-1] + offset for b, offset in zip(bounds, offsets)])
        lengths = np.concatenate([np.diff(b) for b in bounds])
        keep = lengths > 0
        out = self._score_sequences(ids, begins[keep], lengths[keep], chunk_tokens)
        return np.split(out, offsets[1:-1])

    def _score_sequences(self, ids: np.ndarray, begins: np.ndarray, lengths: np.ndarray,
                         chunk_tokens: int) -> np.ndarray:
        """Natural-log probability of every id, each sequence ``ids[begin:begin + length]`` from ``<s>``, zero state.

        Sequences run longest first in groups of rows side by side, ``width`` time steps per
        pass with the state carried between passes (rows x width <= ``chunk_tokens``); a row
        leaves its group when its sequence ends, so no pass computes past the longest live row.
        Many rows side by side cut the sequential steps, the cost a recurrence pays per step.
        """
        order = np.argsort(-lengths, kind="stable")
        stream, targets = torch.from_numpy(input_stream(ids)), torch.from_numpy(ids)
        out = np.empty(len(ids), dtype=np.float64)
        i = 0
        while i < len(order):
            longest = int(lengths[order[i]])
            rows = min(len(order) - i, max(1, chunk_tokens // min(longest, MIN_WIDTH)))
            group = order[i:i + rows]
            i += rows
            width = min(longest, max(1, chunk_tokens // rows))
            self._score_group(stream, targets, begins[group], lengths[group], width, out)
        return out

    def _score_group(self, stream: torch.Tensor, targets: torch.Tensor, begins: np.ndarray, lengths: np.ndarray,
                     width: int, out: np.ndarray) -> None:
        """Score the sequences of one group (longest first) into ``out``, ``width`` steps per pass."""
        device = next(self.net.parameters()).device
        begin = torch.from_numpy(begins)[:, None]  # (R, 1)
        length = torch.from_numpy(lengths)[:, None]  # (R, 1)
        hidden = self.net.init_hidden(len(begins))
        with torch.no_grad():
            for t0 in range(0, int(lengths[0]), width):
                live = int(np.count_nonzero(lengths > t0))  # rows still running: a prefix, longest first
                if live < len(begin):
                    begin, length = begin[:live], length[:live]
                    hidden = map_hidden(hidden, lambda h: h[:, :live])
                steps = torch.arange(t0, min(t0 + width, int(lengths[0])))[None, :]  # (1, W)
                valid = steps < length  # (R, W)
                index = torch.where(valid, begin + steps, begin)  # (R, W) positions in ids
                x = stream[index]
                if t0 == 0:
                    x[:, 0] = BOS_ID  # every sequence starts from the <s> context
                _, nll, hidden = self.net(x.to(device), hidden, targets[index].to(device), reduction="none")
                out[index[valid].numpy()] = -nll[valid.to(device)].double().cpu().numpy()

    def score_contexts(self, split, contexts: Sequence[int], targets: np.ndarray, *,
                       reset_per_sentence: bool = True) -> np.ndarray:
        """Natural-log probabilities of ``split.ids[targets]`` from a fresh state over the last K inputs, per K.

        See :meth:`lmtool.lm.LanguageModel.score_contexts`. The window of target t with context K
        starts at input t - K + 1, or at its segment's ``<s>`` under ``reset_per_sentence``
        (then a window reaching the segment start is the ordinary per-sentence run). All
        windows go to :func:`lmtool.neural.memory.window_log_probs` at once, so windows of
        different K that share a start share one run.
        """
        if min(contexts) < 1:
            raise UsageError(f"a context must be at least 1 token (the input before the target), got {min(contexts)}")
        ids, targets = np.asarray(split.ids, dtype=np.int64), np.asarray(targets, dtype=np.int64)
        inputs, lowest = self._inputs(split, targets, reset_per_sentence)
        k = np.asarray(contexts, dtype=np.int64)[:, None]  # (C, 1)
        starts = np.maximum(targets[None, :] - k + 1, lowest[None, :])  # (C, N)
        columns = targets[None, :] - starts
        scores = window_log_probs(self.net, inputs, starts.ravel(), columns.ravel(),
                                  np.tile(ids[targets], len(contexts)))
        return scores.reshape(len(contexts), len(targets))

    def top_predictions(self, split, count: int, k: int, *,
                        reset_per_sentence: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`lmtool.lm.LanguageModel.top_predictions`: each target's window runs from its
        segment's start (or the split's), through :func:`lmtool.neural.memory.window_top`."""
        targets = np.arange(count, dtype=np.int64)
        inputs, lowest = self._inputs(split, targets, reset_per_sentence)
        return window_top(self.net, inputs, lowest, targets - lowest, min(k, len(self._vocabulary)))

    def _inputs(self, split, targets: np.ndarray, reset_per_sentence: bool) -> tuple[np.ndarray, np.ndarray]:
        """The input stream of ``split`` (``inputs[t]`` predicts ``ids[t]``) and the first input each target may
        see: its segment's start, where ``<s>`` is the input, under ``reset_per_sentence``, else the split's."""
        inputs = input_stream(np.asarray(split.ids, dtype=np.int64))
        if not reset_per_sentence:
            return inputs, np.zeros(len(targets), dtype=np.int64)
        bounds = np.asarray(split.starts, dtype=np.int64)
        inputs[bounds[:-1]] = BOS_ID  # every segment starts from the <s> context
        return inputs, bounds[np.searchsorted(bounds, targets, side="right") - 1]

    def start_rows(self, context_ids: Sequence[int], rows: int) -> RnnState:
        """The prompt runs once, as one row; its state is then copied to ``rows`` rows."""
        first = self._feed(self.net.init_hidden(1), [[BOS_ID, *context_ids]])
        return RnnState(map_hidden(first.hidden, lambda h: h.repeat(1, rows, 1)), first.output.repeat(rows, 1))

    def next_log_probs_rows(self, state: RnnState) -> np.ndarray:
        """The softmax of every row's output at once: (rows, V), renormalised in float64."""
        with torch.no_grad():
            scores, _ = self.net.vocabulary_output(state.output, None)  # (rows, V)
            return torch.log_softmax(scores.double(), dim=-1).cpu().numpy()

    def advance_rows(self, state: RnnState, token_ids: np.ndarray) -> RnnState:
        """One forward step of all rows at once; the state runs on past ``</s>`` (carried, as scored by default)."""
        return self._feed(state.hidden, np.asarray(token_ids, dtype=np.int64)[:, None])

    def select_rows(self, state: RnnState, keep: np.ndarray) -> RnnState:
        index = torch.from_numpy(np.flatnonzero(keep)).to(state.output.device)
        return RnnState(map_hidden(state.hidden, lambda h: h[:, index]), state.output[index])

    def _feed(self, hidden, inputs) -> RnnState:
        """Run the inputs (rows, T) from ``hidden``: the state after them and each row's last output."""
        device = next(self.net.parameters()).device
        with torch.no_grad():
            output, hidden = self.net.features(torch.as_tensor(inputs, dtype=torch.long, device=device), hidden)
        return RnnState(hidden, output[:, -1])  # (rows, H)


def map_hidden(hidden, function):
    """``function`` applied to the hidden state's tensor, or to both of an LSTM's pair."""
    return tuple(function(h) for h in hidden) if isinstance(hidden, tuple) else function(hidden)


class NnlmModel(NeuralModel):
    """The feed-forward neural n-gram as a language model: an n-gram's window, learned embeddings.

    Its sampling state is the windows themselves ((rows, K): the last K ids, ``<s>`` filling the
    part before the sentence start); after ``</s>`` in line units a new sentence starts from
    ``<s>``, as the n-gram models restart.
    """

    kind = "nnlm"

    @property
    def context_size(self) -> int:
        """K: the tokens the model sees before the one it predicts (flat curves beyond it, see the base)."""
        return self.net.config.context

    @property
    def order(self) -> int:
        """n = K + 1, the order of the n-gram the model is."""
        return self.net.config.order

    def describe(self) -> dict:
        return {**super().describe(), "order": self.order, "context": self.context_size}

    def score(self, split, *, reset_per_sentence: bool = True, chunk_tokens: int = 1024) -> np.ndarray:
        """Natural-log probability of every id of ``split`` (float64), always per sentence (``reset_per_sentence`` is moot).

        ``chunk_tokens`` positions go through the network at once (memory: that many V-wide rows).
        """
        return score_windows(self.net, split.ids, split.starts, chunk_tokens)

    def start_rows(self, context_ids: Sequence[int], rows: int) -> np.ndarray:
        """``rows`` copies of the window after ``<s>`` + ``context_ids``: (rows, K) int64, ``<s>`` filling the part
        before the sentence start."""
        window = np.concatenate([np.full(self.context_size, BOS_ID), np.asarray(context_ids, dtype=np.int64)])
        return np.tile(window[len(window) - self.context_size:].astype(np.int64), (rows, 1))

    def next_log_probs_rows(self, state: np.ndarray) -> np.ndarray:
        """All rows' windows through the network in one forward: (rows, V)."""
        device = next(self.net.parameters()).device
        with torch.no_grad():
            logits, _, _ = self.net(torch.from_numpy(np.ascontiguousarray(state)).to(device))  # (rows, V)
            return torch.log_softmax(logits.double(), dim=-1).cpu().numpy()

    def advance_rows(self, state: np.ndarray, token_ids: np.ndarray) -> np.ndarray:
        token_ids = np.asarray(token_ids, dtype=np.int64)
        moved = np.concatenate([state[:, 1:], token_ids[:, None]], axis=1)
        if self.unit == "line":
            moved[token_ids == EOS_ID] = BOS_ID
        return moved

    def select_rows(self, state: np.ndarray, keep: np.ndarray) -> np.ndarray:
        return state[keep]


def corpus_meta(corpus) -> dict:
    """What a model file records about the :class:`lmtool.text.PreparedCorpus` it was trained on."""
    return {"unit": corpus.unit, "tokenizer": corpus.tokenizer.to_json(), "vocabulary": corpus.vocabulary.to_json(),
            "fingerprint": corpus.fingerprint, "corpus": corpus.source}


def load_rnn(path: str | Path, device: str | torch.device = "cpu") -> RnnModel:
    """Load a model file written by ``lmtool train-rnn``; damage or another kind raises :class:`ModelFileError`."""
    return load_neural(path, RnnModel, device)


def load_nnlm(path: str | Path, device: str | torch.device = "cpu") -> NnlmModel:
    """Load a model file written by ``lmtool train-nnlm``; damage or another kind raises :class:`ModelFileError`."""
    return load_neural(path, NnlmModel, device)


#: the model class of each network class
MODEL_CLASSES = {RnnNetwork: RnnModel, NnlmNetwork: NnlmModel}


def load_neural(path: str | Path, expected: type[NeuralModel] | None = None,
                device: str | torch.device = "cpu") -> NeuralModel:
    """Load any lmtool neural model file (``expected``: refuse a file of another kind)."""
    net, meta = read_model_file(path)
    model_class = MODEL_CLASSES[type(net)]
    if expected is not None and model_class is not expected:
        raise ModelFileError(f"{path}: holds a {model_class.kind} model ({meta['format']}), not a {expected.kind} "
                             "one: give a model of the expected kind (lmtool info shows what a file holds)")
    try:
        tokenizer = tokenizer_from_json(meta["tokenizer"])
        vocabulary = Vocabulary.from_json(meta["vocabulary"])
    except Exception as error:  # a malformed tokenizer/vocabulary is a damaged file, whatever raised
        raise ModelFileError(f"{path}: unreadable tokenizer or vocabulary ({error})") from None
    if len(vocabulary) != net.config.vocab_size:
        raise ModelFileError(f"{path}: vocabulary of {len(vocabulary)} tokens for a {net.config.vocab_size}-way softmax")
    model = model_class(net.to(device), tokenizer, vocabulary, meta)
    if model.fingerprint != meta.get("fingerprint"):
        raise ModelFileError(f"{path}: stored fingerprint does not match its tokenizer and vocabulary: the file is damaged")
    return model
