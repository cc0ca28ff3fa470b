"""Stage 2, discounts: Chen & Goodman's formula, the fallback, lmplz's statistics quirk, D(a)."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.errors import DataError, UsageError
from lmtool.ngram.modified_kneser_ney.adjust import adjusted_counts
from lmtool.ngram.modified_kneser_ney.discounts import (FALLBACK_DISCOUNTS, discount_of, discounts_from_counts,
                                                         kenlm_statistics, order_discounts)


def test_discounts_chen_goodman_26():
    # counts-of-counts n1=4, n2=2, n3=1, n4=1 -> Y = 4 / (4 + 4) = 0.5
    # D1 = 1 - 2*0.5*2/4 = 0.5, D2 = 2 - 3*0.5*1/2 = 1.25, D3+ = 3 - 4*0.5*1/1 = 1.0
    values = np.array([1, 1, 1, 1, 2, 2, 3, 4, 7])
    d, fell_back = discounts_from_counts(values, 2, fallback=False)
    assert not fell_back and d == pytest.approx((0.5, 1.25, 1.0))


def test_discount_fallback_and_error(caplog):
    values = np.array([1, 1, 2])  # no count 3: D2 undefined
    with pytest.raises(DataError, match="--discount-fallback"):
        discounts_from_counts(values, 3, fallback=False)
    d, fell_back = discounts_from_counts(values, 3, fallback=True)
    assert fell_back and d == (0.5, 1.0, 1.5)
    assert "fallback" in caplog.text


def test_kenlm_statistics_take_the_last_unigram_chain_raw(tiny_counts):
    # first appearance: a (rank 3) before b (rank 4), so lmplz's last unigram is b, which enters
    # the counts-of-counts with its raw count 4 instead of its adjusted 3; the chain goes on to
    # the bigram ending in b whose first word ranks highest, b b (raw 1 = adjusted 1), and stops
    # below the highest order
    counts = tiny_counts(3)
    statistics = kenlm_statistics(counts, adjusted_counts(counts))
    assert [s.tolist() for s in statistics] == [[0, 1, 1, 4], [2, 1, 1, 2, 1], [2, 1, 2, 1]]


def test_order_discounts_fall_back_where_counts_of_counts_have_a_gap(tiny_counts):
    # statistics above: unigrams n2 = 0, bigrams n3 = 0, trigrams n3 = 0: every order falls back
    counts = tiny_counts(3)
    chosen, fallback_orders = order_discounts(counts, adjusted_counts(counts), fallback=True)
    assert chosen == [FALLBACK_DISCOUNTS] * 3 and fallback_orders == [1, 2, 3]
    with pytest.raises(DataError, match="no 1-grams with adjusted count 2"):
        order_discounts(counts, adjusted_counts(counts), fallback=False)


def test_fixed_discounts_are_taken_as_given(tiny_counts):
    counts = tiny_counts(2)
    chosen, fallback_orders = order_discounts(counts, adjusted_counts(counts), False, [(0.5, 1, 1.5), (1, 1, 1)])
    assert chosen == [(0.5, 1.0, 1.5), (1.0, 1.0, 1.0)] and fallback_orders == []
    with pytest.raises(UsageError, match="one discount triple per order"):
        order_discounts(counts, adjusted_counts(counts), False, [(0.5, 1, 1.5)])


def test_discount_of_each_adjusted_count():
    # 0 -> no discount; 1, 2 -> D1, D2; 3 and more -> D3+
    assert discount_of(np.array([0, 1, 2, 3, 7]), (0.5, 0.75, 1.25)).tolist() == [0.0, 0.5, 0.75, 1.25, 1.25]
