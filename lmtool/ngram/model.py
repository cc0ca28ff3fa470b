"""NgramModel: backoff tables plus the tokenizer and vocabulary they index, a :class:`lmtool.lm.LanguageModel`.

Scores are natural logs (the tables hold log10, converted here at the edge). Every segment of a
split starts from the ``<s>`` context; ``</s>`` is predicted, ``<s>`` never (probability 0).
For ``stupid-backoff`` (``normalised`` False) ``score`` returns log *scores*, not log
probabilities, and :meth:`next_log_probs_rows` renormalises them so sampling still works.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lmtool.errors import UsageError
from lmtool.lm import LanguageModel, top_k
from lmtool.ngram.counting import padded_stream, token_positions
from lmtool.ngram.tables import LN10, BackoffTables, log10_distribution, log10_prob, score_stream
from lmtool.text import BOS_ID, EOS_ID


class NgramModel(LanguageModel):
    """An order-n Markov model in backoff form (see :mod:`lmtool.ngram.tables`).

    Besides the base's API (``log_prob``, ``perplexity``, ``next_token_distribution``) it answers
    ``logprob(word, context)`` for any context, as ``nltk.lm`` does.
    """

    kind = "ngram"

    def __init__(self, tables: Any, tokenizer: Any, vocabulary: Any, *, unit: str = "line",
                 method: str = "modified-kneser-ney", normalised: bool = True, parameters: dict | None = None,
                 discounts: list | None = None, training: dict | None = None, source: str = "fit",
                 fingerprint: str | None = None) -> None:
        """``tables`` is a :class:`BackoffTables` or a compact file's
        :class:`lmtool.ngram.compact.CompactTables`; ``fingerprint``, when a file stores it,
        saves reading the vocabulary to compute it."""
        if len(vocabulary) != tables.vocab_size:
            raise UsageError(f"vocabulary has {len(vocabulary)} tokens but the tables index {tables.vocab_size}")
        super().__init__(tokenizer, vocabulary, unit)
        #: what scoring reads: the in-memory tables, or the memory-mapped compact file
        self.lookup = tables
        if fingerprint is not None:
            self.__dict__["fingerprint"] = fingerprint  # the slot the base's cached_property fills
        self.method = method
        self.normalised = normalised
        self.parameters = dict(parameters or {})
        self.discounts = discounts
        self.training = dict(training or {})
        self.source = source

    @property
    def order(self) -> int:
        return self.lookup.order

    def with_tables(self, tables: Any) -> "NgramModel":
        """The same model (tokenizer, vocabulary, method, provenance) over other tables."""
        return NgramModel(tables, self._tokenizer, self._vocabulary, unit=self.unit, method=self.method,
                          normalised=self.normalised, parameters=self.parameters, discounts=self.discounts,
                          training=self.training, source=self.source)

    @property
    def tables(self) -> BackoffTables:
        """The model as lexicographic :class:`BackoffTables` (a compact file decodes them on
        first use: sampling and ARPA export need every context's continuations, which its hash
        index does not list)."""
        return self.lookup.backoff_tables()

    @property
    def context_size(self) -> int:
        """The order - 1 tokens an n-gram sees (``<s>`` counts as one)."""
        return self.tables.order - 1

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
            "ngrams": self.lookup.n_listed(),
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
        log10, _ = score_stream(self.lookup, split.ids, split.starts)
        return log10 * LN10

    def start_rows(self, context_ids: Sequence[int], rows: int) -> np.ndarray:
        """``rows`` copies of the last order-1 ids of ``<s>`` + ``context_ids``: (rows, order - 1) int64.

        A history shorter than order - 1 is padded on the left with -1 ("no word"), so that rows
        of different depths (one just restarted from ``<s>``, one deep in a sentence) share one array.
        """
        width = self.order - 1
        history = np.concatenate([np.full(width, -1), [BOS_ID], np.asarray(context_ids, dtype=np.int64)])
        return np.tile(history[len(history) - width:].astype(np.int64), (rows, 1))

    def next_log_probs_rows(self, state: np.ndarray) -> np.ndarray:
        """Natural-log distributions (rows, V) after each row's context (``<s>`` gets -inf), one vectorised lookup."""
        logp = log10_distribution(self.tables, state) * LN10
        if not self.normalised:  # stupid backoff's scores, renormalised per row
            logp -= np.logaddexp.reduce(logp, axis=1, keepdims=True)
        return logp

    def advance_rows(self, state: np.ndarray, token_ids: np.ndarray) -> np.ndarray:
        """Each row's context after its token; after ``</s>`` in line units a row starts again from ``<s>``."""
        token_ids = np.asarray(token_ids, dtype=np.int64)
        moved = np.concatenate([state[:, 1:], token_ids[:, None]], axis=1) if self.order > 1 else state
        if self.unit == "line":
            moved[token_ids == EOS_ID] = self.start_rows([], 1)[0]
        return moved

    def select_rows(self, state: np.ndarray, keep: np.ndarray) -> np.ndarray:
        return state[keep]

    def top_predictions(self, split: Any, count: int, k: int, *, reset_per_sentence: bool = True,
                        batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`lmtool.lm.LanguageModel.top_predictions`: the contexts of all ``count`` tokens at once
        (each segment from ``<s>``), their distributions ``batch`` rows at a time."""
        stream, _ = padded_stream(split.ids, split.starts)
        starts = np.asarray(split.starts, dtype=np.int64)
        lengths = np.diff(starts)
        position = token_positions(starts)[:count]  # each token's place in the padded stream
        begin = np.repeat(starts[:-1] + np.arange(len(lengths)), lengths)[:count]  # its segment's <s>
        back = position[:, None] - (self.order - 1) + np.arange(self.order - 1)[None, :]  # (count, order - 1)
        contexts = np.where(back >= begin[:, None], stream[np.maximum(back, 0)], -1)  # -1: before <s>
        ids, log_probs = [], []
        for first in range(0, count, batch):
            logp = log10_distribution(self.tables, contexts[first:first + batch]) * LN10  # (B, V)
            if not self.normalised:  # renormalised scores, as next_log_probs_rows gives them
                logp -= np.logaddexp.reduce(logp, axis=1, keepdims=True)
            top = top_k(logp, k)
            ids.append(top[0])
            log_probs.append(top[1])
        return np.concatenate(ids), np.concatenate(log_probs)

    # -- the convenience API ----------------------------------------------------------------
    def _ids(self, tokens: Sequence[str | int]) -> list[int]:
        return [t if isinstance(t, (int, np.integer)) else self._vocabulary.id(t) for t in tokens]

    def logprob(self, word: str | int, context: Sequence[str | int] = ()) -> float:
        """Natural log p(word | context); put ``"<s>"`` first in ``context`` for a sentence start."""
        (word_id,) = self._ids([word])
        if word_id == BOS_ID:
            return float("-inf")
        grams = np.array(self._ids(list(context)) + [word_id], dtype=np.int64)
        return float(log10_prob(self.lookup, grams)[0] * LN10)

    #: the sentence's natural-log probability, ``</s>`` included in line units (the base's log_prob)
    score_sentence = LanguageModel.log_prob

    def score_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        """Natural-log probability of each sentence (``</s>`` included), all scored in one
        vectorised pass (:func:`lmtool.ngram.query.score_sentences` gives per-token detail)."""
        from lmtool.ngram.query import score_sentences

        return score_sentences(self, sentences).totals * LN10

