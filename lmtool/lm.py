"""The small protocol both model families meet, so evaluation and sampling are written once.

An n-gram model (:mod:`lmtool.ngram`) and a recurrent model (:mod:`lmtool.neural`) both
implement :class:`LanguageModel`. :mod:`lmtool.evaluate` and :mod:`lmtool.sampling` use nothing
else, which is what makes their figures comparable token for token.

Conventions (the same for both families, see the README's "Token accounting"):

- log-probabilities are natural logs inside lmtool; ARPA (log10) and reports (bits,
  perplexity) convert at the edge;
- every id in :attr:`lmtool.text.EncodedSplit.ids` is predicted exactly once, ``</s>``
  included; ``<s>`` is only ever context, never predicted;
- each segment of a split (a sentence in line units, the whole text in stream units) starts
  from the ``<s>`` context.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class LanguageModel(Protocol):
    """What evaluation and sampling need from a model of either family."""

    #: "ngram" or "rnn"
    kind: str
    #: False only for stupid backoff, whose scores are not probabilities.
    normalised: bool

    @property
    def tokenizer(self) -> Any:
        """The :class:`lmtool.text.Tokenizer` the model was trained with."""

    @property
    def vocabulary(self) -> Any:
        """The :class:`lmtool.text.Vocabulary` the model predicts over."""

    @property
    def fingerprint(self) -> str:
        """Hash of tokenizer config + vocabulary; equal fingerprints mean comparable perplexities."""

    def describe(self) -> dict:
        """A JSON-serialisable summary (kind, order or architecture, training summary...)."""

    def score(self, split: Any, *, reset_per_sentence: bool = True) -> np.ndarray:
        """Natural-log probability of every token of ``split.ids`` (float64, same length).

        N-gram models always start each segment from ``<s>``. A recurrent model carries its
        hidden state across segments unless ``reset_per_sentence`` is true, in which case it
        restarts from the ``<s>`` context at every segment start, on equal terms with n-grams.
        """

    def start(self, context_ids: Sequence[int]) -> Any:
        """The model state after ``<s>`` followed by ``context_ids`` (a prompt, maybe empty)."""

    def next_log_probs(self, state: Any) -> np.ndarray:
        """Natural-log distribution over the whole vocabulary (shape ``(V,)``) given ``state``."""

    def advance(self, state: Any, token_id: int) -> Any:
        """The state after appending ``token_id``."""
