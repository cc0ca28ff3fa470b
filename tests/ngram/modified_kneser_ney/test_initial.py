"""Stage 3, initial probabilities u and gamma, by hand on the bigram model of the tiny corpus
(conftest.py) with fixed discounts D1 = 0.5, D2 = 0.75, D3+ = 1.25 at both orders."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.ngram.modified_kneser_ney.adjust import adjusted_counts
from lmtool.ngram.modified_kneser_ney.initial import initial_probabilities

D = (0.5, 0.75, 1.25)


def stages(counts, thresholds):
    return list(initial_probabilities(counts, adjusted_counts(counts), [D] * counts.order, thresholds))


def test_unigrams(tiny_counts):
    unigrams = stages(tiny_counts(2), [0, 0])[0]
    # adjusted unigrams over ids <unk> <s> </s> a b: 0 0 1 1 3, total 5
    # u = (a - D(a)) / 5: </s> and a (1 - 0.5) / 5 = 0.1, b (3 - 1.25) / 5 = 0.35, the rest 0
    assert unigrams.order == 1
    np.testing.assert_allclose(unigrams.u, [0.0, 0.0, 0.1, 0.1, 0.35])
    # gamma() = (0.5 + 0.5 + 1.25) / 5 = 0.45
    assert unigrams.gamma == pytest.approx(0.45)


def test_bigrams(tiny_counts):
    bigrams = stages(tiny_counts(2), [0, 0])[1]
    # contexts (unigram rows <s> </s> a b): <s> 2 + 1 = 3, a 2, b 3 + 1 = 4; </s> is no context
    assert bigrams.order == 2 and bigrams.rows == slice(None) and bigrams.contexts.tolist() == [0, 2, 3]
    # rows (<s> a) 2: (2 - 0.75) / 3; (<s> b) 1: (1 - 0.5) / 3; (a b) 2: (2 - 0.75) / 2 = 0.625;
    # (b </s>) 3: (3 - 1.25) / 4 = 0.4375; (b b) 1: (1 - 0.5) / 4 = 0.125
    np.testing.assert_allclose(bigrams.u, [1.25 / 3, 0.5 / 3, 0.625, 0.4375, 0.125])
    # gamma: <s> (0.75 + 0.5) / 3; </s> 0; a 0.75 / 2 = 0.375; b (1.25 + 0.5) / 4 = 0.4375
    np.testing.assert_allclose(bigrams.gamma, [1.25 / 3, 0.0, 0.375, 0.4375])


def test_pruned_bigrams_give_their_mass_to_gamma(tiny_counts):
    bigrams = stages(tiny_counts(2), [0, 1])[1]
    # raw count <= 1 goes: (<s> b) and (b b); the kept rows are 0, 2, 3 with the same u as above
    assert bigrams.rows.tolist() == [0, 2, 3]
    np.testing.assert_allclose(bigrams.u, [1.25 / 3, 0.625, 0.4375])
    # gamma gains the whole adjusted count of each pruned continuation:
    # <s> (0.75 + 1) / 3; a 0.375 (nothing pruned); b (1.25 + 1) / 4 = 0.5625
    np.testing.assert_allclose(bigrams.gamma, [1.75 / 3, 0.0, 0.375, 0.5625])


@pytest.mark.parametrize("thresholds", [[0, 0, 0], [0, 1, 1]])
def test_u_and_gamma_of_every_context_sum_to_one(tiny_counts, thresholds):
    counts = tiny_counts(3)
    unigrams, *higher = stages(counts, thresholds)
    assert unigrams.u.sum() + unigrams.gamma == pytest.approx(1.0)
    for stage in higher:
        k = stage.order - 1
        totals = np.bincount(counts.prefixes[k][stage.rows], weights=stage.u, minlength=len(counts.ngrams[k - 1]))
        np.testing.assert_allclose((totals + stage.gamma)[stage.contexts], 1.0)
