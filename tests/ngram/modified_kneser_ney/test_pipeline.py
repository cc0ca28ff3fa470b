"""The whole modified Kneser-Ney pipeline: normalisation at every order, pruning end to end, bad input.

Each stage has its hand-computed tests beside this file (test_adjust.py, test_discounts.py,
test_initial.py, test_interpolate.py, test_prune.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.errors import DataError, UsageError
from lmtool.ngram import fit_ngram
from lmtool.ngram.counting import count_ngrams
from lmtool.ngram.modified_kneser_ney import estimate_modified_kneser_ney
from lmtool.ngram.compact import suffix_closed
from lmtool.ngram.tables import BackoffTables, log10_distribution

from ..helpers import random_sentences, split_of, vocabulary


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


@pytest.mark.parametrize("prune", [None, [0, 1]])
def test_tables_know_their_prefix_rows_and_suffix_closure(prune):
    # two routes to the lookup keys (the counts' prefix rows, one search per word) and to
    # suffix closure (the estimator's argument, a search per n-gram) must agree
    rng = np.random.default_rng(11)
    split = split_of(random_sentences(rng, 300, 25))
    tables, _ = estimate_modified_kneser_ney(count_ngrams(split.ids, split.starts, 4, 25), prune=prune,
                                             discount_fallback=True)
    assert (tables.prefixes is None) == (prune is not None)
    searched = BackoffTables(tables.order, tables.vocab_size, tables.ngrams, tables.log10_probs, tables.log10_backoffs)
    for k in range(tables.order):
        np.testing.assert_array_equal(tables.keys[k], searched.keys[k])
    assert tables.suffix_closed and suffix_closed(searched)


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


def test_high_order_character_like_model_is_normalised_and_consistent():
    # order 10 over 5 symbols: long contexts are listed, so every order of the tables is used
    rng = np.random.default_rng(3)
    split = split_of(random_sentences(rng, 200, 8, max_len=30))
    model = fit_ngram(split, 10, vocabulary=vocabulary(5), discount_fallback=True)
    assert model.order == 10 and model.tables.n_listed()[9] > 0
    # histories cut from the training text (listed contexts of every length) and random ones
    histories = [split.ids[s : s + 9].tolist() for s in split.starts[:-1][:20]]
    histories += rng.integers(3, 8, size=(10, 9)).tolist()
    for history in histories:
        dist = np.exp(model.next_log_probs(model.start(history)))
        assert dist[1] == 0.0 and dist.sum() == pytest.approx(1.0, abs=1e-9)
    # two routes to one number: the per-token scores of a sentence sum to its sentence score
    for s in range(5):
        ids = split.ids[split.starts[s] : split.starts[s + 1] - 1]  # without </s>
        tokens = [model.vocabulary.token(i) for i in ids]
        assert model.score_sentence(tokens) == pytest.approx(model.score(split)[split.starts[s] : split.starts[s + 1]].sum())
