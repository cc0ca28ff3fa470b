"""Whitespace tokenization and vocabulary lookup of UTF-8 bytes in numpy, for the streaming scorer.

Splitting 1.7 million words with ``str.split`` and looking each up in a dict takes about 0.3 s
of Python; here a block of text is one ``uint8`` array and every step is an array operation:

1. whitespace bytes are found with a 256-entry table; a token starts where a non-space byte
   follows a space (or the block's start), ends before the next space; a line ends at ``\\n``;
2. each token's first 16 bytes are read as two little-endian 64-bit words (the bytes past its
   end masked off): with its length that is the token itself, for tokens up to 16 bytes;
3. a 64-bit hash of those words probes a hash table of the vocabulary's ids, and a candidate
   counts only if its words and length are equal: no false match is possible.

Tokens longer than 16 bytes are looked up in a Python dict, one by one. The result is exactly what the word tokenizer
and :meth:`lmtool.text.Vocabulary.encode` give (``str.split`` on a line, ``<s>`` as
``<unk>``), which a test checks; a block holding a non-ASCII whitespace character (U+00A0,
U+2003, ...: ``str.split`` splits on those too) is left to that Python path instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lmtool.ngram.bitpack import U64
from lmtool.ngram.counting import row_type
from lmtool.ngram.hashing import MULTIPLIER, power_of_two_length
from lmtool.text import BOS_ID, UNK_ID

#: UTF-8 of the non-ASCII characters str.split() also splits on
UNICODE_SPACE = re.compile(rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")
SHORT = 16  # tokens up to this many bytes are compared as two words
SECOND = 0xBF58476D1CE4E5B9  # an odd multiplier that moves a token's second word before hashing
#: the bytes of a token of length l (index, clipped at 16) that its first and its second word keep
FIRST_MASK = np.array([(1 << (8 * min(l, 8))) - 1 for l in range(SHORT + 1)], dtype=np.uint64)
SECOND_MASK = np.array([(1 << (8 * min(max(l - 8, 0), 8))) - 1 for l in range(SHORT + 1)], dtype=np.uint64)


@dataclass
class Tokens:
    """The whitespace tokens of a block of lines: the length of each, the line of each, their bytes."""

    length: np.ndarray  # (T,) int32 bytes of each token
    per_line: np.ndarray  # (lines,) int64 tokens on each line of the block
    data: np.ndarray  # the tokens' bytes in order (uint8), with the whitespace between them if ``spaced``
    spaced: bool = False

    def offsets(self) -> np.ndarray:
        """Where each token starts in :attr:`data` (int32 below 2 GiB): in a block, found again
        by its whitespace (65 us a 128 KB block; held while the block is scored, they would add
        to its peak), else the running sum of the lengths."""
        if self.spaced:
            return _edges(self.data)[0::2].astype(row_type(len(self.data)))
        return np.cumsum(self.length, dtype=row_type(len(self.data))) - self.length

    def padded(self) -> np.ndarray:
        """:attr:`data` as uint64 words with two zero words after them, what :meth:`words` reads."""
        return _as_words(self.data)

    def words(self, tokens: np.ndarray, padded: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first 16 bytes of each of ``tokens`` (indices) as two little-endian uint64 words,
        bytes past the token zeroed (:func:`_words`, given :meth:`padded` and :meth:`offsets`):
        a token of up to 16 bytes spelled, for output."""
        return _words(padded, offsets.take(tokens), self.length.take(tokens))


def _spaces(data: np.ndarray, out: np.ndarray) -> None:
    """Which bytes of ``data`` are whitespace (ASCII's: what ``str.split`` splits on), into ``out``."""
    np.less(data - np.uint8(9), 5, out=out)  # \t \n \v \f \r (uint8 arithmetic wraps below 9)
    out |= data - np.uint8(28) < 5  # \x1c-\x1f and the space


def _edges(data: np.ndarray) -> np.ndarray:
    """Where the tokens of ``data`` start and end, alternately (int64): a token runs from a
    space->text edge to the next text->space one."""
    bounded = np.ones(len(data) + 2, dtype=bool)  # the block between two spaces
    _spaces(data, bounded[1:-1])
    return np.flatnonzero(bounded[1:] != bounded[:-1])  # a bool array: numpy's fast nonzero


def split_lines(block: bytes) -> tuple[Tokens, np.ndarray]:
    """The tokens of ``block`` (UTF-8 text: whole lines, the last ``\\n`` optional), and the byte
    offset of each in it (int64, what :meth:`ByteVocabulary.lookup` reads them by)."""
    data = np.frombuffer(block, dtype=np.uint8)
    edges = _edges(data)
    begin = edges[0::2].copy()  # (a copy: the edges go)
    length = np.subtract(edges[1::2], begin, dtype=np.int32)
    del edges
    line_ends = np.flatnonzero(data == 10)
    if len(data) and data[-1] != 10:
        line_ends = np.append(line_ends, len(data))  # a last line without its \n
    per_line = np.diff(np.searchsorted(begin, line_ends), prepend=0)  # tokens starting before each end
    return Tokens(length, per_line, data, spaced=True), begin


