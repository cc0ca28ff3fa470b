"""The feed-forward neural n-gram: normalised distributions, a window of exactly K tokens, the <s> padding of
the n-gram models, two routes to the same scores, n-gram windows for training, file round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lmtool.errors import ModelFileError, UsageError
from lmtool.neural.batching import NgramWindows, context_windows, segment_start_of
from lmtool.neural.checkpoint import read_model_file, save_model_file
from lmtool.neural.config import NnlmConfig
from lmtool.neural.feedforward import NnlmNetwork
from lmtool.neural.language_model import NnlmModel, load_nnlm, load_rnn
from lmtool.text.prepared import compute_fingerprint
from lmtool.text.tokenizers import make_tokenizer

from .test_language_model import SENTENCES, split_of

CONFIGS = {"full": {}, "adaptive": {"adaptive_cutoffs": [4, 8]}, "direct": {"direct": True},
           "tied": {"tied": True, "hidden_size": 8}, "two-layers": {"layers": 2, "dropout": 0.3}}


def tiny_nnlm(vocabulary, seed: int = 0, unit: str = "line", **changes) -> NnlmModel:
    """An untrained (random) neural n-gram over ``vocabulary``: K = 3 (a 4-gram), m = 8, h = 16."""
    torch.manual_seed(seed)
    config = NnlmConfig(**({"vocab_size": len(vocabulary), "context": 3, "emb_size": 8, "hidden_size": 16} | changes))
    tokenizer = make_tokenizer("word")
    meta = {"format": "lmtool-nnlm", "format_version": 1, "unit": unit, "tokenizer": tokenizer.to_json(),
            "vocabulary": vocabulary.to_json(), "fingerprint": compute_fingerprint(tokenizer, vocabulary, unit)}
    return NnlmModel(NnlmNetwork(config), tokenizer, vocabulary, meta)


@pytest.mark.parametrize("changes", CONFIGS.values(), ids=CONFIGS.keys())
def test_every_distribution_sums_to_one_without_bos(vocabulary, changes):
    model = tiny_nnlm(vocabulary, **changes)
    for context in ([], [3], [3, 4, 5, 6], [2, 9]):
        log_probs = model.next_log_probs(model.start(context))
        assert log_probs.shape == (len(vocabulary),) and log_probs[1] == -math.inf  # <s> is never predicted
        assert np.exp(log_probs).sum() == pytest.approx(1.0, abs=1e-9)
    # the batched scorer gives each target the probability of the same distribution
    split = split_of(SENTENCES)
    scores = model.score(split)
    assert np.all(scores < 0) and np.all(np.isfinite(scores))


def stepwise(model, split) -> np.ndarray:
    """Reference: one token at a time through start/advance, each sentence from <s>."""
    out = []
    for begin, end in zip(split.starts[:-1], split.starts[1:]):
        state = model.start([])
        for token in split.ids[begin:end]:
            out.append(model.next_log_probs(state)[token])
            state = model.advance(state, int(token))
    return np.array(out)


@pytest.mark.parametrize("changes", CONFIGS.values(), ids=CONFIGS.keys())
def test_batched_scoring_equals_stepping_token_by_token(vocabulary, changes):
    model = tiny_nnlm(vocabulary, **changes)
    split = split_of(SENTENCES)
    batched = model.score(split, chunk_tokens=5)
    np.testing.assert_allclose(batched, stepwise(model, split), rtol=1e-6)
    np.testing.assert_array_equal(model.score(split, chunk_tokens=1000), model.score(split, chunk_tokens=1000))
    assert model.log_prob("the cat") == pytest.approx(model.score(split_of([[3, 4]])).sum(), rel=1e-9)


def test_a_token_k_plus_one_back_changes_nothing_one_inside_the_window_does(vocabulary):
    model = tiny_nnlm(vocabulary, direct=True)  # K = 3: a 4-gram, n = 4
    sentence = [3, 4, 5, 6, 7, 8, 9]
    base = model.score(split_of([sentence]))
    target = 6  # the token at position 6 (id 9) sees positions 3, 4, 5
    for back in range(1, len(sentence) + 1 - 1):
        changed = list(sentence)
        changed[target - back] = 10 if changed[target - back] != 10 else 3
        scores = model.score(split_of([changed]))
        if back >= 4:  # n = 4 or more positions back: bit-identical
            assert scores[target] == base[target], back
        else:
            assert scores[target] != base[target], back


def test_sentence_starts_are_padded_with_bos_and_see_no_earlier_sentence(vocabulary):
    model = tiny_nnlm(vocabulary)
    alone = model.score(split_of([[6, 7, 8]]))
    after = model.score(split_of([[3, 4, 5, 9, 10], [6, 7, 8]]))[6:]
    np.testing.assert_array_equal(after, alone)  # the previous sentence (and its </s>) is out of reach
    # the first token is predicted from (<s>, <s>, <s>), as an n-gram predicts it from <s>
    x = torch.tensor([[1, 1, 1]])
    with torch.no_grad():
        expected = torch.log_softmax(model.net(x)[0][0].double(), dim=-1)[6].item()
    assert alone[0] == pytest.approx(expected, rel=1e-6)
    # reset_per_sentence is moot: a window never reaches into another sentence
    split = split_of(SENTENCES)
    np.testing.assert_array_equal(model.score(split, reset_per_sentence=False), model.score(split))


def test_sampling_state_restarts_after_the_sentence_end(vocabulary):
    model = tiny_nnlm(vocabulary)
    # the state is a (rows, K) array of windows; the one-row API gives one row
    assert model.start([]).tolist() == [[1, 1, 1]] and model.start([3, 4]).tolist() == [[1, 3, 4]]
    assert model.advance(model.start([3, 4, 5]), 6).tolist() == [[4, 5, 6]]
    assert model.advance(model.start([3, 4]), 2).tolist() == [[1, 1, 1]]  # </s>: a new sentence from <s>
    stream = tiny_nnlm(vocabulary, unit="stream")
    assert stream.advance(stream.start([3, 4]), 2).tolist() == [[3, 4, 2]]  # no sentences in stream units
    # rows step together, each on its own: only the row that ends its sentence restarts
    rows = model.advance_rows(model.start_rows([3, 4], 3), np.array([5, 2, 6]))
    assert rows.tolist() == [[3, 4, 5], [1, 1, 1], [3, 4, 6]]
    assert model.select_rows(rows, np.array([True, False, True])).tolist() == [[3, 4, 5], [3, 4, 6]]
    np.testing.assert_allclose(model.next_log_probs_rows(rows)[1], model.next_log_probs(model.start([])), rtol=1e-6)


def test_context_windows_match_the_batching_diagram():
    # "the cat sat </s> a dog ran </s>" as ids, two segments, K = 3
    ids = np.array([10, 11, 12, 2, 13, 14, 15, 2])
    starts = np.array([0, 4, 8])
    windows = context_windows(ids, segment_start_of(starts), np.array([5, 2, 0, 7]), 3)
    assert windows.tolist() == [[1, 1, 13], [1, 10, 11], [1, 1, 1], [13, 14, 15]]


def test_ngram_windows_cover_every_position_once_an_epoch_and_depend_on_seed_and_index_only():
    ids = np.arange(3, 43)  # 40 positions in one segment
    batches = NgramWindows(ids, np.array([0, 40]), context=2, batch_size=8, seed=5)
    assert len(batches) == 5
    epoch0 = torch.cat([batches.window(k)[1] for k in range(5)])
    assert sorted(epoch0.tolist()) == ids.tolist()  # a permutation of all positions
    epoch1 = torch.cat([batches.window(k)[1] for k in range(5, 10)])
    assert not torch.equal(epoch0, epoch1)  # a new permutation each epoch
    again = NgramWindows(ids, np.array([0, 40]), context=2, batch_size=8, seed=5)
    x, y = again.window(7)
    assert torch.equal(x, batches.window(7)[0]) and torch.equal(y, batches.window(7)[1])
    assert torch.equal(x[:, 1], torch.where(y > 3, y - 1, torch.ones_like(y)))  # the previous id, <s> at the start
    half = NgramWindows(ids, np.array([0, 40]), context=2, batch_size=8, seed=5, rows=slice(4, 8))
    assert torch.equal(half.window(7)[1], y[4:])


@pytest.mark.parametrize("changes", [{}, {"adaptive_cutoffs": [4, 8]}, {"tied": True, "hidden_size": 8}])
def test_model_file_round_trip_and_kind_checks(vocabulary, tmp_path, changes):
    model = tiny_nnlm(vocabulary, **changes)
    save_model_file(tmp_path / "m.nnlm", model.net, {k: v for k, v in model.meta.items() if not k.startswith("format")})
    net, meta = read_model_file(tmp_path / "m.nnlm")
    assert meta["format"] == "lmtool-nnlm" and isinstance(net, NnlmNetwork) and net.config == model.net.config
    loaded = load_nnlm(tmp_path / "m.nnlm")
    split = split_of(SENTENCES)
    np.testing.assert_array_equal(loaded.score(split), model.score(split))
    assert loaded.describe()["order"] == 4 and loaded.describe()["context"] == 3
    with pytest.raises(ModelFileError, match="holds a nnlm model .* not a rnn one"):
        load_rnn(tmp_path / "m.nnlm")


@pytest.mark.parametrize("changes, message", [
    ({"context": 0}, "--context must be at least 1"),
    ({"direct": True, "adaptive_cutoffs": [4, 8]}, "--direct and --adaptive-softmax cannot be combined"),
    ({"tied": True}, "tied weights need equal embedding and hidden sizes"),
    ({"dropout": 1.0}, "--dropout must be in"),
    ({"adaptive_cutoffs": [4, 40]}, "cutoffs"),
])
def test_nonsense_configs_name_the_flag(changes, message):
    with pytest.raises(UsageError, match=message):
        NnlmConfig(**({"vocab_size": 11, "emb_size": 8, "hidden_size": 16} | changes)).validate()


def test_lockstep_samples_equal_one_at_a_time(vocabulary):
    from tests.test_sampling import assert_lockstep_equals_reference

    assert_lockstep_equals_reference(tiny_nnlm(vocabulary), "the cat", num=8, max_tokens=20, seed=3, until_eos=True)
