"""A trained recurrent network as a :class:`lmtool.lm.LanguageModel`, and how to load one.

>>> model = load_rnn("brown.rnn")                       # doctest: +SKIP
>>> model.perplexity(split)                              # exact, lmtool's token accounting
>>> model.log_prob("the cat sat on the mat")             # natural log, </s> included (line units)
>>> model.next_token_distribution("the cat")             # {token: probability}, state carried

The base class provides that API; this module gives it the network's scoring and stepping.

Scoring convention (the token accounting of :mod:`lmtool.evaluate`): the input for position t is
the previous id; ``<s>`` starts the split and, with ``reset_per_sentence``, every segment, each
from a zero hidden state. :meth:`RnnModel.score` runs many sequences side by side (sentences
sorted by length, padded at the end, which a causal network cannot see) and long sequences in
time chunks with the state carried, so its figures equal one token-by-token pass exactly up to
float rounding.
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
from lmtool.neural.memory import window_log_probs, window_top
from lmtool.neural.network import RnnNetwork
from lmtool.text import BOS_ID, Vocabulary, tokenizer_from_json


@dataclass(frozen=True)
class RnnState:
    """Sampling state: the hidden state after the last input and the distribution it gives."""

    hidden: Any
    log_probs: np.ndarray  # (V,) natural logs, <s> at -inf


class RnnModel(LanguageModel):
    """A recurrent network with its tokenizer and vocabulary, and the model file's metadata."""

    kind = "rnn"

    def __init__(self, net: RnnNetwork, tokenizer, vocabulary: Vocabulary, meta: dict) -> None:
        super().__init__(tokenizer, vocabulary, meta.get("unit", "line"))
        self.net = net.eval()
        self.meta = meta

    # ----- what the LanguageModel base asks of a family ---------------------------------------
    def describe(self) -> dict:
        parameters = sum(p.numel() for p in self.net.parameters())
        return {"kind": self.kind, "format": self.meta["format"], "format_version": self.meta["format_version"],
                "architecture": self.net.config.to_dict(), "parameters": parameters, "unit": self.unit,
                "vocabulary_size": len(self._vocabulary), "tokenizer": self._tokenizer.to_json(),
                "fingerprint": self.fingerprint, "training": self.meta.get("training", {})}

    def score(self, split, *, reset_per_sentence: bool = True, chunk_tokens: int = 2048) -> np.ndarray:
        """Natural-log probability of every id of ``split`` (float64), by lmtool's token accounting.

        ``chunk_tokens`` bounds rows x time steps per forward pass (memory: that many V-wide rows).
        """
        ids = np.asarray(split.ids, dtype=np.int64)
        bounds = np.asarray(split.starts, dtype=np.int64) if reset_per_sentence else np.array([0, len(ids)])
        begins, lengths = bounds[:-1], np.diff(bounds)
        keep = lengths > 0
        begins, lengths = begins[keep], lengths[keep]
        order = np.argsort(-lengths, kind="stable")
        stream = torch.from_numpy(input_stream(ids))
        targets = torch.from_numpy(ids)
        out = np.empty(len(ids), dtype=np.float64)
        device = next(self.net.parameters()).device
        i = 0
        with torch.no_grad():
            while i < len(order):
                longest = int(lengths[order[i]])
                width = min(longest, chunk_tokens)
                group = order[i:i + max(1, chunk_tokens // width)]
                i += len(group)
                begin = torch.from_numpy(begins[group])[:, None]  # (R, 1)
                length = torch.from_numpy(lengths[group])[:, None]  # (R, 1)
                hidden = self.net.init_hidden(len(group))
                for t0 in range(0, longest, width):
                    steps = torch.arange(t0, min(t0 + width, longest))[None, :]  # (1, W)
                    valid = steps < length  # (R, W)
                    index = torch.where(valid, begin + steps, begin)  # (R, W) positions in ids
                    x = stream[index]
                    if t0 == 0:
                        x[:, 0] = BOS_ID  # every sequence starts from the <s> context
                    _, nll, hidden = self.net(x.to(device), hidden, targets[index].to(device), reduction="none")
                    out[index[valid].numpy()] = -nll[valid.to(device)].double().cpu().numpy()
        return out

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

    def start(self, context_ids: Sequence[int]) -> RnnState:
        return self._feed(self.net.init_hidden(1), [BOS_ID, *context_ids])

    def next_log_probs(self, state: RnnState) -> np.ndarray:
        return state.log_probs

    def advance(self, state: RnnState, token_id: int) -> RnnState:
        return self._feed(state.hidden, [token_id])

    def _feed(self, hidden, inputs: Sequence[int]) -> RnnState:
        device = next(self.net.parameters()).device
        x = torch.tensor([list(inputs)], dtype=torch.long, device=device)  # (1, T)
        with torch.no_grad():
            logits, _, hidden = self.net(x, hidden)  # (1, T, V)
            log_probs = torch.log_softmax(logits[0, -1].double(), dim=-1)
        return RnnState(hidden, log_probs.cpu().numpy())


def corpus_meta(corpus) -> dict:
    """What a model file records about the :class:`lmtool.text.PreparedCorpus` it was trained on."""
    return {"unit": corpus.unit, "tokenizer": corpus.tokenizer.to_json(), "vocabulary": corpus.vocabulary.to_json(),
            "fingerprint": corpus.fingerprint, "corpus": corpus.source}


def load_rnn(path: str | Path, device: str | torch.device = "cpu") -> RnnModel:
    """Load a model file written by ``lmtool train-rnn``; damage raises :class:`ModelFileError`."""
    net, meta = read_model_file(path)
    try:
        tokenizer = tokenizer_from_json(meta["tokenizer"])
        vocabulary = Vocabulary.from_json(meta["vocabulary"])
    except Exception as error:  # a malformed tokenizer/vocabulary is a damaged file, whatever raised
        raise ModelFileError(f"{path}: unreadable tokenizer or vocabulary ({error})") from None
    if len(vocabulary) != net.config.vocab_size:
        raise ModelFileError(f"{path}: vocabulary of {len(vocabulary)} tokens for a {net.config.vocab_size}-way softmax")
    model = RnnModel(net.to(device), tokenizer, vocabulary, meta)
    if model.fingerprint != meta.get("fingerprint"):
        raise ModelFileError(f"{path}: stored fingerprint does not match its tokenizer and vocabulary: the file is damaged")
    return model
