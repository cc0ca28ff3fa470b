"""Older ``.npz`` model files: they still load, and every damaged or inconsistent one is refused (issue 12).

:func:`lmtool.ngram.legacy.write_npz` writes the layout lmtool 0.x's ``save_ngram`` wrote, so
these files are what users have on disk.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from lmtool.errors import ModelFileError
from lmtool.ngram import fit_ngram, load_ngram, stored_model
from lmtool.ngram.legacy import write_npz

from .helpers import random_sentences, split_of, vocabulary


def npz_arrays(model, tmp_path) -> dict:
    """The arrays of ``model``'s .npz file, to damage one at a time."""
    write_npz(model, tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz", allow_pickle=False) as archive:
        return {name: np.array(archive[name]) for name in archive.files}


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(8)
    train, test = split_of(random_sentences(rng, 200, 12)), split_of(random_sentences(rng, 30, 12))
    return fit_ngram(train, 3, vocabulary=vocabulary(9), discount_fallback=True), test


def test_old_files_load_and_score_as_before(tmp_path, fitted):
    model, test = fitted
    write_npz(model, tmp_path / "m.npz")
    old = load_ngram(tmp_path / "m.npz")
    np.testing.assert_array_equal(old.score(test), model.score(test))  # float64, as written
    assert old.describe() == model.describe()


def test_cli_converts_an_old_file(tmp_path, fitted):
    model, test = fitted
    write_npz(model, tmp_path / "m.npz")
    result = CliRunner().invoke(cli, ["fit-ngram", "--from-model", str(tmp_path / "m.npz"), "-o", str(tmp_path / "m.lmt")])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(load_ngram(tmp_path / "m.lmt").score(test), stored_model(model).score(test))


def _unsorted(a):
    a["ngrams_2"] = a["ngrams_2"][::-1].copy()


def _duplicated(a):
    a["ngrams_1"][1] = a["ngrams_1"][0]


def _order_zero(a):
    meta = json.loads(a["metadata"].tobytes())
    a["metadata"] = np.frombuffer(json.dumps({**meta, "order": 0}).encode(), dtype=np.uint8)


def _nan(a):
    a["log10_probs_1"][3] = np.nan


def _plus_inf(a):
    a["log10_backoffs_0"][5] = np.inf


def _negative(a):
    a["ngrams_1"][0, 0] = -1


def _too_large(a):
    a["ngrams_2"][-1, -1] = 10_000


def _strings(a):
    a["log10_probs_2"] = a["log10_probs_2"].astype(str)


def _counts(a):
    meta = json.loads(a["metadata"].tobytes())
    a["metadata"] = np.frombuffer(json.dumps({**meta, "ngrams": [1, 2, 3]}).encode(), dtype=np.uint8)


def _missing_prefix(a):
    keep = np.ones(len(a["ngrams_1"]), dtype=bool)
    keep[0] = False  # the first bigram, prefix of some trigram
    for name in ("ngrams_1", "log10_probs_1", "log10_backoffs_1"):
        a[name] = a[name][keep]


def _bad_vocabulary(a):
    meta = json.loads(a["metadata"].tobytes())
    meta["vocabulary"]["tokens"][0] = "UNK"
    a["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


DEFECTS = [
    (_unsorted, "not sorted and unique"),
    (_duplicated, "not sorted and unique"),
    (_order_zero, "order 0"),
    (_nan, "NaN or \\+inf log10 probabilities"),
    (_plus_inf, "NaN or \\+inf log10 backoffs"),
    (_negative, "word ids outside"),
    (_too_large, "word ids outside"),
    (_strings, "log10_probs_2 is dtype <U"),
    (_counts, "the metadata counts"),
    (_missing_prefix, "prefix is not listed"),
    (_bad_vocabulary, "invalid model metadata"),
]


@pytest.mark.parametrize("damage, message", DEFECTS, ids=[d.__name__.strip("_") for d, _ in DEFECTS])
def test_damaged_files_are_refused_naming_the_defect(tmp_path, fitted, damage, message):
    model, _ = fitted
    arrays = npz_arrays(model, tmp_path)
    damage(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=message) as caught:
        load_ngram(path)
    assert str(path) in str(caught.value)
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 4 and "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_pickles_are_never_loaded(tmp_path, fitted):
    model, _ = fitted
    arrays = npz_arrays(model, tmp_path)
    np.savez(tmp_path / "object.npz", **{**arrays, "log10_probs_0": np.array([object()] * 3, dtype=object)})
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        load_ngram(tmp_path / "object.npz")
    # a zip member that is a raw pickle, not an .npy array: numpy hands back its bytes
    import zipfile

    np.savez(tmp_path / "raw.npz", **arrays)
    with zipfile.ZipFile(tmp_path / "raw.npz", "a") as archive:
        archive.writestr("listed_0", pickle.dumps({"x": 1}))
        archive.writestr("listed_1", pickle.dumps({"x": 1}))
        archive.writestr("listed_2", pickle.dumps({"x": 1}))
    with pytest.raises(ModelFileError, match="raw bytes"):
        load_ngram(tmp_path / "raw.npz")
