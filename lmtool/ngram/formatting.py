"""Text output in bulk: records built as byte matrices whose zero bytes are then squeezed out.

Formatting a million floats with Python's ``format`` takes about a second. Here a column of
output fields is a ``(rows, width)`` uint8 matrix in which every field has fixed columns:
numbers are right-aligned with their leading zeros written as zero *bytes*, a sign or a
label sits in a fixed column to the left of the digits. Removing every zero byte (one boolean
compress; text never contains NUL, the readers refuse it) closes the gaps, so
``[-][0][0][2][.][5][2]`` reads ``-2.52``. Each digit position is one array operation over all
rows, with no per-row offsets at all. A record can also hold words of up to 16 bytes, zero-padded
(:meth:`Records.words`): ``query``'s word level makes each token's whole output line a row, the
word, its fields and a line's closing, and squeezes the matrix once.
"""

from __future__ import annotations

import numpy as np

ZERO = ord("0")


def _digit_groups(leading_zeros: bool, zero_spelled: bool = True) -> np.ndarray:
    """The three digits of each of 0..999 and a zero byte, as one uint32 each (a gather of these
    writes three digits at once; the zero byte is squeezed out with the rest). Without
    ``leading_zeros`` the digits before a number's first non-zero one are zero bytes, and so are
    all three of 0's unless ``zero_spelled``. Made by array operations: comprehensions over the
    thousand numbers cost 2 ms of every command's start."""
    n = np.arange(1000)
    digits = np.zeros((1000, 4), dtype=np.uint8)
    digits[:, :3] = np.stack([n // 100, n // 10 % 10, n % 10], axis=1) + ZERO
    if not leading_zeros:
        digits[n < 100, 0] = 0
        digits[n < 10, 1] = 0
        digits[0, 2] = ZERO if zero_spelled else 0
    return digits.view(np.uint32).ravel()


#: every group written in full
GROUPS = _digit_groups(leading_zeros=True)
#: the same spelled without leading zeros (as zero bytes) for a number's first group: entries
#: 0..999 for a first group above the lowest (0 spells nothing), 1000..1999 for the lowest
#: (0 spells "0"), 2000..2999 the full GROUPS for the groups after the first
LEADING = np.concatenate([_digit_groups(False, zero_spelled=False), _digit_groups(False), GROUPS])


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


def put_integers(matrix: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    """Write each non-negative integer in decimal, right-aligned in ``width`` columns from
    ``column`` (leading zeros as zero bytes); the column after them is overwritten with a zero
    byte (see :func:`_put_groups`).

    Three digits per gather, left to right (:func:`_spelling`). One column (an n-gram order,
    the units of a log10 value) is one digit, written directly."""
    rest = np.asarray(values).astype(_arithmetic(width), copy=False)
    if width == 1:
        np.add(rest, ZERO, out=matrix[:, column], casting="unsafe")
        return
    groups = -(-width // 3)
    for group in reversed(range(groups)):
        end = column + width - 3 * group
        start = max(column, end - 3)
        spelled = LEADING.take(_spelling(rest, group, group == groups - 1))
        if end - start < 3:
            spelled >>= 8 * (3 - (end - start))  # a first group of one or two columns: its last digits
        _put_groups(matrix, start, spelled)


def _spelling(rest: np.ndarray, group: int, leftmost: bool) -> np.ndarray:
    """Where :data:`LEADING` spells the digits ``group`` (0: units) of each of ``rest``: in full
    if the number has digits further left, else without leading zeros (0 spelled only as the
    units). The ``leftmost`` group of the width is below 1000 and always the number's first."""
    index = rest // 10 ** (3 * group) if group else rest.copy()
    if not leftmost:
        _remainder(index, 1000)
    first = 1000 if group == 0 else 0  # where this group's table starts when it is the number's first
    if first:
        index += first
    if not leftmost:
        np.add(index, 2000 - first, out=index, where=rest >= 10 ** (3 * group + 3))
    return index


def _put_groups(matrix: np.ndarray, column: int, spelled: np.ndarray) -> None:
    """The four bytes of each uint32 of ``spelled`` (three digits and a zero byte) in four columns
    from ``column`` (fewer at the matrix's last columns): one 4-byte write per row, where a
    3-column copy goes byte by byte (8,192 rows: 3 us against 24). The fourth column is
    overwritten, so fields are written left to right, each number's groups too."""
    room = matrix.shape[1] - column
    if room >= 4:
        matrix[:, column : column + 4].view(np.uint32)[:, 0] = spelled
    else:
        matrix[:, column:] = spelled.view(np.uint8).reshape(-1, 4)[:, :room]


def _remainder(values: np.ndarray, divisor: int) -> np.ndarray:
    """``values % divisor`` (non-negative values) in ``values``' memory, as ``values - values //
    divisor * divisor``: numpy divides by a scalar with a multiply and shifts, but ``%`` runs a
    hardware division per element (8,192 int32: 4 us against 12)."""
    quotient = values // divisor
    quotient *= divisor
    values -= quotient
    return values


def put_decimals(matrix: np.ndarray, column: int, values: np.ndarray, places: int, width: int) -> None:
    """Write each float with ``places`` decimals in ``width`` columns (:func:`decimal_width`)
    from ``column``: the sign in the first column, digits right-aligned (``-inf``, ``nan``
    spelled out); the column after them is overwritten with a zero byte (:func:`_put_groups`)."""
    values = np.asarray(values, dtype=np.float64)
    other = ~np.isfinite(values)
    scaled = np.where(other, 0.0, values)  # then |value| * 10**places rounded, in place
    np.abs(scaled, out=scaled)
    scaled *= 10.0**places
    np.rint(scaled, out=scaled)
    scaled = scaled.astype(_arithmetic(width - 2))  # all its digits, without the sign and the point
    negative = values < 0
    negative &= (scaled > 0) | other  # never "-0.000000"
    np.multiply(negative, ord("-"), out=matrix[:, column], dtype=np.uint8)
    point = column + width - places - 1
    put_integers(matrix, column + 1, scaled // 10**places, point - column - 1)
    matrix[:, point] = ord(".")
    fraction = _remainder(scaled, 10**places)  # the decimals, in place
    for group in range(places // 3):  # three digits per gather, from the point on
        digits = fraction // 10 ** (places - 3 * group - 3)
        _put_groups(matrix, point + 1 + 3 * group, GROUPS.take(_remainder(digits, 1000) if group else digits))
    for place in range(places % 3):  # then the digits past the last whole group of three
        matrix[:, point + places - place] = ZERO + fraction % 10
        fraction //= 10
    for row in np.flatnonzero(other):
        matrix[row, column + 1 : column + width] = 0
        text = b"nan" if np.isnan(values[row]) else b"inf"
        matrix[row, column + width - 3 : column + width] = np.frombuffer(text, dtype=np.uint8)


class Records:
    """A matrix of records built field by field, left to right, in fixed columns."""

    def __init__(self, rows: int, width: int) -> None:
        self.matrix = np.zeros((rows, width), dtype=np.uint8)
        self.column = 0

    def text(self, text: bytes) -> "Records":
        """``text`` on every row."""
        self.matrix[:, self.column : self.column + len(text)] = np.frombuffer(text, dtype=np.uint8)
        self.column += len(text)
        return self

    def integers(self, values: np.ndarray, width: int | None = None) -> "Records":
        """Non-negative integers in decimal, in ``width`` columns (by default the values' :func:`integer_width`)."""
        width = integer_width(values) if width is None else width
        put_integers(self.matrix, self.column, values, width)
        self.column += width
        return self

    def decimals(self, values: np.ndarray, places: int, width: int | None = None) -> "Records":
        """Floats with ``places`` decimals, in ``width`` columns (by default the values' :func:`decimal_width`)."""
        width = decimal_width(values, places) if width is None else width
        put_decimals(self.matrix, self.column, values, places, width)
        self.column += width
        return self

    def words(self, first: np.ndarray, second: np.ndarray) -> "Records":
        """Words of up to 16 bytes given as two little-endian uint64 words, zero-padded
        (:meth:`lmtool.ngram.bytetext.Tokens.words`), in 16 columns."""
        pair = self.matrix[:, self.column : self.column + 16].view(np.uint64)  # (rows, 2)
        pair[:, 0] = first
        pair[:, 1] = second
        self.column += 16
        return self

    def squeeze(self) -> np.ndarray:
        """The bytes of the records, in row order (a boolean index: ``compress`` is 12% faster
        but gathers through the nonzero places' int64 indices, 8 bytes an output byte)."""
        return self.matrix[self.matrix != 0]
