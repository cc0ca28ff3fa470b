"""An ARPA file in KenLM's shape laid out as a compact model file as it is read, without backoff tables.

KenLM lists every section in suffix order (by last word, then the one before, ...). Then each
order can be laid out (:mod:`lmtool.ngram.compact`) as soon as its section is read, holding
only what the next order needs::

    each block of section k (k+1 words)  prefix: found in order k-1's packed ids (ids packed last
                                         word first, increasing; a binary search) -> its position;
                                         place = last word * n(k-1) + prefix position: strictly
                                         increasing, also across blocks (suffix order, and no
                                         n-gram listed twice)?  suffix found too? (the header's
                                         suffix_closed); places, values (float32) and packed
                                         ids parked
    the section complete                 places read back and made keys (prefix's compact row *
                                         V + last word; order k-1's compact rows, parked when it
                                         was laid out, read back for it) -> the hash index and
                                         the permutation to hash order; value columns read back
                                         one at a time, put in that order; each n-gram's compact
                                         row parked, and the packed ids read back, for order k+1

A unigram's position and compact row are its word. Held while a section is read: order k-1's
packed ids (8 bytes an n-gram), in an array of the header's size; order k's places, values and
packed ids, and order k-1's compact rows, wait in a temporary file (reused by each order) until
its section is complete, and the orders laid out in a :class:`~lmtool.ngram.container.Spill`
until the file is written.
On Brown order 5 (2.27 million n-grams) ``lmtool fit-ngram --from-arpa`` peaks at 62-65 MiB
(where glibc's heap happens to fragment moves it by 2), some 31 above the interpreter, numpy
and the CLI (glibc keeps freed memory while the file is read, which saves CPU time, and gives
it back before the file is written: :mod:`lmtool.allocator`);
the general path holds the whole file's entries, the sorted tables, their float32 copies and
the layout at once.

A file in any other shape makes :func:`stream_layout` return None, having written nothing:
a section out of suffix order, a prefix that is not listed (SRILM's pruning), a special token
the unigrams do not list (the file then needs ``listed`` bits), more packed bits than an int64
holds below the highest order, more entries than the header promises.
:func:`lmtool.ngram.arpa.convert_arpa` then reads the file again through the general path
(:mod:`~lmtool.ngram.arpa.build`), which gives the same file for files in shape. Defects are
found by the reader (:mod:`~lmtool.ngram.arpa.read`), so they read the same on either path.
"""

from __future__ import annotations

import pathlib
import tempfile
from dataclasses import dataclass

import numpy as np

from lmtool.ngram.arpa.build import find_sorted, reversed_words, word_bits
from lmtool.ngram.arpa.read import ArpaReader, Entries
from lmtool.ngram.bitpack import U64
from lmtool.ngram.compact import hash_order, stored_column, tables_entry, value_kinds
from lmtool.ngram.container import ArrayStream, Spill
from lmtool.ngram.values import encode_exact

#: places made keys at a time (:meth:`_Order.keys`): their temporaries stay under 2 MiB
KEYS_CHUNK = 1 << 16
#: the block size of this path: the per-block arrays of the reader's default 4 MB blocks would
#: outweigh the entries held; 512 KB rather than 1 MB: Brown order 5's peak 1.3 MiB lower (and
#: less moved by glibc's heap layout) for 5% more of the reader's instructions
BLOCK_BYTES = 1 << 19


@dataclass
class Layout:
    """A compact file's tables as :func:`~lmtool.ngram.compact.layout` gives them, and the
    file's vocabulary (``<unk> <s> </s>`` first) and n-grams per order."""

    tokens: list[str]
    ngrams: list[int]
    entry: dict
    arrays: dict[str, np.ndarray | ArrayStream]


