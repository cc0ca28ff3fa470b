"""Attribution: every grouping partitions the tokens, so its rows add up to the total difference."""

import math

import numpy as np
import pytest

from lmtool.analysis.attribution import GROUPINGS, attribute, bucket, distances, positions_in_segment, range_labels
from lmtool.errors import DataError
from tests.ngram.helpers import random_sentences, split_of


def test_distances_and_positions_by_hand():
    # ids 3 4 3 2 | 4 2: 3 recurs 2 later; 4 recurs 3 later; </s> recurs 2 later; first occurrences 0
    assert distances(np.array([3, 4, 3, 2, 4, 2])).tolist() == [0, 0, 2, 0, 3, 2]
    assert positions_in_segment(np.array([0, 4, 6])).tolist() == [1, 2, 3, 4, 1, 2]


def test_buckets_and_labels():
    assert range_labels((1, 5, 20)) == ["1-4", "5-19", "20+"]
    assert range_labels((0, 1, 10)) == ["0", "1-9", "10+"]
    assert bucket(np.array([1, 4, 5, 19, 20, 10**6]), (1, 5, 20)).tolist() == [0, 0, 1, 1, 2, 2]


def test_hand_made_attribution():
    # train "<s> a b </s>" x2 and "<s> b </s>" (a=3, b=4); test "<s> a b </s>", "<s> c </s>" (c=5 unseen)
    train = split_of([[3, 4], [3, 4], [4]])
    test = split_of([[3, 4], [5]])
    log_a = np.log([0.5, 0.5, 0.5, 0.25, 0.5])
    log_b = np.log([0.5, 1.0, 0.25, 0.25, 0.5])  # B gains 1 bit on b, loses 1 on the first </s>
    result = attribute(log_a, log_b, test, train, vocab_size=6, novelty_order=3, names=("A", "B"))
    assert result.tokens == 5 and result.bits_gained == pytest.approx(0.0)
    assert result.bits_a == pytest.approx(1 + 1 + 1 + 2 + 1)
    frequency = {r["group"]: r for r in result.groups["frequency"]}
    # training counts: a 2, b 3, </s> 3, c 0
    assert {g: r["tokens"] for g, r in frequency.items()} == {"0": 1, "1-9": 4}
    novelty = {r["group"]: (r["tokens"], r["bits_gained"]) for r in result.groups["novelty"]}
    # a: "<s> a" seen (2); b: "<s> a b" seen (3); </s>: "a b </s>" seen (3); c: unseen (0); </s>: "c </s>" unseen (1)
    assert novelty == {"0": (1, 0.0), "1": (1, 0.0), "2": (1, 0.0), "3": (2, pytest.approx(0.0))}
    position = {r["group"]: (r["tokens"], r["bits_gained"]) for r in result.groups["position"]}
    assert position == {"1": (2, 0.0), "2": (2, pytest.approx(1.0)), "3": (1, pytest.approx(-1.0))}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_grouping_adds_up_to_the_total(seed):
    rng = np.random.default_rng(seed)
    train = split_of(random_sentences(rng, 200, 30, max_len=15))
    test = split_of(random_sentences(rng, 80, 30, max_len=15))
    log_a = np.log(rng.uniform(0.001, 1, size=test.n_tokens))
    log_b = np.log(rng.uniform(0.001, 1, size=test.n_tokens))
    result = attribute(log_a, log_b, test, train, vocab_size=30, novelty_order=4)
    total = math.fsum((log_b - log_a) / math.log(2))  # computed independently of the grouping
    assert result.bits_gained == pytest.approx(total, rel=1e-12)
    assert set(result.groups) == set(GROUPINGS)
    for name, rows in result.groups.items():
        assert sum(r["tokens"] for r in rows) == test.n_tokens, name  # a partition: every token once
        assert math.fsum(r["bits_gained"] for r in rows) == pytest.approx(total, rel=1e-12, abs=1e-9), name
        assert math.fsum(r["share"] for r in rows) == pytest.approx(1.0)
        for r in rows:
            assert r["bits_per_token"] == pytest.approx(r["bits_gained"] / r["tokens"])
            assert r["bits_a"] - r["bits_b"] == pytest.approx(r["bits_per_token"])


def test_without_train_only_the_text_groupings():
    test = split_of([[3, 4], [5]])
    result = attribute(np.zeros(5) - 1, np.zeros(5) - 2, test, None, vocab_size=6)
    assert set(result.groups) == {"distance", "position"}


def test_refusals():
    test = split_of([[3]])
    with pytest.raises(DataError, match="empty"):
        attribute(np.array([]), np.array([]), split_of([], eos=False), None, vocab_size=6)
    with pytest.raises(DataError, match="probability 0"):
        attribute(np.array([-1.0, -np.inf]), np.array([-1.0, -1.0]), test, None, vocab_size=6)
