"""gen: corpora: exact entropy rates checked by hand, determinism, and the text they produce."""

import math

import numpy as np
import pytest

from corpora import markov, repeat
from lmtool.errors import DataError, UsageError
from lmtool.text import load_corpus


def text_of(corpus, split="train"):
    return "".join(corpus.vocabulary.decode(corpus.splits[split].ids))


def test_two_state_chain_entropy_by_hand():
    # P(a->a)=0.9, P(a->b)=0.1, P(b->a)=P(b->b)=0.5.
    # Stationary: pi_a * 0.1 = pi_b * 0.5  ->  pi = (5/6, 1/6).
    # H(0.1) = -0.1 log2 0.1 - 0.9 log2 0.9 = 0.332193 + 0.136803 = 0.468996
    # rate = 5/6 * 0.468996 + 1/6 * 1 = 0.390830 + 0.166667 = 0.557497 bits/symbol
    P = np.array([[0.9, 0.1], [0.5, 0.5]])
    assert markov.stationary(P) == pytest.approx([5 / 6, 1 / 6], abs=1e-12)
    assert markov.entropy_rate_bits(P) == pytest.approx(0.557497, abs=1e-6)


def test_order_two_stationary_distribution_is_stationary():
    P = markov.transitions(order=2, alphabet=3, seed=5)
    pi = markov.stationary(P)
    successor = (np.arange(9)[:, None] * 3 + np.arange(3)) % 9
    moved = np.bincount(successor.ravel(), weights=(pi[:, None] * P).ravel(), minlength=9)
    assert pi.sum() == pytest.approx(1) and moved == pytest.approx(pi, abs=1e-14)


def test_markov_sample_has_the_stated_entropy_rate():
    # the empirical conditional entropy of a long sample approaches the exact rate
    P = markov.transitions(order=1, alphabet=3, seed=2)
    symbols = markov.sample(P, 200_000, seed=2)
    pairs = np.bincount(symbols[:-1].astype(int) * 3 + symbols[1:], minlength=9).reshape(3, 3)
    conditional = pairs / pairs.sum(axis=1, keepdims=True)
    empirical = -(pairs / pairs.sum() * np.log2(conditional)).sum()
    assert empirical == pytest.approx(markov.entropy_rate_bits(P), abs=0.01)


def test_repeat_entropy_by_hand_and_structure():
    # keys=2 (1 bit), 2 fillers of 1 bit each, block of 4 symbols: (1 + 2 * 1) / 4 = 0.75
    assert repeat.entropy_rate_bits(keys=2, fillers=2, gap=2) == 0.75
    corpus = load_corpus("gen:repeat:keys=3,fillers=2,gap=5,length=3000", split_fractions="1")
    assert corpus.entropy_rate_bits == pytest.approx((math.log2(3) + 5) / 7)
    text = text_of(corpus)
    keys = [i for i, c in enumerate(text) if c.isupper()]
    # keys come in pairs G + 1 = 6 apart, the same letter twice (the first may lack its opener)
    first = 1 if keys[1] - keys[0] != 6 else 0
    pairs = list(zip(keys[first::2], keys[first + 1 :: 2]))
    assert all(b - a == 6 and text[a] == text[b] for a, b in pairs)
    assert set(text) <= set("ABCab")


def test_generated_corpora_are_deterministic_char_streams():
    a = load_corpus("gen:markov:order=2,alphabet=3,length=500,seed=7")
    b = load_corpus("gen:markov:order=2,alphabet=3,length=500,seed=7")
    c = load_corpus("gen:markov:order=2,alphabet=3,length=500,seed=8")
    assert (a.unit, a.tokenizer.kind) == ("stream", "char")
    assert a.splits == b.splits and a.splits != c.splits
    # contiguous cut of 500 symbols 0.8/0.1/0.1
    assert [a.splits[s].n_tokens for s in ("train", "valid", "test")] == [400, 50, 50]
    assert set(text_of(a)) <= set("abc")


@pytest.mark.parametrize(
    "spec,error,message",
    [
        ("gen:markov:order=two", UsageError, "order must be an integer"),
        ("gen:markov:colour=red", UsageError, "has no option colour"),
        ("gen:markov:order", UsageError, "key=value"),
        ("gen:markov:alphabet=1", UsageError, "alphabet must be at least 2"),
        ("gen:markov:alphabet=27", UsageError, "at most 26"),
        ("gen:markov:order=30", UsageError, "too many"),
        ("gen:repeat:gap=-1", UsageError, "gap must be at least 0"),
        ("gen:brackets", DataError, "unknown generated corpus gen:brackets"),
    ],
)
def test_bad_generator_specs(spec, error, message):
    with pytest.raises(error, match=message):
        load_corpus(spec)


def test_generated_corpora_need_char_stream():
    with pytest.raises(UsageError, match="--tokenizer char --unit stream"):
        load_corpus("gen:markov", tokenizer="word")
