"""Stage 2 of the cluster fit: each part counts its n-grams, and the counts are dealt out by last word.

A part's interned ids (stage 1) become vocabulary ids by one lookup, are padded with ``<s>`` and
counted by the out-of-core counter's :func:`~lmtool.ngram.external.spill.count_chunk` (which is
``count_padded``, today's in-memory counting, plus the overlap rule). Line units: a part holds
whole sentences. Stream units: the text is one segment, so every part after the first continues
it: it drops its ``<s>`` and is prefixed with the last ``order - 1`` positions of the text before
it (the *overlap*, computed on the client from stage 1's tails by :func:`overlaps`); it then
counts exactly the n-grams that end inside it, as a chunk of ``--memory`` does.

The counts of every order are then split by the hash of the n-gram's **last word**
(:func:`bucket_of`) into the shuffle's partitions: an n-gram and its suffix (the same words
without the first) end in the same word, so after the shuffle every suffix link of Kneser-Ney's
adjusted counts is inside one partition (:mod:`.suffix`).

``first_seen`` (lmplz's word numbering, which one KenLM quirk of the discounts depends on) is
rebuilt on the client from each part's first position of each id, as the out-of-core counter
does from its chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmtool.ngram.counting import first_seen_ranks, pad_segments
from lmtool.ngram.external.spill import count_chunk
from lmtool.text import BOS_ID, UNK_ID, Vocabulary

_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_MIX = np.uint64(0xFF51AFD7ED558CCD)


@dataclass
class PartCounts:
    """What stage 2 sends back to the client for one part (the counts go to the shuffle)."""

    tokens: int
    segments: int
    unk_tokens: int
    positions: int  # padded positions this part adds to the stream (overlap excluded)
    seen: np.ndarray  # the ids in this part's new positions, and the first position of each
    first: np.ndarray
    shuffle_bytes: int


def bucket_of(columns: np.ndarray, n: int) -> np.ndarray:
    """The shuffle partition (0..n-1) of each row of word ids ``columns`` (m, w): FNV-1a over the
    words, then a multiply-xorshift finish so that consecutive ids spread evenly."""
    h = np.full(len(columns), _FNV_OFFSET, dtype=np.uint64)
    for j in range(columns.shape[1]):
        h ^= columns[:, j].astype(np.uint64)
        h *= _FNV_PRIME
    h ^= h >> np.uint64(33)
    h *= _MIX
    h ^= h >> np.uint64(33)
    return (h % np.uint64(n)).astype(np.intp)


def deal(bucket: np.ndarray, n: int, arrays: list[np.ndarray]) -> list[list[np.ndarray]]:
    """``arrays`` (aligned rows) split by ``bucket``: ``result[j]`` holds the rows of bucket j, in
    their original order (a stable sort), so sorted tables stay sorted."""
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n + 1))
    return [[array[order[bounds[j]:bounds[j + 1]]] for array in arrays] for j in range(n)]


def nbytes(arrays) -> int:
    """The bytes of the arrays in nested lists and tuples of them (what a shuffle moves)."""
    if isinstance(arrays, np.ndarray):
        return arrays.nbytes
    return sum(nbytes(array) for array in arrays)


def count_part(interned, vocabulary: Vocabulary, order: int, overlap: np.ndarray | None, n: int) -> tuple:
    """Stage 2's task: the part's n-gram counts dealt into ``n`` pieces by last word.

    ``overlap`` is None for a part that begins segments (line units, or the first part of a
    stream), else the ids before it in its stream. Returns ``(PartCounts, piece 0, ..., piece n-1)``,
    piece j being, per order, ``(rows, counts)`` of the n-grams whose last word is in bucket j.
    """
    ids = vocabulary.encode(interned.types)[interned.ids]
    stream = pad_segments(ids, interned.starts)
    if overlap is not None:
        stream = np.concatenate([overlap.astype(np.int32), stream[1:]])  # no <s>: the segment goes on
    start = 0 if overlap is None else len(overlap)
    tables = count_chunk(stream, start, order, len(vocabulary))
    pieces = [[] for _ in range(n)]
    for rows, counts in tables:
        for j, piece in enumerate(deal(bucket_of(rows[:, -1:], n), n, [rows, counts])):
            pieces[j].append(tuple(piece))
    seen, first = np.unique(stream[start:], return_index=True)
    summary = PartCounts(tokens=len(ids), segments=len(interned.starts) - 1 - (overlap is not None),
                         unk_tokens=int(np.count_nonzero(ids == UNK_ID)), positions=len(stream) - start,
                         seen=seen.astype(np.int64), first=first.astype(np.int64),
                         shuffle_bytes=nbytes(tables))
    return (summary, *pieces)


def overlaps(tails: list[list[str]], vocabulary: Vocabulary, order: int, unit: str) -> list[np.ndarray | None]:
    """The overlap of each part (see :func:`count_part`): None for line units and the first part of
    a stream; else the last ``order - 1`` padded positions of the stream before the part, from
    every earlier part's tail (a part shorter than ``order - 1`` tokens lets the overlap reach
    further back)."""
    if unit != "stream":
        return [None] * len(tails)
    result: list[np.ndarray | None] = [None]
    before = np.array([BOS_ID], dtype=np.int32)  # the one <s> of the stream's single segment
    for tail in tails[:-1]:
        before = np.concatenate([before, vocabulary.encode(tail)])[-(order - 1):] if order > 1 else before[:0]
        result.append(before)
    return result


def first_seen(vocab_size: int, *parts: PartCounts) -> np.ndarray:
    """``NgramCounts.first_seen`` of the whole stream from each part's first positions."""
    offsets = np.cumsum([0] + [part.positions for part in parts[:-1]])
    first_position = np.full(vocab_size, np.iinfo(np.int64).max, dtype=np.int64)
    for offset, part in zip(offsets, parts):
        np.minimum.at(first_position, part.seen, part.first + offset)
    seen = np.flatnonzero(first_position < np.iinfo(np.int64).max)
    # ids in order of first appearance: first_seen_ranks gives them the ranks of the whole stream
    return first_seen_ranks(seen[np.argsort(first_position[seen], kind="stable")], vocab_size)