class _Order:
    """Order ``k`` (``k + 1`` words) as its section is read: the place in suffix order of the
    last n-gram taken (last word * the prefixes' count + its prefix's position in order k-1, or
    its first word for bigrams), which the next must exceed, and per n-gram, parked in
    ``scratch`` (a temporary file reused by every order) in columns of the header's count of
    entries filled in file order: its place, its values (float32) and its packed ids (what
    order k+1's prefixes are found in; none at the highest order), read back one column at a
    time once the section is complete; and the compact row of each of order k-1's n-grams
    (``prefix_rows``, in suffix order; none for bigrams, whose prefixes are words), which turn
    places into keys."""

    def __init__(self, k: int, count: int, highest: bool, scratch) -> None:
        self.k, self.count, self.filled, self.last, self.scratch = k, count, 0, -1, scratch
        self.parked: dict[str, tuple[int, np.dtype, int]] = {}  # column -> offset, type, length
        offset = 0
        for name, dtype, length in (("places", U64, count if k else 0), ("probs", np.float32, count),
                                    ("backoffs", np.float32, 0 if highest else count),
                                    ("packed", np.int64, count if k and not highest else 0),
                                    ("prefix_rows", np.uint32, 0)):
            self.parked[name] = offset, np.dtype(dtype), length
            offset += length * np.dtype(dtype).itemsize

    def park_prefix_rows(self, rows: np.ndarray) -> None:
        """Park order k-1's compact rows, after the other columns."""
        offset, _, _ = self.parked["prefix_rows"]
        self.parked["prefix_rows"] = offset, np.dtype(np.uint32), len(rows)
        self.scratch.seek(offset)
        self.scratch.write(memoryview(np.ascontiguousarray(rows, dtype=np.uint32)).cast("B"))

    def keys(self, vocab_size: int, prefixes: int) -> np.ndarray:
        """The parked places made keys in their own memory (prefix's compact row * V + last
        word), a chunk at a time: only order k-1's compact rows are held beside them."""
        keys = self.column("places")
        rows = self.column("prefix_rows") if self.k > 1 else None  # a bigram's prefix, a word, is its own row
        for first in range(0, len(keys), KEYS_CHUNK):
            places = keys[first : first + KEYS_CHUNK]
            words = places // U64(prefixes)
            at = places - words * U64(prefixes)
            np.multiply(at if rows is None else rows.take(at.view(np.int64)), U64(vocab_size), out=places, dtype=U64)
            places += words
        return keys

    def add(self, name: str, values: np.ndarray) -> None:
        """Put ``values`` of the current block in the column ``name``."""
        offset, dtype, _ = self.parked[name]
        self.scratch.seek(offset + self.filled * dtype.itemsize)
        self.scratch.write(memoryview(np.ascontiguousarray(values, dtype=dtype)).cast("B"))

    def column(self, name: str) -> np.ndarray:
        """The parked column ``name``, read back whole."""
        offset, dtype, length = self.parked[name]
        out = np.empty(length, dtype=dtype)
        if length:
            self.scratch.seek(offset)
            self.scratch.readinto(memoryview(out).cast("B"))
        return out


