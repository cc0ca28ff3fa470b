"""Read an ARPA file in bulk: large blocks of lines, each parsed by array operations.

The small ``\\data\\`` header is read line by line; the sections are read in blocks of
``BLOCK_BYTES`` into one reused buffer (a partial last line waits for the next block), split into fields
(:mod:`~lmtool.ngram.arpa.fields`), their numbers parsed together
(:func:`~lmtool.ngram.arpa.numbers.parse_decimal`) and their words mapped to ids: the
unigram section's words make the vocabulary (one dict pass), higher orders look their words
up in it vectorised. Only section headers and ``\\end\\`` are handled one by one.

:meth:`ArpaReader.entries` hands the sections' entries over block by block, as they are read:
:func:`read_arpa_sections` keeps them all (for :mod:`~lmtool.ngram.arpa.build`), the streaming
converter (:mod:`~lmtool.ngram.arpa.stream`) keeps only what the next order needs, and either
gets every check below.

Every defect is a :class:`ModelFileError` naming the file, the line where it is known, and
the defect: a line without a ``\\data\\`` header, a malformed or repeated ``ngram N=COUNT``,
sections out of order, a line with the wrong number of fields, a field that is not a number,
a NaN or infinite value (an impossible event is written -99), a word missing from the unigrams
or listed twice, a section whose length differs from the header's count, a missing ``\\end\\``,
a damaged gzip stream. Duplicate n-grams of higher orders are found when the tables are built
(:mod:`~lmtool.ngram.arpa.build`), from the line numbers kept here.
"""

from __future__ import annotations

import gzip
import pathlib
import re
import zlib
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from lmtool.errors import ModelFileError
from lmtool.ngram.arpa.fields import PADDING, Block, WordIndex, split_block
from lmtool.ngram.arpa.numbers import parse_decimal

SPECIALS = ("<unk>", "<s>", "</s>")
BLOCK_BYTES = 1 << 22
_HEADER = re.compile(rb"ngram\s+(\d+)\s*=\s*(\d+)")
_SECTION = re.compile(rb"\\(\d+)-grams:")
_NUMBER = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
_UNREADABLE = (OSError, EOFError, zlib.error)


@dataclass
class Entries:
    """The entries of one section read from one block: word ids (m, k) in file order (None for
    the unigrams, whose ids are known once their section ends), log10 values, line numbers."""

    ids: np.ndarray | None
    probs: np.ndarray
    backoffs: np.ndarray
    lines: np.ndarray


