"""The Python API: fitting from a spec with corpus options, and sampling through the protocol."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.errors import UsageError
from lmtool.ngram import fit_ngram


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n" * 30)
    return path


def test_fit_from_spec_with_corpus_options(text_file):
    model = fit_ngram(str(text_file), 4, "witten-bell", tokenizer="char", unit="stream", split_fractions="1")
    assert model.unit == "stream" and model.tokenizer.to_json()["kind"] == "char"
    assert model.training["segments"] == 1 and model.describe()["method"] == "witten-bell"
    # a character model has learned the text: "the" then " " is likely
    assert model.logprob(" ", ["<s>", "t", "h", "e"]) > np.log(0.5)


def test_sampling_through_the_protocol(text_file):
    model = fit_ngram(str(text_file), 3, split_fractions="1", discount_fallback=True)
    rng = np.random.default_rng(0)
    state, words = model.start([]), []
    for _ in range(40):
        p = np.exp(model.next_log_probs(state))
        assert p[1] == 0 and p.sum() == pytest.approx(1.0)
        token = int(rng.choice(len(p), p=p))
        words.append(model.vocabulary.token(token))
        state = model.advance(state, token)
    assert "<s>" not in words and "</s>" in words
    the = model.vocabulary.id("the")
    assert np.array_equal(model.advance(model.start([the]), 2), model.start([]))  # </s> restarts


@pytest.mark.parametrize("order", [0, -1, 2.5, True])
def test_bad_orders(text_file, order):
    with pytest.raises(UsageError, match="order"):
        fit_ngram(str(text_file), order, split_fractions="1")


@pytest.mark.parametrize("fit", ["in-memory", "out-of-core"])
def test_bad_options_fail_before_the_corpus_is_read(tmp_path, fit):
    # the corpus does not exist: a DataError would mean it was read before the options were checked
    missing = str(tmp_path / "missing.txt")
    if fit == "in-memory":
        call = lambda **params: fit_ngram(missing, 3, params.pop("method"), **params)  # noqa: E731
    else:
        from lmtool.ngram.external import fit_external

        call = lambda **params: fit_external(missing, 3, params.pop("method", "modified-kneser-ney"),  # noqa: E731
                                             1 << 20, **params)
    with pytest.raises(UsageError, match="k"):
        call(method="witten-bell", k=0.5)
    with pytest.raises(UsageError, match="no-such-method"):
        call(method="no-such-method")
