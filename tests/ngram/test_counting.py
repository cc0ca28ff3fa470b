"""Counting: hand-counted small cases and agreement with a plain Python counter."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmtool.errors import UsageError
from lmtool.ngram.counting import (count_ngrams, first_seen_ranks, lexicographic_permutation, padded_stream,
                                   seen_lengths, token_positions)

from .helpers import random_sentences, split_of


def test_hand_counted_bigrams():
    # "<s> a b </s>" and "<s> a a b </s>" (a=3, b=4, </s>=2, <s>=1)
    split = split_of([[3, 4], [3, 3, 4]])
    counts = count_ngrams(split.ids, split.starts, 2, 5)
    assert counts.ngrams[0][:, 0].tolist() == [1, 2, 3, 4]
    assert counts.counts[0].tolist() == [2, 2, 3, 2]  # <s> once per sentence
    bigrams = {tuple(g): int(c) for g, c in zip(counts.ngrams[1].tolist(), counts.counts[1])}
    assert bigrams == {(1, 3): 2, (3, 3): 1, (3, 4): 2, (4, 2): 2}
    # links to the order below, by row (unigram rows <s> </s> a b are 0 1 2 3):
    # <s> a -> prefix <s>, suffix a; a a -> a, a; a b -> a, b; b </s> -> b, </s>
    assert counts.prefixes[1].tolist() == [0, 2, 2, 3]
    assert counts.suffixes[1].tolist() == [2, 2, 3, 1]


def test_rows_sorted_and_links_consistent():
    rng = np.random.default_rng(0)
    split = split_of(random_sentences(rng, 50, 12))
    counts = count_ngrams(split.ids, split.starts, 4, 12)
    for k in range(4):
        grams = counts.ngrams[k]
        order = np.lexsort(grams.T[::-1])
        assert np.array_equal(order, np.arange(len(grams)))
        assert len(np.unique(grams, axis=0)) == len(grams)
        if k:
            np.testing.assert_array_equal(counts.ngrams[k - 1][counts.prefixes[k]], grams[:, :-1])
            np.testing.assert_array_equal(counts.ngrams[k - 1][counts.suffixes[k]], grams[:, 1:])


def test_agrees_with_python_counter():
    rng = np.random.default_rng(1)
    sentences = random_sentences(rng, 80, 10)
    split = split_of(sentences)
    counts = count_ngrams(split.ids, split.starts, 3, 10)
    for n in (1, 2, 3):
        expected = Counter()
        for s in sentences:
            padded = [1] + s + [2]
            expected.update(tuple(padded[i : i + n]) for i in range(len(padded) - n + 1))
        got = {tuple(g): int(c) for g, c in zip(counts.ngrams[n - 1].tolist(), counts.counts[n - 1])}
        assert got == dict(expected)


def test_stream_unit_single_segment_and_short_segments():
    split = split_of([[3]], eos=False)  # "<s> a": no bigram crosses the end
    counts = count_ngrams(split.ids, split.starts, 3, 4)
    assert counts.ngrams[1].tolist() == [[1, 3]] and len(counts.ngrams[2]) == 0


@settings(max_examples=100, deadline=None)
@given(segments=st.lists(st.lists(st.integers(0, 9), max_size=5), max_size=6))
def test_padded_stream_puts_one_bos_before_every_segment_even_empty_ones(segments):
    split = split_of(segments, eos=False)
    stream, segment_end = padded_stream(split.ids, split.starts)
    expected, ends, positions = [], [], []
    for segment in segments:
        begin = len(expected)
        positions += range(begin + 1, begin + 1 + len(segment))
        expected += [1] + segment
        ends += [len(expected)] * (len(segment) + 1)
    assert stream.tolist() == expected and segment_end.tolist() == ends
    assert token_positions(split.starts).tolist() == positions


def test_first_seen_ranks_follow_first_appearance():
    # stream <s> 5 3 5 4: first appearances 5, 3, 4 after the specials; id 6 never seen
    ranks = first_seen_ranks(np.array([1, 5, 3, 5, 4]), 7)
    assert ranks.tolist() == [0, 1, 2, 4, 5, 3, 6]


def test_order_must_be_positive():
    split = split_of([[3]])
    with pytest.raises(UsageError, match="order"):
        count_ngrams(split.ids, split.starts, 0, 4)


@settings(max_examples=200, deadline=None)
@given(radix=st.sampled_from([2, 7, 81, 256, 257, 14117, 65536, 65537, 2**20]), width=st.integers(1, 7),
       length=st.integers(0, 200), seed=st.integers(0, 2**32 - 1))
def test_lexicographic_permutation_matches_lexsort_for_every_radix_regime(radix, width, length, seed):
    # radices packed several to a digit (<= 256), one per digit (<= 2**16), split in two (above)
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if radix <= 1 << 16 else np.int64
    columns = [rng.integers(0, min(radix, 3 + length // 4), length).astype(dtype) for _ in range(width)]
    columns[0][: length // 2] = radix - 1  # the largest value occurs
    perm = lexicographic_permutation(columns, radix)
    np.testing.assert_array_equal(perm, np.lexsort(columns[::-1]))  # lexsort is stable too


@settings(max_examples=60, deadline=None)
@given(vocab=st.sampled_from([5, 40, 300, 70_000]), order=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_counts_agree_with_a_python_counter_for_every_vocabulary_size(vocab, order, seed):
    rng = np.random.default_rng(seed)
    sentences = [rng.integers(3, min(vocab, 3 + rng.integers(1, 12)), rng.integers(0, 9)).tolist()
                 for _ in range(rng.integers(1, 30))]
    sentences = [[vocab - 1] + s for s in sentences[:2]] + sentences[2:]  # the largest id occurs
    split = split_of(sentences)
    counts = count_ngrams(split.ids, split.starts, order, vocab)
    for n in range(1, order + 1):
        expected = Counter()
        for s in sentences:
            padded = [1] + s + [2]
            expected.update(tuple(padded[i : i + n]) for i in range(len(padded) - n + 1))
        grams = counts.ngrams[n - 1]
        assert {tuple(g): int(c) for g, c in zip(grams.tolist(), counts.counts[n - 1])} == dict(expected)
        assert np.array_equal(np.lexsort(grams.T[::-1]), np.arange(len(grams)))  # rows sorted
        if n > 1:
            np.testing.assert_array_equal(counts.ngrams[n - 2][counts.prefixes[n - 1]], grams[:, :-1])
            np.testing.assert_array_equal(counts.ngrams[n - 2][counts.suffixes[n - 1]], grams[:, 1:])


def test_seen_lengths_by_hand():
    # training "<s> a b </s>", "<s> a a b </s>"; test "<s> b a b </s>", "<s> c </s>" (a=3 b=4 c=5 </s>=2)
    train = split_of([[3, 4], [3, 3, 4]])
    test = split_of([[4, 3, 4], [5]])
    counts = count_ngrams(train.ids, train.starts, 3, 6)
    # b: "<s> b" unseen -> 1; a: "b a" unseen -> 1; b: "a b" seen, "b a b" unseen -> 2;
    # </s>: "a b </s>" seen -> 3 (capped at the order); c: never seen -> 0; </s>: "c </s>" unseen -> 1
    assert seen_lengths(counts, test.ids, test.starts).tolist() == [1, 1, 2, 3, 0, 1]


def test_seen_lengths_match_a_plain_search():
    rng = np.random.default_rng(5)
    train, test = split_of(random_sentences(rng, 60, 7)), split_of(random_sentences(rng, 40, 7))
    counts = count_ngrams(train.ids, train.starts, 4, 7)
    seen = set()
    for sentence in train.segments():
        padded = [1, *sentence.tolist()]
        seen |= {tuple(padded[i - n + 1:i + 1]) for i in range(len(padded)) for n in range(1, 5) if i - n + 1 >= 0}
    expected = []
    for sentence in test.segments():
        padded = [1, *sentence.tolist()]
        expected += [max([n for n in range(1, 5) if i - n + 1 >= 0 and tuple(padded[i - n + 1:i + 1]) in seen],
                         default=0) for i in range(1, len(padded))]
    assert seen_lengths(counts, test.ids, test.starts).tolist() == expected
