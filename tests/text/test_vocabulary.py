"""Vocabulary: reserved ids, frequency order with string tie-break, cut-offs, OOV mapping."""

import numpy as np
import pytest

from lmtool.errors import DataError, UsageError
from lmtool.text import BOS, EOS, UNK, Vocabulary

# the cat the dog the cat a   -> the 3, cat 2, dog 1, a 1 (and 2 sentence ends)
COUNTS = {"the": 3, "cat": 2, "dog": 1, "a": 1, EOS: 2}


def test_reserved_ids_then_frequency_then_token_string():
    vocab = Vocabulary.build(COUNTS)
    # "a" and "dog" tie at 1: code-point order puts "a" first
    assert vocab.tokens == [UNK, BOS, EOS, "the", "cat", "a", "dog"]
    assert vocab.counts.tolist() == [0, 0, 2, 3, 2, 1, 1]
    assert [vocab.id(t) for t in (UNK, BOS, EOS)] == [0, 1, 2]


def test_order_does_not_depend_on_insertion_order():
    reversed_counts = dict(reversed(list(COUNTS.items())))
    assert Vocabulary.build(reversed_counts) == Vocabulary.build(COUNTS)


def test_ties_use_code_point_order_not_locale():
    vocab = Vocabulary.build({"b": 1, "B": 1, "a": 1, "é": 1})
    assert vocab.tokens[3:] == ["B", "a", "b", "é"]


def test_min_count_merges_rare_types_into_unk_count():
    vocab = Vocabulary.build(COUNTS, min_count=2)
    assert vocab.tokens == [UNK, BOS, EOS, "the", "cat"]
    # dog 1 + a 1 dropped -> <unk> count 2
    assert vocab.counts[0] == 2


def test_max_vocab_keeps_the_most_frequent_besides_reserved():
    vocab = Vocabulary.build(COUNTS, max_vocab=3)
    assert vocab.tokens == [UNK, BOS, EOS, "the", "cat", "a"]
    assert vocab.counts[0] == 1  # dog


def test_encode_maps_oov_and_literal_unk_to_zero_and_literal_bos_is_oov():
    vocab = Vocabulary.build(COUNTS)
    ids = vocab.encode(["the", "zebra", UNK, BOS, EOS])
    assert ids.dtype == np.int32
    assert ids.tolist() == [3, 0, 0, 0, 2]
    assert vocab.id("zebra") == 0 and vocab.token(3) == "the"
    assert vocab.decode([3, 4]) == ["the", "cat"]


def test_literal_unk_in_counts_adds_to_unk():
    vocab = Vocabulary.build({"x": 2, UNK: 5})
    assert vocab.tokens == [UNK, BOS, EOS, "x"] and vocab.counts[0] == 5


def test_json_round_trip():
    vocab = Vocabulary.build(COUNTS, min_count=2)
    assert Vocabulary.from_json(vocab.to_json()) == vocab


def test_bad_values_are_user_errors():
    with pytest.raises(UsageError, match="min-count"):
        Vocabulary.build(COUNTS, min_count=0)
    with pytest.raises(UsageError, match="max-vocab"):
        Vocabulary.build(COUNTS, max_vocab=0)
    with pytest.raises(DataError, match="must start with"):
        Vocabulary(["a", "b", "c"], [1, 1, 1])
    with pytest.raises(DataError, match="malformed"):
        Vocabulary.from_json({"tokens": [UNK, BOS, EOS]})