def _words(padded: np.ndarray, begin: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first 16 bytes of each token as two little-endian words, bytes past the token zeroed.
    ``padded`` is the text as uint64 words with at least two zero words after it: the three
    aligned words a token's 16 bytes touch are read once each and shifted into place (numpy's
    gather from an unaligned byte-strided view takes longer than these three aligned ones),
    in the memory of those reads."""
    word = np.right_shift(begin, 3, dtype=np.int64)  # (offsets of any integer type: Tokens.offsets gives int32)
    low = padded.take(word)
    word += 1
    middle = padded.take(word)
    word += 1
    high = padded.take(word)
    shift = np.bitwise_and(begin, 7, out=word)  # bits of the first word before the token, in word's memory
    shift <<= 3
    shift = shift.view(U64)
    low >>= shift
    second = middle >> shift
    back = np.subtract(U64(64), shift, out=shift)  # a shift by 64 gives 0 in numpy
    middle <<= back
    middle |= low
    high <<= back
    second |= high
    del low, high
    clipped = np.minimum(length, SHORT, out=back.view(np.int64))  # an int64 index: take copies others into one
    middle &= FIRST_MASK.take(clipped)
    second &= SECOND_MASK.take(clipped)
    return middle, second


def _as_words(data: bytes) -> np.ndarray:
    """``data`` as uint64 words followed by two zero words."""
    padded = np.zeros((len(data) + 7) // 8 + 2, dtype=U64)
    padded.view(np.uint8)[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return padded


def _key(first: np.ndarray, second: np.ndarray, length: np.ndarray) -> np.ndarray:
    """A 64-bit hash of a short token, good in its top bits (collisions are resolved by
    comparing the words), in a new array."""
    key = second * U64(SECOND)
    key ^= first
    np.bitwise_xor(key, length, out=key, dtype=U64, casting="unsafe")  # a length is never negative
    key *= U64(MULTIPLIER)
    return key


class ByteVocabulary:
    """A vocabulary's tokens indexed for :meth:`lookup` (the word tokenizer's encoding, on bytes).

    The index is an open-addressing table of the short tokens' ids, at most a quarter full,
    addressed by the top bits of their hash; a probe that meets an empty slot ends the search.
    An empty slot holds the id of a sentinel record (one past the vocabulary, of length -1),
    so every probe compares records without first testing for emptiness.
    """

    def __init__(self, offsets: np.ndarray, data: bytes) -> None:
        """``data`` holds every token's UTF-8 bytes, token ``i`` at ``offsets[i]:offsets[i+1]``
        (a compact model file stores its vocabulary so: no Python string is made here)."""
        offsets = np.asarray(offsets, dtype=np.int64)
        begin, length = offsets[:-1], np.diff(offsets)
        first, second = _words(_as_words(data), begin, length)
        self._empty = len(length)
        self._first, self._second = np.append(first, U64(0)), np.append(second, U64(0))
        self._length = np.append(length, -1).astype(np.int32)
        ids = np.arange(len(length))
        short = np.flatnonzero((length <= SHORT) & (ids != BOS_ID))  # text "<s>" is <unk>, as Vocabulary.encode has it
        self._bits = max(2, int(len(short)).bit_length() + 2)
        # the ids as the vocabulary's row_type (int32), with room to probe past the end
        self._table = np.full((1 << self._bits) + len(short), self._empty, dtype=row_type(len(length) + 1))
        home = (_key(first, second, length)[short] >> U64(64 - self._bits)).astype(np.int64)
        order = np.argsort(home, kind="stable")
        # linear probing, entries in home order: the i-th lands at the first free slot >= its home
        slot = np.maximum.accumulate(home[order] - np.arange(len(short))) + np.arange(len(short))
        self._table[slot] = short[order]
        self._slow = {data[offsets[i] : offsets[i + 1]].decode("utf-8"): int(i)
                      for i in np.flatnonzero(length > SHORT) if i != BOS_ID}

    @classmethod
    def of(cls, tokens: list[str]) -> "ByteVocabulary":
        """The index of a list of tokens."""
        encoded = [token.encode("utf-8") for token in tokens]
        return cls(np.concatenate([[0], np.cumsum([len(token) for token in encoded])]), b"".join(encoded))

    def lookup(self, block: bytes, begin: np.ndarray, length: np.ndarray) -> np.ndarray:
        """The id of every token of ``block`` (its byte offset and length, as :func:`split_lines`
        gives them; out-of-vocabulary tokens, and ``<s>``, get ``<unk>``), in the table's type."""
        first, second = _words(_as_words(block), begin, length)
        slot = _key(first, second, length)
        slot >>= U64(64 - self._bits)
        slot = slot.view(np.int64)
        ids, pending, wanted = None, None, length  # the first probe serves every token, later ones those still pending
        while True:  # a long token matches no short entry (its length differs): the dict below has it
            found = self._table.take(slot)
            candidate = found.astype(np.int64)  # the index of three takes (see _words)
            same = self._first.take(candidate) == first
            same &= self._second.take(candidate) == second
            same &= self._length.take(candidate) == wanted
            go_on = power_of_two_length(np.flatnonzero(~same & (candidate != self._empty)))
            if ids is None:
                ids, pending = np.where(same, found, UNK_ID), go_on
            else:
                ids[pending] = np.where(same, found, ids[pending])  # every array here of a padded subset's length
                pending = pending[go_on]
            if not len(go_on):
                break
            first, second, wanted, slot = first[go_on], second[go_on], wanted[go_on], slot[go_on] + 1
        for i in np.flatnonzero(length > SHORT).tolist() if self._slow else ():
            ids[i] = self._slow.get(block[begin[i] : begin[i] + length[i]].decode("utf-8"), UNK_ID)
        return ids


def has_unicode_space(block: bytes) -> bool:
    """Whether ``block`` holds a whitespace character outside ASCII (see the module docstring)."""
    return not block.isascii() and UNICODE_SPACE.search(block) is not None
