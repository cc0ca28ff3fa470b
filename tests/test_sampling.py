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
    # one uniform per row (draw is vectorised over rows): cumulative .2 .2 .7 1.0
    probs = np.tile([0.2, 0.0, 0.5, 0.3], (6, 1))
    assert draw(probs, np.array([0.0, 0.19, 0.2, 0.69, 0.7, 0.999])).tolist() == [0, 0, 2, 2, 3, 3]
    # each row inverts its own distribution: unnormalised rows are scaled by their own total
    rows = np.array([[0.0, 1.0, 1.0, 0.0], [3.0, 0.0, 0.0, 1.0]])
    assert draw(rows, np.array([0.5, 0.75])).tolist() == [2, 3]  # 0.5 * 2 = 1.0 -> id 2; 0.75 * 4 = 3 -> id 3


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


# -- lockstep sampling against one sample at a time ------------------------------------------------
def reference_samples(model, prompt_ids: list[int], num: int, max_tokens: int, seed: int, *, temperature: float = 1.0,
                      top_k: int | None = None, top_p: float = 1.0, until_eos: bool = False) -> list[list[int]]:
    """Each sample on its own through the one-row protocol (start / next_log_probs / advance), drawing with the
    lockstep sampler's per-row uniforms: step t's are the t-th ``rng.random(num)``, sample i takes entry i."""
    rng = np.random.default_rng(seed)
    uniforms = np.array([rng.random(num) for _ in range(max_tokens)])  # (max_tokens, num)
    samples = []
    for i in range(num):
        state, ids = model.start(prompt_ids), []
        for t in range(max_tokens):
            log_probs = model.next_log_probs(state)
            if temperature == 0:
                token = int(np.argmax(log_probs))
            else:
                cumulative = np.cumsum(shaped_probs(log_probs, temperature, top_k, top_p))
                token = int(np.searchsorted(cumulative, uniforms[t, i] * cumulative[-1], side="right"))
            ids.append(token)
            if until_eos and token == model.vocabulary.id("</s>"):
                break
            state = model.advance(state, token)
        samples.append(ids)
    return samples


def sampled_ids(model, samples) -> list[list[int]]:
    return [[model.vocabulary.id(t) for t in s.tokens] for s in samples]


def assert_lockstep_equals_reference(model, prompt: str, **options) -> list:
    """The lockstep sampler's ids equal the one-at-a-time reference's, token for token; its probabilities the model's."""
    samples = sample(model, prompt, **options)
    prompt_ids = [int(i) for i in model.vocabulary.encode(model.tokenizer.tokenize(prompt))] if prompt else []
    reference = reference_samples(model, prompt_ids, options["num"], options["max_tokens"], options["seed"],
                                  **{k: v for k, v in options.items() if k not in ("num", "max_tokens", "seed")})
    assert sampled_ids(model, samples) == reference
    for result, ids in zip(samples, reference):  # each probability is the model's after the sample's own prefix
        state, probs = model.start(prompt_ids), []
        for token in ids:
            probs.append(np.exp(model.next_log_probs(state)[token]))
            state = model.advance(state, token)
        assert result.probs == pytest.approx(probs, rel=1e-6)
    return samples


@pytest.mark.parametrize("options", [
    {}, {"temperature": 0.7, "top_k": 3}, {"temperature": 1.3, "top_p": 0.8}, {"until_eos": True},
])
def test_lockstep_samples_equal_one_at_a_time_bigram(model, options):
    samples = assert_lockstep_equals_reference(model, "a", num=12, max_tokens=25, seed=4, **options)
    if options.get("until_eos"):  # rows stopped at many different steps and left the others alone
        assert len({len(s.tokens) for s in samples}) > 3


@pytest.fixture(scope="module")
def ngram(tmp_path_factory):
    from lmtool.ngram import fit_ngram

    path = tmp_path_factory.mktemp("text") / "abc.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\na cat and a dog\nthe end\n" * 20)
    return fit_ngram(str(path), 4, split_fractions="1", discount_fallback=True)


@pytest.mark.parametrize("options", [{}, {"temperature": 0.8, "top_p": 0.9}, {"until_eos": True}])
def test_lockstep_samples_equal_one_at_a_time_ngram(ngram, options):
    # order 4: rows restart from <s> at different steps, so contexts of different depths share one batch
    assert_lockstep_equals_reference(ngram, "the", num=10, max_tokens=30, seed=2, **options)


def test_greedy_rows_are_identical(ngram, model):
    for m in (ngram, model):
        samples = sample(m, "a", max_tokens=20, num=5, temperature=0)
        assert len({tuple(s.tokens) for s in samples}) == 1
        assert sampled_ids(m, samples[:1]) == reference_samples(m, [m.vocabulary.id("a")], 1, 20, 0, temperature=0)


def test_rows_that_stop_do_not_disturb_the_others(model):
    # the same seed with and without a stop string: a sample that never meets it is the same sample,
    # and one that does is the same up to where it stopped
    free = sample(model, "a", max_tokens=40, num=16, seed=9)
    stopped = sample(model, "a", max_tokens=40, num=16, seed=9, stop="c b")
    assert {s.ended_by for s in stopped} == {"stop", "max-tokens"}  # both kinds present, so the test bites
    for f, s in zip(free, stopped):
        assert f.tokens[:len(s.tokens)] == s.tokens
        assert s.ended_by == "stop" or f.tokens == s.tokens
        assert s.ended_by != "stop" or ("c b" in f.text and "c b" not in s.text)


def test_one_model_call_per_step_for_all_rows(model):
    class Counting(BigramTable):
        calls: list = []

        def next_log_probs_rows(self, state):
            self.calls.append(len(state))
            return super().next_log_probs_rows(state)

    counting = Counting(["a", "b", "c"], ROWS)
    samples = sample(counting, "", max_tokens=30, num=8, seed=3, until_eos=True)
    lengths = [len(s.tokens) for s in samples]
    assert len(counting.calls) == max(lengths)  # one call a step, not one per sample
    # each step holds exactly the samples still running
    assert counting.calls == [sum(n > t for n in lengths) for t in range(max(lengths))]


def test_samples_do_not_depend_on_the_blocks(ngram, monkeypatch):
    # more samples than one model call holds step in blocks on the same draws: the same samples
    whole = sample(ngram, "the", max_tokens=25, num=11, seed=6, until_eos=True)
    monkeypatch.setattr("lmtool.sampling.BLOCK_ENTRIES", 3 * len(ngram.vocabulary))  # blocks of 3, 3, 3, 2 rows
    blocked = sample(ngram, "the", max_tokens=25, num=11, seed=6, until_eos=True)
    assert [s.tokens for s in blocked] == [s.tokens for s in whole]
    assert [s.probs for s in blocked] == [s.probs for s in whole]
