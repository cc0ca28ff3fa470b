"""Training the neural n-gram through the one Trainer: exact resume across epochs, the known entropy rate of a
Markov chain, and `lmtool train-nnlm`'s files and refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lmtool.cli.main import cli
from lmtool.errors import LmtoolError
from lmtool.neural.config import NnlmConfig, TrainOptions
from lmtool.neural.feedforward import NnlmNetwork
from lmtool.neural.language_model import load_nnlm
from lmtool.neural.train import train
from lmtool.neural.training import Trainer
from lmtool.text import EncodedSplit, load_corpus

from .conftest import repeated_ids


class Diverging(NnlmNetwork):
    """A network whose every training loss is NaN, as a diverged run's is."""

    def forward(self, x, hidden=None, targets=None, reduction="mean"):
        logits, loss, hidden = super().forward(x, hidden, targets, reduction)
        return logits, loss * math.nan if self.training and loss is not None else loss, hidden


def run_trainer(tmp_path, options: TrainOptions, resume: bool = False, events: list | None = None,
                network: type[NnlmNetwork] = NnlmNetwork) -> Trainer:
    torch.manual_seed(options.seed)
    ids = repeated_ids(20)  # 140 ids, cut into sentences of 7 (each ends in </s>)
    split = EncodedSplit(ids=ids, starts=np.arange(0, 141, 7), n_chars=0)
    net = network(NnlmConfig(vocab_size=11, context=3, emb_size=8, hidden_size=16, dropout=0.2))
    trainer = Trainer(net, split, EncodedSplit(ids=ids[:70], starts=np.arange(0, 71, 7), n_chars=0), options,
                      out_path=tmp_path / "best.nnlm", checkpoint_dir=tmp_path / "ckpt", meta={"fingerprint": "t"},
                      device=torch.device("cpu"), on_event=events.append if events is not None else None)
    if resume:
        trainer.resume()
    trainer.run()
    return trainer


def test_resume_across_epochs_reaches_the_uninterrupted_weights_bit_for_bit(tmp_path):
    # 140 positions / batch 16 = 8 batches an epoch: 30 steps cross three epoch permutations
    common = dict(batch_size=16, optimizer="adam", valid_every=4, seed=3, schedule="constant", lr=0.01)
    whole = run_trainer(tmp_path / "whole", TrainOptions(max_steps=30, **common))
    run_trainer(tmp_path / "cut", TrainOptions(max_steps=13, **common))  # "killed" inside the second epoch
    resumed = run_trainer(tmp_path / "cut", TrainOptions(max_steps=30, **common), resume=True)
    assert resumed.step == whole.step == 30 and resumed.epoch == whole.epoch == 3
    assert all(torch.equal(a, b) for a, b in zip(whole.model.parameters(), resumed.model.parameters()))
    # the validation loss is the exact per-position score of the valid split
    assert whole.history[-1]["valid_loss"] < math.log(10)


def test_a_diverging_run_rolls_back_then_stops_keeping_no_broken_model(tmp_path):
    events = []
    with pytest.raises(LmtoolError, match="training diverged: non-finite loss .* after 3 rollbacks"):
        run_trainer(tmp_path, TrainOptions(batch_size=16, max_steps=50), events=events, network=Diverging)
    assert [e["event"] for e in events].count("rollback") == 3
    lrs = [e["lr"] for e in events if e["event"] == "rollback"]
    assert lrs[1] == pytest.approx(lrs[0] / 4)  # each rollback divides the learning rate by --lr-decay
    assert not (tmp_path / "best.nnlm").exists()


