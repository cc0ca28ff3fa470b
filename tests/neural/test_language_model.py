"""RnnModel scoring: carried state, batched per-sentence scoring, sampling states, the training loss."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmtool.lm import LanguageModel
from lmtool.neural.language_model import load_rnn
from lmtool.neural.training import evaluate_stream
from lmtool.text.encoding import EncodedSplit

from .conftest import tiny_model


def split_of(sentences: list[list[int]]) -> EncodedSplit:
    ids = np.concatenate([np.array(s + [2], dtype=np.int32) for s in sentences])
    starts = np.cumsum([0] + [len(s) + 1 for s in sentences]).astype(np.int64)
    return EncodedSplit(ids=ids, starts=starts, n_chars=0)


SENTENCES = [[3, 4, 5], [6, 3, 7, 8, 9, 10], [], [4], [3, 4, 5, 6, 7, 8, 9, 10, 3, 4]]


def stepwise(model, ids, boundaries) -> np.ndarray:
    """Reference: one token at a time through start/advance, restarting at each boundary."""
    out, state = [], None
    for t, token in enumerate(ids):
        if t in boundaries:
            state = model.start([])
        out.append(model.next_log_probs(state)[token])
        state = model.advance(state, int(token))
    return np.array(out)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
def test_carried_state_scoring_equals_one_pass(vocabulary, cell):
    model = tiny_model(vocabulary, cell=cell)
    split = split_of(SENTENCES)
    whole = model.score(split, reset_per_sentence=False)
    chunked = model.score(split, reset_per_sentence=False, chunk_tokens=3)  # state carried over 3-token chunks
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    np.testing.assert_allclose(stepwise(model, split.ids, {0}), whole, rtol=1e-5)


def test_reset_scoring_equals_scoring_each_sentence_alone(vocabulary):
    model = tiny_model(vocabulary, adaptive_cutoffs=[4, 8])
    split = split_of(SENTENCES)
    batched = model.score(split, reset_per_sentence=True, chunk_tokens=8)  # several sentences side by side
    alone = np.concatenate([model.score(split_of([s]), reset_per_sentence=True) for s in SENTENCES])
    np.testing.assert_allclose(batched, alone, rtol=1e-6)
    np.testing.assert_allclose(stepwise(model, split.ids, set(split.starts[:-1].tolist())), batched, rtol=1e-5)
    # resetting changes later sentences (their context differs), never the first one
    carried = model.score(split, reset_per_sentence=False)
    assert np.allclose(carried[:4], batched[:4]) and not np.allclose(carried, batched)


def test_score_agrees_with_the_training_loss(vocabulary):
    model = tiny_model(vocabulary)
    split = split_of(SENTENCES * 3)
    loss = evaluate_stream(model.net, split.ids, batch_size=1, bptt=5)  # the validation path, one row
    assert -model.score(split, reset_per_sentence=False).mean() == pytest.approx(loss, rel=1e-6)


def test_protocol_and_api(vocabulary, tmp_path):
    model = tiny_model(vocabulary)
    assert isinstance(model, LanguageModel)
    state = model.advance(model.start([3]), 4)
    log_probs = model.next_log_probs(state)
    assert log_probs.shape == (len(vocabulary),) and log_probs[1] == -math.inf
    assert np.exp(log_probs).sum() == pytest.approx(1.0, abs=1e-9)
    distribution = model.next_token_distribution("the cat", top=3)
    assert len(distribution) == 3 and list(distribution.values()) == sorted(distribution.values(), reverse=True)
    assert next(iter(distribution.values())) == pytest.approx(np.exp(log_probs.max()), rel=1e-6)
    # "the cat </s>" = ids 3 4 2, scored from <s>
    assert model.log_prob("the cat") == pytest.approx(model.score(split_of([[3, 4]])).sum(), rel=1e-9)
    split = split_of(SENTENCES)
    assert model.perplexity(split) == pytest.approx(math.exp(-model.score(split).mean()))


def test_load_rnn_round_trip(vocabulary, tmp_path):
    from lmtool.neural.checkpoint import save_model_file

    model = tiny_model(vocabulary)
    save_model_file(tmp_path / "m.rnn", model.net, {k: v for k, v in model.meta.items() if not k.startswith("format")})
    loaded = load_rnn(tmp_path / "m.rnn")
    split = split_of(SENTENCES)
    np.testing.assert_array_equal(loaded.score(split), model.score(split))
    assert loaded.vocabulary == vocabulary and loaded.describe()["parameters"] > 0


@pytest.mark.parametrize("reset", [True, False])
def test_batched_top_predictions_equal_the_stepwise_ones(vocabulary, reset):
    model = tiny_model(vocabulary)
    split = split_of(SENTENCES)
    count = split.n_tokens - 3
    ids, log_probs = model.top_predictions(split, count, 3, reset_per_sentence=reset)
    step_ids, step_log_probs = LanguageModel.top_predictions(model, split, count, 3, reset_per_sentence=reset)
    assert ids.shape == (count, 3)
    assert np.allclose(log_probs, step_log_probs, atol=1e-5)
    assert np.array_equal(ids, step_ids)
    # no token that comes next scores above the top prediction
    assert np.allclose(log_probs[:, 0] >= model.score(split, reset_per_sentence=reset)[:count] - 1e-6, True)


@pytest.mark.parametrize("cell, options", [
    ("lstm", {}), ("gru", {"temperature": 0.8, "top_k": 5}), ("lstm", {"until_eos": True}),
    ("lstm", {"temperature": 0}),
])
def test_lockstep_samples_equal_one_at_a_time(vocabulary, cell, options):
    # one batched forward per step for all rows gives each row what the one-row protocol gives it alone
    from tests.test_sampling import assert_lockstep_equals_reference

    model = tiny_model(vocabulary, cell=cell, adaptive_cutoffs=[4, 8] if cell == "lstm" else [])
    samples = assert_lockstep_equals_reference(model, "the cat", num=9, max_tokens=20, seed=5, **options)
    if options.get("until_eos"):
        assert len({len(s.tokens) for s in samples}) > 2  # rows left the batch at different steps


def test_batched_state_is_layers_rows_hidden(vocabulary):
    model = tiny_model(vocabulary)
    state = model.start_rows([3, 4], 5)
    assert [h.shape for h in state.hidden] == [(2, 5, 16)] * 2 and state.output.shape == (5, 16)
    moved = model.advance_rows(state, np.array([5, 6, 2, 7, 8]))
    kept = model.select_rows(moved, np.array([False, True, False, True, False]))
    assert [h.shape for h in kept.hidden] == [(2, 2, 16)] * 2
    log_probs = model.next_log_probs_rows(kept)
    assert log_probs.shape == (2, len(vocabulary))
    np.testing.assert_array_equal(log_probs, model.next_log_probs_rows(moved)[[1, 3]])
    # row 1 (id 6 after "the cat") stepped alone gives the same distribution
    alone = model.next_log_probs(model.advance(model.start([3, 4]), 6))
    np.testing.assert_allclose(log_probs[0], alone, rtol=1e-5)


def test_carried_splits_side_by_side_equal_each_alone(vocabulary):
    # two independent carried sequences (a valid and a test split) as two rows of the same passes
    model = tiny_model(vocabulary, adaptive_cutoffs=[4, 8])
    valid, test = split_of(SENTENCES * 3), split_of(SENTENCES[::-1] * 2)
    both = model.score_splits([valid, test], reset_per_sentence=False, chunk_tokens=16)  # 2 rows x 8 steps a pass
    for split, scores in zip((valid, test), both):
        np.testing.assert_allclose(scores, model.score(split, reset_per_sentence=False), rtol=1e-6)
        np.testing.assert_allclose(scores, stepwise(model, split.ids, {0}), rtol=1e-5)
    # per sentence, the splits' sentences mix in the same groups; still each sentence alone
    reset = model.score_splits([valid, test], reset_per_sentence=True, chunk_tokens=16)
    np.testing.assert_allclose(reset[1], model.score(test), rtol=1e-6)
    assert LanguageModel.score_splits(model, [valid, test])[0] == pytest.approx(reset[0], rel=1e-6)  # the base's loop


def test_rows_leave_their_group_when_their_sequence_ends(vocabulary):
    # sentences longer than a pass is wide (32 steps), of many lengths: groups of 2 rows whose shorter row
    # leaves after the first pass; every figure equals the one-token-at-a-time reference
    rng = np.random.default_rng(0)
    sentences = [rng.integers(3, 11, size=n).tolist() for n in (70, 3, 45, 33, 31, 64, 1, 12, 40)]
    model = tiny_model(vocabulary, cell="gru")
    split = split_of(sentences)
    scores = model.score(split, reset_per_sentence=True, chunk_tokens=64)
    np.testing.assert_allclose(scores, stepwise(model, split.ids, set(split.starts[:-1].tolist())), rtol=1e-5)
