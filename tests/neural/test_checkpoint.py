"""Model files and resume checkpoints: round trip, atomic writes, safe and careful loading."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from lmtool.errors import LmtoolError, ModelFileError
from lmtool.files import atomic_write
from lmtool.neural.checkpoint import load_resume, read_model_file, save_model_file, save_resume
from lmtool.neural.network import RnnNetwork

from .conftest import tiny_config


class Payload:
    """Unpickling this object would create the marker file: the loaders must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("changes", [{}, {"tied": True, "emb_size": 16}, {"adaptive_cutoffs": [4, 8], "cell": "gru"}])
def test_model_file_round_trip(tmp_path, changes):
    model = RnnNetwork(tiny_config(**changes))
    save_model_file(tmp_path / "m.rnn", model, {"unit": "line", "curves": {"step": [1, 2]}})
    loaded, meta = read_model_file(tmp_path / "m.rnn")
    assert meta["format"] == "lmtool-rnn" and meta["curves"] == {"step": [1, 2]}
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "m.rnn"
    target.write_bytes(b"old")

    def fail(handle):
        handle.write(b"half a fi")
        raise OSError("disk full")

    with pytest.raises(LmtoolError, match="cannot write .*m.rnn: disk full"):  # one line naming path and cause
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.rnn"]  # no temporary left behind


def test_truncated_or_foreign_model_file_is_a_model_file_error(tmp_path):
    save_model_file(tmp_path / "m.rnn", RnnNetwork(tiny_config()), {})
    data = (tmp_path / "m.rnn").read_bytes()
    (tmp_path / "cut.rnn").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.rnn").write_text("hello")
    for name in ("cut.rnn", "text.rnn", "missing.rnn"):
        with pytest.raises(ModelFileError):
            read_model_file(tmp_path / name)


def test_pickle_payloads_never_execute(tmp_path):
    marker = tmp_path / "executed"
    torch.save({"format": "lmtool-rnn-resume", "model": Payload(marker)}, tmp_path / "resume.pt")
    (tmp_path / "raw.pt").write_bytes(pickle.dumps(Payload(marker), protocol=2))
    (tmp_path / "model.rnn").write_bytes(pickle.dumps(Payload(marker), protocol=2))
    for name in ("resume.pt", "raw.pt"):
        with pytest.raises(ModelFileError, match="unreadable resume checkpoint"):
            load_resume(tmp_path / name)
    with pytest.raises(ModelFileError):
        read_model_file(tmp_path / "model.rnn")
    assert not marker.exists()


def test_resume_checkpoint_round_trip(tmp_path):
    state = {"step": 3, "torch_rng": torch.get_rng_state()[None], "python_rng": (3, (1, 2), None)}
    save_resume(tmp_path / "resume.pt", state)
    loaded = load_resume(tmp_path / "resume.pt")
    assert loaded["step"] == 3 and torch.equal(loaded["torch_rng"], state["torch_rng"])
    with pytest.raises(ModelFileError, match="no resume checkpoint"):
        load_resume(tmp_path / "nothing.pt")