@dataclass
class Section:
    """One ``\\k-grams:`` section: its order, header line and entries read so far (``count``),
    and the entries themselves when the reader's user keeps them (:meth:`add`)."""

    order: int
    line: int
    count: int = 0
    ids: list = field(default_factory=list)
    probs: list = field(default_factory=list)
    backoffs: list = field(default_factory=list)
    lines: list = field(default_factory=list)

    def add(self, entries: Entries) -> None:
        """Keep ``entries`` (the unigrams' ids are set when their section ends)."""
        if entries.ids is not None:
            self.ids.append(entries.ids)
        self.probs.append(entries.probs)
        self.backoffs.append(entries.backoffs)
        self.lines.append(entries.lines)

    def take_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kept entries as four arrays (ids (m, k), probs, backoffs, line numbers); the
        section lets go of its per-block pieces, so only one copy is held."""
        k = self.order
        join = lambda parts, empty: np.concatenate(parts) if parts else empty  # noqa: E731
        out = (join(self.ids, np.zeros((0, k), dtype=np.int32)), join(self.probs, np.zeros(0)),
               join(self.backoffs, np.zeros(0)), join(self.lines, np.zeros(0, dtype=np.int64)))
        self.ids, self.probs, self.backoffs, self.lines = [out[0]], [out[1]], [out[2]], [out[3]]
        return out


class ArpaReader:
    """The state of one pass over an ARPA file: :meth:`entries` reads it."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.expected: dict[int, int] = {}
        self.sections: list[Section] = []
        self.ended = False
        self.unigram_words: list[bytes] = []
        self.unigram_lines: list[np.ndarray] = []
        self.tokens: list[str] = []
        self.file_ids = np.zeros(0, dtype=np.int32)  # token id of each unigram line's word
        self.words: WordIndex | None = None

    def fail(self, line: int | None, message: str) -> ModelFileError:
        where = f"{self.path}: line {line}: " if line else f"{self.path}: "
        return ModelFileError(where + message)

    @property
    def order(self) -> int:
        return max(self.expected)

    # -- the header ------------------------------------------------------------------------
    def read_header(self, handle) -> int:
        """Read up to and including the ``\\1-grams:`` line; returns its line number."""
        number, seen_data = 0, False
        while True:
            raw = handle.readline(1 << 20)
            if not raw:
                raise self.fail(None, "no \\data\\ header: not an ARPA file") if not seen_data else \
                    self.fail(number, "file ends before \\end\\ (truncated?)")
            number += 1
            line = raw.strip()
            if not seen_data:
                seen_data = line == b"\\data\\"
            elif line and self._header_line(line, number):
                return number

    def _header_line(self, line: bytes, number: int) -> bool:
        """Take one non-blank header line; True when it is the first section's."""
        header, section = _HEADER.fullmatch(line), _SECTION.fullmatch(line)
        if header and not self.sections:
            k = int(header.group(1))
            if k in self.expected or k < 1:
                raise self.fail(number, f"the header lists order {k} twice or as 0")
            self.expected[k] = int(header.group(2))
            return False
        if section is None:
            text = line[:40].decode("utf-8", "replace")
            raise self.fail(number, f"expected 'ngram N=COUNT' or a section, got {text!r}")
        if not self.expected:
            raise self.fail(number, "the \\data\\ header lists no n-gram counts")
        if sorted(self.expected) != list(range(1, self.order + 1)):
            raise self.fail(number, f"the header must list orders 1..{self.order}, got {sorted(self.expected)}")
        self.start_section(int(section.group(1)), number, line)
        return True

    # -- sections ----------------------------------------------------------------------------
    def start_section(self, k: int, number: int, text: bytes) -> None:
        if k != len(self.sections) + 1 or k > self.order:
            shown = text.decode("utf-8", "replace")
            raise self.fail(number, f"unexpected section {shown!r} (expected \\{len(self.sections) + 1}-grams: "
                                    f"of orders 1..{self.order})")
        if self.sections:
            self.finish_section()
        self.sections.append(Section(order=k, line=number))

    def finish_section(self) -> None:
        """Check the section just read against the header; the unigrams make the vocabulary."""
        section = self.sections[-1]
        k, found = section.order, section.count
        if found != self.expected[k]:
            raise self.fail(section.line, f"the \\{k}-grams: section has {found} entries but the header promises "
                                          f"{self.expected[k]} (truncated or edited file?)")
        if k == 1:
            self._make_vocabulary(section)

    def _make_vocabulary(self, section: Section) -> None:
        """Tokens (``<unk> <s> </s>`` first, then the unigrams in file order) and the word index."""
        lines = np.concatenate(self.unigram_lines) if self.unigram_lines else np.zeros(0, dtype=np.int64)
        try:
            words = b"\n".join(self.unigram_words).decode("utf-8").split("\n") if self.unigram_words else []
        except UnicodeDecodeError:
            bad = next(i for i, w in enumerate(self.unigram_words) if not _decodes(w))
            raise self.fail(int(lines[bad]), "the word is not valid UTF-8") from None
        self.tokens = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        index = {w: i for i, w in enumerate(self.tokens)}
        if len(index) != len(self.tokens) or len(set(words)) != len(words):
            seen: dict[str, int] = {}
            for i, w in enumerate(words):
                if w in seen:
                    raise self.fail(int(lines[i]), f"the word {w!r} is listed twice among the unigrams "
                                                   f"(first at line {lines[seen[w]]})")
                seen[w] = i
        self.file_ids = np.fromiter((index[w] for w in words), dtype=np.int32, count=len(words))
        section.ids = [self.file_ids[:, None]]
        self.words = WordIndex(self.unigram_words)

    def take_block(self, block: Block, base: int) -> Iterator[tuple[Section, Entries]]:
        """Every line of ``block`` (whose first line is line ``base + 1`` of the file): the
        entries of each section it holds, after the checks of the sections it ends."""
        first_bytes = block.buffer[block.before[block.first] + 1]  # each line's first byte
        begin = 0
        for marker in np.flatnonzero(first_bytes == ord("\\")):
            yield from self.add_entries(block, np.arange(begin, marker), base)
            number = base + int(block.line[marker]) + 1
            text = block.line_text(int(marker))
            section = _SECTION.fullmatch(text)
            if section:
                self.start_section(int(section.group(1)), number, text)
            elif text == b"\\end\\":
                self.finish_section()
                if len(self.sections) < self.order:
                    raise self.fail(number, f"the \\{len(self.sections) + 1}-grams: section is missing before \\end\\")
                self.ended = True
                return
            else:
                shown = text[:40].decode("utf-8", "replace")
                raise self.fail(number, f"unexpected line {shown!r} (a section header or \\end\\ expected)")
            begin = marker + 1
        yield from self.add_entries(block, np.arange(begin, len(block.first)), base)

    def add_entries(self, block: Block, rows: np.ndarray, base: int) -> Iterator[tuple[Section, Entries]]:
        """Entries of the current section: the non-blank lines ``rows`` of ``block`` (none or one)."""
        if not len(rows):
            return
        section = self.sections[-1]
        k = section.order
        numbers = base + block.line[rows] + 1
        count = block.count[rows]
        bad = np.flatnonzero((count != k + 1) & (count != k + 2))
        if len(bad):
            raise self.fail(int(numbers[bad[0]]), f"a {k}-gram line needs a probability, {k} word(s) and an "
                                                  f"optional backoff, got {_shown(block.line_text(int(rows[bad[0]])))}")
        first = block.first[rows]
        has_backoff = np.flatnonzero(count == k + 2)
        # the probabilities and the backoffs parsed in one call: they share their few shapes of text
        values = self.numbers(block, np.concatenate([first, first[has_backoff] + k + 1]),
                              np.concatenate([rows, rows[has_backoff]]), np.concatenate([numbers, numbers[has_backoff]]))
        probs = values[: len(rows)]
        backoffs = np.zeros(len(rows))
        backoffs[has_backoff] = values[len(rows) :]
        ids = None
        if k == 1:
            self.unigram_words.extend(block.text(int(f)) for f in first + 1)
            self.unigram_lines.append(numbers)
        else:
            ids = self.word_ids(block, first, numbers, k)
        section.count += len(rows)
        yield section, Entries(ids, probs, backoffs, numbers)

    def numbers(self, block: Block, fields: np.ndarray, rows: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """The finite float value of each of ``fields`` (on lines ``rows``, numbered ``numbers``)."""
        values, unread = parse_decimal(block.windows, *block.spans(fields))
        for i in np.flatnonzero(unread):
            text = block.text(int(fields[i]))
            if not _NUMBER.fullmatch(text):
                raise self.fail(int(numbers[i]), f"not a number in {_shown(block.line_text(int(rows[i])))}")
            values[i] = float(text)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            text = block.text(int(fields[bad[0]])).decode("ascii")
            raise self.fail(int(numbers[bad[0]]), f"the value {text} is not finite (an impossible event is written -99)")
        return values

    def entries(self, block_bytes: int | None = None) -> Iterator[tuple[Section, Entries]]:
        """Read the file to the end of its ``\\end\\`` line in blocks of about ``block_bytes``
        (default :data:`BLOCK_BYTES`), giving each block's entries of each section in file
        order. A section's count is checked when the next one starts, so a user that sees a new
        section knows the previous one is complete; the unigrams' ids (:attr:`file_ids`) and
        :attr:`tokens` are known from then on. Closing the generator closes the file."""
        with open_arpa(self.path) as handle:
            number = 0
            try:
                number = self.read_header(handle)
                for buffer in _blocks(handle, block_bytes or BLOCK_BYTES):
                    lines = split_block(buffer)
                    taken = list(self.take_block(lines, number))
                    number += lines.n_lines
                    del lines  # the block's field arrays (one or two int64 a field) go before its user's work
                    yield from taken
                    if self.ended:
                        return
            except _UNREADABLE as error:
                raise self.fail(number + 1, f"unreadable ({error}); a damaged file?") from None
        raise self.fail(number, "file ends before \\end\\ (truncated?)")

    def word_ids(self, block: Block, first: np.ndarray, numbers: np.ndarray, k: int) -> np.ndarray:
        """(m, k) int32 token ids of the words of m entry lines of order k, looked up a column at
        a time: the lookup's arrays then hold a k-th of the block's words (6 MiB less at the peak of
        a 1 MB block of 5-grams)."""
        found = np.empty((len(first), k), dtype=np.int64)
        for j in range(k):
            found[:, j] = self.words.find(block, first + (j + 1))
        if found.min(initial=0) < 0:
            missing = int(np.argmax(found.reshape(-1) < 0))
            word = block.text(int(first[missing // k] + missing % k + 1)).decode("utf-8", "replace")
            raise self.fail(int(numbers[missing // k]), f"a {k}-gram uses a word missing from the unigrams: {word!r}")
        return np.take(self.file_ids, found)


def _shown(text: bytes) -> str:
    """A line's text for a message: decoded, at most 60 characters, quoted."""
    return repr(text[:60].decode("utf-8", "replace"))


def _decodes(word: bytes) -> bool:
    try:
        word.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def open_arpa(path: pathlib.Path):
    """A binary handle on a plain or gzip-compressed file, or ModelFileError."""
    try:
        raw = open(path, "rb")
    except OSError as error:
        raise ModelFileError(f"cannot open ARPA file {path}: {error.strerror}") from None
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb")
    raw.seek(0)
    return raw


def _blocks(handle, block_bytes: int):
    """Blocks of complete lines read from ``handle`` (about ``block_bytes`` each), each a uint8
    array ending in ``PADDING`` zero bytes (the last line gets a newline if it has none). One buffer is reused: a block is
    valid until the next one is taken, and the partial line after a block's last newline moves
    to the buffer's start."""
    store = bytearray(block_bytes + PADDING + 1)
    kept = 0  # bytes of a partial line at the start of the buffer
    while True:
        if len(store) - PADDING - 1 - kept < max(1, block_bytes // 2):  # a long line: a larger buffer (a new
            store = store[:kept] + bytearray(block_bytes + PADDING + 1)  # one, blocks may be in use)
        with memoryview(store) as view:
            got = handle.readinto(view[kept : len(store) - PADDING - 1])
        end = kept + got
        if not got and not kept:
            return
        cut = end + 1 if not got else store.rfind(b"\n", 0, end) + 1
        if not got:
            store[end] = ord("\n")  # the file's last line, without its newline
        elif not cut:
            kept = end
            continue
        tail = bytes(store[cut:end])
        store[cut : cut + PADDING] = bytes(PADDING)
        yield np.frombuffer(store, dtype=np.uint8, count=cut + PADDING)
        store[: len(tail)] = tail
        kept = len(tail)


def read_arpa_sections(path: str | pathlib.Path) -> ArpaReader:
    """Read ``path`` to the end of its ``\\end\\`` line; the reader holds tokens and sections."""
    reader = ArpaReader(pathlib.Path(path))
    for section, entries in reader.entries():
        section.add(entries)
    return reader
