"""The compare experiment's own pieces: method names and the ladder's mixtures of the best n-gram with the neural models."""

import math

import numpy as np
import pytest

from lmtool.compare import SHORT, CompareOptions, ladder_mixtures
from lmtool.errors import UsageError
from lmtool.evaluate import Scored
from lmtool.ngram import METHODS


def test_every_method_has_one_short_row_name():
    assert set(SHORT) == set(METHODS)
    assert len(set(SHORT.values())) == len(SHORT)


def test_unknown_methods_name_the_choices():
    with pytest.raises(UsageError, match="unknown --methods lstm: choose from modified-kneser-ney"):
        CompareOptions(methods=["lstm"]).validate()


class Model:
    def __init__(self, kind: str) -> None:
        self.kind, self.normalised = kind, True


def test_the_rnn_is_mixed_with_the_ngram_best_on_valid():
    ids, starts = np.array([3, 4]), np.array([0, 2])
    test = {"a": np.log([0.5, 0.5]), "b": np.log([0.25, 0.25]), "rnn": np.log([0.5, 0.125])}
    scored = [Scored(name, "ngram", "per-sentence", 0, ids, starts, 4, lp) for name, lp in test.items()]
    # on valid, "b" beats "a"; the RNN is better on the first token, b on the second
    valid = {"a": np.log([0.1, 0.1]), "b": np.log([0.2, 0.4]), "rnn": np.log([0.4, 0.2])}
    (result,) = ladder_mixtures({"a": Model("ngram"), "b": Model("ngram"), "rnn": Model("rnn")}, ["rnn"], scored, valid)
    assert result["models"] == ["b", "rnn"]
    w = result["weights"][0]
    # EM's fixed point for two tokens: w = mean of the posteriors of b, which is 0.5 here by symmetry
    assert w == pytest.approx(0.5, abs=1e-6)
    row = result["scored"]
    assert row.name == "b+rnn" and row.kind == "mixture"
    assert np.exp(row.log_probs) == pytest.approx([0.5 * 0.25 + 0.5 * 0.5, 0.5 * 0.25 + 0.5 * 0.125])
    assert "weights b=0.500, rnn=0.500 (tuned by EM on valid)" in row.notes
    assert result["valid_perplexity"] == pytest.approx(math.exp(-np.mean(np.log([0.3, 0.3]))))


def test_with_two_neural_models_each_is_mixed_with_the_ngram_then_all_three():
    ids, starts = np.array([3]), np.array([0, 1])
    test = {"kn": np.log([0.5]), "nnlm": np.log([0.25]), "rnn": np.log([0.125])}
    scored = [Scored(name, "ngram", "per-sentence", 0, ids, starts, 1, lp) for name, lp in test.items()]
    valid = {"kn": np.log([0.2, 0.1]), "nnlm": np.log([0.1, 0.2]), "rnn": np.log([0.3, 0.3])}
    models = {"kn": Model("ngram"), "nnlm": Model("nnlm"), "rnn": Model("rnn")}
    mixes = ladder_mixtures(models, ["nnlm", "rnn"], scored, valid)
    assert [m["name"] for m in mixes] == ["kn+nnlm", "kn+rnn", "kn+nnlm+rnn"]
    # the neural n-gram is no n-gram to mix with: "kn" is the only candidate though nnlm is as good on valid
    assert all(m["models"][0] == "kn" for m in mixes)
    # kn and nnlm mirror each other on the two valid tokens: EM's fixed point is 0.5 each
    assert mixes[0]["weights"] == pytest.approx([0.5, 0.5], abs=1e-6)
    assert np.exp(mixes[2]["scored"].log_probs) == pytest.approx(
        [sum(w * p for w, p in zip(mixes[2]["weights"], [0.5, 0.25, 0.125]))])
