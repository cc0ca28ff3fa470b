"""Tokenizers: round trips, readable detokenization, and bit-identical JSON restore."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmtool.errors import DataError, UsageError
from lmtool.text import make_tokenizer, tokenizer_from_json

TRAIN = ["the cat sat on the mat\n", "the dog ate the cat's dinner\n", "naïve café — 日本語 text\n"] * 30


@pytest.fixture(scope="module")
def bpe():
    tokenizer = make_tokenizer("bpe", vocab_size=300)
    tokenizer.train(TRAIN)
    return tokenizer


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_char_round_trip_is_exact(text):
    tokenizer = make_tokenizer("char")
    assert tokenizer.detokenize(tokenizer.tokenize(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_bpe_round_trip_is_exact_for_any_text(bpe, text):
    # byte level: every string, newlines, NULs and unseen scripts included, survives
    assert bpe.detokenize(bpe.tokenize(text)) == text


def test_char_keeps_newlines_and_spaces_as_tokens():
    assert make_tokenizer("char").tokenize("a b\n") == ["a", " ", "b", "\n"]


def test_word_splits_on_any_whitespace():
    tokenizer = make_tokenizer("word")
    assert tokenizer.tokenize("  the\tcat\u00a0 sat \n") == ["the", "cat", "sat"]
    assert tokenizer.detokenize(["the", "cat"]) == "the cat"


def test_treebank_splits_punctuation_and_detokenizes_readably():
    tokenizer = make_tokenizer("treebank")
    tokens = tokenizer.tokenize("They'll pay $3.50, won't they?")
    assert tokens == ["They", "'ll", "pay", "$", "3.50", ",", "wo", "n't", "they", "?"]
    assert tokenizer.detokenize(tokens) == "They'll pay $3.50, won't they?"


def test_bpe_learns_frequent_words_as_single_tokens(bpe):
    assert "Ġcat" in bpe.tokenize("the cat")
    assert len(bpe.tokenize("the cat sat")) < len("the cat sat")


def test_bpe_training_is_deterministic(bpe):
    again = make_tokenizer("bpe", vocab_size=300)
    again.train(TRAIN)
    assert again.to_json() == bpe.to_json()


@pytest.mark.parametrize("kind", ["word", "treebank", "char", "bpe"])
def test_json_restore_is_bit_identical(kind, bpe):
    tokenizer = bpe if kind == "bpe" else make_tokenizer(kind)
    text = json.dumps(tokenizer.to_json(), sort_keys=True)
    restored = tokenizer_from_json(json.loads(text))
    assert json.dumps(restored.to_json(), sort_keys=True) == text
    sample = "the cat's naïve dinner\n"
    assert restored.tokenize(sample) == tokenizer.tokenize(sample)
    assert restored == tokenizer


def test_unknown_kind_and_bad_options_are_user_errors():
    with pytest.raises(UsageError, match="unknown tokenizer 'chars'"):
        make_tokenizer("chars")
    with pytest.raises(UsageError, match="takes no option vocab_size"):
        make_tokenizer("word", vocab_size=10)
    with pytest.raises(UsageError, match="at least 257"):
        make_tokenizer("bpe", vocab_size=100)
    with pytest.raises(DataError, match="unknown tokenizer kind"):
        tokenizer_from_json({"kind": "morse"})
    with pytest.raises(DataError, match="no trained model"):
        tokenizer_from_json({"kind": "bpe", "vocab_size": 300})


def test_untrained_bpe_says_so():
    with pytest.raises(UsageError, match="not been trained"):
        make_tokenizer("bpe").tokenize("x")
