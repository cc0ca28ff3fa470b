"""load_model: the kind told from the content, each family loaded lazily, damage as ModelFileError."""

import gzip
import json
import subprocess
import sys

import pytest

from lmtool.errors import ModelFileError
from lmtool.models import load_model, model_kind
from tests.conftest import ARPA, save_nnlm, save_rnn


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One model file of each kind, fitted or built on a tiny corpus; names without telling suffixes."""
    from lmtool.ngram import fit_ngram, save_ngram
    from lmtool.text import load_corpus

    directory = tmp_path_factory.mktemp("models")
    (directory / "train.txt").write_text("a b c\nb c a\n")
    prepared = load_corpus(str(directory / "train.txt"), split_fractions="1")
    save_ngram(fit_ngram(prepared, order=2, method="witten-bell"), str(directory / "ngram.bin"))
    (directory / "arpa.txt").write_text(ARPA)
    with gzip.open(directory / "arpa.gz", "wt") as handle:
        handle.write(ARPA)
    save_rnn(directory / "rnn.bin", prepared)
    save_nnlm(directory / "nnlm.bin", prepared)
    return directory


@pytest.mark.parametrize("name, kind", [("ngram.bin", "ngram"), ("arpa.txt", "arpa"), ("arpa.gz", "arpa"),
                                        ("rnn.bin", "rnn"), ("nnlm.bin", "nnlm")])
def test_each_kind_is_recognised_and_loaded(files, name, kind):
    assert model_kind(files / name) == kind
    model = load_model(files / name)
    assert model.kind == ("ngram" if kind == "arpa" else kind)
    assert model.describe()["kind"] == model.kind
    assert len(model.next_log_probs(model.start([]))) == len(model.vocabulary)


def test_ngram_files_load_without_torch(files):
    code = ("import sys\nfrom lmtool.models import load_model\n"
            f"load_model({str(files / 'ngram.bin')!r}); load_model({str(files / 'arpa.txt')!r})\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def damaged(files, tmp_path):
    """(name, bytes) of files that are not models, or damaged ones."""
    ngram = (files / "ngram.bin").read_bytes()
    rnn = (files / "rnn.bin").read_bytes()
    header = json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                         "__metadata__": {"lmtool": json.dumps({"format": "other"})}}).encode()
    return {
        "empty": b"",
        "text": b"just some text\nwithout an ARPA header\n",
        "binary": bytes(range(256)) * 4,
        "truncated-npz": ngram[: len(ngram) // 2],
        "truncated-rnn": rnn[: len(rnn) // 2],
        "truncated-nnlm": (files / "nnlm.bin").read_bytes()[:200],
        "foreign-safetensors": len(header).to_bytes(8, "little") + header + b"\0\0\0\0",
        "bad-arpa": ARPA.replace("ngram 2=3", "ngram 2=5").encode(),
        "bad-gzip": b"\x1f\x8b\x08\x00garbage",
    }


def test_damaged_or_foreign_files_are_model_file_errors(files, tmp_path):
    for name, content in damaged(files, tmp_path).items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ModelFileError) as caught:
            load_model(path)
        message = str(caught.value)
        assert str(path) in message or name in message, (name, message)
        assert "\n" not in message, name


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nope.npz")
    with pytest.raises(ModelFileError, match="directory"):
        load_model(tmp_path)
