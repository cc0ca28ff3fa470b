"""The context-length curve: n-grams by order, RNN windows, the targets every K shares, refusals."""

import math

import numpy as np
import pytest

from lmtool.analysis.context_curve import (choose_targets, context_curve, curve_table, describe_sample, parse_contexts,
                                           plot_context_curve)
from lmtool.errors import DataError, UsageError
from lmtool.lm import perplexity
from lmtool.text import load_corpus
from tests.conftest import save_rnn

TEXT = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog ran\nthe mat is red\n" * 6


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A word corpus, Witten-Bell n-grams of orders 1 and 3, and a tiny untrained LSTM."""
    pytest.importorskip("torch")
    from lmtool.neural import load_rnn
    from lmtool.ngram import fit_ngram

    root = tmp_path_factory.mktemp("curve")
    (root / "text.txt").write_text(TEXT)
    corpus = load_corpus(str(root / "text.txt"), split_fractions="0.6,0.2,0.2")
    save_rnn(root / "tiny.rnn", corpus)
    models = {"wb1": fit_ngram(corpus, order=1, method="witten-bell"),
              "wb3": fit_ngram(corpus, order=3, method="witten-bell"), "rnn": load_rnn(root / "tiny.rnn")}
    return corpus, models


def test_per_sentence_curve(setup):
    corpus, models = setup
    test = corpus.splits["test"]
    longest = int(np.diff(test.starts).max())
    curve = context_curve(models, test, [1, 2, longest], reset_per_sentence=True)
    assert curve.regime == "per-sentence" and curve.scored == curve.eligible == test.n_tokens  # nothing skipped
    rows = {r["model"]: r for r in curve.rows}
    # n-grams: one value wherever K reaches their context (order - 1), their ordinary perplexity
    assert rows["wb3"]["perplexity"][0] is None and rows["wb3"]["context_size"] == 2
    assert rows["wb3"]["perplexity"][1:] == pytest.approx([models["wb3"].perplexity(test)] * 2)
    assert rows["wb1"]["perplexity"] == pytest.approx([models["wb1"].perplexity(test)] * 3)
    # the RNN with K >= the longest sentence under per-sentence reset: its per-sentence perplexity
    per_sentence = models["rnn"].perplexity(test, reset_per_sentence=True)
    assert rows["rnn"]["perplexity"][2] == pytest.approx(per_sentence, rel=1e-5)
    assert rows["rnn"]["full"] == pytest.approx(per_sentence, rel=1e-9)
    assert rows["rnn"]["bits_per_token"][2] == pytest.approx(math.log2(rows["rnn"]["perplexity"][2]))


def test_carried_curve_skips_the_first_targets(setup):
    corpus, models = setup
    test = corpus.splits["test"]
    curve = context_curve({"rnn": models["rnn"]}, test, [1, 4, 8], reset_per_sentence=False)
    assert curve.regime == "carried" and curve.eligible == test.n_tokens - 7
    full = models["rnn"].score(test, reset_per_sentence=False)[7:]
    assert curve.rows[0]["full"] == pytest.approx(perplexity(full)[1])
    assert "the first 7 skipped" in describe_sample(curve)


def test_sampled_targets_are_seeded(setup):
    corpus, models = setup
    test = corpus.splits["test"]
    one = context_curve({"rnn": models["rnn"]}, test, [2], positions=10, seed=3)
    two = context_curve({"rnn": models["rnn"]}, test, [2], positions=10, seed=3)
    assert one.scored == 10 and one.rows == two.rows
    assert "a sample of 10 of" in describe_sample(one)
    targets, eligible = choose_targets(100, 5, 10, seed=0)
    assert eligible == 95 and len(targets) == 10 and np.all(np.diff(targets) > 0) and targets.min() >= 5


def test_table_and_plot(setup, tmp_path):
    import matplotlib.image

    corpus, models = setup
    curve = context_curve(models, corpus.splits["test"], [1, 2, 4], reset_per_sentence=True)
    rows, columns = curve_table(curve)
    assert list(columns) == ["model", "kind", "sees", "k1", "k2", "k4", "full"]
    assert rows[1]["k1"] == "-" and rows[2]["sees"] == "all"
    plot_context_curve(curve, tmp_path / "curve.png", floor=2.0)
    assert matplotlib.image.imread(tmp_path / "curve.png").shape[0] > 100


def test_refusals(setup):
    corpus, models = setup
    test = corpus.splits["test"]
    with pytest.raises(UsageError, match="at least 1"):
        parse_contexts("0,1")
    with pytest.raises(UsageError, match="whole numbers"):
        parse_contexts("1,two")
    with pytest.raises(UsageError, match="at least 1"):
        context_curve(models, test, [0, 2])
    with pytest.raises(DataError, match="empty"):
        choose_targets(0, 0, None, 0)
    with pytest.raises(DataError, match="largest context"):
        context_curve({"rnn": models["rnn"]}, test, [test.n_tokens + 1], reset_per_sentence=False)
    from lmtool.ngram import fit_ngram

    other = fit_ngram(load_corpus("gen:markov:order=1,alphabet=3,length=300"), order=2, method="witten-bell")
    with pytest.raises(UsageError, match="different vocabularies"):
        context_curve({"wb3": models["wb3"], "other": other}, test, [2])


def test_any_bounded_family_is_flat_beyond_its_window(tmp_path):
    # a model family other than n-grams that sees a fixed window (a feed-forward neural n-gram, say)
    # needs only context_size: the base scores it for every K at least that window
    from tests.lm_fakes import ROWS, BigramTable
    from tests.ngram.helpers import split_of

    class WindowModel(BigramTable):
        kind = "window"
        context_size = 1

    model = WindowModel(["a", "b", "c"], ROWS)
    split = split_of([[3, 4, 5], [4, 3]])
    curve = context_curve({"window": model}, split, [1, 2, 8], reset_per_sentence=True)
    assert curve.rows[0]["perplexity"] == pytest.approx([model.perplexity(split)] * 3)
    assert curve.rows[0]["context_size"] == 1
    plot_context_curve(curve, tmp_path / "curve.png")
    with pytest.raises(UsageError, match="sees 1 token of context"):
        model.score_contexts(split, [0], np.arange(3))
