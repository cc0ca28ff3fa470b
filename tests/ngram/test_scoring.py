"""Scoring routes that must agree: batch stream scoring, per-n-gram lookups, full distributions,
token-by-token state updates, and sentence sums."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.lm import LanguageModel
from lmtool.ngram import compact, fit_ngram, read_arpa
from lmtool.ngram import tables as tables_module
from lmtool.ngram.tables import LN10, log10_distribution, log10_prob, score_stream
from lmtool.text import EncodedSplit

from .helpers import random_sentences, split_of, vocabulary
from .test_arpa_variants import CANON

V = 15


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    train = split_of(random_sentences(rng, 300, V))
    test = split_of(random_sentences(rng, 40, V))
    return train, test


@pytest.fixture(scope="module", params=[1, 2, 3, 5])
def model(request, data):
    return fit_ngram(data[0], request.param, vocabulary=vocabulary(V - 3), discount_fallback=True)


def test_is_a_language_model(model):
    assert isinstance(model, LanguageModel) and model.kind == "ngram" and model.normalised


def test_stream_scores_equal_single_lookups(model, data):
    test = data[1]
    log10, _ = score_stream(model.tables, test.ids, test.starts)
    width = model.order
    grams = []
    for s in range(test.n_segments):
        padded = [1] + test.ids[test.starts[s] : test.starts[s + 1]].tolist()
        for t in range(1, len(padded)):
            context = padded[max(0, t - width + 1) : t]
            grams.append([-1] * (width - 1 - len(context)) + context + [padded[t]])
    np.testing.assert_allclose(log10, log10_prob(model.tables, np.array(grams)), atol=1e-12)


def test_stream_scores_equal_distribution_entries(model, data):
    test = data[1]
    logp = model.score(test)
    state_scores = []
    for s in range(test.n_segments):
        state = model.start([])
        for token in test.ids[test.starts[s] : test.starts[s + 1]]:
            state_scores.append(model.next_log_probs(state)[token])
            state = model.advance(state, int(token))
    np.testing.assert_allclose(logp, state_scores, atol=1e-9)


def test_sentence_score_is_the_sum_of_token_scores(model, data):
    test = data[1]
    first = test.ids[test.starts[0] : test.starts[1] - 1]  # without </s>
    tokens = [model.vocabulary.token(i) for i in first]
    assert model.score_sentence(tokens) == pytest.approx(model.score(test)[: test.starts[1]].sum())
    assert model.score_sentence(" ".join(tokens)) == pytest.approx(model.score_sentence(tokens))


def test_logprob_api(model, data):
    test = data[1]
    first = test.ids[test.starts[0] : test.starts[1]]
    context = ["<s>"] + [model.vocabulary.token(i) for i in first[:1]]
    expected = model.score(test)[1]
    assert model.logprob(model.vocabulary.token(first[1]), context) == pytest.approx(expected)
    assert model.logprob("<s>", context) == -np.inf


def test_perplexity_definition(model, data):
    test = data[1]
    assert model.perplexity(test) == pytest.approx(np.exp(-model.score(test).mean()))


def test_distribution_batch_equals_rows(model):
    rng = np.random.default_rng(0)
    contexts = rng.integers(0, V, size=(20, 4))
    batch = log10_distribution(model.tables, contexts)
    for i in (0, 7, 19):
        np.testing.assert_allclose(batch[i], log10_distribution(model.tables, contexts[i]).ravel())
        words = np.arange(V)
        grams = np.concatenate([np.repeat(contexts[i][None], V, axis=0), words[:, None]], axis=1)
        expected = log10_prob(model.tables, grams)
        expected[1] = -np.inf
        np.testing.assert_allclose(batch[i], expected, atol=1e-12)


def test_natural_log_conversion(model, data):
    log10, _ = score_stream(model.tables, data[1].ids, data[1].starts)
    np.testing.assert_allclose(model.score(data[1]), log10 * LN10)


def test_one_batch_equals_the_parts_scored_apart(model):
    """Streaming scoring equals batch scoring: 40,000 sentences in one call score as they do in
    seven calls over consecutive pieces (no context leaks across segments of a batch). Its speed
    is measured in bench/bench_ngram.py (scoring tokens/s), not asserted here."""
    big = split_of(random_sentences(np.random.default_rng(2), 40000, V))
    cuts = np.linspace(0, big.n_segments, 8).astype(int)
    parts = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        begin, end = big.starts[a], big.starts[b]
        parts.append(model.score(EncodedSplit(big.ids[begin:end], big.starts[a : b + 1] - begin, 0)))
    np.testing.assert_array_equal(model.score(big), np.concatenate(parts))


@pytest.mark.parametrize("method", ["modified-kneser-ney", "stupid-backoff"])
def test_batched_top_predictions_equal_the_stepwise_ones(data, model, method):
    # NgramModel's batched contexts against the base's one step per token (start / next_log_probs / advance)
    if method != "modified-kneser-ney":
        model = fit_ngram(data[0], model.order, method, vocabulary=vocabulary(V - 3))
    test = data[1]
    count = int(test.starts[12])  # a dozen sentences; a batch of 7 rows forces several batches
    ids, log_probs = model.top_predictions(test, count, 4, batch=7)
    step_ids, step_log_probs = LanguageModel.top_predictions(model, test, count, 4)
    assert ids.shape == (count, 4)
    assert np.allclose(log_probs, step_log_probs, atol=1e-12)
    assert np.array_equal(ids, step_ids)


# "a b a" is listed while its suffix "b a" is not (SRILM's pruning can leave such files)
NOT_SUFFIX_CLOSED = CANON.replace("ngram 2=4", "ngram 2=3").replace("-0.25\tb a\t-0.1\n", "")


@pytest.mark.parametrize("chunk", [2, 5, 1 << 16])
def test_stream_scores_equal_single_lookups_across_segments_and_windows(tmp_path, monkeypatch, chunk):
    # n-grams must not reach across a segment's start, nor a window's edge change a score, also
    # when the tables are not suffix-closed (no lookup is skipped for a missing suffix)
    path = tmp_path / "m.arpa"
    path.write_text(NOT_SUFFIX_CLOSED)
    tables = read_arpa(path).tables
    assert not compact.suffix_closed(tables)
    monkeypatch.setattr(tables_module, "CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    segments = [rng.choice([0, 3, 4], rng.integers(0, 7)).tolist() + [2] for _ in range(60)]
    ids = np.array([i for segment in segments for i in segment])
    starts = np.concatenate([[0], np.cumsum([len(segment) for segment in segments])])
    log10, _ = score_stream(tables, ids, starts)
    grams = []
    for segment in segments:
        padded = [1] + segment
        for t in range(1, len(padded)):
            context = padded[max(0, t - 2) : t]
            grams.append([-1] * (2 - len(context)) + context + [padded[t]])
    np.testing.assert_allclose(log10, log10_prob(tables, np.array(grams)), atol=1e-12)
