"""Split a block of ARPA lines into fields, and find words in the vocabulary, for whole blocks at once.

A block is a run of complete lines as bytes. Fields are the runs of bytes other than space, tab,
CR, VT, FF and newline (so Windows line ends and any mix of tabs and spaces read the same);
each non-blank line is known by its first field and its number of fields. Words are looked up
by the 8-byte chunks of their bytes (read as uint64 through :func:`numbers.byte_windows`):
a hash of the chunks finds the candidate in a sorted table, and comparing every chunk and the
length confirms it, so the lookup is exact and no Python object is made per word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmtool.ngram.arpa.numbers import byte_windows, chunk

_SEPARATOR = np.zeros(256, dtype=bool)
_SEPARATOR[list(b" \t\r\n\v\f")] = True
_FIELD = ~_SEPARATOR
PADDING = 16  # bytes after a block, so that 16-byte reads past any field stay inside the buffer
_MIX = np.uint64(0x9E3779B97F4A7C15)


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


def split_block(data: bytes) -> Block:
    """Fields and lines of ``data``, complete lines each ending in a newline."""
    buffer = np.frombuffer(data + b"\0" * PADDING, dtype=np.uint8)
    field = np.zeros(len(buffer) + 1, dtype=bool)
    field[1:] = _FIELD[buffer]
    field[-PADDING - 1 :] = False  # the padding is no field
    edges = np.flatnonzero(field[1:] != field[:-1])
    starts, ends = edges[0::2], edges[1::2]
    newlines = np.flatnonzero(buffer[: len(data)] == ord("\n"))
    fields_before = np.searchsorted(starts, newlines)  # fields on lines 0..i
    count = np.diff(fields_before, prepend=0)
    line = np.flatnonzero(count)
    return Block(buffer=buffer, windows=byte_windows(buffer), starts=starts, lengths=ends - starts,
                 first=fields_before[line] - count[line], count=count[line], line=line, n_lines=len(newlines))


def _chunks(windows: np.ndarray, starts: np.ndarray, lengths: np.ndarray, n_chunks: int) -> np.ndarray:
    """(n, n_chunks) uint64: the 8-byte chunks of each field, zero past its end."""
    out = np.zeros((len(starts), n_chunks), dtype=np.uint64)
    for q in range(n_chunks):
        longer = np.flatnonzero(lengths > 8 * q) if q else np.arange(len(starts))
        out[longer, q] = chunk(windows, starts[longer], lengths[longer], q)
    return out


def _hash(chunks: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of chunks and its length (wrapping arithmetic)."""
    h = lengths.astype(np.uint64) * _MIX
    for q in range(chunks.shape[1]):
        h = (h ^ chunks[:, q]) * _MIX
        h ^= h >> np.uint64(29)
    return h


class WordIndex:
    """Exact lookup of words (byte strings) among a vocabulary's words, vectorised."""

    def __init__(self, words: list[bytes]) -> None:
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        buffer = np.frombuffer(b"".join(words) + b"\0" * PADDING, dtype=np.uint8)
        self.n_chunks = max(1, -(-int(lengths.max(initial=0)) // 8))
        self.lengths = lengths
        self.chunks = _chunks(byte_windows(buffer), np.cumsum(lengths) - lengths, lengths, self.n_chunks)
        hashes = _hash(self.chunks, lengths)
        self.order = np.argsort(hashes)
        self.hashes = hashes[self.order]
        # two words sharing a hash (about 2**-64 per pair) would break the lookup: use a dict then
        collide = len(self.hashes) > 1 and bool((self.hashes[1:] == self.hashes[:-1]).any())
        self.fallback = {word: i for i, word in enumerate(words)} if collide else None

    def find(self, block: Block, fields: np.ndarray) -> np.ndarray:
        """Index (in the vocabulary's word list) of the word in each of ``fields``, -1 if absent."""
        starts, lengths = block.starts[fields], block.lengths[fields]
        if self.fallback is not None:
            return np.array([self.fallback.get(block.text(f), -1) for f in fields], dtype=np.int64)
        found = np.full(len(fields), -1, dtype=np.int64)
        if not len(self.hashes):
            return found
        fits = np.flatnonzero(lengths <= 8 * self.n_chunks)
        chunks = _chunks(block.windows, starts[fits], lengths[fits], self.n_chunks)
        hashes = _hash(chunks, lengths[fits])
        position = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        candidate = self.order[position]
        same = (self.hashes[position] == hashes) & (self.lengths[candidate] == lengths[fits])
        same &= (self.chunks[candidate] == chunks).all(axis=1)
        found[fits[same]] = candidate[same]
        return found
