"""The native model file: round trip, pickle-free loading, atomic writes, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lmtool.errors import ModelFileError
from lmtool.ngram import fit_ngram, load_ngram, read_arpa, save_ngram

from .helpers import random_sentences, split_of, vocabulary


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(8)
    train, test = split_of(random_sentences(rng, 200, 12)), split_of(random_sentences(rng, 30, 12))
    return fit_ngram(train, 3, vocabulary=vocabulary(9), discount_fallback=True), test


def test_round_trip(tmp_path, fitted):
    model, test = fitted
    path = tmp_path / "m.npz"
    save_ngram(model, path)
    again = load_ngram(path)
    np.testing.assert_array_equal(again.score(test), model.score(test))
    assert again.fingerprint == model.fingerprint
    assert again.describe() == model.describe()
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_file_is_plain_arrays_with_json_metadata(tmp_path, fitted):
    model, _ = fitted
    path = tmp_path / "m.npz"
    save_ngram(model, path)
    with np.load(path, allow_pickle=False) as archive:
        metadata = json.loads(archive["metadata"].tobytes().decode())
        assert archive["ngrams_2"].dtype == np.int32
    assert metadata["format"] == "lmtool-ngram" and metadata["format_version"] == 1
    assert metadata["order"] == 3 and metadata["method"] == "modified-kneser-ney"
    assert metadata["vocabulary"]["tokens"] == model.vocabulary.tokens
    assert metadata["fingerprint"] == model.fingerprint and metadata["tokenizer"]["kind"] == "word"
    assert metadata["training"]["tokens"] == model.training["tokens"]
    assert len(metadata["discounts"]) == 3


def test_arpa_model_survives_native_round_trip(tmp_path, golden_kenlm):
    model = read_arpa(golden_kenlm / "tiny40.o3.fallback.arpa")
    save_ngram(model, tmp_path / "m.npz")
    again = load_ngram(tmp_path / "m.npz")
    assert again.describe()["source"] == "arpa:tiny40.o3.fallback.arpa"
    split = split_of([[5, 6, 7], [8, 9]])
    np.testing.assert_array_equal(again.score(split), model.score(split))


def test_truncated_file(tmp_path, fitted):
    model, _ = fitted
    path = tmp_path / "m.npz"
    save_ngram(model, path)
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="corrupt or truncated|not an lmtool"):
            load_ngram(tmp_path / "cut.npz")


def test_wrong_kinds(tmp_path):
    rnn_like = tmp_path / "rnn.npz"
    meta = json.dumps({"format": "lmtool-rnn", "format_version": 1}).encode()
    np.savez(rnn_like, metadata=np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(ModelFileError, match="lmtool-rnn file, not an lmtool n-gram model"):
        load_ngram(rnn_like)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(ModelFileError, match="not an lmtool n-gram model"):
        load_ngram(plain)
    safetensors_like = tmp_path / "model.safetensors"
    safetensors_like.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}")
    with pytest.raises(ModelFileError, match="safetensors"):
        load_ngram(safetensors_like)
    with pytest.raises(ModelFileError, match="cannot open"):
        load_ngram(tmp_path / "missing.npz")


def test_newer_format_version_is_refused(tmp_path, fitted):
    model, _ = fitted
    path = tmp_path / "m.npz"
    save_ngram(model, path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["metadata"].tobytes().decode())
    meta["format_version"] = 2
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match="format version 2"):
        load_ngram(path)


def test_inconsistent_arrays(tmp_path, fitted):
    model, _ = fitted
    path = tmp_path / "m.npz"
    save_ngram(model, path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["log10_probs_2"] = arrays["log10_probs_2"][:-1]
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match="order-3 arrays are inconsistent"):
        load_ngram(path)
