"""The train split of a corpus spec as a stream of id chunks, for corpora larger than memory.

:func:`lmtool.text.load_corpus` holds every split in memory (an int32 per token and the
interning buffers). :func:`stream_train` gives the same train split, id for id, without ever
holding it whole, in two passes over the text built on the same pieces as ``load_corpus``
(spec resolution, split cutting, :func:`~lmtool.text.encoding.intern_lines`):

1. tokenize the train lines batch by batch, interning tokens and summing their counts (memory
   ~ the number of types), then build the vocabulary from those counts;
2. on demand, tokenize again and hand out :class:`Chunk` s of vocabulary ids.

Line units: a chunk holds whole sentences. Stream units (one segment for the whole text): a
chunk holds a stretch of the one segment, and every chunk after the first says so with
``continues`` (the consumer must handle n-grams that span the cut). A prepared corpus
directory is loaded as saved (its ids are in memory then, 4 bytes a token) and cut into chunks
anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from lmtool.errors import DataError
from lmtool.text.encoding import EncodedSplit, InternedSplit, Interner, as_numpy, intern_lines
from lmtool.text.loading import checked_options, labeled_splits, prepared_at, resolve_source, trained_tokenizer
from lmtool.text.tokenizers import Tokenizer
from lmtool.text.vocabulary import Vocabulary

#: characters of text tokenized per batch in the vocabulary pass
COUNT_BATCH_CHARS = 1 << 20


@dataclass(frozen=True)
class Chunk:
    """A stretch of the train split: ``ids`` (int32) and ``starts`` (int64 segment starts into
    ``ids`` with ``len(ids)`` appended), as in :class:`EncodedSplit`. ``continues``: the first
    segment goes on from the previous chunk's last one (no ``<s>`` before it)."""

    ids: np.ndarray
    starts: np.ndarray
    continues: bool


@dataclass
class StreamedTrain:
    """A corpus's tokenizer, vocabulary and unit, and ``chunks(max_tokens)``: its train split as
    :class:`Chunk` s of about ``max_tokens`` tokens (a longer sentence makes a longer chunk)."""

    source: str
    unit: str
    tokenizer: Tokenizer
    vocabulary: Vocabulary
    chunks: Callable[[int], Iterator[Chunk]]


def stream_train(spec: str, **options) -> StreamedTrain:
    """The train split of ``spec`` as chunks; ``options`` as for :func:`lmtool.text.load_corpus`,
    and the vocabulary and ids are exactly those ``load_corpus`` gives."""
    given = checked_options(options)
    prepared = prepared_at(spec, given)
    if prepared is not None:
        split = prepared.splits["train"]
        return StreamedTrain(prepared.source, prepared.unit, prepared.tokenizer, prepared.vocabulary,
                             lambda max_tokens: split_chunks(split, max_tokens))
    spec = os.fspath(spec)
    source, opts = resolve_source(spec, given)
    unit = opts["unit"]
    _, labeled = labeled_splits(source, opts)
    tokenizer = trained_tokenizer(opts, labeled)

    def train_lines() -> Iterator[str]:
        return (line for index, line in labeled() if index == 0)

    interner = Interner()
    counts = np.zeros(0, dtype=np.int64)
    n_chars = 0
    for batch in interned_batches(train_lines(), tokenizer, unit, interner, COUNT_BATCH_CHARS):
        n_chars += batch.n_chars
        batch_counts = np.bincount(as_numpy(batch))
        counts = np.pad(counts, (0, max(0, len(batch_counts) - len(counts))))
        counts[: len(batch_counts)] += batch_counts
    n_tokens = int(counts.sum())
    if n_tokens == 0:
        raise DataError(f"{spec}: the train split is empty (no tokens): give more text or other --split-fractions")
    types = interner.types
    token_counts = {types[i]: int(counts[i]) for i in np.flatnonzero(counts).tolist()}
    vocabulary = Vocabulary.build(token_counts, opts["min_count"], opts["max_vocab"])
    chars_per_token = n_chars / n_tokens

    def chunks(max_tokens: int) -> Iterator[Chunk]:
        lookup = vocabulary.encode(interner.types)
        target_chars = max(1, int(max_tokens * chars_per_token))
        first = True
        for batch in interned_batches(train_lines(), tokenizer, unit, interner, target_chars):
            provisional = as_numpy(batch)
            if len(provisional) == 0:
                continue
            if provisional.max() >= len(lookup):  # types the first pass did not see (a changing file)
                lookup = vocabulary.encode(interner.types)
            yield Chunk(lookup[provisional], np.asarray(batch.starts, dtype=np.int64), unit == "stream" and not first)
            first = False

    return StreamedTrain(spec, unit, tokenizer, vocabulary, chunks)


def interned_batches(lines: Iterable[str], tokenizer: Tokenizer, unit: str, interner: Interner,
                     batch_chars: int) -> Iterator[InternedSplit]:
    """``lines`` in batches of at least ``batch_chars`` characters (whole lines), each interned by
    :func:`intern_lines` as a one-split corpus."""
    batch: list[str] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= batch_chars:
            yield intern_lines(((0, text) for text in batch), 1, tokenizer, unit, interner)[0]
            batch, size = [], 0
    if batch:
        yield intern_lines(((0, text) for text in batch), 1, tokenizer, unit, interner)[0]


def split_chunks(split: EncodedSplit, max_tokens: int) -> Iterator[Chunk]:
    """An in-memory split cut every ``max_tokens`` tokens, inside segments too."""
    starts = np.asarray(split.starts, dtype=np.int64)
    for begin in range(0, split.n_tokens, max_tokens):
        end = min(begin + max_tokens, split.n_tokens)
        inside = starts[(starts >= begin) & (starts < end)] - begin
        continues = len(inside) == 0 or inside[0] != 0
        local = np.concatenate([[0] if continues else [], inside, [end - begin]]).astype(np.int64)
        yield Chunk(np.asarray(split.ids[begin:end], dtype=np.int32), local, bool(continues))
