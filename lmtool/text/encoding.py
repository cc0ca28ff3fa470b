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

    def with_marks(self, tokens: list[str]) -> np.ndarray:
        """The ids of ``tokens`` as int32, :data:`MARK_ID` for each :data:`LINE_MARK` among them
        (which takes no id: new tokens get the ids they would get without it)."""
        index = self._index
        index[LINE_MARK] = MARK_ID
        index.default_factory = lambda: len(index) - 1  # the mark's entry takes no id
        try:
            return np.fromiter(map(index.__getitem__, tokens), dtype=np.int32, count=len(tokens))
        finally:
            del index[LINE_MARK]
            index.default_factory = index.__len__

    @property
    def types(self) -> list[str]:
        """Every token seen so far, at its provisional id."""
        return list(self._index)


#: what :func:`intern_lines` puts after each line of a batch joined for one ``str.split``: not
#: whitespace, and no text line holds it (a batch with one in its text takes the line-by-line way)
LINE_MARK = "\0"
MARK_ID = -1
#: lines joined into one string for one ``str.split``: 1,024 (about 100 KB of text) is as fast as
#: 4,096, whose 100,000 token strings at a time left a fit's peak 4.5 MiB higher (Brown order 5)
BATCH_LINES = 1024


def intern_lines(
    labeled: Iterable[tuple[int, str]], n_splits: int, tokenizer: Tokenizer, unit: str, interner: Interner
) -> list[InternedSplit]:
    """Tokenize ``(split index, line)`` pairs into provisional ids, split by split.

    Line units strip the line ending, skip lines with no tokens, and append ``</s>`` to every
    sentence; stream units tokenize each line with its ``\\n`` (so char and bpe models see it).
    Consecutive lines of one split go in batches: the word tokenizer splits a whole batch at
    once (:func:`_intern_split_batch`, Brown train: 0.13-0.15 -> 0.11 s).
    """
    splits = [InternedSplit(array("i"), array("q", [0])) for _ in range(n_splits)]
    batch: list[str] = []
    current = 0
    for index, line in labeled:
        if index != current or len(batch) == BATCH_LINES:
            _intern_batch(batch, splits[current], tokenizer, unit, interner)
            batch, current = [], index
        batch.append(line)
    _intern_batch(batch, splits[current], tokenizer, unit, interner)
    if unit == "stream":
        for split in splits:
            split.starts.append(len(split.ids))
    return splits


def _intern_batch(lines: list[str], split: InternedSplit, tokenizer: Tokenizer, unit: str, interner: Interner) -> None:
    """Intern consecutive ``lines`` of ``split`` (see :func:`intern_lines`)."""
    if not lines:
        return
    split.n_chars += sum(map(len, lines))
    if tokenizer.splits_on_whitespace:
        if unit == "stream":  # the tokens of the lines, one after the other
            split.ids.extend(interner(" ".join(lines).split()))
            return
        joined = f" {LINE_MARK} ".join(lines) + f" {LINE_MARK}"
        if joined.count(LINE_MARK) == len(lines):
            _intern_split_batch(interner.with_marks(joined.split()), split)
            return
    tokenize = tokenizer.tokenize
    for line in lines:
        if unit == "line":
            tokens = tokenize(line.rstrip("\r\n"))
            if tokens:
                split.ids.extend(interner(tokens))
                split.ids.append(EOS_ID)
                split.starts.append(len(split.ids))
        else:
            split.ids.extend(interner(tokenize(line)))


def _intern_split_batch(ids: np.ndarray, split: InternedSplit) -> None:
    """Append the ids of a batch of lines, each line's tokens then :data:`MARK_ID`, to ``split``
    as :func:`intern_lines` does line by line: the mark becomes ``</s>``, except after a line
    with no tokens, which is skipped."""
    marks = np.flatnonzero(ids == MARK_ID)
    tokens_per_line = np.diff(marks, prepend=-1) - 1
    ids[marks] = EOS_ID
    empty = tokens_per_line == 0
    if empty.any():
        ids = np.delete(ids, marks[empty])
        tokens_per_line = tokens_per_line[~empty]
    ends = np.cumsum(tokens_per_line + 1, dtype=np.int64)
    ends += len(split.ids)
    split.ids.frombytes(ids.tobytes())
    split.starts.frombytes(ends.tobytes())


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
