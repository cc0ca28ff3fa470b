"""An ARPA file in KenLM's shape laid out as a compact model file as it is read, without backoff tables.

KenLM lists every section in suffix order: the ids of each n-gram packed last word first
(:func:`~lmtool.ngram.arpa.build.reversed_words`) strictly increase, which also proves no
n-gram is listed twice. Then each order can be laid out (:mod:`lmtool.ngram.compact`) as soon
as its section is read, holding only what the next order needs::

    each block of section k (k words)   packed ids: strictly increasing, also across blocks?
                                        prefix: found in order k-1's packed keys (binary search)?
                                        -> its compact row; suffix found too? (the header's
                                        suffix_closed); values as float32
    the section complete                key = prefix row * V + last word -> the hash index and
                                        the permutation to hash order; value columns in that
                                        order; each n-gram's compact row, for order k+1's prefixes

A unigram's compact row is its word. Held at once: order k-1's packed keys and compact rows,
order k's packed keys, prefix rows and values, and the arrays of the orders laid out so far
(about 20 MB for Brown's 2.27 million n-grams, against the whole file's entries, the sorted
tables and their float32 copies on the general path).

A file in any other shape makes :func:`stream_layout` return None, having written nothing:
a section out of suffix order, a prefix that is not listed (SRILM's pruning), a special token
the unigrams do not list (the file then needs ``listed`` bits), more than 63 bits of packed
ids. :func:`lmtool.ngram.arpa.convert_arpa` then reads the file again through the general path
(:mod:`~lmtool.ngram.arpa.build`), which gives the same file for files in shape. Defects are
found by the reader (:mod:`~lmtool.ngram.arpa.read`), so they read the same on either path.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

import numpy as np

from lmtool.ngram.arpa.build import find_sorted, reversed_words, word_bits
from lmtool.ngram.arpa.read import ArpaReader, Entries
from lmtool.ngram.bitpack import U64
from lmtool.ngram.compact import hash_order, stored_column, tables_entry, value_kinds
from lmtool.ngram.values import encode_exact

#: the block size of this path: the per-block field arrays of the reader's default 4 MB blocks
#: (about ten bytes of arrays per byte of text) would outweigh the entries held
BLOCK_BYTES = 1 << 20


@dataclass
class Layout:
    """A compact file's tables as :func:`~lmtool.ngram.compact.layout` gives them, and the
    file's vocabulary (``<unk> <s> </s>`` first) and n-grams per order."""

    tokens: list[str]
    ngrams: list[int]
    entry: dict
    arrays: dict[str, np.ndarray]


@dataclass
class _Order:
    """Order ``k`` (``k + 1`` words) as its section is read, per n-gram in file order: its place
    in suffix order (last word * the prefixes' count + its prefix's position in order k-1, or
    its first word for bigrams), its packed ids (what order k+1's prefixes are found in; none
    at the highest order) and its values (float32)."""

    k: int
    places: list = field(default_factory=list)
    packed: list = field(default_factory=list)
    probs: list = field(default_factory=list)
    backoffs: list = field(default_factory=list)
    last: int = -1  # the last place taken


