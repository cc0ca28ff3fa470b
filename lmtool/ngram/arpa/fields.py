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
    """The fields of a block of lines: per field the offset in ``buffer`` of the byte before it
    (``before``: a separator, or -1 at the block's start) and of the byte after it (``ends``),
    and per non-blank line its ``first`` field, field ``count`` and ``line`` index within the
    block (0-based). Fields' starts and lengths are made for the fields read (:meth:`spans`),
    not kept for all: in the usual block (one separator after every field) ``before`` and
    ``ends`` are two views of one array, one int64 a field."""

    buffer: np.ndarray
    windows: np.ndarray
    before: np.ndarray
    ends: np.ndarray
    first: np.ndarray
    count: np.ndarray
    line: np.ndarray
    n_lines: int

    def spans(self, fields: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start offsets, lengths) of ``fields`` (an array of field indices; indexed, not
        ``take``, which would copy the general path's strided arrays whole)."""
        starts = self.before[fields] + 1
        return starts, self.ends[fields] - starts

    def text(self, field: int) -> bytes:
        return self.buffer[int(self.before[field]) + 1 : int(self.ends[field])].tobytes()

    def line_text(self, line: int) -> bytes:
        """The fields of non-blank line ``line`` (an index into ``first``) joined by spaces."""
        first = int(self.first[line])
        return b" ".join(self.text(f) for f in range(first, first + int(self.count[line])))


def split_block(buffer: np.ndarray) -> Block:
    """Fields and lines of ``buffer``: complete lines, each ending in a newline, then ``PADDING`` zero bytes.

    When each field is followed by exactly one separator and the block starts with a field (no
    blank lines, no whitespace at either end of a line, no runs of spaces or tabs, no CR: KenLM's
    and lmtool's files), the separators' offsets, after a -1, are every field's bounds: one
    array. Any other block takes each field's first and last byte from the changes between
    separator and field bytes (two int64 a field)."""
    text = len(buffer) - PADDING
    separator = np.empty(text + 1, dtype=bool)
    separator[0] = True  # byte -1, before the block
    np.less_equal(buffer[:text], ord(" "), out=separator[1:])
    if not (separator[1:] & separator[:-1]).any():
        bounds = np.flatnonzero(separator)
        bounds -= 1
        ends = bounds[1:]
        return _with_lines(buffer, bounds[:-1], ends, _separated_lines(buffer[:text], ends))
    edges = np.flatnonzero(separator[1:] != separator[:-1])  # a field's first byte, the byte after its last
    edges[0::2] -= 1
    ends = edges[1::2]
    return _with_lines(buffer, edges[0::2], ends, _fields_before(ends, np.flatnonzero(buffer[:text] == ord("\n"))))


def _separated_lines(text: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How many fields lie on lines 0..i of ``text``, where ``ends`` (the byte after every
    field) are all its separators. When the block's n newlines are ends c - 1, 2c - 1, ... (one
    field count c on every line: a count and one strided look confirm it), that is c, 2c, ...;
    otherwise each separator is looked at."""
    lines = int(np.count_nonzero(text == ord("\n")))
    if lines and len(ends) % lines == 0:
        c = len(ends) // lines
        if (text[ends[c - 1 :: c]] == ord("\n")).all():
            return np.arange(c, c * lines + 1, c)
    return np.flatnonzero(text[ends] == ord("\n")) + 1


def _with_lines(buffer: np.ndarray, before: np.ndarray, ends: np.ndarray, fields_before: np.ndarray) -> Block:
    """The block of fields ``before``/``ends`` whose i-th line ends after ``fields_before[i]`` fields."""
    count = np.diff(fields_before, prepend=0)
    line = np.flatnonzero(count)
    return Block(buffer=buffer, windows=byte_windows(buffer), before=before, ends=ends,
                 first=fields_before[line] - count[line], count=count[line], line=line, n_lines=len(fields_before))


def _fields_before(ends: np.ndarray, newlines: np.ndarray) -> np.ndarray:
    """How many fields end before each newline (both arrays increasing), i.e. lie on lines 0..i.

    A section's lines mostly have one field count c (KenLM writes a backoff on every line below
    the highest order): then the answer is c, 2c, 3c, ..., which two strided comparisons confirm
    (field c(i+1) - 1 ends at or before newline i, field c(i+1) after it); otherwise (section
    headers, blank lines, SRILM's optional backoffs) one binary search per newline."""
    lines = len(newlines)
    if lines and len(ends) and len(ends) % lines == 0:
        c = len(ends) // lines
        if (ends[c - 1 :: c] <= newlines).all() and (ends[c::c] > newlines[:-1]).all():
            return np.arange(c, c * lines + 1, c)
    return np.searchsorted(ends, newlines, side="right")


def _chunks(windows: np.ndarray, starts: np.ndarray, lengths: np.ndarray, n_chunks: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For q = 0..n_chunks-1: (fields longer than 8q, their bytes 8q..8q+7 as uint64, zero past the end)."""
    out = [(slice(None), chunk(windows, starts, lengths, 0))]
    longer = np.arange(len(starts))
    for q in range(1, n_chunks):
        longer = longer.take(np.flatnonzero(lengths[longer] > 8 * q))  # by index: a mask's scattered Trues mispredict
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
        n = len(fields)
        starts, lengths = block.spans(fields)
        fits = None
        if lengths.max(initial=0) > 8 * self.n_chunks:  # a longer word is no vocabulary word
            fits = np.flatnonzero(lengths <= 8 * self.n_chunks)
            starts, lengths = starts[fits], lengths[fits]
        chunks = _chunks(block.windows, starts, lengths, self.n_chunks)
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
