"""Modified Kneser-Ney by hand on tiny data, normalisation, pruning, the fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmtool.errors import DataError, UsageError
from lmtool.ngram import fit_ngram
from lmtool.ngram.counting import count_ngrams
from lmtool.ngram.modified_kn import adjusted_counts, discounts_from_counts, estimate_modified_kneser_ney
from lmtool.ngram.tables import log10_distribution

from .helpers import random_sentences, split_of, vocabulary


def test_adjusted_counts_by_hand():
    # "<s> a b </s>", "<s> b b </s>", "<s> a b </s>" (a=3, b=4), order 2
    split = split_of([[3, 4], [4, 4], [3, 4]])
    counts = count_ngrams(split.ids, split.starts, 2, 5)
    a = adjusted_counts(counts)
    # unigrams (rows <s>, </s>, a, b): <s> 0; </s> preceded by b only -> 1;
    # a preceded by <s> only -> 1; b preceded by a, <s>, b -> 3
    assert a[0].tolist() == [0, 1, 1, 3]
    # bigrams keep raw counts at the highest order: <s>a 2, <s>b 1, ab 2, b</s> 3, bb 1
    assert dict(zip(map(tuple, counts.ngrams[1].tolist()), a[1].tolist())) == {
        (1, 3): 2, (1, 4): 1, (3, 4): 2, (4, 2): 3, (4, 4): 1}


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


def test_unigram_model_by_hand():
    # order 1 on "<s> a a b </s>": raw counts a 2, b 1, </s> 1; fixed discounts D1=0.5, D2=1, D3+=1.5
    # denominator 4; gamma = (D1*2 [b, </s>] + D2*1 [a]) / 4 = 0.5; uniform over V-1 = 4 ids
    # p(a) = (2-1)/4 + 0.5/4 = 0.375; p(b) = p(</s>) = 0.5/4 + 0.125 = 0.25; p(<unk>) = 0.125
    split = split_of([[3, 3, 4]])
    counts = count_ngrams(split.ids, split.starts, 1, 5)
    tables, _ = estimate_modified_kneser_ney(counts, discounts=[(0.5, 1.0, 1.5)])
    assert 10 ** tables.log10_probs[0][[0, 2, 3, 4]] == pytest.approx([0.125, 0.25, 0.375, 0.25])


@pytest.mark.parametrize("order", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("prune", [None, [0, 1], [0, 0, 1]])
def test_distributions_sum_to_one(order, prune):
    rng = np.random.default_rng(order)
    V = 30
    split = split_of(random_sentences(rng, 400, V))
    counts = count_ngrams(split.ids, split.starts, order, V)
    tables, _ = estimate_modified_kneser_ney(counts, prune=prune, discount_fallback=True)
    contexts = rng.integers(0, V, size=(64, max(order - 1, 1)))
    contexts[:8, 0] = 1  # sentence starts
    contexts[8:16] = split.ids[: (order - 1) or 1][None, :] if order > 1 else contexts[8:16]  # seen ones
    dist = 10 ** log10_distribution(tables, contexts)
    assert dist[:, 1].max() == 0.0  # <s> is never predicted
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, atol=1e-6)


def test_pruning_drops_rare_ngrams_keeps_normalisation():
    rng = np.random.default_rng(5)
    split = split_of(random_sentences(rng, 300, 20))
    full = fit_ngram(split, 3, vocabulary=vocabulary(17), discount_fallback=True)
    pruned = fit_ngram(split, 3, vocabulary=vocabulary(17), prune=[0, 1, 1], discount_fallback=True)
    assert pruned.tables.n_listed()[0] == full.tables.n_listed()[0]
    assert pruned.tables.n_listed()[1] < full.tables.n_listed()[1]
    assert pruned.tables.n_listed()[2] < full.tables.n_listed()[2]
    dist = np.exp([pruned.next_log_probs(pruned.start([i, j])) for i in range(3, 20) for j in range(3, 20)])
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, atol=1e-6)
    # the perplexity on the training text rises when rare n-grams go
    assert pruned.perplexity(split) > full.perplexity(split)


@pytest.mark.parametrize("prune", [[1, 1], [0, 2, 1], [0, -1]])
def test_bad_prune_thresholds(prune):
    split = split_of([[3, 4]] * 20)
    with pytest.raises(UsageError):
        fit_ngram(split, 3, vocabulary=vocabulary(2), prune=prune, discount_fallback=True)


def test_empty_training_text_is_a_data_error():
    split = split_of([])
    with pytest.raises(DataError, match="empty"):
        fit_ngram(split, 3, vocabulary=vocabulary(2))


def test_high_order_character_like_model():
    rng = np.random.default_rng(3)
    split = split_of(random_sentences(rng, 200, 8, max_len=30))
    model = fit_ngram(split, 10, vocabulary=vocabulary(5), discount_fallback=True)
    assert model.order == 10 and math.isfinite(model.perplexity(split))
