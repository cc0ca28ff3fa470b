"""The base class every model family extends, so that evaluation, sampling and the API are written once.

An n-gram model (:class:`lmtool.ngram.NgramModel`), a feed-forward neural n-gram
(:class:`lmtool.neural.NnlmModel`) and a recurrent model (:class:`lmtool.neural.RnnModel`) all
extend :class:`LanguageModel`; :mod:`lmtool.evaluate` and
:mod:`lmtool.sampling` use nothing else, which is what makes their figures comparable token for
token. As in ``nltk.lm``, the base does the shared work once (it holds the tokenizer,
vocabulary, unit and fingerprint; it encodes text, scores a sentence, gives the next-token
distribution and the perplexity) and each family overrides the minimum: :meth:`score`, the
four stepping methods :meth:`start_rows` / :meth:`next_log_probs_rows` / :meth:`advance_rows` /
:meth:`select_rows`, and :meth:`describe`.

The stepping protocol is batched: a state holds ``rows`` sequences that step in lockstep, so
that :mod:`lmtool.sampling` draws all its samples with one model call per step (one batched
forward of an RNN, one vectorised n-gram lookup), not one per sample::

    state = model.start_rows(context_ids, rows)      # rows copies of <s> + context_ids
    log_probs = model.next_log_probs_rows(state)     # (rows, V) natural logs
    state = model.select_rows(state, keep)           # only the rows where keep (rows,) is true
    state = model.advance_rows(state, token_ids)     # one id per remaining row

A state is the family's own business (an n-gram's (rows, order - 1) contexts, an RNN's hidden
state as (layers, rows, hidden), a window array...); callers only pass it back. Row r of every
method's input and output is the same sequence, and rows never see each other. The one-row
methods :meth:`start`, :meth:`next_log_probs` and :meth:`advance` are written here once over
the batched ones (a state of one row), for the single-context API.

A family written for the earlier one-row protocol (``start(context_ids)``,
``next_log_probs(state)`` -> (V,), ``advance(state, token_id)``) adapts mechanically: its state
gains a leading rows axis (tile the one-row state ``rows`` times in :meth:`start_rows`), its
distribution becomes one (rows, V) call, its advance takes a (rows,) array of ids (a restart
after ``</s>`` applies to the rows whose id is ``</s>``), and :meth:`select_rows` indexes the
rows axis with the mask; it then deletes its one-row methods, which the base provides.

Conventions (the same for every family, see the README's "Token accounting"):

- log-probabilities are natural logs inside lmtool; ARPA (log10) and reports (bits,
  perplexity) convert at the edge;
- every id in :attr:`lmtool.text.EncodedSplit.ids` is predicted exactly once, ``</s>``
  included; ``<s>`` is only ever context, never predicted;
- each segment of a split (a sentence in line units, the whole text in stream units) starts
  from the ``<s>`` context.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from lmtool.errors import UsageError
from lmtool.text import EOS_ID, EncodedSplit

LN2 = math.log(2.0)


def perplexity(log_probs: np.ndarray) -> tuple[float, float]:
    """``(cross-entropy in bits per token, perplexity)`` of per-token natural-log probabilities.

    The only place lmtool turns log-probabilities into a perplexity: every model's
    :meth:`LanguageModel.perplexity`, every table column and variant calls it on (a masked
    subset of) one model's per-token scores. A zero-probability token (-inf) gives an infinite
    perplexity; an empty selection gives NaN.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.size == 0:
        return math.nan, math.nan
    nats = -float(np.mean(log_probs))
    return nats / LN2, nats_to_perplexity(nats)


def nats_to_perplexity(nats: float) -> float:
    """``exp(nats)``, infinite past what a float holds (a loss above ~709 nats overflows ``math.exp``)."""
    return math.exp(nats) if nats < 700 else math.inf


