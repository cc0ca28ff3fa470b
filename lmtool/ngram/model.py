"""NgramModel: backoff tables plus the tokenizer and vocabulary they index, a :class:`lmtool.lm.LanguageModel`.

Scores are natural logs (the tables hold log10, converted here at the edge). Every segment of a
split starts from the ``<s>`` context; ``</s>`` is predicted, ``<s>`` never (probability 0).
For ``stupid-backoff`` (``normalised`` False) ``score`` returns log *scores*, not log
probabilities, and :meth:`next_log_probs` renormalises them so sampling still works.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lmtool.errors import UsageError
from lmtool.lm import LanguageModel
from lmtool.ngram.tables import LN10, BackoffTables, log10_distribution, log10_prob, score_stream
from lmtool.text import BOS_ID, EOS_ID


class NgramModel(LanguageModel):
    """An order-n Markov model in backoff form (see :mod:`lmtool.ngram.tables`).

    Besides the base's API (``log_prob``, ``perplexity``, ``next_token_distribution``) it answers
    ``logprob(word, context)`` for any context, as ``nltk.lm`` does.
    """

    kind = "ngram"

    def __init__(self, tables: BackoffTables, tokenizer: Any, vocabulary: Any, *, unit: str = "line",
                 method: str = "modified-kneser-ney", normalised: bool = True, parameters: dict | None = None,
                 discounts: list | None = None, training: dict | None = None, source: str = "fit") -> None:
        if len(vocabulary) != tables.vocab_size:
            raise UsageError(f"vocabulary has {len(vocabulary)} tokens but the tables index {tables.vocab_size}")
        super().__init__(tokenizer, vocabulary, unit)
        self.tables = tables
        self.method = method
        self.normalised = normalised
        self.parameters = dict(parameters or {})
        self.discounts = discounts
        self.training = dict(training or {})
        self.source = source

    @property
    def order(self) -> int:
        return self.tables.order

    # -- what the LanguageModel base asks of a family ---------------------------------------
    def describe(self) -> dict:
        """What the model is: order, method, n-grams per order, training data, provenance."""
        info = {
            "kind": self.kind,
            "order": self.order,
            "method": self.method,
            "normalised": self.normalised,
            "parameters": self.parameters,
            "discounts": self.discounts,
            "ngrams": self.tables.n_listed(),
            "vocabulary_size": len(self._vocabulary),
            "unit": self.unit,
            "tokenizer": self._tokenizer.to_json(),
            "fingerprint": self.fingerprint,
            "training": self.training,
            "source": self.source,
        }
        if not self.normalised:
            info["note"] = "stupid backoff gives scores, not probabilities: its perplexity is not a perplexity"
        if self.source.startswith("arpa:"):
            info["note"] = ("read from an ARPA file: word tokenizer (split on spaces) and the ARPA's vocabulary; "
                            "training counts unknown")
        return info

    def score(self, split: Any, *, reset_per_sentence: bool = True) -> np.ndarray:
        """Natural-log probability of every id of ``split.ids`` (each segment starts from ``<s>``)."""
        log10, _ = score_stream(self.tables, split.ids, split.starts)
        return log10 * LN10

    def start(self, context_ids: Sequence[int]) -> np.ndarray:
        """The state after ``<s>`` and ``context_ids``: the last order-1 ids (int64 array)."""
        history = np.concatenate([[BOS_ID], np.asarray(context_ids, dtype=np.int64)]).astype(np.int64)
        return history[-(self.order - 1):] if self.order > 1 else history[:0]

    def next_log_probs(self, state: np.ndarray) -> np.ndarray:
        """Natural-log distribution over the vocabulary (``<s>`` gets -inf) after ``state``."""
        log10 = log10_distribution(self.tables, np.asarray(state, dtype=np.int64)[None, :])[0]
        logp = log10 * LN10
        if not self.normalised:
            finite = np.isfinite(logp)
            logp[finite] -= np.logaddexp.reduce(logp[finite])
        return logp

    def advance(self, state: np.ndarray, token_id: int) -> np.ndarray:
        """The state after ``token_id``; after ``</s>`` in line units a new sentence starts from ``<s>``."""
        if token_id == EOS_ID and self.unit == "line":
            return self.start([])
        if self.order == 1:
            return state
        return np.concatenate([state, [int(token_id)]])[-(self.order - 1):].astype(np.int64)

    # -- the convenience API ----------------------------------------------------------------
    def _ids(self, tokens: Sequence[str | int]) -> list[int]:
        return [t if isinstance(t, (int, np.integer)) else self._vocabulary.id(t) for t in tokens]

    def logprob(self, word: str | int, context: Sequence[str | int] = ()) -> float:
        """Natural log p(word | context); put ``"<s>"`` first in ``context`` for a sentence start."""
        (word_id,) = self._ids([word])
        if word_id == BOS_ID:
            return float("-inf")
        grams = np.array(self._ids(list(context)) + [word_id], dtype=np.int64)
        return float(log10_prob(self.tables, grams)[0] * LN10)

    #: the sentence's natural-log probability, ``</s>`` included in line units (the base's log_prob)
    score_sentence = LanguageModel.log_prob

