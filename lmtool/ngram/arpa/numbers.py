"""Millions of ARPA numbers at once: ``%.9g`` text and decimal parsing by integer arithmetic.

A number's text is held as 16 bytes in two little-endian uint64 words, ``(lo, hi)``, first
character in the lowest byte, so that laying out digits, inserting a dot or reading a digit
are shifts and masks over whole arrays (no Python loop per value, no string objects).

Formatting: each value becomes its nine significant digits ``m`` (an integer in [1e8, 1e9)) and
decimal exponent ``e``; the digits are spelled through a 4-digit table and placed per ``e``
(``%g``'s fixed notation for -4 <= e <= 8, else ``d.ddde-XX``), trailing zeros cut by the
length, then a ``-`` shifted in front of negative values.
``x * 10**s`` by an exact power of ten is one correctly rounded product, so ``rint`` of it is
the correct nine-digit rounding unless the product lies within 1e-6 of a half (its error is
below 1.2e-7); those rare values, and exponents beyond the exact powers, go through Python's
``'%.9g' % x``. The result equals Python's byte for byte (tests check millions of values).

Parsing: every digit byte is masked to ``0`` to give the text's *shape* (``-0.0000000``);
fields of one shape have their digits at the same places, so each shape is read with constant
shifts: its mantissa's digits made one run and read eight at a time by three multiply-and-mask
steps (SWAR), not one pass per digit. The shape of 99% of KenLM's numbers, ``-d.ddd`` of any
length, is read for all its lengths at once, with shifts of each field's own size. A mantissa
of at most 15 digits is exact in float64, and ``mantissa * 10**p`` or ``/ 10**-p`` with
``|p| <= 22`` is correctly rounded (Clinger's fast path): the value equals Python's
``float(text)``. Other fields (longer, more digits, ``inf``, ``nan``, far exponents) are marked
for the caller to give to ``float`` one by one.
"""

from __future__ import annotations

import functools
import re

import numpy as np


POW10 = 10.0 ** np.arange(23)
_U = np.uint64
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [2**64 - 1], dtype=_U)
_FIXED_MIN, _FIXED_MAX = -4, 8  # %g's fixed notation for these exponents (precision 9)
_DOT, _ZERO, _E = ord("."), ord("0"), ord("e")


def _shift_left(lo, hi, n_bytes: int):
    """The 128-bit ``(lo, hi)`` shifted towards higher bytes by ``n_bytes`` (0..15, constant)."""
    if n_bytes == 0:
        return lo, hi
    bits = _U(8 * n_bytes)
    if n_bytes >= 8:
        return np.zeros_like(lo), lo << _U(8 * (n_bytes - 8))
    return lo << bits, (hi << bits) | (lo >> _U(64 - 8 * n_bytes))


def _with_dot(lo, hi, p: int):
    """``(lo, hi)`` with a ``.`` inserted before byte ``p`` (1..9) and the bytes from ``p`` moved up one."""
    if p < 8:
        keep_lo = lo & _LOW_BYTES[p]
        up_lo, up_hi = _shift_left(lo & ~_LOW_BYTES[p], hi, 1)
        return keep_lo | up_lo | _U(_DOT << (8 * p)), up_hi
    up_lo, up_hi = _shift_left(np.zeros_like(lo), hi & ~_LOW_BYTES[p - 8], 1)
    return lo, (hi & _LOW_BYTES[p - 8]) | up_hi | _U(_DOT << (8 * (p - 8)))


