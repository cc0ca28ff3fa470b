"""Turning text lines into id arrays: one pass, growing int32 buffers, no per-token Python code.

The pass *interns* tokens: each distinct token string gets a provisional id in order of first
appearance (``<unk>``, ``<s>``, ``</s>`` first, so a literal ``<unk>`` in the text is id 0 from
the start). Counting the training split is then one ``np.bincount``, and mapping to the final
vocabulary is one table lookup ``lookup[provisional]``. This is why the corpus is read once,
whatever the vocabulary options.

Layout of one split (line units)::

    ids:     the cat sat </s> a dog </s> ...      every token to predict, </s> ending each sentence
    starts:  0              4          7 ...  len(ids)
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from lmtool.text.tokenizers import Tokenizer
from lmtool.text.vocabulary import EOS_ID, RESERVED, UNK_ID

UNITS = ("line", "stream")


@dataclass(frozen=True)
class EncodedSplit:
    """One split as token ids, in the exact order both model families score them.

    ``ids`` (int32): every token to predict. Line units: each sentence's tokens then ``</s>``.
    Stream units: the text's tokens (newlines are tokens of char models), no ``</s>``.
    ``starts`` (int64): segment start offsets into ``ids`` with ``len(ids)`` appended (line
    units: one segment per sentence; stream units: one segment for the whole text).
    ``n_chars``: characters of this split's original text, newlines included (for bits/char).
    """

    ids: np.ndarray
    starts: np.ndarray
    n_chars: int

    @property
    def n_segments(self) -> int:
        return len(self.starts) - 1

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    @property
    def n_unk(self) -> int:
        return int(np.count_nonzero(self.ids == UNK_ID))

    def segments(self) -> list[np.ndarray]:
        """The ids of each segment (views, no copies)."""
        return np.split(self.ids, self.starts[1:-1])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, EncodedSplit)
            and self.n_chars == other.n_chars
            and np.array_equal(self.ids, other.ids)
            and np.array_equal(self.starts, other.starts)
        )


@dataclass
class InternedSplit:
    """A split in provisional ids (see the module docstring), before the vocabulary exists."""

    ids: array
    starts: array
    n_chars: int = 0


class Interner:
    """Token string -> provisional id, assigned in order of first appearance."""

    def __init__(self) -> None:
        index: defaultdict = defaultdict()
        index.default_factory = index.__len__  # a new token gets the next id
        for token in RESERVED:
            index[token]
        self._index = index

    def __call__(self, tokens: list[str]) -> map:
        return map(self._index.__getitem__, tokens)

    @property
    def types(self) -> list[str]:
        """Every token seen so far, at its provisional id."""
        return list(self._index)


def intern_lines(
    labeled: Iterable[tuple[int, str]], n_splits: int, tokenizer: Tokenizer, unit: str, interner: Interner
) -> list[InternedSplit]:
    """Tokenize ``(split index, line)`` pairs into provisional ids, split by split.

    Line units strip the line ending, skip lines with no tokens, and append ``</s>`` to every
    sentence; stream units tokenize each line with its ``\\n`` (so char and bpe models see it).
    """
    splits = [InternedSplit(array("i"), array("q", [0])) for _ in range(n_splits)]
    tokenize = tokenizer.tokenize
    for index, line in labeled:
        split = splits[index]
        split.n_chars += len(line)
        if unit == "line":
            tokens = tokenize(line.rstrip("\r\n"))
            if tokens:
                split.ids.extend(interner(tokens))
                split.ids.append(EOS_ID)
                split.starts.append(len(split.ids))
        else:
            split.ids.extend(interner(tokenize(line)))
    if unit == "stream":
        for split in splits:
            split.starts.append(len(split.ids))
    return splits


def as_numpy(split: InternedSplit) -> np.ndarray:
    """The provisional ids of ``split`` as an int32 array (a view of the buffer, no copy)."""
    return np.frombuffer(split.ids, dtype=np.int32) if len(split.ids) else np.zeros(0, np.int32)


def train_counts(train: InternedSplit, types: list[str]) -> dict[str, int]:
    """Token -> count over the training split (``</s>`` counts sentence ends)."""
    counts = np.bincount(as_numpy(train), minlength=len(types))
    return {token: int(count) for token, count in zip(types, counts.tolist()) if count}


def split_types(split: InternedSplit, n_types: int) -> int:
    """How many distinct text tokens the split holds (before OOV mapping; the appended ``</s>`` excluded)."""
    seen = np.bincount(as_numpy(split), minlength=n_types) > 0
    seen[EOS_ID] = False
    return int(np.count_nonzero(seen))


def finalize(split: InternedSplit, lookup: np.ndarray) -> EncodedSplit:
    """The split in vocabulary ids: one gather through ``lookup`` (provisional id -> vocabulary id,
    i.e. ``vocabulary.encode(interner.types)``)."""
    ids = lookup[as_numpy(split)]
    return EncodedSplit(ids=ids, starts=np.asarray(split.starts, dtype=np.int64), n_chars=split.n_chars)
