"""Sampling over the protocol: determinism, the drawn distribution, shaping, stopping, bad options."""

import logging

import numpy as np
import pytest

from lmtool.errors import UsageError
from lmtool.sampling import MAX_NUM, MAX_TOKENS_LIMIT, check_options, detokenize, draw, sample, shaped_probs
from tests.lm_fakes import BigramTable

# P[next | prev]; "</s>" has no row: an n-gram never conditions on it, the sampler restarts at <s>.
ROWS = {
    "<s>": {"a": 0.5, "b": 0.3, "c": 0.1, "</s>": 0.05, "<unk>": 0.05},
    "a": {"a": 0.1, "b": 0.6, "c": 0.0, "</s>": 0.3, "<unk>": 0.0},
    "b": {"a": 0.2, "b": 0.0, "c": 0.4, "</s>": 0.4, "<unk>": 0.0},
    "c": {"a": 0.25, "b": 0.25, "c": 0.25, "</s>": 0.25, "<unk>": 0.0},
    "<unk>": {"a": 0.0, "b": 0.0, "c": 0.9, "</s>": 0.1, "<unk>": 0.0},
}


@pytest.fixture(scope="module")
def model():
    return BigramTable(["a", "b", "c"], ROWS)


def chi_square(counts: np.ndarray, expected_probs: np.ndarray) -> float:
    """Pearson's statistic over the cells with positive expected probability (inf if a 0 cell was drawn)."""
    total = counts.sum()
    keep = expected_probs > 0
    if counts[~keep].sum():
        return float("inf")
    expected = total * expected_probs[keep]
    return float(((counts[keep] - expected) ** 2 / expected).sum())


# Critical values of chi-square at p = 0.001: df 4 -> 18.47, df 2 -> 13.82, df 1 -> 10.83.
# A correct sampler exceeds them one time in a thousand; the seeds are fixed, so the test is stable.


def first_token_counts(model, n: int, **options) -> np.ndarray:
    samples = sample(model, "", max_tokens=1, num=n, seed=7, **options)
    ids = [model.vocabulary.id(s.tokens[0]) for s in samples]
    return np.bincount(ids, minlength=len(model.vocabulary))


def test_first_tokens_follow_the_model_distribution(model):
    counts = first_token_counts(model, 4000)
    probs = np.exp(model.next_log_probs(model.start([])))
    assert chi_square(counts, probs) < 18.47  # df = 5 possible tokens - 1
    # A sampler off by one id, or uniform, is far outside: its statistic is in the hundreds.
    assert chi_square(counts, np.roll(probs, 1)) > 100


def test_transitions_follow_the_model_given_a_prompt(model):
    samples = sample(model, "b", max_tokens=1, num=3000, seed=3)
    counts = np.bincount([model.vocabulary.id(s.tokens[0]) for s in samples], minlength=len(model.vocabulary))
    assert chi_square(counts, model.table[model.vocabulary.id("b")]) < 13.82  # a, c, </s>: df 2


def test_temperature_and_top_k_reshape_the_distribution(model):
    # T = 0.5 squares the probabilities: a .25, b .09, c .01, </s> .0025, <unk> .0025 over a sum of .355.
    counts = first_token_counts(model, 4000, temperature=0.5)
    expected = np.array([0.0025, 0, 0.0025, 0.25, 0.09, 0.01]) / 0.355
    assert chi_square(counts, expected) < 18.47
    # top-k 2 keeps a and b: .5/.8 and .3/.8.
    counts = first_token_counts(model, 2000, top_k=2)
    assert chi_square(counts, np.array([0, 0, 0, 0.625, 0.375, 0])) < 10.83


def test_top_p_keeps_the_smallest_nucleus():
    probs = np.array([0.05, 0.0, 0.05, 0.5, 0.3, 0.1])
    with np.errstate(divide="ignore"):
        log_probs = np.log(probs)
    # 0.5 alone is below 0.7; 0.5 + 0.3 reaches it: the nucleus is {a, b}.
    assert shaped_probs(log_probs, 1.0, top_p=0.7) == pytest.approx([0, 0, 0, 0.625, 0.375, 0])
    # top_p 0.5 is reached by a alone.
    assert shaped_probs(log_probs, 1.0, top_p=0.5) == pytest.approx([0, 0, 0, 1, 0, 0])
    assert shaped_probs(log_probs, 1.0, top_p=1.0) == pytest.approx(probs)


