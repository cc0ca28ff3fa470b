"""Stage 1 of the cluster fit: the input text as parts, each read and tokenized by one task, and the
vocabulary from their type counts.

**Files.** The inputs are files every worker can read at the same path or URL (a shared
filesystem, or object storage through fsspec when its package is installed: ``s3fs`` for
``s3://``): a file, a directory (``train.txt`` of a split directory, else all its files), a glob,
``ptb:DIR``, in the name order the text layer uses, so the text is the one ``load_corpus`` reads.
The whole text is the training text: a cluster fit has no held-out split.

**Parts.** Each file is cut every ``part_bytes`` bytes; a part owns the lines that *start* in its
byte range (a line starts at byte 0 or after a ``\\n``), so parts never cut a line and their
lines, in part order, are the file's lines. A compressed file is one part (it cannot be entered
in the middle). A part is decoded by the text layer's :func:`~lmtool.text.readers.decode_lines`
and tokenized and interned by :func:`~lmtool.text.encoding.intern_lines`, as ``load_corpus``
does the whole text.

**Vocabulary.** Each part's type counts (:func:`~lmtool.text.encoding.train_counts`) are summed
by a tree of tasks, and :meth:`Vocabulary.build <lmtool.text.Vocabulary.build>` applies the
cut-offs on the client: the same ids as the text layer's (by count, ties by the token string).
The interned ids stay on the workers for stage 2, which maps them to vocabulary ids.
"""

from __future__ import annotations

import io
import os
import socket
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from lmtool.errors import DataError, UsageError
from lmtool.text.encoding import Interner, as_numpy, intern_lines, train_counts
from lmtool.text.prepared import is_prepared_directory
from lmtool.text.readers import decode_lines, decompressor
from lmtool.text.sources import directory_files, glob_files, has_split_files
from lmtool.text.tokenizers import Tokenizer

#: bytes of text per part by default: counting a part takes about (40 + 40 * order) bytes per token
DEFAULT_PART_BYTES = 16 << 20


@dataclass(frozen=True)
class Part:
    """The lines of ``path`` (a local path or an fsspec URL) that start in bytes [start, end);
    ``end`` None: to the end of the file (a compressed file is one part)."""

    path: str
    start: int
    end: int | None


@dataclass
class Scan:
    """What stage 1 sends back to the client for one part (its type counts go to the reduction,
    its ids stay on the worker)."""

    tokens: int
    tail: list[str]  # the last (order - 1) tokens, for the n-grams of stream units that span parts


@dataclass
class Interned:
    """A part's tokens in provisional ids (see :mod:`lmtool.text.encoding`), kept on its worker."""

    ids: np.ndarray
    starts: np.ndarray
    types: list[str]


def input_files(spec: str) -> list[str]:
    """The files of ``spec`` in the order the text layer reads them; a :class:`UsageError` for a spec
    that names no files (a corpus name, ``gen:``, ``-``), a :class:`DataError` for missing ones."""
    if "://" in spec:
        return _url_files(spec)
    directory = spec[len("ptb:"):] if spec.startswith("ptb:") else spec
    if is_prepared_directory(directory):
        raise UsageError(f"{spec} is a prepared corpus (token ids, not text): give --cluster the text it was "
                         "prepared from, or fit it without --cluster")
    if os.path.isdir(directory):
        if spec != directory or has_split_files(directory):
            train = os.path.join(directory, "train.txt")
            if not os.path.isfile(train):
                raise DataError(f"{directory} has no train.txt: a split directory needs train.txt")
            return [train]
        return directory_files(directory)
    if os.path.isfile(spec):
        return [spec]
    if any(char in spec for char in "*?["):
        return glob_files(spec)
    raise UsageError(f"--cluster reads text files that every worker can read (FILE, DIR, GLOB, ptb:DIR or a URL "
                     f"such as s3://bucket/*.txt); {spec!r} is none of these here: fit it without --cluster")