def test_a_neural_trigram_reaches_the_entropy_rate_of_an_order_2_markov_chain(tmp_path):
    corpus = load_corpus("gen:markov:order=2,length=40000")  # 4 symbols, a char stream, H known exactly
    config = NnlmConfig(vocab_size=len(corpus.vocabulary), context=2, emb_size=8, hidden_size=32)
    options = TrainOptions(batch_size=256, optimizer="adam", lr=2e-2, max_steps=800, valid_every=400, seed=1)
    train(corpus, config, options, output=tmp_path / "m.nnlm", threads=1)
    model = load_nnlm(tmp_path / "m.nnlm")
    held_out = np.concatenate([model.score(corpus.splits[name]) for name in ("valid", "test")])  # 8,000 symbols
    bits = -held_out.mean() / math.log(2)
    assert bits == pytest.approx(corpus.entropy_rate_bits, rel=0.02)  # measured: 0.5% above (KN3: 0.3%)


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat on the mat\na dog ran on the mat\nthe cat ran\n" * 20)
    return str(path)


TINY = ["--context", "2", "--emb", "8", "--hidden", "16", "--batch-size", "16", "--threads", "1"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_nnlm_writes_a_model_that_eval_info_and_sample_take(tmp_path, text):
    out = tmp_path / "m.nnlm"
    result = invoke("train-nnlm", "--corpus", text, *TINY, "--max-steps", "20", "--valid-every", "10",
                    "--split-fractions", "0.8,0.2,0", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["steps"] == 20 and summary["architecture"]["context"] == 2
    info = json.loads(invoke("info", out, "--json").stdout)
    assert info["kind"] == "nnlm" and info["order"] == 3 and info["training"]["steps"] == 20
    table = invoke("eval", out, "--corpus", text, "--split-fractions", "0.8,0.2,0", "--split", "valid", "--json")
    row = json.loads(table.stdout)["rows"][0]
    assert row["kind"] == "nnlm" and row["regime"] == "per-sentence"
    assert row["perplexity"] == pytest.approx(summary["best_valid_ppl"], rel=1e-9)  # validation scores exactly
    sampled = invoke("sample", out, "--prompt", "the cat", "--max-tokens", "8", "--seed", "1", "--json")
    assert sampled.exit_code == 0, sampled.output


@pytest.mark.parametrize("args, code, message", [
    (["--context", "0"], 2, "--context must be at least 1"),
    (["--direct", "--adaptive-softmax"], 2, "--direct and --adaptive-softmax cannot be combined"),
    (["--cutoffs", "4"], 2, "add --adaptive-softmax"),
    (["--batch-size", "100000"], 3, "fewer than --batch-size"),
    (["--resume", "--batch-size", "16"], 4, "no resume checkpoint"),
])
def test_bad_options_give_one_line_and_write_nothing(tmp_path, text, args, code, message):
    result = invoke("train-nnlm", "--corpus", text, "-o", tmp_path / "m.nnlm", *args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "m.nnlm").exists()


def test_models_of_different_vocabularies_are_not_mixed(tmp_path, text):
    small, big = tmp_path / "small.nnlm", tmp_path / "big.nnlm"
    assert invoke("train-nnlm", "--corpus", text, *TINY, "--max-steps", "2", "--max-vocab", "3", "-o", small,
                  "-q").exit_code == 0
    assert invoke("train-nnlm", "--corpus", text, *TINY, "--max-steps", "2", "-o", big, "-q").exit_code == 0
    result = invoke("eval", small, big, "--corpus", text, "--interpolate")
    assert result.exit_code == 2 and "the same tokenizer and vocabulary" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_resuming_with_a_longer_context_or_another_kind_is_refused(tmp_path, text):
    out = tmp_path / "m.nnlm"
    assert invoke("train-nnlm", "--corpus", text, *TINY, "--max-steps", "3", "-o", out, "-q").exit_code == 0
    before = out.read_bytes()
    longer = invoke("train-nnlm", "--corpus", text, *TINY, "--context", "4", "--max-steps", "6", "-o", out,
                    "--resume", "-q")
    assert longer.exit_code == 2 and "different architecture" in longer.output
    rnn = invoke("train-rnn", "--corpus", text, "--emb", "8", "--hidden", "8", "--layers", "1", "--max-steps", "6",
                 "-o", out, "--resume", "-q")
    assert rnn.exit_code == 4 and "holds a lmtool-nnlm run, not a lmtool-rnn one" in rnn.output
    assert out.read_bytes() == before
