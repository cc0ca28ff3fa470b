"""Reading text files lazily and safely: plain or compressed, checked for binary and bad UTF-8.

Files are read in binary, a block of whole lines or a line at a time, and decoded as they are
read, so a multi-gigabyte file never sits in memory whole; a bad byte is reported with the
file name and its byte offset.
"""

from __future__ import annotations

import atexit
import bz2
import codecs
import gzip
import lzma
import os
import shutil
import sys
import zlib
from typing import BinaryIO, Iterator

from lmtool.errors import DataError, UsageError
from lmtool.files import create_exclusive, owned_name

ENCODING_ERRORS = ("strict", "replace")

#: longest line read in one piece; longer lines come out in pieces of this size (stream units
#: do not care), and line units reject them (a "sentence" of 4 MiB is a sign of the wrong unit).
MAX_LINE_BYTES = 4 * 1024 * 1024

#: bytes at the start of a file searched for NUL, the mark of a binary file
BINARY_PROBE_BYTES = 8192

#: leading bytes of each compressed format lmtool decompresses, and its opener
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"\xfd7zXZ\x00", lzma.open), (b"BZh", bz2.open))


def open_binary(path: str) -> BinaryIO:
    """``path`` opened for binary reading; gzip, bzip2 and xz data are decompressed.

    The format is told by the file's first bytes, not its name, so compressed standard input
    and a misnamed ``.txt`` work too.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(10)
        return (decompressor(head) or open)(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file: check the path or the corpus spec") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, expected a text file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None


def decompressor(head: bytes):
    """The opener (``gzip.open``, ``lzma.open``, ``bz2.open``) of data whose first bytes are
    ``head`` (10 are enough), or None for data that is not compressed. Each opener takes a path
    or a binary file object."""
    return next((opener for magic, opener in _MAGIC if _matches(head, magic)), None)


def _matches(head: bytes, magic: bytes) -> bool:
    if magic == b"BZh":  # "BZh", a block size digit, then a block (pi) or end-of-stream (sqrt pi) magic
        return head[:3] == magic and head[3:4].isdigit() and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90")
    return head.startswith(magic)


def check_encoding_errors(errors: str) -> None:
    """:class:`UsageError` unless ``errors`` is one of :data:`ENCODING_ERRORS`."""
    if errors not in ENCODING_ERRORS:
        raise UsageError(f"--encoding-errors must be one of {', '.join(ENCODING_ERRORS)}, got {errors!r}")


def read_lines(path: str, errors: str = "strict", whole_lines: bool = True) -> Iterator[str]:
    """The lines of ``path`` (decoded, each with its ``\\n`` except maybe the last), read lazily.

    Raises :class:`DataError` naming the file for NUL bytes (a binary file), invalid UTF-8
    (with ``errors="strict"``: the byte offset in the decompressed text), a corrupt compressed
    file, and, when ``whole_lines`` is true, a line longer than :data:`MAX_LINE_BYTES`.
    """
    check_encoding_errors(errors)
    name = "standard input" if path in _SPOOLED else path  # errors name what the user gave
    with open_binary(path) as handle:
        yield from decode_lines(handle, name, errors, whole_lines)


def decode_lines(handle: BinaryIO, name: str, errors: str = "strict", whole_lines: bool = True,
                 offset: int = 0) -> Iterator[str]:
    """The lines of the open binary ``handle`` (it must have ``peek``), decoded and checked as
    :func:`read_lines` says; errors name ``name``. ``offset`` is the byte offset of the handle's
    start in its file (a part of a file read on its own, by a cluster worker): byte offsets in
    errors count from the file's start, line numbers from the handle's.

    Whole lines are read in blocks of :data:`BLOCK_BYTES`, each decoded and split at once
    (:class:`_BlockLines`); other text (stream units) line by line, long lines in pieces."""
    try:
        # a NUL in the first block marks a binary file before any decoding error could
        head = handle.peek(BINARY_PROBE_BYTES)[:BINARY_PROBE_BYTES]
        if b"\0" in head:
            raise DataError(f"{name} looks binary (NUL byte at byte {offset + head.index(0)}): expected UTF-8 text")
        reader = _BlockLines(name, errors, offset) if whole_lines else _PieceLines(name, errors, offset)
        yield from reader.lines(handle)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as error:
        raise DataError(f"{name}: cannot read ({error}): is the compressed file complete?") from None


#: bytes read at a time for whole lines (below MAX_LINE_BYTES, so that only a block's first line can
#: be too long; 64 KiB: 3x the speed of a line at a time, 16 and 256 KiB are slower here)
BLOCK_BYTES = 1 << 16


class _PieceLines:
    """Lines read one by one, decoded incrementally; a line longer than :data:`MAX_LINE_BYTES`
    comes in pieces of that size (refused instead when ``whole_lines``)."""

    def __init__(self, name: str, errors: str, offset: int, whole_lines: bool = False) -> None:
        self.name, self.offset, self.whole_lines = name, offset, whole_lines
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors)
        self.number = 0  # complete lines read

    def lines(self, handle: BinaryIO) -> Iterator[str]:
        while raw := handle.readline(MAX_LINE_BYTES):
            text = self.decode(raw)
            if text:
                yield text
        tail = self.finish()
        if tail:
            yield tail

    def decode(self, raw: bytes) -> str:
        """The text of ``raw``, the next line or piece (checked for NUL, length and UTF-8)."""
        nul = raw.find(b"\0")
        if nul >= 0:
            raise self.binary(nul)
        complete = raw.endswith(b"\n")
        self.number += complete
        if self.whole_lines and not complete and len(raw) == MAX_LINE_BYTES:
            raise self.too_long()
        pending = len(self.decoder.getstate()[0])
        try:
            text = self.decoder.decode(raw)
        except UnicodeDecodeError as error:
            raise self.invalid(self.offset - pending + error.start, self.number + (not complete)) from None
        self.offset += len(raw)
        return text

    def finish(self) -> str:
        """What the decoder still holds at the end (a truncated character is an error)."""
        try:
            return self.decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DataError(
                f"{self.name}: invalid UTF-8 at byte {self.offset - len(self.decoder.getstate()[0])} "
                "(truncated character at the end): convert the file to UTF-8 or pass --encoding-errors replace"
            ) from None

    def binary(self, at: int) -> DataError:
        return DataError(f"{self.name} looks binary (NUL byte at byte {self.offset + at}): expected UTF-8 text")

    def too_long(self) -> DataError:
        return DataError(f"{self.name}: line {self.number + 1} is longer than {MAX_LINE_BYTES // 2**20} MiB: "
                         "use --unit stream for text that is not one sentence per line")

    def invalid(self, at: int, line: int) -> DataError:
        return DataError(f"{self.name}: invalid UTF-8 at byte {at} (line {line}): "
                         "convert the file to UTF-8 or pass --encoding-errors replace")


class _BlockLines(_PieceLines):
    """Whole lines, read a block at a time: the block's complete lines decoded in one call and
    split at their newlines (Brown train: 40 -> 13 ms); the same lines and the same
    errors, the first in the text, as :class:`_PieceLines` with ``whole_lines``."""

    def __init__(self, name: str, errors: str, offset: int) -> None:
        super().__init__(name, errors, offset, whole_lines=True)
        self.errors = errors

    def lines(self, handle: BinaryIO) -> Iterator[str]:
        pending: list[bytes] = []  # the blocks of a line not yet ended (one copy of them when it ends)
        held = 0  # their bytes
        size = min(BLOCK_BYTES, MAX_LINE_BYTES)
        while block := handle.read(size):
            first_end = block.find(b"\n") + 1 or len(block) + 1
            if held + first_end > MAX_LINE_BYTES:  # only the first line can be this long (blocks are no longer)
                self.decode(b"".join(pending + [block])[:MAX_LINE_BYTES])  # raises: a NUL in it, else its length
            cut = block.rfind(b"\n") + 1
            if cut:
                yield from self.decode_block(b"".join(pending + [block[:cut]]))
                pending, held = [], 0
            pending.append(block[cut:])
            held += len(block) - cut
        if held:
            text = self.decode(b"".join(pending))
            if text:
                yield text
        tail = self.finish()
        if tail:
            yield tail

    def decode_block(self, data: bytes) -> list[str]:
        """The lines of ``data``, whole lines each ending in ``\\n``."""
        nul = data.find(b"\0")
        try:
            text = data.decode("utf-8", self.errors)
        except UnicodeDecodeError as error:
            bad = error.start
        else:
            bad = -1
        if nul >= 0 and (bad < 0 or data.count(b"\n", 0, nul) <= data.count(b"\n", 0, bad)):
            raise self.binary(nul)  # checked before the decoding of its line
        if bad >= 0:
            raise self.invalid(self.offset + bad, self.number + data.count(b"\n", 0, bad) + 1)
        self.number += data.count(b"\n")
        self.offset += len(data)
        lines = text.split("\n")
        lines.pop()  # empty: the block ends with a newline
        return [line + "\n" for line in lines]


def spool_stdin() -> str:
    """Copy standard input to a temporary file and return its path (stdin can be read only once,
    and corpus loading needs several passes). The file is removed when the process exits."""
    path = owned_name("lmtool-stdin", ".txt")  # a SIGKILLed run's copy goes next time
    _SPOOLED.append(path)
    with os.fdopen(create_exclusive(path), "wb") as handle:
        shutil.copyfileobj(_stdin_binary(), handle)
    return path


def _stdin_binary() -> BinaryIO:
    # click's CliRunner replaces sys.stdin with a text wrapper that still has .buffer
    return getattr(sys.stdin, "buffer", sys.stdin)


_SPOOLED: list[str] = []


def _remove_spooled() -> None:
    for name in _SPOOLED:
        try:
            os.unlink(name)
        except OSError:
            pass


atexit.register(_remove_spooled)