class _Streamer:
    """The state of one pass: the order being read, the order below it, the arrays laid out."""

    def __init__(self, reader: ArpaReader) -> None:
        self.reader = reader
        self.order = reader.order
        self.current = _Order(0)
        self.below: tuple[np.ndarray | None, np.ndarray] | None = None  # order k-1's packed ids and compact rows
        self.closed = True  # every n-gram's suffix listed so far
        self.orders: list[dict] = []
        self.arrays: dict[str, np.ndarray] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.reader.tokens)

    def prefixes(self) -> int:
        """How many n-grams the order below the current one has."""
        return self.vocab_size if self.current.k == 1 else len(self.below[1])

    def take(self, k: int, entries: Entries) -> bool:
        """Take ``entries`` of order ``k``; False when the file is not in shape."""
        while self.current.k < k:  # the orders below are complete (empty sections give no entries)
            if not self.finish():
                return False
        current = self.current
        if k == 0:
            current.probs.append(entries.probs)
            current.backoffs.append(entries.backoffs)
            return True
        ids, bits = entries.ids, word_bits(self.vocab_size)
        prefixes = reversed_words(ids[:, :-1], bits)
        if k == 1:
            at = prefixes  # a unigram's position is its word
        else:
            keys = self.below[0]
            at = find_sorted(keys, prefixes)
            if at is None:
                return False
            self.closed = self.closed and find_sorted(keys, reversed_words(ids[:, 1:], bits)) is not None
        places = ids[:, -1].astype(np.int64) * self.prefixes() + at
        if places[0] <= current.last or (places[1:] <= places[:-1]).any():
            return False  # not in suffix order, or an n-gram listed twice
        current.last = int(places[-1])
        current.places.append(places)
        current.probs.append(entries.probs.astype(np.float32))
        if k < self.order - 1:
            if (k + 1) * bits > 63:
                return False
            current.packed.append(prefixes | (ids[:, -1].astype(np.int64) << (k * bits)))
            current.backoffs.append(entries.backoffs.astype(np.float32))
        return True

    def finish(self) -> bool:
        """Lay out the order just read and start the next; False when the file is not in shape."""
        current, V = self.current, self.vocab_size
        join = lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype)  # noqa: E731
        probs, backoffs = join(current.probs, np.float32), join(current.backoffs, np.float32)
        if current.k == 0:
            ids = self.reader.file_ids
            if len(ids) != V:  # a special token not listed: its row needs the listed bits
                return False
            probs, backoffs = _scattered(probs, ids, V), _scattered(backoffs, ids, V)
            info, permutation = {"entries": V}, np.arange(V)
            self.below = None, np.arange(V, dtype=np.uint32)
        else:
            places, prefixes = join(current.places, np.int64), self.prefixes()
            current.places = None  # let go of the pieces
            keys = self.below[1].take(places % prefixes).astype(U64)  # the prefixes' compact rows
            keys *= U64(V)
            keys += (places // prefixes).astype(U64)  # the last words
            del places
            info, index_arrays, permutation = hash_order(current.k, keys, prefixes, V)
            del keys
            self.arrays.update(index_arrays)
            rows = np.empty(len(permutation), dtype=np.uint32)
            rows[permutation] = np.arange(len(permutation), dtype=np.uint32)
            self.below = join(current.packed, np.int64), rows
        values = {"prob": probs, "backoff": backoffs}
        for kind in value_kinds(current.k, self.order):
            arrays, info[kind] = stored_column(f"{current.k}.{kind}", encode_exact(values[kind][permutation]))
            self.arrays.update(arrays)
        self.orders.append(info)
        self.current = _Order(current.k + 1)
        return True


def _scattered(values: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """``values`` of the unigrams as listed, put in id order."""
    out = np.empty(size, dtype=values.dtype)
    out[ids] = values
    return out


def stream_layout(path: str | pathlib.Path) -> Layout | None:
    """The compact layout of the ARPA file ``path`` read in one pass (see the module docstring),
    or None when the file is not in KenLM's shape. Defects raise the reader's ModelFileError."""
    reader = ArpaReader(pathlib.Path(path))
    entries = reader.entries(BLOCK_BYTES)
    streamer = None
    try:
        for section, got in entries:
            streamer = streamer or _Streamer(reader)
            if not streamer.take(section.order - 1, got):
                return None
    finally:
        entries.close()
    streamer = streamer or _Streamer(reader)
    while streamer.current.k < streamer.order:
        if not streamer.finish():
            return None
    ngrams = [info["entries"] for info in streamer.orders]
    entry = tables_entry(streamer.vocab_size, streamer.orders, ngrams, None, streamer.closed, False)
    return Layout(reader.tokens, ngrams, entry, streamer.arrays)
