"""The LanguageModel base: the one perplexity, and the API it writes once, against hand arithmetic."""

import math

import numpy as np
import pytest

from lmtool.errors import UsageError
from lmtool.lm import LanguageModel, perplexity
from lmtool.text import EncodedSplit, compute_fingerprint
from tests.lm_fakes import ROWS, BigramTable

@pytest.fixture(scope="module")
def model():
    return BigramTable(["a", "b", "c"], ROWS)


def test_perplexity_is_exp_of_mean_negative_log_prob():
    # probabilities 1/2 and 1/8: mean -log2 = (1 + 3) / 2 = 2 bits, perplexity 4.
    bits, ppl = perplexity(np.log([0.5, 0.125]))
    assert bits == pytest.approx(2.0)
    assert ppl == pytest.approx(4.0)
    assert perplexity(np.array([math.log(0.5), -math.inf]))[1] == math.inf
    assert math.isnan(perplexity(np.array([]))[1])


def test_encode_appends_the_sentence_end_in_line_units(model):
    assert model.encode("a zebra").tolist() == [3, 0, 2]  # zebra is out of vocabulary: <unk>
    assert model.encode(["a", "b"]).tolist() == [3, 4, 2]  # a list is taken as tokens
    assert model.encode("a zebra", sentence_end=False).tolist() == [3, 0]


def test_log_prob_of_text_tokens_and_ids(model):
    # a b </s> from <s>: .5 * .6 * .3
    assert model.log_prob("a b") == pytest.approx(math.log(0.5 * 0.6 * 0.3))
    assert model.log_prob(["a", "b"]) == pytest.approx(math.log(0.5 * 0.6 * 0.3))
    # ids are scored as given, no </s> added: .5 * .6
    assert model.log_prob([3, 4]) == pytest.approx(math.log(0.5 * 0.6))
    assert model.log_prob(np.array([3, 4])) == pytest.approx(math.log(0.5 * 0.6))


def test_next_token_distribution_is_sorted_and_cut(model):
    # after <s> a: b .6, then <unk>, </s>, a, c at .1 each (ties keep id order)
    distribution = model.next_token_distribution("a")
    assert list(distribution) == ["b", "<unk>", "</s>", "a", "c"]
    assert list(distribution.values()) == pytest.approx([0.6, 0.1, 0.1, 0.1, 0.1])
    assert model.next_token_distribution([3], top=1) == pytest.approx({"b": 0.6})
    assert model.next_token_distribution("", top=1) == pytest.approx({"a": 0.5})  # after <s> alone


def test_perplexity_of_a_split(model):
    # "a b" / "c": a b </s> c </s> = .5 .6 .3 | .2 .2
    split = EncodedSplit(ids=np.array([3, 4, 2, 5, 2], dtype=np.int32), starts=np.array([0, 3, 5]), n_chars=6)
    assert model.perplexity(split) == pytest.approx((0.5 * 0.6 * 0.3 * 0.2 * 0.2) ** (-1 / 5))
    empty = EncodedSplit(ids=np.array([], dtype=np.int32), starts=np.array([0]), n_chars=0)
    with pytest.raises(UsageError, match="empty split"):
        model.perplexity(empty)


def test_fingerprint_and_unit_come_from_the_base(model):
    assert model.unit == "line"
    assert model.fingerprint == compute_fingerprint(model.tokenizer, model.vocabulary, "line")
    with pytest.raises(AttributeError):
        model.unit = "stream"  # read-only: the fingerprint depends on it


def test_a_family_must_provide_scoring_and_stepping():
    class ScoreOnly(LanguageModel):
        kind = "half"

        def score(self, split, *, reset_per_sentence=True):
            return np.zeros(len(split.ids))

    with pytest.raises(TypeError, match="abstract"):
        ScoreOnly(None, None)


SHARED = ("tokenizer", "vocabulary", "unit", "fingerprint", "encode", "log_prob", "next_token_distribution",
          "perplexity")


@pytest.mark.parametrize("module, name", [("lmtool.ngram.model", "NgramModel"),
                                          ("lmtool.neural.language_model", "RnnModel")])
def test_both_families_take_the_shared_work_from_the_base(module, name):
    import importlib

    if "neural" in module:
        pytest.importorskip("torch")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, LanguageModel)
    copies = [attribute for attribute in SHARED if attribute in vars(cls)]
    assert copies == [], f"{name} redefines {copies}: the base does that once"
