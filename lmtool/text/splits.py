"""Train/valid/test splits: the source's own, or cut by fraction, deterministically.

Cutting by fraction (for a corpus that comes as one text):

- line units: the lines are dealt to the splits by a seeded random permutation, exactly
  ``round(fraction * n_lines)`` to each (cumulative rounding), each split keeping corpus order;
- stream units: contiguous pieces of the text, first train, then valid, then test, cut by
  characters (the character-level convention, e.g. the first 90% of Tiny Shakespeare for
  training), so a text of one long line is split as well as one of many; the seed does not
  matter.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from lmtool.errors import UsageError
from lmtool.text.sources import SPLIT_NAMES, Source

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def parse_fractions(value: str | Sequence[float]) -> tuple[float, ...]:
    """``"0.8,0.1,0.1"`` (or a sequence) as train/valid/test fractions that sum to 1."""
    try:
        fractions = tuple(float(part) for part in (value.split(",") if isinstance(value, str) else value))
    except ValueError:
        raise UsageError(f"--split-fractions must be numbers like 0.8,0.1,0.1, got {value!r}") from None
    if not 1 <= len(fractions) <= 3 or any(not 0 <= f <= 1 for f in fractions):
        raise UsageError(f"--split-fractions takes 1 to 3 fractions between 0 and 1 (train,valid,test), got {value!r}")
    if abs(sum(fractions) - 1) > 1e-6:
        raise UsageError(f"--split-fractions must sum to 1, got {value!r} (sum {sum(fractions):g})")
    if fractions[0] == 0:
        raise UsageError("--split-fractions: the train fraction must be above 0")
    return fractions


def split_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    """How many of ``n`` items each split gets: differences of the rounded cumulative fractions."""
    bounds = [0] + [round(n * c) for c in np.cumsum(fractions)]
    bounds[-1] = n
    return [b - a for a, b in zip(bounds, bounds[1:])]


def split_labels(n: int, fractions: Sequence[float], seed: int) -> np.ndarray:
    """The split index (0 train, 1 valid, 2 test) of each of ``n`` lines, dealt by a seeded permutation."""
    labels = np.repeat(np.arange(len(fractions), dtype=np.int8), split_sizes(n, fractions))
    return labels[np.random.default_rng(seed).permutation(n)]


def cut_by_characters(text: Callable[[], Iterator[str]], fractions: Sequence[float],
                      renumber: np.ndarray) -> Callable[[], Iterator[tuple[int, str]]]:
    """``(split index, piece)`` over ``text()`` cut into contiguous pieces by characters: split k
    gets ``split_sizes(characters, fractions)[k]`` of them; a line that crosses a cut is cut too."""
    total = sum(len(line) for line in text())
    ends = np.cumsum(split_sizes(total, fractions)).tolist()  # character offset where each split ends
    last = len(ends) - 1

    def cut() -> Iterator[tuple[int, str]]:
        position, split = 0, 0
        for line in text():
            while line:
                while split < last and position >= ends[split]:
                    split += 1
                piece = line if split == last else line[: ends[split] - position]
                yield int(renumber[split]), piece
                position += len(piece)
                line = line[len(piece):]

    return cut


def labeled_lines(
    source: Source, fractions: Sequence[float], seed: int, shuffle: bool
) -> tuple[list[str], Callable[[], Iterator[tuple[int, str]]]]:
    """The split names and a function yielding ``(split index, line)`` over the whole corpus."""
    if source.splits is not None:
        names = [name for name in SPLIT_NAMES if name in source.splits]

        def own() -> Iterator[tuple[int, str]]:
            for index, name in enumerate(names):
                for line in source.splits[name]():
                    yield index, line

        return names, own

    names = [name for name, fraction in zip(SPLIT_NAMES, fractions) if fraction > 0]
    # Fractions of 0 leave their split out; renumber the labels of those that remain.
    renumber = np.cumsum([f > 0 for f in fractions]) - 1
    if len(names) == 1:  # every line is train's: no pass to count the lines or characters first
        return names, lambda: ((0, line) for line in source.text())
    if not shuffle:
        return names, cut_by_characters(source.text, fractions, renumber)
    n = sum(1 for _ in source.text())
    labels = split_labels(n, fractions, seed)

    def cut() -> Iterator[tuple[int, str]]:
        return zip(renumber[labels].tolist(), source.text())

    return names, cut
