"""Stage 4, interpolation into backoff tables, by hand on the tiny corpus (conftest.py) with
fixed discounts D1 = 0.5, D2 = 0.75, D3+ = 1.25 at every order (the u and gamma of
test_initial.py)."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.ngram.counting import count_ngrams
from lmtool.ngram.modified_kneser_ney import estimate_modified_kneser_ney
from lmtool.ngram.modified_kneser_ney.adjust import adjusted_counts
from lmtool.ngram.modified_kneser_ney.initial import initial_probabilities
from lmtool.ngram.modified_kneser_ney.interpolate import interpolate

from ..helpers import split_of

D = (0.5, 0.75, 1.25)
# p(w) = u(w) + gamma() / (V - 1) = u(w) + 0.45 / 4: <unk> 0.1125, </s> and a 0.2125, b 0.4625;
# <s> is written with probability 1 (log10 0), as lmplz writes it
UNIGRAMS = [0.1125, 1.0, 0.2125, 0.2125, 0.4625]


def tables_of(counts, thresholds):
    initial = initial_probabilities(counts, adjusted_counts(counts), [D] * counts.order, thresholds)
    return interpolate(counts, initial)


def test_bigram_model(tiny_counts):
    tables = tables_of(tiny_counts(2), [0, 0])
    np.testing.assert_allclose(10 ** tables.log10_probs[0], UNIGRAMS)
    assert tables.ngrams[1].tolist() == [[1, 3], [1, 4], [3, 4], [4, 2], [4, 4]]
    # p(w|h) = u(w|h) + gamma(h) p(w):
    #   p(a|<s>)   = 1.25/3 + 1.25/3 * 0.2125 = 1.515625/3
    #   p(b|<s>)   = 0.5/3 + 1.25/3 * 0.4625  = 1.078125/3 = 0.359375
    #   p(b|a)     = 0.625 + 0.375 * 0.4625   = 0.7984375
    #   p(</s>|b)  = 0.4375 + 0.4375 * 0.2125 = 0.53046875
    #   p(b|b)     = 0.125 + 0.4375 * 0.4625  = 0.32734375
    np.testing.assert_allclose(10 ** tables.log10_probs[1],
                               [1.515625 / 3, 0.359375, 0.7984375, 0.53046875, 0.32734375])
    # backoff weights are the gammas of the contexts; </s> and <unk> are none (weight 1)
    np.testing.assert_allclose(10 ** tables.log10_backoffs[0], [1.0, 1.25 / 3, 1.0, 0.375, 0.4375])
    np.testing.assert_allclose(tables.log10_backoffs[1], 0.0)


def test_pruned_trigram_model_drops_pruned_contexts(tiny_counts):
    tables = tables_of(tiny_counts(3), [0, 1, 1])
    # raw counts <= 1 go: bigrams (<s> b) (b b), trigrams (<s> b b) (b b </s>)
    assert tables.ngrams[1].tolist() == [[1, 3], [3, 4], [4, 2]]
    assert tables.ngrams[2].tolist() == [[1, 3, 4], [3, 4, 2]]
    np.testing.assert_allclose(10 ** tables.log10_probs[0], UNIGRAMS)  # unigrams are never pruned
    # bigram contexts (adjusted counts 2 1 | 1 | 2 1 after <s> | a | b; the 1s after <s> and b pruned):
    #   gamma(<s>) = (0.75 + 1) / 3, gamma(a) = 0.5 / 1, gamma(b) = (0.75 + 1) / 3
    #   p(a|<s>)  = 1.25/3 + 1.75/3 * 0.2125 = 0.540625
    #   p(b|a)    = 0.5 + 0.5 * 0.4625        = 0.73125
    #   p(</s>|b) = 1.25/3 + 1.75/3 * 0.2125 = 0.540625
    np.testing.assert_allclose(10 ** tables.log10_probs[1], [0.540625, 0.73125, 0.540625])
    # trigram contexts <s> a (2) and a b (2): u = (2 - 0.75) / 2 = 0.625, gamma = 0.75 / 2 = 0.375
    #   p(b|<s> a)  = 0.625 + 0.375 * 0.73125  = 0.89921875
    #   p(</s>|a b) = 0.625 + 0.375 * 0.540625 = 0.827734375
    np.testing.assert_allclose(10 ** tables.log10_probs[2], [0.89921875, 0.827734375])
    # the pruned contexts <s> b and b b have a gamma but no row: only the kept ones get weights
    np.testing.assert_allclose(10 ** tables.log10_backoffs[1], [0.375, 0.375, 1.0])
    np.testing.assert_allclose(10 ** tables.log10_backoffs[0], [1.0, 1.75 / 3, 1.0, 0.5, 1.75 / 3])


def test_unigram_model():
    # order 1 on "<s> a a b </s>": raw counts a 2, b 1, </s> 1; discounts D1=0.5, D2=1, D3+=1.5
    # denominator 4; gamma = (D1*2 [b, </s>] + D2*1 [a]) / 4 = 0.5; uniform over V-1 = 4 ids
    # p(a) = (2-1)/4 + 0.5/4 = 0.375; p(b) = p(</s>) = 0.5/4 + 0.125 = 0.25; p(<unk>) = 0.125
    split = split_of([[3, 3, 4]])
    counts = count_ngrams(split.ids, split.starts, 1, 5)
    tables, _ = estimate_modified_kneser_ney(counts, discounts=[(0.5, 1.0, 1.5)])
    assert 10 ** tables.log10_probs[0][[0, 2, 3, 4]] == pytest.approx([0.125, 0.25, 0.375, 0.25])
