"""Split a block of ARPA lines into fields, and find words in the vocabulary, for whole blocks at once.

A block is a run of complete lines as bytes. Fields are the runs of bytes above 0x20: space,
tab, CR, the other control characters and newline separate them (so Windows line ends and any
mix of tabs and spaces read the same, as Python's ``str.split`` reads them);
each non-blank line is known by its first field and its number of fields. Words are looked up
by the 8-byte chunks of their bytes (read as uint64 through :func:`numbers.byte_windows`):
a hash of the chunks finds the candidate in a sorted table, and comparing every chunk and the
length confirms it, so the lookup is exact and no Python object is made per word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmtool.ngram.arpa.hashing import HashIndex, mix
from lmtool.ngram.arpa.numbers import byte_windows, chunk

PADDING = 16  # bytes after a block, so that 16-byte reads past any field stay inside the buffer


@dataclass
class Block:
    """The fields of a block of lines: ``starts``/``lengths`` per field (byte offsets in
    ``buffer``), and per non-blank line its ``first`` field, field ``count`` and ``line`` index
    within the block (0-based)."""

    buffer: np.ndarray
    windows: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    first: np.ndarray
    count: np.ndarray
    line: np.ndarray
    n_lines: int

    def text(self, field: int) -> bytes:
        start = int(self.starts[field])
        return self.buffer[start : start + int(self.lengths[field])].tobytes()

    def line_text(self, line: int) -> bytes:
        """The fields of non-blank line ``line`` (an index into ``first``) joined by spaces."""
        first = int(self.first[line])
        return b" ".join(self.text(f) for f in range(first, first + int(self.count[line])))


def split_block(buffer: np.ndarray) -> Block:
    """Fields and lines of ``buffer``: complete lines, each ending in a newline, then ``PADDING`` zero bytes."""
    field = np.zeros(len(buffer) + 1, dtype=bool)
    np.greater(buffer, ord(" "), out=field[1:])  # the zero padding is no field
    edges = np.flatnonzero(field[1:] != field[:-1])
    starts, ends = edges[0::2], edges[1::2]
    newlines = np.flatnonzero(buffer[: len(buffer) - PADDING] == ord("\n"))
    fields_before = _fields_before(starts, newlines)  # fields on lines 0..i
    count = np.diff(fields_before, prepend=0)
    line = np.flatnonzero(count)
    return Block(buffer=buffer, windows=byte_windows(buffer), starts=starts, lengths=ends - starts,
                 first=fields_before[line] - count[line], count=count[line], line=line, n_lines=len(newlines))


def _fields_before(starts: np.ndarray, newlines: np.ndarray) -> np.ndarray:
    """How many fields start before each newline (both arrays increasing).

    A section's lines mostly have one field count c (KenLM writes a backoff on every line below
    the highest order): then the answer is c, 2c, 3c, ..., which two strided comparisons confirm
    (field c(i+1) - 1 starts before newline i, field c(i+1) after it); otherwise (section
    headers, blank lines, SRILM's optional backoffs) one binary search per newline."""
    lines = len(newlines)
    if lines and len(starts) and len(starts) % lines == 0:
        c = len(starts) // lines
        if (starts[c - 1 :: c] < newlines).all() and (starts[c::c] > newlines[:-1]).all():
            return np.arange(c, c * lines + 1, c)
    return np.searchsorted(starts, newlines)


def _chunks(windows: np.ndarray, starts: np.ndarray, lengths: np.ndarray, n_chunks: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For q = 0..n_chunks-1: (fields longer than 8q, their bytes 8q..8q+7 as uint64, zero past the end)."""
    out = [(slice(None), chunk(windows, starts, lengths, 0))]
    longer = np.arange(len(starts))
    for q in range(1, n_chunks):
        longer = longer[lengths[longer] > 8 * q]
        out.append((longer, chunk(windows, starts[longer], lengths[longer], q)))
    return out


def _hash(chunks: list[tuple[np.ndarray, np.ndarray]], lengths: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each field's length and chunks."""
    h = mix(lengths.astype(np.uint64), chunks[0][1])
    for rows, values in chunks[1:]:
        h[rows] = mix(h[rows], values)
    return h


class WordIndex:
    """Exact lookup of words (byte strings) among a vocabulary's words, vectorised."""

    def __init__(self, words: list[bytes]) -> None:
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        buffer = np.frombuffer(b"".join(words) + b"\0" * PADDING, dtype=np.uint8)
        self.n_chunks = max(1, -(-int(lengths.max(initial=0)) // 8))
        self.lengths = lengths
        chunks = _chunks(byte_windows(buffer), np.cumsum(lengths) - lengths, lengths, self.n_chunks)
        self.chunks = np.zeros((self.n_chunks, len(words)), dtype=np.uint64)  # chunk q of every word: one row
        for q, (rows, values) in enumerate(chunks):
            self.chunks[q, rows] = values
        self.index = HashIndex(_hash(chunks, lengths), slots_per_item=8)  # small, probed millions of times
        # two words sharing a hash (about 2**-64 per pair) would break the lookup: use a dict then
        self.fallback = None if self.index.unique else {word: i for i, word in enumerate(words)}

    def find(self, block: Block, fields: np.ndarray) -> np.ndarray:
        """Index (in the vocabulary's word list) of the word in each of ``fields``, -1 if absent."""
        if self.fallback is not None:
            return np.array([self.fallback.get(block.text(f), -1) for f in fields], dtype=np.int64)
        n, lengths = len(fields), block.lengths[fields]
        fits = None
        if lengths.max(initial=0) > 8 * self.n_chunks:  # a longer word is no vocabulary word
            fits = np.flatnonzero(lengths <= 8 * self.n_chunks)
            fields, lengths = fields[fits], lengths[fits]
        chunks = _chunks(block.windows, block.starts[fields], lengths, self.n_chunks)
        candidate = self.index.find(_hash(chunks, lengths))
        safe = np.maximum(candidate, 0)
        same = self.lengths.take(safe) == lengths
        same &= self.chunks[0].take(safe) == chunks[0][1]
        for q, (rows, values) in enumerate(chunks[1:], start=1):
            same[rows] &= self.chunks[q].take(safe[rows]) == values
        found = np.where(same, candidate, -1)
        if fits is None:
            return found
        out = np.full(n, -1, dtype=np.int64)
        out[fits] = found
        return out
