"""Text output in bulk: records built as byte matrices whose zero bytes are then squeezed out.

Formatting a million floats with Python's ``format`` takes about a second. Here a column of
output fields is a ``(rows, width)`` uint8 matrix in which every field has fixed columns:
numbers are right-aligned with their leading zeros written as zero *bytes*, a sign or a
label sits in a fixed column to the left of the digits. Removing every zero byte (one boolean
compress; text never contains NUL, the readers refuse it) closes the gaps, so
``[-][0][0][2][.][5][2]`` reads ``-2.52``. Each digit position is one array operation over all
rows, with no per-row offsets at all. :func:`interleave` then merges several such streams of
records (the input's own words, the formatted fields) into the output with one pass per stream,
a few thousand records at a time (its arrays of a byte per output byte stay small).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

ZERO = ord("0")
#: the three digits of 0..999 and a zero byte, as one uint32 each (a gather of these writes three
#: digits at once; the zero byte is squeezed out with the rest)
GROUPS = np.array([list(f"{n:03d}".encode()) + [0] for n in range(1000)], dtype=np.uint8).view(np.uint32).ravel()
#: the same spelled without leading zeros (as zero bytes) for a number's first group: entries
#: 0..999 for a first group above the lowest (0 spells nothing), 1000..1999 for the lowest
#: (0 spells "0"), 2000..2999 the full GROUPS for the groups after the first
LEADING = np.concatenate([
    np.array([[0] * (3 - len(str(n))) + list(str(n).encode()) + [0] if n else [0, 0, 0, 0] for n in range(1000)],
             dtype=np.uint8).view(np.uint32).ravel(),
    np.array([[0] * (3 - len(str(n))) + list(str(n).encode()) + [0] for n in range(1000)],
             dtype=np.uint8).view(np.uint32).ravel(),
    GROUPS])


def integer_width(values: np.ndarray) -> int:
    """Columns :func:`put_integers` needs for ``values`` (non-negative integers)."""
    return len(str(int(np.max(values, initial=0))))


def decimal_width(values: np.ndarray, places: int) -> int:
    """Columns :func:`put_decimals` needs for ``values``: sign, digits, point, decimals (those of
    the largest finite magnitude, found by two reductions: rounding is monotone)."""
    finite = np.isfinite(values)
    largest = max(-float(np.min(values, where=finite, initial=0.0)), float(np.max(values, where=finite, initial=0.0)))
    return 1 + len(str(int(np.rint(largest * 10.0**places)) // 10**places)) + 1 + places


def _arithmetic(digits: int) -> type:
    """The integer type for values of at most ``digits`` decimal digits: int32 where they fit
    (half the bytes of int64, and its division is faster), int64 otherwise."""
    return np.int32 if digits <= 9 else np.int64


def put_integers(matrix: np.ndarray, column: int, values: np.ndarray, width: int) -> np.ndarray:
    """Write each non-negative integer in decimal, right-aligned in ``width`` columns from
    ``column`` (leading zeros as zero bytes); returns each row's number of digits (int8).

    Three digits per gather, right to left: a group with digits further left is spelled in full
    (:data:`GROUPS`), the number's first group without its leading zeros (:data:`LEADING`)."""
    rest = np.asarray(values).astype(_arithmetic(width), copy=False)
    digits = np.ones(len(rest), dtype=np.int8)
    for power in range(1, width):
        digits += rest >= 10**power
    for group in range(-(-width // 3)):
        end = column + width - 3 * group
        start = max(column, end - 3)
        index = rest // 10 ** (3 * group)
        index %= 1000
        first = 1000 if group == 0 else 0  # where this group's table starts when it is the number's first
        index += first
        np.add(index, 2000 - first, out=index, where=rest >= 10 ** (3 * group + 3))
        three = LEADING.take(index).view(np.uint8).reshape(-1, 4)
        matrix[:, start:end] = three[:, 3 - (end - start) : 3]
    return digits


def put_decimals(matrix: np.ndarray, column: int, values: np.ndarray, places: int, width: int) -> np.ndarray:
    """Write each float with ``places`` decimals in ``width`` columns (:func:`decimal_width`)
    from ``column``: the sign in the first column, digits right-aligned (``-inf``, ``nan``
    spelled out); returns each row's number of bytes (int8)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    scaled = np.where(finite, values, 0.0)  # then |value| * 10**places rounded, in place
    np.abs(scaled, out=scaled)
    scaled *= 10.0**places
    np.rint(scaled, out=scaled)
    scaled = scaled.astype(_arithmetic(width - 2))  # all its digits, without the sign and the point
    negative = values < 0
    negative &= (scaled > 0) | ~finite  # never "-0.000000"
    np.multiply(negative, ord("-"), out=matrix[:, column], dtype=np.uint8)
    point = column + width - places - 1
    length = negative + put_integers(matrix, column + 1, scaled // 10**places, point - column - 1) + 1 + places
    matrix[:, point] = ord(".")
    fraction = scaled  # the decimals, in place
    fraction %= 10**places
    for place in range(places % 3):  # the digits past the last whole group of three
        matrix[:, point + places - place] = ZERO + fraction % 10
        fraction //= 10
    for group in range(places // 3):  # then three digits per gather, from the point on
        at = point + 1 + 3 * group
        digits = fraction // 10 ** (3 * (places // 3 - 1 - group))
        digits %= 1000
        matrix[:, at : at + 3] = GROUPS.take(digits).view(np.uint8).reshape(-1, 4)[:, :3]
    for row in np.flatnonzero(~finite):
        matrix[row, column + 1 : column + width] = 0
        text = b"nan" if np.isnan(values[row]) else b"inf"
        matrix[row, column + width - 3 : column + width] = np.frombuffer(text, dtype=np.uint8)
        length[row] = 3 + negative[row]
    return length


class Records:
    """A matrix of records built field by field, left to right, counting each row's bytes."""

    def __init__(self, rows: int, width: int) -> None:
        self.matrix = np.zeros((rows, width), dtype=np.uint8)
        self.column = 0
        self.length = np.zeros(rows, dtype=np.int32)

    def text(self, text: bytes, rows: np.ndarray | None = None) -> "Records":
        """``text`` on every row, or on ``rows`` only."""
        where = slice(None) if rows is None else rows
        self.matrix[where, self.column : self.column + len(text)] = np.frombuffer(text, dtype=np.uint8)
        self.length[where] += len(text)
        self.column += len(text)
        return self

    def integers(self, values: np.ndarray) -> "Records":
        """Non-negative integers in decimal."""
        width = integer_width(values)
        self.length += put_integers(self.matrix, self.column, values, width)
        self.column += width
        return self

    def decimals(self, values: np.ndarray, places: int) -> "Records":
        """Floats with ``places`` decimals."""
        width = decimal_width(values, places)
        self.length += put_decimals(self.matrix, self.column, values, places, width)
        self.column += width
        return self

    def squeeze(self, rows: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """The bytes of the records (of ``rows``, by default all), in row order, and each record's length."""
        matrix = self.matrix[rows]
        return matrix[matrix != 0], self.length[rows]


#: records :func:`interleave` joins at a time: its arrays of a byte per output byte stay small
INTERLEAVE_ROWS = 1 << 12


def interleave(parts: list[Records | tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
    """Join record parts: record 0's part 0, part 1, ..., then record 1's parts, and so on, as
    uint8 arrays of :data:`INTERLEAVE_ROWS` records each (written as they come, the output is
    never whole). A part is :class:`Records` (squeezed here, a chunk of rows at a time) or
    ``(bytes, per-record lengths)``.

    Per chunk, a label per output byte says which part it comes from; each part's bytes then
    fill the places of its label (one boolean pass each)."""
    lengths = [part.length if isinstance(part, Records) else part[1] for part in parts]
    labels = np.arange(len(parts), dtype=np.uint8)
    taken = [0] * len(parts)  # bytes of each flat part joined so far
    for lo in range(0, len(lengths[0]), INTERLEAVE_ROWS):
        rows = slice(lo, lo + INTERLEAVE_ROWS)
        sizes = np.column_stack([length[rows] for length in lengths]).ravel()
        which = np.repeat(np.tile(labels, len(sizes) // len(parts)), sizes)
        out = np.empty(len(which), dtype=np.uint8)
        for p, part in enumerate(parts):
            if isinstance(part, Records):
                data = part.squeeze(rows)[0]
            else:
                data = part[0][taken[p] : taken[p] + int(lengths[p][rows].sum())]
                taken[p] += len(data)
            out[which == p] = data
        del which
        yield out
