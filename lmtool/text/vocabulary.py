"""The vocabulary: token <-> id, built from training counts only.

Ids are fixed by a rule anyone can recompute: ``0 <unk>``, ``1 <s>``, ``2 </s>``, then the kept
training types by count, highest first, ties broken by the token string (code-point order).
Both model families index their tables with these ids, so equal vocabularies mean equal ids.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from lmtool.errors import DataError, UsageError

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
RESERVED = (UNK, BOS, EOS)
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2


class Vocabulary:
    """An ordered list of tokens with their training counts; out-of-vocabulary tokens map to ``<unk>``.

    ``counts[i]`` is how often token ``i`` occurred in the training split: ``<unk>`` holds the
    occurrences of every type that was cut (and of literal ``<unk>`` in the text), ``<s>`` is
    always 0 (it is only ever context), ``</s>`` counts sentence ends.
    """

    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | np.ndarray) -> None:
        tokens = list(tokens)
        if tuple(tokens[:3]) != RESERVED:
            raise DataError(f"vocabulary must start with {', '.join(RESERVED)}, got {tokens[:3]}")
        if len(set(tokens)) != len(tokens):
            raise DataError("vocabulary has duplicate tokens")
        self.tokens = tokens
        self.counts = np.asarray(counts, dtype=np.int64)
        if self.counts.shape != (len(tokens),):
            raise DataError(f"vocabulary has {len(tokens)} tokens but {self.counts.size} counts")
        self._index = {token: i for i, token in enumerate(tokens)}
        # Text never contains <s> as a prediction target: a literal "<s>" in the text is OOV.
        self._text_index = dict(self._index)
        self._text_index[BOS] = UNK_ID

    @classmethod
    def build(cls, token_counts: Mapping[str, int], min_count: int = 1, max_vocab: int | None = None) -> "Vocabulary":
        """The vocabulary of ``token_counts`` (training counts): types seen ``min_count`` times or
        more, at most ``max_vocab`` of them (besides the three reserved tokens), most frequent first.
        """
        if min_count < 1:
            raise UsageError(f"--min-count must be at least 1, got {min_count}")
        if max_vocab is not None and max_vocab < 1:
            raise UsageError(f"--max-vocab must be at least 1, got {max_vocab}")
        ordinary = sorted(
            ((token, int(count)) for token, count in token_counts.items() if token not in RESERVED and count > 0),
            key=lambda item: (-item[1], item[0]),
        )
        kept = [item for item in ordinary if item[1] >= min_count]
        if max_vocab is not None:
            kept = kept[:max_vocab]
        dropped = sum(count for _, count in ordinary) - sum(count for _, count in kept)
        counts = [int(token_counts.get(UNK, 0)) + dropped, 0, int(token_counts.get(EOS, 0))]
        return cls(list(RESERVED) + [token for token, _ in kept], counts + [count for _, count in kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.tokens == other.tokens
            and np.array_equal(self.counts, other.counts)
        )

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def id(self, token: str) -> int:
        """The id of ``token``; ``<unk>``'s id (0) when it is out of vocabulary."""
        return self._index.get(token, UNK_ID)

    def token(self, i: int) -> str:
        """The token with id ``i``."""
        return self.tokens[i]

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Ids (int32) of text tokens; OOV and literal ``<s>`` become ``<unk>``."""
        get = self._text_index.get
        return np.fromiter((get(token, UNK_ID) for token in tokens), dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids``."""
        return [self.tokens[i] for i in ids]

    def to_json(self) -> dict:
        """``{"tokens": [...], "counts": [...]}``, the form stored beside models and corpora."""
        return {"tokens": list(self.tokens), "counts": [int(c) for c in self.counts]}

    @classmethod
    def from_json(cls, data: Mapping) -> "Vocabulary":
        """The vocabulary :meth:`to_json` described."""
        try:
            return cls(data["tokens"], data["counts"])
        except (KeyError, TypeError) as error:
            raise DataError(f"malformed vocabulary JSON ({error}): expected 'tokens' and 'counts' lists") from None
