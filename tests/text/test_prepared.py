"""Prepared corpora: save/load identical, atomic writes, incomplete or tampered directories rejected."""

import json
import os

import numpy as np
import pytest

from lmtool.errors import DataError, UsageError
from lmtool.text import PreparedCorpus, encode_corpus, load_corpus


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("the cat sat\nthe dog sat\na cat ran\nthe end\n" * 5)
    return load_corpus(str(path), tokenizer="bpe", bpe_vocab_size=270)


def test_save_load_is_identical(corpus, tmp_path):
    corpus.save(tmp_path / "prep")
    loaded = load_corpus(str(tmp_path / "prep"))
    assert loaded.splits == corpus.splits
    assert loaded.vocabulary == corpus.vocabulary
    assert loaded.tokenizer.to_json() == corpus.tokenizer.to_json()
    assert (loaded.fingerprint, loaded.unit, loaded.source) == (corpus.fingerprint, corpus.unit, corpus.source)
    assert loaded.split_types == corpus.split_types
    manifest = json.loads((tmp_path / "prep" / "manifest.json").read_text())
    assert manifest["splits"]["train"]["tokens"] == corpus.splits["train"].n_tokens
    assert sorted(os.listdir(tmp_path / "prep")) == sorted(
        ["manifest.json", "tokenizer.json", "vocab.json"]
        + [f"{s}{x}.npy" for s in ("train", "valid", "test") for x in ("", ".starts")]
    )


def test_resaving_replaces_and_leaves_no_temporaries(corpus, tmp_path):
    corpus.save(tmp_path / "prep")
    corpus.save(tmp_path / "prep")
    assert sorted(os.listdir(tmp_path)) == ["prep", "t.txt"]


def test_interrupted_write_leaves_nothing_that_looks_complete(corpus, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("lmtool.text.prepared._install", crash)
    with pytest.raises(KeyboardInterrupt):
        corpus.save(tmp_path / "prep")
    assert sorted(os.listdir(tmp_path)) == ["t.txt"]


def test_directory_without_manifest_is_rejected(corpus, tmp_path):
    corpus.save(tmp_path / "prep")
    os.remove(tmp_path / "prep" / "manifest.json")
    with pytest.raises(DataError, match="not a complete prepared corpus"):
        load_corpus(str(tmp_path / "prep"))


def test_tampered_arrays_and_vocabulary_are_rejected(corpus, tmp_path):
    corpus.save(tmp_path / "prep")
    np.save(tmp_path / "prep" / "valid.npy", corpus.splits["valid"].ids[:-1])
    with pytest.raises(DataError, match="does not match its manifest"):
        PreparedCorpus.load(tmp_path / "prep")
    corpus.save(tmp_path / "prep")
    vocab = json.loads((tmp_path / "prep" / "vocab.json").read_text())
    vocab["tokens"][5], vocab["tokens"][6] = vocab["tokens"][6], vocab["tokens"][5]
    (tmp_path / "prep" / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(DataError, match="fingerprint"):
        PreparedCorpus.load(tmp_path / "prep")
    np.save(tmp_path / "prep" / "train.npy", np.zeros(3, dtype=np.float64))
    with pytest.raises(DataError, match="expected 1-d int32"):
        PreparedCorpus.load(tmp_path / "prep")


def test_prepared_directory_takes_no_tokenization_options(corpus, tmp_path):
    corpus.save(tmp_path / "prep")
    with pytest.raises(UsageError, match="drop --min-count"):
        load_corpus(str(tmp_path / "prep"), min_count=2)


def test_encode_corpus_accepts_a_prepared_dir_only_with_the_same_fingerprint(corpus, tmp_path):
    corpus.save(tmp_path / "prep")
    same = encode_corpus(str(tmp_path / "prep"), corpus.tokenizer, corpus.vocabulary)
    assert same.splits == corpus.splits
    other = load_corpus(str(tmp_path / "t.txt"))
    with pytest.raises(DataError, match="fingerprint"):
        encode_corpus(str(tmp_path / "prep"), other.tokenizer, other.vocabulary)


def test_refuses_to_overwrite_a_directory_that_is_not_a_corpus(corpus, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.md").write_text("keep me")
    with pytest.raises(UsageError, match="not a prepared corpus"):
        corpus.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.md").read_text() == "keep me"
