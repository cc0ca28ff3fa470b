"""An ARPA file in KenLM's shape laid out as a compact model file as it is read, without backoff tables.

KenLM lists every section in suffix order (by last word, then the one before, ...). Then each
order can be laid out (:mod:`lmtool.ngram.compact`) as soon as its section is read, holding
only what the next order needs::

    each block of section k (k+1 words)  each n-gram's prefix (its ids but the last, packed last
                                         word first), last word and values (float32) parked
    the section complete                 with order k-1's packed ids read back (increasing), a
                                         chunk of prefixes at a time: each found (a binary search)
                                         -> its position; place = last word * n(k-1) + position:
                                         strictly increasing (suffix order, and no n-gram listed
                                         twice)? suffix found too? (the header's suffix_closed);
                                         places and the n-grams' own packed ids parked
                                         places read back and made keys (prefix's compact row *
                                         V + last word; order k-1's compact rows, parked when it
                                         was laid out, read back for it) -> the hash index and
                                         the permutation to hash order, parked; each n-gram's
                                         compact row parked for order k+1; value columns read
                                         back one at a time, put in row order

A unigram's position and compact row are its word. Held while a section is read: a block's
arrays and the vocabulary, nothing of the orders below; the parked columns wait in a
temporary file (orders k and k+1 in two regions of it, order k+2 reusing order k's) and the
orders laid out in a :class:`~lmtool.ngram.container.Spill` until the file is written. The
largest arrays held at once are the hash index's: the hashes with their positions (8 bytes an
n-gram, later the permutation), the bucket pointers and the packed quotients. Between a section's blocks and
its layout, and after the layout, glibc's freed memory is given back (:mod:`lmtool.allocator`:
each phase's arrays would otherwise stay resident under the other's, for a few milliseconds
of page faults). On Brown order 5 (2.27 million n-grams) ``lmtool fit-ngram --from-arpa``
peaks at 50-51 MiB (KenLM's ``build_binary probing``: 53), some 19 above the interpreter, numpy
and the CLI;
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

from lmtool.allocator import release_freed_memory
from lmtool.ngram.arpa.build import find_sorted, reversed_words, word_bits
from lmtool.ngram.arpa.read import ArpaReader, Entries
from lmtool.ngram.bitpack import U64
from lmtool.ngram.compact import hash_order, stored_column, tables_entry, value_kinds
from lmtool.ngram.container import ArrayStream, Spill
from lmtool.ngram.values import encode_exact

#: entries of a parked column worked on at a time (resolving prefixes, making keys, putting
#: values in row order): their temporaries stay under 512 KiB
KEYS_CHUNK = 1 << 14
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
    """Order ``k`` (``k + 1`` words) as its section is read, and laid out when it is complete.

    Per n-gram, parked in ``scratch`` (a temporary file shared by every order) in columns of
    the header's count of entries, filled in file order from byte ``base`` on: its prefix's
    packed ids (the ids of all its words but the last, the last in the highest bits), replaced
    by its place in suffix order once the section is complete (last word * the prefixes' count
    + the prefix's position in order k-1; for bigrams the prefix is a word, its own position);
    its last word; its values (float32); its own packed ids (what order k+1's prefixes are found
    in; none at the highest order); and the compact row of each of order k-1's n-grams
    (``prefix_rows``, in suffix order; none for bigrams), which turn places into keys. Columns
    are read back a chunk or a column at a time."""

    def __init__(self, k: int, count: int, highest: bool, scratch, base: int) -> None:
        self.k, self.count, self.filled, self.scratch = k, count, 0, scratch
        self.highest = highest
        self.parked: dict[str, tuple[int, np.dtype, int]] = {}  # column -> offset, type, length
        offset = base
        for name, dtype, length in self.columns(k, count, highest):
            self.parked[name] = offset, np.dtype(dtype), length
            offset += length * np.dtype(dtype).itemsize
        self.end = offset  # prefix_rows, parked when known, go here

    @staticmethod
    def columns(k: int, count: int, highest: bool) -> list[tuple[str, type, int]]:
        """Name, type and length of each column of order ``k`` but ``prefix_rows``."""
        return [("places", U64, count if k else 0), ("words", np.uint32, count if k else 0),
                ("probs", np.float32, count), ("backoffs", np.float32, 0 if highest else count),
                ("packed", np.int64, count if k and not highest else 0),
                ("permutation", np.uint32, count if k else 0)]

    @classmethod
    def region_bytes(cls, k: int, count: int, highest: bool, prefixes: int) -> int:
        """Bytes of scratch order ``k`` uses, its prefixes' rows (``prefixes`` of them) included."""
        return sum(length * np.dtype(dtype).itemsize for _, dtype, length in cls.columns(k, count, highest)) \
            + (4 * prefixes if k > 1 else 0)

    def park_prefix_rows(self, rows: np.ndarray) -> None:
        """Park order k-1's compact rows, after the other columns."""
        self.parked["prefix_rows"] = self.end, np.dtype(np.uint32), len(rows)
        self.put("prefix_rows", 0, rows)

    def keys(self, vocab_size: int, prefixes: int) -> np.ndarray:
        """The places made keys in their own memory (prefix's compact row * V + last word), a
        chunk at a time: only order k-1's compact rows are held beside them."""
        keys = self.column("places")
        rows = self.column("prefix_rows") if self.k > 1 else None  # a bigram's prefix, a word, is its own row
        for first in range(0, len(keys), KEYS_CHUNK):
            places = keys[first : first + KEYS_CHUNK]
            words = places // U64(prefixes)
            at = places - words * U64(prefixes)
            np.multiply(at if rows is None else rows.take(at.view(np.int64)), U64(vocab_size), out=places, dtype=U64)
            places += words
        return keys

    def in_rows(self, name: str) -> np.ndarray:
        """The parked column ``name`` in the order of the compact rows (row r holds the n-gram
        parked ``permutation[r]``-th), the permutation read back a chunk at a time."""
        values = self.column(name)
        out = np.empty_like(values)
        for first in range(0, len(out), KEYS_CHUNK):
            out[first : first + KEYS_CHUNK] = values.take(self.column("permutation", first, first + KEYS_CHUNK))
        return out

    def add(self, name: str, values: np.ndarray) -> None:
        """Put ``values`` of the current block in the column ``name``."""
        self.put(name, self.filled, values)

    def put(self, name: str, first: int, values: np.ndarray) -> None:
        """Write ``values`` into the column ``name`` from its entry ``first`` on."""
        offset, dtype, _ = self.parked[name]
        self.scratch.seek(offset + first * dtype.itemsize)
        self.scratch.write(memoryview(np.ascontiguousarray(values, dtype=dtype)).cast("B"))

    def column(self, name: str, first: int = 0, stop: int | None = None) -> np.ndarray:
        """Entries ``first`` to ``stop`` (default: all) of the parked column ``name``."""
        offset, dtype, length = self.parked[name]
        stop = length if stop is None else min(stop, length)
        out = np.empty(stop - first, dtype=dtype)
        if len(out):
            self.scratch.seek(offset + first * dtype.itemsize)
            self.scratch.readinto(memoryview(out).cast("B"))
        return out


class _Streamer:
    """The state of one pass: the order being read, the order below it, the arrays laid out."""

    def __init__(self, reader: ArpaReader, spill: Spill | None, scratch) -> None:
        self.reader, self.spill, self.scratch = reader, spill, scratch
        self.order = reader.order
        counts = [reader.expected[k + 1] for k in range(self.order)]
        # orders k and k+1 lie in two regions of the scratch file: order k+2 reuses order k's
        self.region = max(_Order.region_bytes(k, counts[k], k == self.order - 1, counts[k - 1] if k else 0)
                          for k in range(self.order))
        self.current = self.start(0)
        self.previous: _Order | None = None  # order k-1, whose packed ids resolve order k's prefixes
        self.prefixes = 0  # how many n-grams order k-1 has (the words, for bigrams)
        self.closed = True  # every n-gram's suffix listed so far
        self.orders: list[dict] = []
        self.arrays: dict[str, np.ndarray | ArrayStream] = {}

    def start(self, k: int) -> _Order:
        return _Order(k, self.reader.expected[k + 1], k == self.order - 1, self.scratch, (k % 2) * self.region)

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
            current.add("places", reversed_words(ids[:, :-1], bits))  # the prefixes, until resolved
            current.add("words", ids[:, -1])
        current.add("probs", entries.probs)
        if not highest:
            current.add("backoffs", entries.backoffs)
        current.filled += m
        return True

    def resolve(self, current: _Order) -> bool:
        """Replace order k's parked prefixes by places, a chunk at a time, and park its packed
        ids for order k+1; False when the file is not in shape (a prefix not listed, n-grams
        out of suffix order or listed twice). Order k-1's packed ids, which the prefixes are
        found in, are held only here, not while the section is read."""
        k, bits = current.k, word_bits(self.vocab_size)
        below = self.previous.column("packed") if k > 1 else None
        last = -1
        for first in range(0, current.count, KEYS_CHUNK):
            prefixes = current.column("places", first, first + KEYS_CHUNK).view(np.int64)
            words = current.column("words", first, first + KEYS_CHUNK).astype(np.int64)
            at = prefixes if k == 1 else find_sorted(below, prefixes)  # a unigram's position is its word
            if at is None:
                return False
            if k > 1 and self.closed:  # the suffixes: all words but the first
                self.closed = _all_found(below, (prefixes >> bits) | (words << ((k - 1) * bits)))
            if not current.highest:
                current.put("packed", first, prefixes | (words << (k * bits)))
            places = words * self.prefixes + at
            if places[0] <= last or (places[1:] <= places[:-1]).any():
                return False  # not in suffix order, or an n-gram listed twice
            last = int(places[-1])
            current.put("places", first, places)
        return True

    def keep(self, arrays: dict[str, np.ndarray]) -> None:
        """Keep an order's finished arrays for the file, in the spill if there is one."""
        for name, array in arrays.items():
            self.arrays[name] = self.spill.put(array) if self.spill is not None else array

    def finish(self) -> bool:
        """Lay out the order just read and start the next; False when the file is not in shape."""
        current, V = self.current, self.vocab_size
        release_freed_memory()  # the blocks' arrays, freed, would stay resident under the layout's
        following = self.start(current.k + 1) if current.k + 1 < self.order else None
        if current.k == 0:
            ids = self.reader.file_ids
            if len(ids) != V:  # a special token not listed: its row needs the listed bits
                return False
            info = {"entries": V}
        else:
            if not self.resolve(current):
                return False
            keys = current.keys(V, self.prefixes)
            info, index_arrays, permutation = hash_order(current.k, keys, self.prefixes, V)
            del keys
            self.keep(index_arrays)
            del index_arrays  # in the spill now
            current.put("permutation", 0, permutation)  # read back a chunk at a time for each value column
            if following is not None:
                following.park_prefix_rows(_inverse(permutation))
            del permutation
        for kind in value_kinds(current.k, self.order):
            values = _scattered(current.column(kind + "s"), ids, V) if current.k == 0 else current.in_rows(kind + "s")
            arrays, info[kind] = stored_column(f"{current.k}.{kind}", encode_exact(values))
            del values
            self.keep(arrays)
            del arrays
        self.orders.append(info)
        release_freed_memory()  # and the layout's, under the next section's blocks
        self.prefixes = info["entries"]
        if following is not None:
            self.previous, self.current = current, following
        return True


def _inverse(permutation: np.ndarray) -> np.ndarray:
    """Each n-gram's compact row, in suffix order (``permutation`` maps rows to suffix order)."""
    rows = np.empty(len(permutation), dtype=np.uint32)
    for first in range(0, len(rows), KEYS_CHUNK):
        part = permutation[first : first + KEYS_CHUNK]
        rows[part] = np.arange(first, first + len(part), dtype=np.uint32)
    return rows


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
