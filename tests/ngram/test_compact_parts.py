"""The parts of the compact format: bit packing, the bijective hash and its bucket index, value columns."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.ngram.bitpack import join_slices, pack, pack_slice, unpack, words_for
from lmtool.ngram.container import ArrayStream, write_container
from lmtool.ngram.hashing import BucketIndex, mix, unmix
from lmtool.ngram.compact import suffix_closed
from lmtool.ngram.sorting import distinct, sort_in_place, sort_with_order
from lmtool.ngram.tables import BackoffTables, find_rows
from lmtool.ngram.values import DECODED_ROWS, codes_in, encode_exact, quantise


@pytest.mark.parametrize("width", [0, 1, 3, 7, 8, 13, 16, 20, 31, 32, 33, 50, 64])
def test_pack_round_trip(width):
    rng = np.random.default_rng(width)
    values = rng.integers(0, 2 ** min(width, 63), 777, dtype=np.uint64) if width else np.zeros(777, np.uint64)
    if width == 64:
        values[::5] = np.uint64(2**64 - 1)
    stored = pack(values, width)
    assert len(stored) == words_for(777, width)
    index = rng.integers(0, 777, 300)
    np.testing.assert_array_equal(unpack(stored, width, index), values[index])
    np.testing.assert_array_equal(unpack(stored, width, np.arange(777)), values)


def test_pack_layout_by_hand():
    # fields 5 (101), 3 (011), 7 (111) of width 3: bits 0-2, 3-5, 6-8 -> 0b111_011_101 = 477
    assert pack(np.array([5, 3, 7]), 3).tolist() == [477, 0]


@pytest.mark.parametrize("bits", [1, 2, 3, 7, 12])
def test_mix_is_a_bijection(bits):
    keys = np.arange(1 << bits, dtype=np.uint64)
    hashes = mix(keys, bits)
    assert sorted(hashes.tolist()) == keys.tolist()
    np.testing.assert_array_equal(unmix(hashes, bits), keys)


@pytest.mark.parametrize("bits", [20, 33, 47, 63, 64])
def test_unmix_inverts_mix(bits):
    keys = np.random.default_rng(bits).integers(0, 2 ** min(bits, 63), 10_000, dtype=np.uint64)
    np.testing.assert_array_equal(unmix(mix(keys, bits), bits), keys)


@pytest.mark.parametrize("m, bits", [(0, 10), (0, 1), (1, 1), (2, 1), (1, 4), (5, 3), (1000, 20), (50_000, 34), (8, 3),
                                     (3000, 64), (20_000, 45), (40_000, 31)])  # 1 bit: an order past every sentence
def test_bucket_index_finds_exactly_the_stored_keys(m, bits):
    rng = np.random.default_rng(m)
    universe = np.arange(1 << bits, dtype=np.uint64) if bits <= 16 else None
    keys = rng.choice(universe, m, replace=False) if universe is not None else np.unique(
        rng.integers(0, 1 << bits, m, dtype=np.uint64))
    index, order = BucketIndex.build(keys, bits)
    np.testing.assert_array_equal(index.find(keys[order]), np.arange(len(keys)))
    np.testing.assert_array_equal(index.keys(), keys[order])
    others = universe[~np.isin(universe, keys)] if universe is not None else rng.integers(0, 1 << bits, 5000, dtype=np.uint64)
    others = others[~np.isin(others, keys)]
    assert (index.find(others) == -1).all()
    if m > 100:
        assert 1.5 < m / 2**index.bucket_bits <= 3.0


def test_exact_columns_keep_float32_values():
    rng = np.random.default_rng(0)
    few = rng.choice([-0.5, -0.25, 0.0, -1.75], 1000)  # few distinct values: a codebook
    many = rng.normal(size=1000)  # all distinct: raw float32
    for values, codebook in ((few, True), (many, False)):
        column = encode_exact(values)
        assert (column.codebook is not None) == codebook
        np.testing.assert_array_equal(column.all(), values.astype(np.float32).astype(np.float64))
        np.testing.assert_array_equal(column.take(np.array([7, 3])), values[[7, 3]].astype(np.float32))
    assert encode_exact(few).width == 2


@pytest.mark.parametrize("rows", [1000, DECODED_ROWS, DECODED_ROWS + 1000])
def test_coded_columns_read_the_same_decoded_whole_or_unpacked(rows):
    # a short coded column is decoded once and read by one gather, a longer one unpacks each code
    rng = np.random.default_rng(rows)
    values = rng.choice([-0.5, -0.25, 0.0, -1.75, -3.125], rows)
    column = encode_exact(values)
    assert column.codebook is not None
    picked = rng.integers(0, rows, 5000)
    np.testing.assert_array_equal(column.take(picked), values[picked].astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(column.all(), values.astype(np.float32).astype(np.float64))


@pytest.mark.parametrize("n, count", [(0, 1), (1, 1), (5000, 7), (200_000, 3000), (70_000, 60_000)])
def test_codebook_and_codes_equal_numpy_unique(n, count):
    # the sorted distinct values and each value's code, across the chunks codes_in works in
    rng = np.random.default_rng(n + count)
    values = rng.normal(size=count).astype(np.float32)[rng.integers(0, count, n)]
    codebook = distinct(values)
    codes = codes_in(codebook, values)
    expected, inverse = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(codebook, expected)
    assert codes.dtype == np.uint32
    np.testing.assert_array_equal(codes, inverse.reshape(-1))


def test_codebook_or_float32_by_size():
    rng = np.random.default_rng(1)
    # a long column of few values: a codebook even though its every 64th value misses most of them
    rare = np.full(100_000, -0.25)
    rare[rng.choice(100_000, 500, replace=False)] = rng.normal(size=500)
    column = encode_exact(rare)
    assert column.codebook is not None and column.width == 9
    np.testing.assert_array_equal(column.all(), rare.astype(np.float32))
    # a long column of distinct values: raw float32 (the sample decides, nothing is sorted)
    assert encode_exact(rng.normal(size=100_000)).codebook is None
    # a short column of distinct values: a codebook would be larger, so raw
    assert encode_exact(rng.normal(size=50)).codebook is None


@pytest.mark.parametrize("n, high", [(0, 10), (1, 10), (1000, 50), (100_000, 1 << 20), (1000, 1 << 62)])
def test_sort_with_order_is_a_stable_argsort(n, high):
    keys = np.random.default_rng(n).integers(0, high, n, dtype=np.int64)  # 1 << 62: too wide to pack
    for typed in (keys, keys.astype(np.uint64)):
        ordered, order = sort_with_order(typed)
        np.testing.assert_array_equal(order, np.argsort(typed, kind="stable"))
        np.testing.assert_array_equal(ordered, np.sort(typed))
        assert ordered.dtype == typed.dtype


@pytest.mark.parametrize("n, bits", [(0, 4), (1, 1), (1000, 2), (5000, 16), (100_000, 20), (3000, 40), (3000, 52)])
def test_sort_in_place_sorts_the_keys_and_gives_their_stable_order(n, bits):
    keys = np.random.default_rng(n).integers(0, 1 << bits, n, dtype=np.int64).astype(np.uint64)
    sorted_keys = keys.copy()
    order = sort_in_place(sorted_keys, bits)
    np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))
    np.testing.assert_array_equal(sorted_keys, np.sort(keys))
    assert order.dtype == np.uint32


def test_sort_in_place_declines_keys_too_wide_to_pack_with_their_positions():
    keys = np.arange(3000, dtype=np.uint64)[::-1].copy()  # 12 bits of position: 53 bits of key are too many
    assert sort_in_place(keys, 53) is None
    np.testing.assert_array_equal(keys, np.arange(3000, dtype=np.uint64)[::-1])  # untouched


@pytest.mark.parametrize("values", [np.zeros(0), np.array([3.0]), np.array([2.0, -1.0, 2.0, -np.inf, -1.0, -np.inf]),
                                    np.random.default_rng(0).integers(0, 50, 1000).astype(np.uint64)])
def test_distinct_is_numpy_unique(values):
    np.testing.assert_array_equal(distinct(values), np.unique(values))
    assert distinct(values).dtype == values.dtype


def _tables(*orders: list[tuple[int, ...]]) -> BackoffTables:
    grams = [np.arange(6, dtype=np.int32)[:, None]] + [np.array(sorted(rows), dtype=np.int32) for rows in orders]
    return BackoffTables(order=len(grams), vocab_size=6, ngrams=grams, log10_probs=[np.zeros(len(g)) for g in grams],
                         log10_backoffs=[np.zeros(len(g)) for g in grams])


@pytest.mark.parametrize("orders, closed", [
    ([[(3, 4), (4, 5)]], True),                                                   # bigrams: suffixes are words
    ([[(3, 4), (4, 5)], [(3, 4, 5)]], True),
    ([[(3, 4), (4, 3)], [(3, 4, 5)]], False),                                     # "4 5" missing
    ([[(3, 4), (4, 5), (5, 3)], [(3, 4, 5), (4, 5, 3)], [(3, 4, 5, 3)]], True),
    ([[(3, 4), (4, 5), (5, 3)], [(3, 4, 5)], [(3, 4, 5, 3)]], False),             # "4 5 3" missing at the top
    ([[(3, 4), (4, 5), (2, 3)], [(3, 4, 5), (2, 3, 4)], [(2, 3, 4, 5)]], True),
])
def test_suffix_closed_true_and_false(orders, closed):
    tables = _tables(*orders)
    assert suffix_closed(tables) is closed
    # the definition, n-gram by n-gram
    assert closed == all((find_rows(tables, k - 1, tables.ngrams[k][:, 1:]) >= 0).all() for k in range(1, tables.order))


def test_quantise_bins_by_equal_counts_with_exact_specials():
    values = np.concatenate([np.linspace(-4, -1, 1000), np.zeros(200), [-np.inf]])
    column = quantise(values, 4, exact=(0.0,))
    assert column.width == 4
    restored = column.all()
    assert (restored[1000:1200] == 0).all() and restored[-1] == -np.inf
    # 14 bins of about 71 values over [-4, -1]: each value moves by less than a bin's width
    assert np.abs(restored[:1000] - values[:1000]).max() < 3 / 14
    assert len(np.unique(restored)) == 16
    # few enough distinct values: exact
    np.testing.assert_array_equal(quantise(np.array([-1.0, -2.0, -1.0]), 8).all(), [-1.0, -2.0, -1.0])


@pytest.mark.parametrize("width", [1, 3, 7, 13, 31, 33, 63, 64])
def test_slices_packed_apart_join_into_the_packed_array(width):
    """pack_slice of each share at its first field, joined, == pack of the whole (random cuts,
    empty shares among them)."""
    rng = np.random.default_rng(width)
    values = rng.integers(0, 2 ** 63, 1000, dtype=np.uint64) & np.uint64((1 << width) - 1)
    cuts = np.sort(rng.integers(0, len(values) + 1, 6))
    bounds = np.concatenate([[0], cuts, [len(values)]])
    slices = [(int(a) * width // 64, pack_slice(values[a:b], width, int(a))) for a, b in zip(bounds[:-1], bounds[1:])]
    total = words_for(len(values), width, native=False)
    joined = np.concatenate(list(join_slices(slices, total)))
    assert np.array_equal(joined, pack(values, width, native=False))


def test_an_array_streamed_in_pieces_is_written_as_the_whole(tmp_path):
    arrays = {"a": np.arange(10, dtype=np.uint32), "b": np.linspace(0, 1, 7, dtype=np.float32)}
    with open(tmp_path / "whole", "wb") as out:
        write_container(out, {"x": 1}, arrays)
    streamed = {"a": ArrayStream(np.dtype(np.uint32), 10, lambda: (arrays["a"][:3], arrays["a"][3:])), "b": arrays["b"]}
    with open(tmp_path / "pieces", "wb") as out:
        write_container(out, {"x": 1}, streamed)
    assert (tmp_path / "whole").read_bytes() == (tmp_path / "pieces").read_bytes()
    short = {"a": ArrayStream(np.dtype(np.uint32), 11, lambda: (arrays["a"],))}
    with open(tmp_path / "short", "wb") as out, pytest.raises(ValueError, match="a stream of 11 elements gave 10"):
        write_container(out, {}, short)