def test_draw_inverts_the_cumulative_sum():
    class Fixed:
        def __init__(self, u):
            self.u = u

        def random(self):
            return self.u

    probs = np.array([0.2, 0.0, 0.5, 0.3])
    assert [draw(probs, Fixed(u)) for u in (0.0, 0.19, 0.2, 0.69, 0.7, 0.999)] == [0, 0, 2, 2, 3, 3]


def test_same_seed_same_text(model):
    first = [s.text for s in sample(model, "a", max_tokens=30, num=5, seed=11)]
    again = [s.text for s in sample(model, "a", max_tokens=30, num=5, seed=11)]
    other = [s.text for s in sample(model, "a", max_tokens=30, num=5, seed=12)]
    assert first == again
    assert first != other


def test_greedy_follows_the_arg_max(model):
    # <s> -> a (.5) -> b (.6) -> c/</s> tie (.4): arg max takes the lower id, </s> (2) -> restart <s> -> a ...
    (result,) = sample(model, "", max_tokens=5, temperature=0)
    assert result.tokens == ["a", "b", "</s>", "a", "b"]
    assert result.probs == pytest.approx([0.5, 0.6, 0.4, 0.5, 0.6])
    assert result.text == "a b\na b"


def test_until_eos_and_stop_string(model):
    for result in sample(model, "", max_tokens=200, num=20, seed=1, until_eos=True):
        assert result.ended_by in ("eos", "max-tokens")
        assert "\n" not in result.text
        assert result.ended_by != "eos" or result.tokens[-1] == "</s>"
    for result in sample(model, "a", max_tokens=200, num=20, seed=2, stop="c"):
        assert "c" not in result.text[1:]
        assert result.ended_by == "stop" or len(result.tokens) == 200
        assert result.text.startswith("a")


def test_sampling_continues_after_the_sentence_end(model):
    # "</s>" has no row (all zero): the model's advance restarts from <s>, the sampler goes on.
    (result,) = sample(model, "", max_tokens=300, seed=5)
    assert result.tokens.count("</s>") > 10
    assert all(p > 0 for p in result.probs)


def test_oov_prompt_tokens_become_unk_with_a_warning(model, caplog):
    with caplog.at_level(logging.WARNING, logger="lmtool.sampling"):
        (result,) = sample(model, "zebra", max_tokens=1, temperature=0)
    assert "zebra" in caplog.text and "<unk>" in caplog.text
    assert result.tokens == ["c"]  # the <unk> row: c .9
    assert result.text == "zebra c"  # the prompt is kept as written


@pytest.mark.parametrize("options", [
    {"temperature": -0.1}, {"temperature": float("nan")}, {"top_p": 0.0}, {"top_p": 1.5},
    {"max_tokens": 0}, {"num": 0}, {"top_k": -1}, {"stop": ""},
])
def test_absurd_values_are_usage_errors(model, options):
    with pytest.raises(UsageError):
        sample(model, "a", **{"max_tokens": 5, **options})


@pytest.mark.parametrize("name, edge, beyond", [
    ("max_tokens", 1, 0), ("max_tokens", MAX_TOKENS_LIMIT, MAX_TOKENS_LIMIT + 1), ("num", 1, 0),
    ("num", MAX_NUM, MAX_NUM + 1), ("temperature", 0.0, -1e-9), ("top_k", 0, -1), ("top_p", 1.0, 1.0 + 1e-9),
    ("top_p", 1e-9, 0.0), ("stop", "\n\n", ""),
])
def test_check_options_accepts_the_edges_and_refuses_one_step_beyond(name, edge, beyond):
    usual = {"max_tokens": 10, "num": 3, "temperature": 1.0, "top_k": None, "top_p": 1.0, "stop": None}
    check_options(**{**usual, name: edge})  # no error at the edge
    with pytest.raises(UsageError, match=f"--{name.replace('_', '-')}"):
        check_options(**{**usual, name: beyond})


def test_edge_values_sample(model):
    # greedy at temperature 0; the smallest nucleus keeps only the most probable token (a, .5 after <s>)
    assert [s.tokens for s in sample(model, "", max_tokens=1, num=3, temperature=0.0, seed=1)] == [["a"]] * 3
    assert [s.tokens for s in sample(model, "", max_tokens=1, num=20, top_p=1e-9, seed=1)] == [["a"]] * 20
    # top_k 0 is "off": the draws cover more than the two most probable tokens
    drawn = {s.tokens[0] for s in sample(model, "", max_tokens=1, num=200, top_k=0, seed=1)}
    assert len(drawn) >= 3


def test_detokenize_breaks_lines_at_sentence_ends(model):
    assert detokenize(model.tokenizer, ["a", "b", "</s>", "c"]) == "a b\nc"
