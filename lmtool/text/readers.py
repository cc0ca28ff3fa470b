"""Reading text files lazily and safely: plain or compressed, checked for binary and bad UTF-8.

Files are read line by line in binary and decoded incrementally, so a multi-gigabyte file
never sits in memory whole; a bad byte is reported with the file name and its byte offset.
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
    errors count from the file's start, line numbers from the handle's."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    number = 0
    try:
        # a NUL in the first block marks a binary file before any decoding error could
        head = handle.peek(BINARY_PROBE_BYTES)[:BINARY_PROBE_BYTES]
        if b"\0" in head:
            raise DataError(f"{name} looks binary (NUL byte at byte {offset + head.index(0)}): expected UTF-8 text")
        while raw := handle.readline(MAX_LINE_BYTES):
            nul = raw.find(b"\0")
            if nul >= 0:
                raise DataError(f"{name} looks binary (NUL byte at byte {offset + nul}): expected UTF-8 text")
            complete = raw.endswith(b"\n")
            number += complete
            if whole_lines and not complete and len(raw) == MAX_LINE_BYTES:
                raise DataError(
                    f"{name}: line {number + 1} is longer than {MAX_LINE_BYTES // 2**20} MiB: "
                    "use --unit stream for text that is not one sentence per line"
                )
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{name}: invalid UTF-8 at byte {offset - pending + error.start} "
                    f"(line {number + (not complete)}): convert the file to UTF-8 or pass --encoding-errors replace"
                ) from None
            offset += len(raw)
            if text:
                yield text
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DataError(
                f"{name}: invalid UTF-8 at byte {offset - len(decoder.getstate()[0])} (truncated character at the end): "
                "convert the file to UTF-8 or pass --encoding-errors replace"
            ) from None
        if tail:
            yield tail
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as error:
        raise DataError(f"{name}: cannot read ({error}): is the compressed file complete?") from None


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
