"""Write backoff tables as ARPA text in bulk: blocks of lines assembled by one byte gather each.

Every line is a sequence of *pieces* (a number's text, the first word with the tab before it,
each other word with the space before it, a tab, a number, a newline) copied from one source
buffer that holds the vocabulary's words (twice: after a tab, after a space), two separator
bytes and the block's formatted numbers (:func:`~lmtool.ngram.arpa.numbers.format_g9`).
With each piece's source offset and length per line, a group of lines is one gather from the
source (:func:`gather_pieces`): no Python loop per line or per number, and only a few blocks
(``BLOCK_ROWS`` lines, about 3 MB each) exist as bytes at a time, streamed to the output.
Blocks are made on two threads where the machine has two cores (numpy releases the
interpreter lock in the gather and the formatting), each thread formatting its numbers into
its own copy of the source buffer, and written in order (:mod:`lmtool.ngram.ordered`).

Text: the ``\\data\\`` header, then per order ``prob<TAB>w1 w2 ...[<TAB>backoff]`` (no backoff
column at the highest order), values ``'%.9g'``, ``-inf`` written ``-99`` as SRILM does (a
backoff of -inf, a context with no mass left, comes from ``mle``; ``<s>`` has probability -inf).
Rows not ``listed`` (contexts an SRILM file did not list) are skipped.
"""

from __future__ import annotations

import copy
import os
import threading
from typing import BinaryIO, Callable, Iterable, Iterator

import numpy as np

from lmtool.errors import LmtoolError
from lmtool.ngram.arpa.numbers import format_g9
from lmtool.ngram.ordered import in_order
from lmtool.ngram.tables import BackoffTables

#: lines per block, whose numbers are formatted together: the two threads contend for the
#: interpreter lock between numpy's calls, so fewer, longer calls make blocks faster (Brown order
#: 5 on two threads: 0.85 s at 1 << 14 lines, 0.69 s here, with GATHER_ROWS)
BLOCK_ROWS = 1 << 16
#: lines of a block gathered at once: the gather's offsets take 12 bytes per byte of text
#: (int32 and numpy's intp copy), 4.5 MB here, where 4x would overflow the core's cache
GATHER_ROWS = 1 << 13
_SEPARATORS = b"\t\n"  # offsets 0, 1 of the source buffer
_TAB, _NEWLINE = 0, 1