def _url_files(spec: str) -> list[str]:
    """The files an fsspec URL names (a file, a directory's files or a glob), in name order."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(spec)
    except (ImportError, ValueError) as error:
        raise UsageError(f"{spec}: {error}") from None
    if any(char in path for char in "*?["):
        paths = [p for p in fs.glob(path) if fs.isfile(p)]
    elif fs.isdir(path):
        names = [p for p in fs.ls(path, detail=False) if fs.isfile(p) and not os.path.basename(p).startswith(".")]
        split = [p for p in names if os.path.basename(p) == "train.txt"]
        paths = split or names
    else:
        paths = [path] if fs.exists(path) else []
    if not paths:
        raise DataError(f"{spec}: no such file, or no files match: check the URL")
    return [fs.unstrip_protocol(p) for p in sorted(paths)]


def plan_parts(files: list[str], part_bytes: int) -> list[Part]:
    """Every file cut every ``part_bytes`` bytes (a compressed file whole); a :class:`DataError`
    for an empty file, which would be an empty part of the training text."""
    parts = []
    for path in files:
        with _opened(path) as handle:
            size = handle.seek(0, io.SEEK_END)
            handle.seek(0)
            compressed = decompressor(handle.read(10)) is not None
        if size == 0:
            raise DataError(f"{path} is empty: every input file is part of the training text, remove it from the inputs")
        if compressed:
            parts.append(Part(path, 0, None))
        else:
            parts.extend(Part(path, start, min(start + part_bytes, size)) for start in range(0, size, part_bytes))
    return parts


@contextmanager
def _opened(path: str) -> Iterator[BinaryIO]:
    """``path`` (local or a URL) opened for binary reading; its failures as one-line :class:`DataError` s
    that say on which machine (a worker may not see what the client sees)."""
    import fsspec

    where = socket.gethostname()
    try:
        with fsspec.open(path, "rb") as handle:
            yield handle
    except FileNotFoundError:
        raise DataError(f"{path}: no such file on {where}: every worker must see the inputs at the same path") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, expected a text file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied on {where}") from None


def part_lines(part: Part, errors: str, whole_lines: bool) -> Iterator[str]:
    """The decoded lines of ``part`` (see the module docstring), checked as the text layer checks a file."""
    with _opened(part.path) as handle:
        opener = decompressor(handle.read(10))
        handle.seek(0)
        if opener is not None:
            with opener(handle) as text:
                yield from decode_lines(text, part.path, errors, whole_lines)
            return
        begin, end = _line_start(handle, part.start), _line_start(handle, part.end)
        handle.seek(begin)
        data = handle.read(end - begin)
    yield from decode_lines(io.BufferedReader(io.BytesIO(data)), part.path, errors, whole_lines, offset=begin)


def _line_start(handle: BinaryIO, offset: int) -> int:
    """The first line start at or after ``offset`` (the file's end when there is none)."""
    if offset == 0:
        return 0
    handle.seek(offset - 1)
    while (line := handle.readline(1 << 20)) and not line.endswith(b"\n"):
        pass
    return handle.tell()


def scan_part(part: Part, tokenizer: Tokenizer, unit: str, errors: str, order: int) -> tuple[Scan, dict, Interned]:
    """Stage 1's task: read and tokenize ``part`` once; its size and tail for the client, its type
    counts for the reduction, its interned ids for stage 2."""
    interner = Interner()
    lines = part_lines(part, errors, whole_lines=unit != "stream")
    split = intern_lines(((0, line) for line in lines), 1, tokenizer, unit, interner)[0]
    types = interner.types
    ids = as_numpy(split)
    tail = [types[i] for i in ids[max(0, len(ids) - (order - 1)):].tolist()] if order > 1 else []
    interned = Interned(ids, np.asarray(split.starts, dtype=np.int64), types)
    return Scan(len(ids), tail), train_counts(split, types), interned


def merge_counts(*token_counts: dict[str, int]) -> dict[str, int]:
    """The sum of several parts' type counts (one node of the reduction tree)."""
    total: Counter = Counter()
    for counts in token_counts:
        total.update(counts)
    return dict(total)
