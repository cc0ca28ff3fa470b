"""Corpus sources: where text comes from, before any tokenization.

A :class:`Source` is a re-iterable supply of text lines, either one text (split later by
fraction) or already split into train/valid/test. Every line keeps its ``\\n`` so that stream
units and character models see the text exactly as written.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import Callable, Iterator

from lmtool.errors import DataError
from lmtool.text.readers import read_lines

#: split names in their canonical order; a source has "train" and maybe the others.
SPLIT_NAMES = ("train", "valid", "test")

Lines = Callable[[], Iterator[str]]


@dataclass
class Source:
    """A corpus as text lines; ``name`` is the spec that reproduces it (``gen:`` specs spelled out
    with every option, so the name alone regenerates the same text).

    Exactly one of ``text`` (the whole corpus, to be split by fraction) and ``splits`` (the
    source's own train/valid/test) is set. ``defaults`` holds option defaults that belong to the
    corpus (``gen:`` corpora are character streams; ``brown-bengio2003`` has min count 4).
    ``cut_by_fractions`` marks ``splits`` that the source cut by the requested fractions itself.
    """

    name: str
    text: Lines | None = None
    splits: dict[str, Lines] | None = None
    entropy_rate_bits: float | None = None
    defaults: dict = field(default_factory=dict)
    cut_by_fractions: bool = False


def files_source(name: str, paths: list[str], errors: str, whole_lines: bool) -> Source:
    """The concatenation of ``paths`` (in the given order) as one text."""

    def lines() -> Iterator[str]:
        for path in paths:
            yield from read_lines(path, errors, whole_lines)

    return Source(name, text=lines)


def directory_files(directory: str) -> list[str]:
    """The regular, non-hidden files of ``directory`` in name order (a corpus of several files)."""
    paths = sorted(
        os.path.join(directory, entry)
        for entry in os.listdir(directory)
        if not entry.startswith(".") and os.path.isfile(os.path.join(directory, entry))
    )
    if not paths:
        raise DataError(f"{directory} holds no files: expected text files, or train.txt/valid.txt/test.txt")
    return paths


def split_directory_source(name: str, directory: str, errors: str, whole_lines: bool) -> Source:
    """A directory holding ``train.txt`` and optionally ``valid.txt`` and ``test.txt`` (PTB layout)."""
    present = {split: os.path.join(directory, f"{split}.txt") for split in SPLIT_NAMES}
    present = {split: path for split, path in present.items() if os.path.isfile(path)}
    if "train" not in present:
        others = ", ".join(f"{split}.txt" for split in present) or "no split files"
        raise DataError(
            f"{directory} has no train.txt (found {others}): a split directory needs train.txt; "
            "to use a single file, give its path as the spec"
        )

    def reader(path: str) -> Lines:
        return lambda: read_lines(path, errors, whole_lines)

    return Source(name, splits={split: reader(path) for split, path in present.items()})


def glob_source(pattern: str, errors: str, whole_lines: bool) -> Source:
    """All files matching ``pattern`` (recursive ``**`` allowed), in name order, as one text."""
    return files_source(pattern, glob_files(pattern), errors, whole_lines)


def glob_files(pattern: str) -> list[str]:
    """The files matching ``pattern`` (recursive ``**`` allowed) in name order; :class:`DataError` for none."""
    paths = sorted(path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path))
    if not paths:
        raise DataError(f"no files match {pattern!r}: check the pattern (quote it so the shell leaves it alone)")
    return paths


def has_split_files(directory: str) -> bool:
    """Whether ``directory`` looks like a split directory (any of train/valid/test.txt)."""
    return any(os.path.isfile(os.path.join(directory, f"{split}.txt")) for split in SPLIT_NAMES)