def _nine_digits(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For positive finite ``a``: (m in [1e8, 1e9) as uint64, decimal exponent e, exact) with
    a ~= m * 10**(e - 8); ``exact`` False where the arithmetic cannot promise %.9g's rounding."""
    e = np.floor(np.log10(a)).astype(np.int64)
    scale = 8 - e
    y = a * POW10[np.clip(scale, 0, 22)]
    m = np.rint(y)
    exact = (np.abs(y - np.floor(y) - 0.5) > 1e-6) & (scale <= 22)
    # log10 one off either way, rounding up to 10**9, or a division by a power: redo those
    todo = np.flatnonzero((m < 1e8) | (m >= 1e9) | (scale < 0))
    for _ in range(3):
        if not len(todo):
            break
        e[todo[m[todo] < 1e8]] -= 1
        e[todo[m[todo] >= 1e9]] += 1
        scale = 8 - e[todo]
        power = POW10[np.minimum(np.abs(scale), 22)]
        y = np.where(scale >= 0, a[todo] * power, a[todo] / power)
        m[todo] = np.rint(y)
        exact[todo] = (np.abs(y - np.floor(y) - 0.5) > 1e-6) & (np.abs(scale) <= 22)
        todo = todo[(m[todo] < 1e8) | (m[todo] >= 1e9)]
    exact[todo] = False
    return np.clip(m, 1e8, 1e9 - 1).astype(_U), e, exact


@functools.cache
def _digits4() -> tuple[np.ndarray, np.ndarray]:
    """For every v in 0..9999: its 4 ASCII digits (leading zeros kept, first digit in the lowest
    byte) and how many of them are trailing zeros ("0000" has 4). Made when a number is first
    formatted: reading a file never formats one, and making the tables at import cost
    ``fit-ngram --from-arpa`` 0.9 MiB of its peak memory."""
    v = np.arange(10000, dtype=_U)
    ascii4 = sum(((v // _U(10 ** (3 - i)) % _U(10)) + _U(ord("0"))) << _U(8 * i) for i in range(4))
    trailing_zeros4 = sum((v % _U(10 ** i) == 0).astype(np.int8) for i in range(1, 5))
    return ascii4, trailing_zeros4


def _spell(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 9 ASCII digits of each m in [1e8, 1e9) as (lo, hi), and how many to keep (no trailing 0)."""
    a = m // _U(100_000_000)
    rest = m - a * _U(100_000_000)
    b = rest // _U(10_000)
    c = rest - b * _U(10_000)
    ascii4, trailing_zeros4 = _digits4()
    spelled_c = ascii4[c]
    lo = (a + _U(_ZERO)) | (ascii4[b] << _U(8)) | (spelled_c << _U(40))
    # "0000" counts 4 trailing zeros, so c == 0 adds b's (a >= 1 has none)
    zeros = trailing_zeros4[c] + (c == 0) * trailing_zeros4[b]
    return lo, spelled_c >> _U(24), 9 - zeros


def format_g9(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``'%.9g' % x`` of every value as a (n, 16) uint8 matrix (text left-aligned, at most 16
    bytes: a sign and 15 characters) and its length; ``-0.0`` prints ``-0`` as in Python."""
    x = np.asarray(values, dtype=np.float64)
    a = np.abs(x)
    regular = np.isfinite(a) & (a > 0)
    m, e, exact = _nine_digits(np.where(regular, a, 1.0))
    exact &= regular
    lo, hi, kept = _spell(m)
    text_lo, text_hi = np.zeros_like(lo), np.zeros_like(hi)
    length = np.zeros(len(x), dtype=np.int64)
    fixed = (e >= _FIXED_MIN) & (e <= _FIXED_MAX)
    bins = np.bincount(np.where(fixed, e - _FIXED_MIN, _FIXED_MAX - _FIXED_MIN + 1), minlength=_FIXED_MAX - _FIXED_MIN + 2)
    for index in np.flatnonzero(bins[:-1]):
        rows = np.flatnonzero(e == index + _FIXED_MIN) if bins[index] < len(x) else slice(None)
        text_lo[rows], text_hi[rows], length[rows] = _fixed(lo[rows], hi[rows], kept[rows], int(index) + _FIXED_MIN)
    if bins[-1]:
        rows = np.flatnonzero(~fixed)
        text_lo[rows], text_hi[rows], length[rows] = _scientific(lo[rows], hi[rows], kept[rows], e[rows])
    zero = a == 0
    text_lo[zero], length[zero] = _ZERO, 1
    negative = np.signbit(x)
    text_hi = np.where(negative, (text_hi << _U(8)) | (text_lo >> _U(56)), text_hi)
    text_lo = np.where(negative, (text_lo << _U(8)) | _U(ord("-")), text_lo)
    text = np.stack([text_lo, text_hi], axis=1)
    length += negative
    for i in np.flatnonzero(~exact & ~zero):  # rounding ties, exponents beyond the exact powers, nan, inf
        spelled = b"%.9g" % x[i]
        text[i] = 0
        text[i].view(np.uint8)[: len(spelled)] = np.frombuffer(spelled, dtype=np.uint8)
        length[i] = len(spelled)
    return text.view(np.uint8).reshape(len(x), 16), length


def _fixed(lo, hi, kept, e: int):
    """Texts of one fixed-notation exponent: d..d.ddd (e >= 0) or 0.00ddd (e < 0), and lengths."""
    if e < 0:
        lead = 1 - e  # "0." and -e-1 zeros
        lo, hi = _shift_left(lo, hi, lead)
        prefix = int.from_bytes(b"0." + b"0" * (-e - 1), "little")
        return lo | _U(prefix), hi, lead + kept
    if e < 8:
        lo, hi = _with_dot(lo, hi, e + 1)  # a dot after all 9 digits (e = 8) is never shown
    return lo, hi, np.where(kept > e + 1, kept + 1, e + 1)


def _scientific(lo, hi, kept, e):
    """Texts d[.ddd]e-XX (two exponent digits at least, as C's printf) and lengths."""
    lo, hi = _with_dot(lo, hi, 1)
    mantissa = np.where(kept > 1, kept + 1, 1)
    exponent = np.abs(e).astype(_U)
    ascii4 = _digits4()[0]
    two = ascii4[exponent % _U(100)] >> _U(16)  # the last two digits
    three = ascii4[exponent % _U(1000)] >> _U(8)
    wide = exponent >= 100
    sign = np.where(e < 0, _U(ord("-")), _U(ord("+")))
    suffix = _U(_E) | (sign << _U(8)) | (np.where(wide, three, two) << _U(16))
    # clear the bytes from the mantissa's end, then put the suffix there (variable shifts: rare rows)
    bits = (8 * mantissa).astype(_U)
    low_mask = np.where(bits >= 64, _U(2**64 - 1), (_U(1) << np.minimum(bits, _U(63))) - _U(1))
    high_bits = np.where(bits >= 64, bits - _U(64), _U(0))
    lo = np.where(bits >= 64, lo, (lo & low_mask) | (suffix << bits))
    spill = np.where(bits >= 64, suffix << high_bits, np.where(bits > 0, suffix >> (_U(64) - bits), _U(0)))
    high_mask = np.where(bits >= 64, (_U(1) << high_bits) - _U(1), _U(0))
    hi = (hi & high_mask) | spill
    return lo, hi, mantissa + 4 + wide


def byte_windows(buffer: np.ndarray) -> np.ndarray:
    """Every 8-byte little-endian window of ``buffer`` as a uint64 (window i starts at byte i);
    ``buffer`` must carry at least 16 padding bytes past the last field read through it."""
    return np.ndarray(shape=(len(buffer) - 7,), dtype="<u8", buffer=buffer, strides=(1,))


def chunk(windows: np.ndarray, starts: np.ndarray, lengths: np.ndarray, q: int) -> np.ndarray:
    """Bytes 8q..8q+7 of each field (zero past its end: all zero for a field of at most 8q bytes)
    as a little-endian uint64."""
    kept = np.minimum(lengths - 8 * q, 8)
    if q:
        np.maximum(kept, 0, out=kept)
    return windows[starts + 8 * q] & _LOW_BYTES[kept]


_NIBBLES = _U(0x0F0F0F0F0F0F0F0F)
_BIT4 = _U(0x1010101010101010)


def _digit_nibbles(word: np.ndarray) -> np.ndarray:
    """0x0F in the low nibble of each byte of ``word`` that is an ASCII digit, 0 elsewhere."""
    high_not_3 = ((((word >> _U(4)) & _NIBBLES) ^ _U(0x0303030303030303)) + _NIBBLES) & _BIT4
    low_above_9 = ((word & _NIBBLES) + _U(0x0606060606060606)) & _BIT4
    digit = ~(high_not_3 | low_above_9) & _BIT4
    return digit - (digit >> _U(4))


_SHAPE = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?)(\d{1,3}))?")
#: (shift, factor, mask) of each step of :func:`_eight_digits`
_SWAR_STEPS = ((_U(8), _U(10), _U(0x00FF00FF00FF00FF)), (_U(16), _U(100), _U(0x0000FFFF0000FFFF)),
               (_U(32), _U(10000), _U(0xFFFFFFFF)))


def parse_decimal(windows: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 value of each field holding a decimal ``[+-]digits[.digits][(e|E)[+-]digits]``,
    and a mask of the fields this could not read exactly (for ``float`` to judge one by one).

    Fields of shape ``-d.ddd`` are read together, whatever their length; the others are grouped
    by length (a counting sort: one pass), and a length's group is usually one shape (an ARPA
    file writes one form of number); other shapes of that length are peeled off one by one."""
    n = len(starts)
    # bytes 8..15 of every field (zero for the short ones): most numbers are longer than 8 bytes
    # (lmplz's -1.2345678), so a subset would cost more in its gathers than it saves
    lo, hi = chunk(windows, starts, lengths, 0), chunk(windows, starts, lengths, 1)
    lo_digits, hi_digits = _digit_nibbles(lo), _digit_nibbles(hi)
    shape_lo, shape_hi = lo & ~lo_digits, hi & ~hi_digits
    lo &= lo_digits  # the digits' values, in place
    hi &= hi_digits
    del lo_digits, hi_digits
    unread = lengths > 16
    length = np.minimum(lengths, 17).astype(np.uint8)
    # -d.ddd, of any length, is the shape of 99% of KenLM's numbers: those are read in one pass
    # (:func:`_negative_fractions`), the others grouped by length, then by shape
    common = (_FRACTION_SHAPES[0].take(length) == shape_lo) & (_FRACTION_SHAPES[1].take(length) == shape_hi)
    if common.all():
        return _negative_fractions(lo, hi, length), unread
    values = np.zeros(n)
    fractions = np.flatnonzero(common)
    values[fractions] = _negative_fractions(lo[fractions], hi[fractions], length[fractions])
    rest = np.flatnonzero(~common)
    del common, fractions
    by_length = rest.take(np.argsort(length[rest], kind="stable"))  # a radix sort for one-byte keys
    counts = np.bincount(length[rest], minlength=18)
    group_ends = np.cumsum(counts)
    for size in np.flatnonzero(counts[:17]):
        rows = by_length[group_ends[size] - counts[size] : group_ends[size]]
        while len(rows):
            same = (shape_lo[rows] == shape_lo[rows[0]]) & (shape_hi[rows] == shape_hi[rows[0]])
            shaped, rows = (rows, rows[:0]) if same.all() else (rows.take(np.flatnonzero(same)), rows.take(np.flatnonzero(~same)))
            text = (int(shape_lo[shaped[0]]) | int(shape_hi[shaped[0]]) << 64).to_bytes(16, "little")[:size]
            read = _read_shape(text, lo[shaped], hi[shaped])
            if read is None:
                unread[shaped] = True
            else:
                values[shaped], unread[shaped] = read
    return values, unread


def _fraction_shape(length: int) -> int:
    """The shape (digits shown as ``0``) of ``-d.`` and ``length - 3`` digits, as 16 bytes in one
    integer; for a length outside 4..16, sixteen 0xFF bytes: no shorter field's shape (its bytes
    past its end are 0), and a field longer than 16 bytes is handed back unread whatever it is
    read as."""
    return int.from_bytes(b"-0." + b"0" * (length - 3), "little") if 4 <= length <= 16 else 2**128 - 1


#: :func:`_fraction_shape` of every length 0..17, as (lo, hi) words
_FRACTION_SHAPES = (np.array([_fraction_shape(n) & (2**64 - 1) for n in range(18)], dtype=_U),
                    np.array([_fraction_shape(n) >> 64 for n in range(18)], dtype=_U))


def _negative_fractions(lo: np.ndarray, hi: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The values of fields of shape ``-d.ddd``, each ``length`` (4..16) bytes, whose digit values
    sit in the bytes of ``(lo, hi)`` (0 elsewhere): :func:`_read_shape`'s arithmetic, with each
    field's own shifts. With the sign's byte 0 and the digit before the dot moved onto the dot,
    the field's bytes read as one run of digits are its mantissa (at most 14 digits: exact); its
    last eight and the eight before them are shifted into place (numpy shifts by 64 or more bits,
    which the unsigned wrap-around of the shifts below gives outside each case, to 0)."""
    lo, hi = _without_dot(lo, hi, 2)
    last = length.astype(_U)
    last -= _U(1)  # the last digit's byte, 3..15
    byte = _U(8)
    low = lo >> (byte * (last - _U(7)))  # bytes last - 7 .. last: from lo and hi when last >= 8
    low |= hi << (byte * (_U(15) - last))
    low |= lo << (byte * (_U(7) - last))  # or lo alone, moved up, when last < 7
    high = lo << (byte * (_U(15) - last))  # bytes last - 15 .. last - 8: zero when last < 8
    mantissa = _eight_digits(low)
    mantissa += _eight_digits(high) * _U(10**8)
    value = mantissa.astype(np.float64)
    value /= POW10.take(length.astype(np.intp) - 3)
    return np.negative(value, out=value)


def _read_shape(shape: bytes, lo: np.ndarray, hi: np.ndarray):
    """(values, unread) of fields of one shape (the text with digits shown as 0) whose digit
    values sit in the bytes of ``(lo, hi)`` (0 elsewhere); None when the shape is not a decimal
    the fast path reads. The mantissa's digits are made one run (the bytes before a decimal
    point moved onto it) and read eight at a time (:func:`_eight_digits`)."""
    match = _SHAPE.fullmatch(shape)
    if match is None:
        return None
    sign, whole, fraction, exp_sign, exp_digits = match.groups(b"")
    digits = len(whole) + len(fraction)
    if not digits or digits > 15:
        return None
    last = match.end(3 if fraction else 2) - 1  # the mantissa's last digit
    if whole and fraction:
        lo, hi = _without_dot(lo, hi, match.start(3) - 1)
    mantissa = _eight_digits(_bytes_ending(lo, hi, last))
    if digits > 8:
        mantissa += _eight_digits(_bytes_ending(lo, hi, last - 8)) * _U(10**8)
    value = mantissa.astype(np.float64)
    if exp_digits:
        power = np.zeros(len(lo), dtype=np.int64)
        for position in range(match.start(5), match.end(5)):
            power = power * 10 + _nibble(lo, hi, position).astype(np.int64)
        power = (-power if exp_sign == b"-" else power) - len(fraction)
        scale = POW10[np.minimum(np.abs(power), 22)]
        value, unread = np.where(power >= 0, value * scale, value / scale), np.abs(power) > 22
    else:  # one power for the whole shape, 10 ** -len(fraction): exact
        value /= POW10[len(fraction)]
        unread = False
    if sign == b"-":
        np.negative(value, out=value)
    return value, unread


def _without_dot(lo: np.ndarray, hi: np.ndarray, dot: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` with the bytes before byte ``dot`` (1..15) moved up one, onto it."""
    if dot < 8:
        return (lo & ~_LOW_BYTES[dot + 1]) | ((lo & _LOW_BYTES[dot]) << _U(8)), hi
    below_lo, below_hi = _shift_left(lo, hi & _LOW_BYTES[dot - 8], 1)
    return below_lo, below_hi | (hi & ~_LOW_BYTES[dot - 7])


def _bytes_ending(lo: np.ndarray, hi: np.ndarray, last: int) -> np.ndarray:
    """Bytes ``last - 7 .. last`` (0..15) of ``(lo, hi)`` as one word (zero below byte 0)."""
    if last < 8:
        return lo << _U(8 * (7 - last))
    if last == 15:
        return hi.copy()
    return (lo >> _U(8 * (last - 7))) | (hi << _U(8 * (15 - last)))


def _eight_digits(word: np.ndarray) -> np.ndarray:
    """The integer whose 8 decimal digits are the byte values (0..9) of ``word``, first digit
    in its lowest byte: digits combined in pairs, pairs in fours, fours in eights, each step a
    shift, a multiply and a mask over whole words (SWAR). ``word`` is overwritten."""
    for shift, factor, mask in _SWAR_STEPS:
        carry = word >> shift
        word *= factor
        word += carry
        word &= mask
    return word


def _nibble(lo: np.ndarray, hi: np.ndarray, position: int) -> np.ndarray:
    """The digit at byte ``position`` (0..15)."""
    word = lo if position < 8 else hi
    return (word >> _U(8 * (position % 8))) & _U(0x0F)
