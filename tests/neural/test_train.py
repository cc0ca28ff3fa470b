"""train(), the one training entry point: its summary, its log, and what it refuses before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lmtool.errors import DataError, UsageError
from lmtool.neural import RnnConfig, TrainOptions, load_rnn
from lmtool.neural.train import train
from lmtool.text import EncodedSplit, load_corpus


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat on the mat\na dog ran on the mat\nthe cat ran\n" * 20)
    return load_corpus(str(path), split_fractions="0.8,0.2,0")


def tiny(corpus, **changes) -> RnnConfig:
    return RnnConfig(**({"vocab_size": len(corpus.vocabulary), "emb_size": 8, "hidden_size": 8, "layers": 1} | changes))


def test_summary_model_file_and_log(tmp_path, corpus):
    events = []
    summary = train(corpus, tiny(corpus), TrainOptions(bptt=5, batch_size=4, max_steps=6, valid_every=3, seed=2),
                    output=tmp_path / "m.rnn", threads=1, log_path=tmp_path / "log.jsonl", log_every=2,
                    on_event=events.append)
    assert summary["model"] == str(tmp_path / "m.rnn") and summary["checkpoint_dir"] == str(tmp_path / "m.rnn.ckpt")
    assert summary["steps"] == 6 and summary["stopped"] == "max-steps" and summary["world_size"] == 1
    assert summary["architecture"] == tiny(corpus).to_dict() and summary["vocab_size"] == len(corpus.vocabulary)
    assert summary["train_tokens"] == corpus.splits["train"].n_tokens
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logged if e["event"] == "step"] == [2, 4, 6]  # every --log-every steps
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3, 4, 5, 6]  # the listener gets all
    assert all(e["tokens_per_s"] > 0 for e in logged if e["event"] == "step")  # throughput since the first step
    assert load_rnn(tmp_path / "m.rnn").fingerprint == corpus.fingerprint
    assert torch.get_num_threads() == 1


def test_the_same_seed_gives_the_same_weights(tmp_path, corpus):
    options = TrainOptions(bptt=5, batch_size=4, max_steps=4, seed=7, optimizer="adam")
    for name in ("a", "b"):
        train(corpus, tiny(corpus, dropout_input=0.3), options, output=tmp_path / f"{name}.rnn", threads=1)
    a, b = (load_rnn(tmp_path / f"{name}.rnn").net.state_dict() for name in ("a", "b"))
    assert all(torch.equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("config, options, placement, error, message", [
    (lambda c: tiny(c, vocab_size=5), TrainOptions(), {}, UsageError, "vocabulary has"),
    (lambda c: {"cell": "lstm"}, TrainOptions(), {}, UsageError, "no network is built from a dict"),
    (lambda c: tiny(c, cell="transformer"), TrainOptions(), {}, UsageError, "unknown cell"),
    (tiny, TrainOptions(bptt=0), {}, UsageError, "--bptt must be at least 1"),
    (tiny, TrainOptions(), {"threads": 0}, UsageError, "--threads must be at least 1"),
    (tiny, TrainOptions(), {"device": "tpu"}, UsageError, "unknown device"),
])
def test_refusals_come_before_any_work(tmp_path, corpus, config, options, placement, error, message):
    with pytest.raises(error, match=message):
        train(corpus, config(corpus), options, output=tmp_path / "m.rnn", **placement)
    assert not (tmp_path / "m.rnn").exists()


def test_an_empty_train_split_is_a_data_error(tmp_path, corpus):
    corpus.splits["train"] = EncodedSplit(ids=np.array([], dtype=np.int32), starts=np.array([0]), n_chars=0)
    with pytest.raises(DataError, match="the train split has no tokens"):
        train(corpus, tiny(corpus), TrainOptions(), output=tmp_path / "m.rnn")