class _Streamer:
    """The state of one pass: the order being read, the order below it, the arrays laid out."""

    def __init__(self, reader: ArpaReader, spill: Spill | None, scratch) -> None:
        self.reader, self.spill, self.scratch = reader, spill, scratch
        self.order = reader.order
        self.current = self.start(0)
        self.below: np.ndarray | None = None  # order k-1's packed ids
        self.prefixes = 0  # how many n-grams order k-1 has (the words, for bigrams)
        self.closed = True  # every n-gram's suffix listed so far
        self.orders: list[dict] = []
        self.arrays: dict[str, np.ndarray | ArrayStream] = {}

    def start(self, k: int) -> _Order:
        return _Order(k, self.reader.expected[k + 1], k == self.order - 1, self.scratch)

    @property
    def vocab_size(self) -> int:
        return len(self.reader.tokens)

    def take(self, k: int, entries: Entries) -> bool:
        """Take ``entries`` of order ``k``; False when the file is not in shape."""
        while self.current.k < k:  # the orders below are complete (empty sections give no entries)
            if not self.finish():
                return False
        current, m, highest = self.current, len(entries.probs), k == self.order - 1
        if current.filled + m > current.count:
            return False  # more entries than the header promises: the general path says so
        if k:
            ids, bits = entries.ids, word_bits(self.vocab_size)
            if not highest and (k + 1) * bits > 63:
                return False  # order k+1 could not find its prefixes among these packed ids
            prefixes = reversed_words(ids[:, :-1], bits)
            if k == 1:
                at = prefixes  # a unigram's position is its word
            else:
                at = find_sorted(self.below, prefixes)
                if at is None:
                    return False
            words = ids[:, -1].astype(np.int64)
            places = words * self.prefixes + at
            if places[0] <= current.last or (places[1:] <= places[:-1]).any():
                return False  # not in suffix order, or an n-gram listed twice
            current.last = int(places[-1])
            current.add("places", places)
            del places
            if k > 1 and self.closed:
                self.closed = _all_found(self.below, reversed_words(ids[:, 1:], bits))
            if not highest:
                current.add("packed", prefixes | (words << (k * bits)))
        current.add("probs", entries.probs)
        if not highest:
            current.add("backoffs", entries.backoffs)
        current.filled += m
        return True

    def keep(self, arrays: dict[str, np.ndarray]) -> None:
        """Keep an order's finished arrays for the file, in the spill if there is one."""
        for name, array in arrays.items():
            self.arrays[name] = self.spill.put(array) if self.spill is not None else array

    def finish(self) -> bool:
        """Lay out the order just read and start the next; False when the file is not in shape."""
        current, V = self.current, self.vocab_size
        if current.k == 0:
            ids = self.reader.file_ids
            if len(ids) != V:  # a special token not listed: its row needs the listed bits
                return False
            info, permutation = {"entries": V}, ids  # row of the unigram listed i-th: ids[i]
            self.below = np.zeros(0, dtype=np.int64)
        else:
            self.below = None  # let go of what only this order needed
            keys = current.keys(V, self.prefixes)
            info, index_arrays, permutation = hash_order(current.k, keys, self.prefixes, V)
            del keys
            self.keep(index_arrays)
            del index_arrays  # in the spill now
        for kind in value_kinds(current.k, self.order):
            values = current.column(kind + "s")
            values = _scattered(values, permutation, V) if current.k == 0 else values[permutation]
            arrays, info[kind] = stored_column(f"{current.k}.{kind}", encode_exact(values))
            del values
            self.keep(arrays)
            del arrays
        self.orders.append(info)
        self.prefixes = info["entries"]
        if current.k + 1 == self.order:
            return True
        if current.k:
            self.below = current.column("packed")
        self.current = self.start(current.k + 1)  # its columns may overwrite this order's from here on
        if current.k:
            rows = np.empty(len(permutation), dtype=np.uint32)  # each n-gram's compact row, in suffix order
            rows[permutation] = np.arange(len(permutation), dtype=np.uint32)
            del permutation
            self.current.park_prefix_rows(rows)
        return True


def _all_found(ordered: np.ndarray, queries: np.ndarray) -> bool:
    """Whether every one of the non-decreasing ``queries`` is in the increasing array ``ordered``
    (an order's suffixes, in suffix order themselves): searched for in the stretch of ``ordered``
    between the first and the last, a few pages instead of the whole array."""
    low, high = np.searchsorted(ordered, queries[[0, -1]])
    return find_sorted(ordered[low : high + 1], queries) is not None


def _scattered(values: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """``values`` of the unigrams as listed, put in id order."""
    out = np.empty(size, dtype=values.dtype)
    out[ids] = values
    return out


def stream_layout(path: str | pathlib.Path, spill: Spill | None = None) -> Layout | None:
    """The compact layout of the ARPA file ``path`` read in one pass (see the module docstring),
    or None when the file is not in KenLM's shape; each order's arrays are parked in ``spill``
    as they are laid out, when it is given, and the order being read in a temporary file beside
    it. Defects raise the reader's ModelFileError."""
    reader = ArpaReader(pathlib.Path(path))
    with tempfile.TemporaryFile(dir=spill.directory if spill is not None else None) as scratch:
        entries = reader.entries(BLOCK_BYTES)
        streamer = None
        try:
            for section, got in entries:
                streamer = streamer or _Streamer(reader, spill, scratch)
                if not streamer.take(section.order - 1, got):
                    return None
        finally:
            entries.close()
        streamer = streamer or _Streamer(reader, spill, scratch)
        while len(streamer.orders) < streamer.order:
            if not streamer.finish():
                return None
    ngrams = [info["entries"] for info in streamer.orders]
    entry = tables_entry(streamer.vocab_size, streamer.orders, ngrams, None, streamer.closed, False)
    return Layout(reader.tokens, ngrams, entry, streamer.arrays)
