"""A tiny explicit bigram model on the :class:`lmtool.lm.LanguageModel` base, for base, evaluation and sampling tests.

Its probabilities are a table written in the test, so every figure computed from it can be
checked by hand, independently of the real n-gram and RNN engines. It overrides only what the
base asks of a family, so it also shows how small a new family can be.
"""

from __future__ import annotations

import numpy as np

from lmtool.lm import LanguageModel
from lmtool.text import BOS, BOS_ID, EOS, UNK, Vocabulary, make_tokenizer

# P[next | prev] over <unk>, </s>, a, b, c (ids 0, 2, 3, 4, 5); every row sums to 1, <s> is never predicted.
ROWS = {
    "<s>": {"a": 0.5, "b": 0.2, "c": 0.2, "</s>": 0.05, "<unk>": 0.05},
    "a": {"a": 0.1, "b": 0.6, "c": 0.1, "</s>": 0.1, "<unk>": 0.1},
    "b": {"a": 0.2, "b": 0.1, "c": 0.3, "</s>": 0.3, "<unk>": 0.1},
    "c": {"a": 0.2, "b": 0.2, "c": 0.2, "</s>": 0.2, "<unk>": 0.2},
    "<unk>": {"a": 0.1, "b": 0.1, "c": 0.1, "</s>": 0.6, "<unk>": 0.1},
}


class BigramTable(LanguageModel):
    """``P[prev, next]`` given as a dict of rows; ``<s>`` is never predicted (its column is 0)."""

    kind = "ngram"

    def __init__(self, words: list[str], rows: dict[str, dict[str, float]], normalised: bool = True,
                 tokenizer: str = "word") -> None:
        super().__init__(make_tokenizer(tokenizer), Vocabulary([UNK, BOS, EOS, *words], [1, 0, 1] + [1] * len(words)))
        self.normalised = normalised
        size = len(self.vocabulary)
        self.table = np.zeros((size, size))
        for prev, row in rows.items():
            for token, p in row.items():
                self.table[self.vocabulary.tokens.index(prev), self.vocabulary.tokens.index(token)] = p
        assert not normalised or np.allclose(self.table[[i for i in range(size) if i != 2]].sum(axis=1), 1.0)

    def describe(self) -> dict:
        return {"kind": self.kind, "order": 2, "vocabulary": len(self.vocabulary)}

    def score(self, split, *, reset_per_sentence: bool = True) -> np.ndarray:
        ids = np.asarray(split.ids, dtype=np.int64)
        prev = np.roll(ids, 1)
        prev[split.starts[:-1]] = BOS_ID
        with np.errstate(divide="ignore"):
            return np.log(self.table[prev, ids])

    def start_rows(self, context_ids, rows: int) -> np.ndarray:
        """The state is each row's previous id: (rows,)."""
        return np.full(rows, int(context_ids[-1]) if len(context_ids) else BOS_ID, dtype=np.int64)

    def next_log_probs_rows(self, state) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.table[state])

    def advance_rows(self, state, token_ids):
        """After </s> a new sentence starts from <s>, as NgramModel does in line units."""
        token_ids = np.asarray(token_ids, dtype=np.int64)
        return np.where(token_ids == 2, BOS_ID, token_ids)

    def select_rows(self, state, keep):
        return state[keep]


def uniform_rows(words: list[str], context: list[str]) -> dict[str, dict[str, float]]:
    """Every context predicts <unk>, </s> and each word with equal probability."""
    targets = [UNK, EOS, *words]
    return {c: {t: 1 / len(targets) for t in targets} for c in context}