class ArpaWords:
    """The source buffer of the byte gather: separators, ``"\tword"`` then ``" word"`` for
    every vocabulary word, then room for one block's formatted probabilities and backoffs."""

    def __init__(self, tokens: list[str]) -> None:
        words = [token.encode("utf-8") for token in tokens]
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 1
        if 2 * int(lengths.sum()) + 2 * 16 * BLOCK_ROWS >= 2**31:
            raise LmtoolError("the vocabulary's words take more than 1 GB: too large for the ARPA writer")
        self.after_tab = (len(_SEPARATORS) + np.cumsum(lengths) - lengths).astype(np.int32)
        self.after_space = self.after_tab + np.int32(lengths.sum())
        self.word_length = lengths.astype(np.int32)
        self.numbers = len(_SEPARATORS) + 2 * int(lengths.sum())
        self.buffer = np.empty(self.numbers + 2 * 16 * BLOCK_ROWS, dtype=np.uint8)
        text = _SEPARATORS + b"".join(b"\t" + w for w in words) + b"".join(b" " + w for w in words)
        self.buffer[: self.numbers] = np.frombuffer(text, dtype=np.uint8)
        self._ascending = np.zeros(0, dtype=np.int32)

    def copy(self) -> "ArpaWords":
        """The same words with a buffer of their own (a thread's: :meth:`put_numbers` writes in it)."""
        twin = copy.copy(self)
        twin.buffer = self.buffer.copy()
        return twin

    def ascending(self, n: int) -> np.ndarray:
        """0, 1, ..., n - 1 as int32 (a view of one array, made again only when a gather is longer)."""
        if len(self._ascending) < n:
            self._ascending = np.arange(n, dtype=np.int32)
        return self._ascending[:n]

    def put_numbers(self, values: np.ndarray, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """Format ``values`` into number slot 0 (probabilities) or 1 (backoffs): (text start in
        the buffer, text length) per value."""
        text, length = format_g9(values)
        base = self.numbers + slot * 16 * BLOCK_ROWS
        self.buffer[base : base + text.size] = text.reshape(-1)
        return np.arange(base, base + text.size, 16, dtype=np.int32), length


#: threads that make blocks of lines (numpy releases the interpreter lock): two, where the
#: machine has them, as lmplz writes with a second thread (Brown order 5, 87 MB of ARPA text:
#: 1.41 -> 1.03 s on two cores)
WRITER_THREADS = min(2, os.cpu_count() or 1)


def write_arpa_tables(tokens: list[str], tables: BackoffTables, out: BinaryIO, threads: int = WRITER_THREADS) -> None:
    """Stream the ARPA text of ``tables`` (words ``tokens``) to the binary file ``out``, its blocks
    of lines made on ``threads`` threads: one stream of blocks through every order, so that the
    threads never wait at the end of a section (Brown order 5: 0.69 -> 0.64 s)."""
    check_finite(tables)
    out.write(arpa_header(tables.n_listed()))
    titled = 0  # the sections whose title is written
    for k, texts in in_order(_block_maker(ArpaWords(tokens), tables, threads), _blocks(tables, range(tables.order)),
                             threads):
        for title in range(titled, k + 1):
            out.write(section_title(title))
        titled = k + 1
        for text in texts:
            out.write(text.data)
    for title in range(titled, tables.order):  # sections with no lines
        out.write(section_title(title))
    out.write(ARPA_END)


#: what closes an ARPA file
ARPA_END = b"\n\\end\\\n"


def arpa_header(counts: list[int]) -> bytes:
    """The ``\\data\\`` block: the number of n-grams of every order."""
    return ("\n".join(["", "\\data\\"] + [f"ngram {k + 1}={n}" for k, n in enumerate(counts)]) + "\n").encode("utf-8")


def section_title(k: int) -> bytes:
    """The line that opens the section of the (k + 1)-grams."""
    return f"\n\\{k + 1}-grams:\n".encode("utf-8")


def write_order_lines(words: ArpaWords, tables: BackoffTables, k: int, out: BinaryIO, threads: int = 1) -> int:
    """Stream the ARPA lines of the listed (k + 1)-grams of ``tables`` to ``out``, in their row
    order, block by block (no backoff column at the highest order); returns how many. With
    ``threads`` > 1, blocks are made on that many threads, each with its own copy of ``words``'
    buffer, and written in order (the same bytes)."""
    for _, texts in in_order(_block_maker(words, tables, threads), _blocks(tables, [k]), threads):
        for text in texts:
            out.write(text.data)
    return tables.n_listed()[k]


Block = tuple[int, "slice | np.ndarray"]  # an order k and the rows of its (k + 1)-grams in the block


def _blocks(tables: BackoffTables, orders: Iterable[int]) -> Iterator[Block]:
    """The blocks of ``BLOCK_ROWS`` listed rows of each of ``orders``, in order: slices of every
    row (views of the tables), or, where the tables list only some rows, those rows (found
    when the order is reached, so one order's are held at a time)."""
    for k in orders:
        listed = None if tables.listed is None else np.flatnonzero(tables.listed[k])
        n_rows = len(tables.ngrams[k]) if listed is None else len(listed)
        for begin in range(0, n_rows, BLOCK_ROWS):
            yield k, slice(begin, begin + BLOCK_ROWS) if listed is None else listed[begin : begin + BLOCK_ROWS]


def _block_maker(words: ArpaWords, tables: BackoffTables, threads: int) -> Callable[[Block], tuple[int, list[np.ndarray]]]:
    """The function that makes a block's text: its order and its lines' bytes; with ``threads``
    > 1, each thread formats into its own copy of ``words``' buffer."""
    own = threading.local()

    def lines(block: Block) -> tuple[int, list[np.ndarray]]:
        k, rows = block
        if threads > 1 and not hasattr(own, "words"):
            own.words = words.copy()
        backoffs = tables.log10_backoffs[k][rows] if k < tables.order - 1 else None
        return k, _lines(own.words if threads > 1 else words, tables.ngrams[k][rows], tables.log10_probs[k][rows],
                         backoffs)

    return lines


def check_finite(tables: BackoffTables) -> None:
    """Refuse NaN and +inf, which have no ARPA spelling (-inf is written -99)."""
    for k in range(tables.order):
        for name, values in (("probability", tables.log10_probs[k]), ("backoff", tables.log10_backoffs[k])):
            if np.isnan(values).any() or np.isposinf(values).any():
                raise LmtoolError(f"the model holds a NaN or +inf log10 {name} among its {k + 1}-grams: "
                                  f"it has no ARPA form (re-fit the model)")


def _lines(source: ArpaWords, grams: np.ndarray, probs: np.ndarray, backoffs: np.ndarray | None) -> list[np.ndarray]:
    """The bytes of one block of ARPA lines, :data:`GATHER_ROWS` lines an array (``backoffs``
    None at the highest order)."""
    prob_start, prob_length = source.put_numbers(np.where(np.isneginf(probs), -99.0, probs), 0)
    if backoffs is not None:
        back_start, back_length = source.put_numbers(np.where(np.isneginf(backoffs), -99.0, backoffs), 1)
    texts = []
    for first in range(0, len(grams), GATHER_ROWS):
        rows = slice(first, first + GATHER_ROWS)
        back = None if backoffs is None else (back_start[rows], back_length[rows])
        texts.append(_gathered_lines(source, grams[rows], (prob_start[rows], prob_length[rows]), back))
    return texts


def _gathered_lines(source: ArpaWords, grams: np.ndarray, prob: tuple, back: tuple | None) -> np.ndarray:
    """The bytes of the lines of ``grams``, their numbers' texts at ``prob`` and ``back`` (start
    in the source buffer, length) in the source."""
    n, width = grams.shape
    # pieces of a line: prob, tab and first word, space and word ..., [tab, backoff], newline
    pieces = 2 + width + (2 if back is not None else 0)
    start = np.empty((n, pieces), dtype=np.int32)
    length = np.empty((n, pieces), dtype=np.int32)
    start[:, 0], length[:, 0] = prob
    start[:, 1] = source.after_tab[grams[:, 0]]
    start[:, 2 : 1 + width] = source.after_space[grams[:, 1:]]
    length[:, 1 : 1 + width] = source.word_length[grams]
    if back is not None:
        start[:, 1 + width], length[:, 1 + width] = _TAB, 1
        start[:, 2 + width], length[:, 2 + width] = back
    start[:, -1], length[:, -1] = _NEWLINE, 1
    return gather_pieces(source, start.reshape(-1), length.reshape(-1))


def gather_pieces(source: ArpaWords, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``buffer[start[0]:start[0]+length[0]] + buffer[start[1]:...] + ...`` in one gather.

    The source offset of output byte ``i`` of piece ``p`` is ``i + start[p] - first[p]``, where
    ``first[p]`` is the piece's first byte in the output: the pieces' ``start - first`` repeated
    over their lengths, plus ``0, 1, 2, ...`` (int32 ``start`` and ``length``; a running sum of
    steps instead is a fifth slower)."""
    end = np.cumsum(length, dtype=np.int32)
    total = int(end[-1]) if len(end) else 0
    end -= length  # each piece's first byte in the output
    offsets = np.repeat(start - end, length)
    offsets += source.ascending(total)
    return np.take(source.buffer, offsets)
