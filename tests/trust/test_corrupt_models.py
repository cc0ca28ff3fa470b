"""Issue 12, item 3 (the parts outside n-gram model validation, which issue 13 owns): RNN files
whose weights changed after writing are refused by their checksum, files written before the
checksum existed still load, wrong dtypes and non-finite weights are refused, a raw pickle or a
PyTorch checkpoint given as a model is exit 4, and a damaged .gz corpus is exit 3, one line each."""

from __future__ import annotations

import gzip
import json
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from lmtool.errors import ModelFileError
from lmtool.neural import load_rnn
from lmtool.neural.checkpoint import read_model_file
from lmtool.text import load_corpus

from .conftest import invoke, one_line_error


def header_size(path) -> int:
    return struct.unpack("<Q", path.read_bytes()[:8])[0]


def rewrite(path, target, tensors=None, meta_change=None) -> None:
    """Write the RNN file ``path`` again at ``target`` with other ``tensors`` and/or metadata."""
    with open(path, "rb") as handle:
        size = struct.unpack("<Q", handle.read(8))[0]
        meta = json.loads(json.loads(handle.read(size))["__metadata__"]["lmtool"])
    if meta_change:
        meta_change(meta)
    save_file(tensors if tensors is not None else load_file(path), target, metadata={"lmtool": json.dumps(meta)})


def test_a_flipped_weight_bit_is_refused_by_the_checksum(tmp_path, models, corpus_file):
    data = bytearray(models["rnn"].read_bytes())
    data[8 + header_size(models["rnn"]) + 5] ^= 0x01  # a mantissa bit of the first tensor: loads, scores differently
    damaged = tmp_path / "flipped.rnn"
    damaged.write_bytes(bytes(data))
    result = invoke("eval", damaged, "--corpus", corpus_file)
    assert result.exit_code == 4
    assert "flipped.rnn: the weights do not match the checksum" in one_line_error(result)


def test_a_file_written_before_checksums_still_loads_and_scores_the_same(tmp_path, models, corpus_file):
    old = tmp_path / "old.rnn"
    rewrite(models["rnn"], old, meta_change=lambda meta: meta.pop("tensors_sha256"))
    assert "tensors_sha256" not in read_model_file(old)[1]
    split = load_corpus(str(corpus_file)).splits["test"]
    assert np.array_equal(load_rnn(old).score(split), load_rnn(models["rnn"]).score(split))


def test_a_wrong_dtype_is_refused(tmp_path, models, corpus_file):
    doubled = tmp_path / "float64.rnn"
    tensors = {name: t.double() for name, t in load_file(models["rnn"]).items()}
    rewrite(models["rnn"], doubled, tensors, meta_change=lambda meta: meta.pop("tensors_sha256"))
    result = invoke("info", doubled)
    assert result.exit_code == 4 and "holds torch.float64, not float32" in one_line_error(result)


def test_non_finite_weights_are_refused_even_with_a_matching_checksum(tmp_path, models):
    from lmtool.neural.checkpoint import save_model_file

    net, meta = read_model_file(models["rnn"])
    with torch.no_grad():
        next(net.parameters())[0, 0] = float("nan")
    save_model_file(tmp_path / "nan.rnn", net, {k: v for k, v in meta.items() if k != "architecture"})
    with pytest.raises(ModelFileError, match="NaN or infinite weights"):
        load_rnn(tmp_path / "nan.rnn")


@pytest.mark.parametrize("command", [["info"], ["eval", "--corpus", "{corpus}"], ["sample"],
                                     ["export", "--arpa", "{tmp}/x"]])
def test_a_raw_pickle_given_as_a_model_is_exit_4(tmp_path, corpus_file, command):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    args = [a.format(corpus=corpus_file, tmp=tmp_path) for a in command]
    result = invoke(args[0], path, *args[1:])
    assert result.exit_code == 4 and str(path) in one_line_error(result)


def test_a_raw_pickle_as_resume_state_is_exit_4(tmp_path, corpus_file):
    (tmp_path / "m.rnn.ckpt").mkdir()
    (tmp_path / "m.rnn.ckpt" / "resume.pt").write_bytes(pickle.dumps({"format": "lmtool-rnn-resume"}, protocol=2))
    result = invoke("train-rnn", "--corpus", corpus_file, "--emb", "4", "--hidden", "4", "--layers", "1",
                    "-o", tmp_path / "m.rnn", "--resume", "--max-steps", "2")
    assert result.exit_code == 4 and "unreadable resume checkpoint" in one_line_error(result)


def test_a_resume_checkpoint_given_as_a_model_is_named_as_one(tmp_path):
    path = tmp_path / "resume.pt"
    torch.save({"format": "lmtool-rnn-resume", "model": {"w": torch.zeros(2)}}, path)
    result = invoke("info", path)
    assert result.exit_code == 4
    message = one_line_error(result)
    assert "PyTorch checkpoint" in message and ".npz" not in message


def damaged_gzip(path) -> None:
    """A gzip file whose deflate stream is broken where zlib itself raises (not gzip's CRC check)."""
    data = bytearray(gzip.compress(("the cat sat on the mat\n" * 50).encode(), mtime=0))
    data[10] ^= 0x55  # the first deflate block header: "invalid stored block lengths"
    path.write_bytes(bytes(data))


def test_a_damaged_gz_corpus_is_exit_3_in_one_line(tmp_path):
    damaged_gzip(tmp_path / "text.txt.gz")
    for args in (["corpus", "info"], ["fit-ngram", "-o", tmp_path / "m.npz", "--corpus"]):
        result = invoke(*args, tmp_path / "text.txt.gz")
        assert result.exit_code == 3, result.output
        assert "text.txt.gz: cannot read (Error -3 while decompressing data" in one_line_error(result)


def test_a_resume_state_missing_entries_is_exit_4(tmp_path, corpus_file):
    args = ["train-rnn", "--corpus", corpus_file, "--emb", "4", "--hidden", "4", "--layers", "1", "--threads", "1",
            "-o", tmp_path / "m.rnn", "--max-steps", "2", "-q"]
    assert invoke(*args).exit_code == 0
    path = tmp_path / "m.rnn.ckpt" / "resume.pt"
    state = torch.load(path, weights_only=True)
    del state["optimizer"]
    torch.save(state, path)
    result = invoke(*args[:-3], "--max-steps", "4", "--resume")
    assert result.exit_code == 4 and "incomplete or damaged resume checkpoint (KeyError" in one_line_error(result)
