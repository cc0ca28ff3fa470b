"""nltk:NAME and brown-bengio2003 against the counts the issue states (needs ../shared/nltk_data)."""

import pytest

from lmtool.errors import DataError
from lmtool.text import load_corpus


@pytest.fixture(scope="session")
def brown_bengio(nltk_data):
    """Loaded once per session: reading Brown through NLTK takes a few seconds."""
    return load_corpus("brown-bengio2003")


def test_brown_bengio2003_split_counts(brown_bengio):
    splits = brown_bengio.splits
    sentences = {name: split.n_segments for name, split in splits.items()}
    # tokens = words + one </s> per sentence
    words = {name: split.n_tokens - split.n_segments for name, split in splits.items()}
    assert sentences == {"train": 35_523, "valid": 11_690, "test": 10_127}
    assert words == {"train": 800_001, "valid": 200_021, "test": 161_170}
    # min count 4 by default for this corpus: 14,113 kept types + <unk> (+ <s> and </s>)
    assert len(brown_bengio.vocabulary) == 14_113 + 3
    assert min(brown_bengio.vocabulary.counts[3:]) >= 4


def test_nltk_treebank_sentences_and_case(nltk_data):
    corpus = load_corpus("nltk:treebank", split_fractions="1")
    train = corpus.splits["train"]
    # the NLTK Penn Treebank sample: 3,914 sentences, 100,676 words
    assert (train.n_segments, train.n_tokens - train.n_segments) == (3_914, 100_676)
    assert "Pierre" in corpus.vocabulary.tokens


def test_missing_nltk_data_says_how_to_get_it(nltk_data, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(nltk_data)])
    with pytest.raises(DataError, match=r"nltk\.download\('gutenberg'\).*NLTK_DATA"):
        load_corpus("nltk:gutenberg")


@pytest.mark.parametrize("name,message", [("util", "not an NLTK corpus"), ("Brown!", "expected an NLTK corpus name")])
def test_not_a_corpus(name, message):
    with pytest.raises(DataError, match=message):
        load_corpus(f"nltk:{name}")