def top_k(log_probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest entries of each row of ``log_probs`` (B, V), largest first: ``(ids, values)``, (B, k) each."""
    k = min(k, log_probs.shape[1])
    ids = np.argpartition(-log_probs, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(log_probs, ids, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(values, order, axis=1)


class LanguageModel(ABC):
    """A model over one tokenizer, vocabulary and unit; subclasses say how it scores and steps."""

    #: "ngram", "nnlm" (the feed-forward neural n-gram) or "rnn" (the kind column of reports)
    kind: str = ""
    #: False only for stupid backoff, whose scores are not probabilities.
    normalised: bool = True
    #: how many preceding tokens the model can see (an n-gram: order - 1); None: unbounded (a recurrent state)
    context_size: int | None = None

    def __init__(self, tokenizer: Any, vocabulary: Any, unit: str = "line") -> None:
        self._tokenizer, self._vocabulary, self._unit = tokenizer, vocabulary, unit

    @property
    def tokenizer(self) -> Any:
        """The :class:`lmtool.text.Tokenizer` the model was trained with."""
        return self._tokenizer

    @property
    def vocabulary(self) -> Any:
        """The :class:`lmtool.text.Vocabulary` the model predicts over."""
        return self._vocabulary

    @property
    def unit(self) -> str:
        """``"line"`` (each line a sentence ending in ``</s>``) or ``"stream"`` (one text, no ``</s>``)."""
        return self._unit

    @cached_property
    def fingerprint(self) -> str:
        """Hash of tokenizer config + vocabulary + unit; equal fingerprints mean comparable perplexities."""
        from lmtool.text import compute_fingerprint  # corpus preparation: imported when first asked

        return compute_fingerprint(self._tokenizer, self._vocabulary, self._unit)

    # -- what each family provides ----------------------------------------------------------
    @abstractmethod
    def describe(self) -> dict:
        """A JSON-serialisable summary (kind, order or architecture, training summary...)."""

    @abstractmethod
    def score(self, split: Any, *, reset_per_sentence: bool = True) -> np.ndarray:
        """Natural-log probability of every token of ``split.ids`` (float64, same length).

        N-gram models always start each segment from ``<s>``. A recurrent model carries its
        hidden state across segments unless ``reset_per_sentence`` is true, in which case it
        restarts from the ``<s>`` context at every segment start, on equal terms with n-grams.
        """

    def score_splits(self, splits: Sequence[Any], *, reset_per_sentence: bool = True) -> list[np.ndarray]:
        """:meth:`score` of each split (the valid and test splits of one corpus, say), in order.

        Written here as one call per split; a recurrent family overrides it to run the splits'
        independent sequences side by side (a carried split is one sequence, which no exact
        scorer can cut into pieces).
        """
        return [self.score(split, reset_per_sentence=reset_per_sentence) for split in splits]

    @abstractmethod
    def start_rows(self, context_ids: Sequence[int], rows: int) -> Any:
        """The state of ``rows`` sequences, each ``<s>`` followed by ``context_ids`` (a prompt, maybe empty)."""

    @abstractmethod
    def next_log_probs_rows(self, state: Any) -> np.ndarray:
        """Natural-log distribution over the whole vocabulary for each row of ``state``: (rows, V), float64.

        ``<s>`` is never predicted (-inf); a family whose scores are not probabilities
        (``normalised`` False) renormalises them here, so that every row sums to one.
        """

    @abstractmethod
    def advance_rows(self, state: Any, token_ids: np.ndarray) -> Any:
        """The state after appending ``token_ids[r]`` to row r, for every row (``token_ids``: (rows,) ints).

        What follows ``</s>`` is the family's business: a model estimated on sentences restarts
        that row from ``<s>`` in line units; a recurrent one carries its state on.
        """

    @abstractmethod
    def select_rows(self, state: Any, keep: np.ndarray) -> Any:
        """The state of only the rows where the boolean mask ``keep`` (rows,) is true, in their order."""

    def start(self, context_ids: Sequence[int]) -> Any:
        """The state of one sequence after ``<s>`` followed by ``context_ids``: :meth:`start_rows` with one row."""
        return self.start_rows(context_ids, 1)

    def next_log_probs(self, state: Any) -> np.ndarray:
        """Natural-log distribution over the whole vocabulary (shape ``(V,)``) given a one-row ``state``."""
        return self.next_log_probs_rows(state)[0]

    def advance(self, state: Any, token_id: int) -> Any:
        """The one-row ``state`` after appending ``token_id``."""
        return self.advance_rows(state, np.array([token_id], dtype=np.int64))

    def score_contexts(self, split: Any, contexts: Sequence[int], targets: np.ndarray, *,
                       reset_per_sentence: bool = True) -> np.ndarray:
        """Natural-log probability of ``split.ids[targets]`` seeing only the last K tokens, for each K of ``contexts``.

        Returns (len(contexts), len(targets)). The method of Khandelwal et al. (2018): each
        target is predicted from a fresh start over exactly the K inputs before it (``<s>``
        counts as one), fewer where its segment starts sooner under ``reset_per_sentence``; the
        caller chooses targets that have K inputs before them otherwise. The base serves models
        of bounded context, for which K >= :attr:`context_size` is the ordinary score (they
        see no further anyway); a recurrent family overrides it with truncated windows.
        """
        if self.context_size is None:
            raise UsageError(f"{self.kind} models cannot be scored with a truncated context")
        if min(contexts) < self.context_size:
            plural = "" if self.context_size == 1 else "s"
            raise UsageError(f"a {self.kind} model sees {self.context_size} token{plural} of context and cannot be "
                             f"scored with {min(contexts)}: its curve is by order (fit lower orders for less)")
        row = self.score(split, reset_per_sentence=reset_per_sentence)[np.asarray(targets, dtype=np.int64)]
        return np.tile(row, (len(contexts), 1))

    def top_predictions(self, split: Any, count: int, k: int, *,
                        reset_per_sentence: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most likely ids and their natural-log probabilities before each of the first ``count`` ids.

        Returns ``(ids, log_probs)``, (count, k) each, most likely first. A segment starts from
        ``<s>`` under ``reset_per_sentence`` (n-grams always do); otherwise the state runs on, as
        :meth:`score` has it. Written here once over :meth:`start`, :meth:`next_log_probs` and
        :meth:`advance`, one step per token; the families override it with one batched pass.
        """
        ids = np.asarray(split.ids, dtype=np.int64)
        segment_starts = set(np.asarray(split.starts, dtype=np.int64)[:-1].tolist())
        rows, state = [], self.start([])
        for t in range(count):
            if t and t in segment_starts and reset_per_sentence:
                state = self.start([])
            rows.append(self.next_log_probs(state))
            state = self.advance(state, int(ids[t]))
        return top_k(np.array(rows).reshape(count, len(self._vocabulary)), k)

    # -- written once over the above ---------------------------------------------------------
    def encode(self, text: str | Sequence[str], *, sentence_end: bool = True) -> np.ndarray:
        """Ids of ``text`` (a string is tokenized, a list is taken as tokens) as one segment.

        Out-of-vocabulary tokens become ``<unk>``; in line units ``</s>`` is appended unless
        ``sentence_end`` is false (a prompt or a context, which the model continues).
        """
        tokens = self._tokenizer.tokenize(text) if isinstance(text, str) else list(text)
        ids = self._vocabulary.encode(tokens).astype(np.int64)
        return np.append(ids, EOS_ID) if sentence_end and self._unit == "line" else ids

    def log_prob(self, text: str | Sequence[str] | Sequence[int]) -> float:
        """Natural-log probability of ``text`` as one segment starting from ``<s>``.

        A string or a list of tokens is encoded (``</s>`` included in line units); a sequence of
        ids is scored as given.
        """
        if isinstance(text, str) or all(isinstance(t, str) for t in text):
            ids = self.encode(text)
        else:
            ids = np.asarray(text, dtype=np.int64)
        segment = EncodedSplit(ids=ids, starts=np.array([0, len(ids)], dtype=np.int64), n_chars=0)
        return float(self.score(segment).sum())

    def next_token_distribution(self, context: str | Sequence[int] = "", top: int | None = None) -> dict[str, float]:
        """Probabilities of the next token after ``<s>`` + ``context`` (text or ids), most likely first."""
        ids = self.encode(context, sentence_end=False) if isinstance(context, str) else context
        probs = np.exp(self.next_log_probs(self.start([int(i) for i in ids])))
        order = np.argsort(-probs, kind="stable")[:top]
        return {self._vocabulary.token(int(i)): float(probs[i]) for i in order if probs[i] > 0}

    def perplexity(self, split: Any, *, reset_per_sentence: bool = True) -> float:
        """exp of the mean negative log-probability over every id of ``split`` (``</s>`` included)."""
        log_probs = self.score(split, reset_per_sentence=reset_per_sentence)
        if len(log_probs) == 0:
            raise UsageError("cannot compute a perplexity on an empty split")
        return perplexity(log_probs)[1]
