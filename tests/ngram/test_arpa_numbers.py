"""ARPA numbers in bulk: ``format_g9`` is Python's ``'%.9g'`` byte for byte, ``parse_decimal`` is
Python's ``float`` bit for bit (or hands the field back), and the hash table finds exactly."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.ngram.arpa.fields import PADDING, split_block
from lmtool.ngram.arpa.hashing import HashIndex, hash_columns
from lmtool.ngram.arpa.numbers import byte_windows, format_g9, parse_decimal

SPECIAL = [0.0, -0.0, -99.0, 1.0, -1.0, 1e-4, -1e-5, 9.9999999996, 0.09999999999, 123456789.0, 1234567890.0,
           1e22, 1e23, 1e-300, 5e-324, 0.5, 2.5, 1.0000000005, 0.000123456789, 99999999.95, 1e100, 1.5e-100,
           0.0001, 0.00009999999999, -4.88195119e-11, 12345678.95, 0.30000000000000004,
           # exact binary halves at the 9th digit: round half to even, as printf does
           123456788.5, 123456789.5, 1.25e-7, -0.0000152587890625]


def values_to_test(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([
        -rng.random(20000) * 5,                              # unigram-like log10 probabilities
        -(10.0 ** rng.uniform(-12, 2, 20000)),               # near 0 and below -10
        rng.normal(size=20000) * 10.0 ** rng.integers(-30, 30, 20000),
        np.round(rng.normal(size=5000) * 1e4) / 100,         # few digits: trailing zeros cut
        -rng.random(5000).astype(np.float32).astype(np.float64),  # KenLM stores float32
        SPECIAL, [np.nan, np.inf, -np.inf],
    ])


def texts(values: np.ndarray) -> list[bytes]:
    chars, length = format_g9(values)
    return [chars[i, : length[i]].tobytes() for i in range(len(values))]


@pytest.mark.parametrize("seed", [0, 1])
def test_format_g9_is_python_percent_g9(seed):
    values = values_to_test(seed)
    assert texts(values) == [b"%.9g" % v for v in values]


def test_format_g9_of_nothing():
    chars, length = format_g9(np.zeros(0))
    assert chars.shape == (0, 16) and len(length) == 0


def parse(fields: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(f) for f in fields], dtype=np.int64)
    buffer = np.frombuffer(b"".join(fields) + bytes(PADDING), dtype=np.uint8)
    return parse_decimal(byte_windows(buffer), np.cumsum(lengths) - lengths, lengths)


@pytest.mark.parametrize("seed", [0, 1])
def test_parse_decimal_is_python_float(seed):
    values = values_to_test(seed)
    fields = texts(values[np.isfinite(values)]) + [b"%.17g" % v for v in values[:2000]] + [b"%.6e" % v for v in values[:2000]]
    fields += [b"-1.5e3", b"+2", b"1.", b".5", b"-0", b"-0.0", b"00012", b"1e+5", b"-1E-05", b"7e22", b"7e-22"]
    parsed, unread = parse(fields)
    expected = np.array([float(f) for f in fields])
    read = ~unread
    assert read.mean() > 0.8  # the fast path reads nearly everything of at most 15 digits
    np.testing.assert_array_equal(parsed[read], expected[read])
    assert (np.signbit(parsed[read]) == np.signbit(expected[read])).all()  # -0 stays -0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parse_decimal_reads_every_shape_as_python_float(seed):
    # every place of a decimal point (before, inside and after 8 and more whole digits), 1-15
    # mantissa digits in one or two words, exponents, many shapes of one length in one call
    rng = np.random.default_rng(seed)
    fields = []
    for _ in range(20000):
        whole, fraction = rng.integers(0, 12), rng.integers(0, 14)
        text = "".join(map(str, rng.integers(0, 10, whole)))
        if rng.random() < 0.8:
            text += "." + "".join(map(str, rng.integers(0, 10, fraction)))
        if rng.random() < 0.2:
            text += rng.choice(["e", "E"]) + rng.choice(["", "-", "+"]) + str(rng.integers(0, 40))
        fields.append((rng.choice(["", "-", "+"]) + text).encode())
    parsed, unread = parse(fields)
    read = ~unread
    assert read.mean() > 0.5
    for field, value in zip(np.array(fields, dtype=object)[read], parsed[read]):
        assert value == float(field) and np.signbit(value) == np.signbit(float(field)), field
    for field in np.array(fields, dtype=object)[unread]:
        digits = sum(c.isdigit() for c in field.decode().split("e")[0].split("E")[0])
        assert len(field) > 16 or digits > 15 or digits == 0 or "e" in field.decode().lower(), field


@pytest.mark.parametrize("mixed", [False, True])
def test_parse_decimal_reads_kenlms_shape_in_one_pass_as_python_float(mixed):
    # -d.ddd of every length 4..16 (1 to 13 decimals): the shape of nearly every number lmplz
    # writes, read with per-field shifts; alone (every field of the shape) and among others
    rng = np.random.default_rng(7)
    fields = [f"-{rng.integers(0, 10)}.{''.join(map(str, rng.integers(0, 10, rng.integers(1, 14))))}".encode()
              for _ in range(30000)]
    fields += [b"-9.9999999999999", b"-0.0000000000001", b"-1.0", b"-0.5"]
    if mixed:
        fields += [b"0", b"-99", b"1.5", b"-12.5", b"-0.", b"-1e-5", b"", b"-0.12345678901234"]
    parsed, unread = parse(fields)
    expected = np.array([float(f) if f else np.nan for f in fields])
    assert not unread[:30004].any()
    np.testing.assert_array_equal(parsed[~unread].view(np.uint64), expected[~unread].view(np.uint64))
    if mixed:  # the empty field and the 17-byte one are handed back, the rest read
        assert unread.tolist()[-8:] == [False, False, False, False, False, False, True, True]


def test_parse_decimal_hands_back_what_it_cannot_read_exactly():
    fields = [b"", b"1e", b"1.2.3", b"--1", b"abc", b"-", b".", b"1e-400", b"12345678901234567", b"1e0001",
              b"inf", b"-nan", b"1_0", b"0x10", b"1\x002", b"12345678901234567890", b"1e23"]
    _, unread = parse(fields)
    assert unread.all()


def test_hash_index_finds_every_hash_and_nothing_else():
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, 5000, dtype=np.int64).astype(np.uint64) * np.uint64(3)
    index = HashIndex(hashes)
    assert index.unique
    queries = np.concatenate([hashes[::-1], hashes + np.uint64(1)])
    found = index.find(queries)
    np.testing.assert_array_equal(found[:5000], np.arange(5000)[::-1])
    assert (found[5000:] == -1).all()
    # crowded home slots: every hash shares its top bits, so all probe one long run
    crowded = np.arange(1, 300, dtype=np.uint64)
    np.testing.assert_array_equal(HashIndex(crowded).find(crowded), np.arange(299))


def test_hash_index_reports_a_repeated_hash():
    assert not HashIndex(np.array([5, 9, 5], dtype=np.uint64)).unique
    assert HashIndex(np.zeros(0, dtype=np.uint64)).find(np.array([1], dtype=np.uint64)).tolist() == [-1]


def test_hash_columns_depends_on_every_column():
    rows = np.array([[1, 2, 3], [1, 2, 4], [0, 2, 3], [3, 2, 1]])
    assert len(set(hash_columns(rows).tolist())) == 4


@pytest.mark.parametrize("counts", [[3, 3, 3], [2, 4, 2, 4], [3, 3, 0, 3], [4, 4, 4, 0, 4, 4, 4], [5], [1, 1, 2, 0]])
def test_split_block_counts_the_fields_of_every_line(counts):
    # equal counts take the strided check; unequal ones (or blank lines) whose total divides the
    # line count evenly must fall back to the search, not take the guess
    lines = (" ".join(f"f{i}x{j}" for j in range(n)) + ("\t" if n % 2 else "") for i, n in enumerate(counts))
    text = "".join(line + "\n" for line in lines)
    block = split_block(np.frombuffer(text.encode() + bytes(PADDING), dtype=np.uint8))
    expected = [n for n in counts if n]
    assert block.count.tolist() == expected
    assert block.line.tolist() == [i for i, n in enumerate(counts) if n]
    assert block.first.tolist() == np.cumsum([0] + expected[:-1]).tolist()
    assert block.n_lines == len(counts)
