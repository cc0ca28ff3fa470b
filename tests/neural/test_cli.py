"""`lmtool train-rnn` through click's CliRunner: a real run, its files, resume, bad options."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from lmtool.cli.main import cli
from lmtool.neural import load_rnn

TINY = ["--emb", "8", "--hidden", "16", "--layers", "1", "--bptt", "5", "--batch-size", "4", "--threads", "1"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat on the mat\na dog ran on the mat\nthe cat ran\n" * 20)
    return str(path)


def run(*args: str):
    return CliRunner().invoke(cli, ["train-rnn", *args])


def test_train_writes_a_loadable_model_a_log_and_json(tmp_path, corpus):
    out, log = tmp_path / "m.rnn", tmp_path / "log.jsonl"
    result = run("--corpus", corpus, *TINY, "--epochs", "2", "-o", str(out), "--log", str(log),
                 "--log-every", "5", "--json", "--split-fractions", "0.8,0.2,0")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["steps"] > 0 and summary["stopped"] == "epochs" and summary["best_valid_ppl"] > 1
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert {e["event"] for e in events} == {"step", "valid", "end"}
    assert all(e["step"] % 5 == 0 for e in events if e["event"] == "step")
    model = load_rnn(out)
    assert model.describe()["training"]["steps"] == summary["steps"]
    assert model.describe()["training"]["stopped"] == "epochs"  # the best file tells the whole run
    assert model.meta["curves"]["valid_loss"] == [e["valid_loss"] for e in events if e["event"] == "valid"]
    assert model.vocabulary.token(3) in {"the", "mat"}  # frequency order from the text layer
    assert (tmp_path / "m.rnn.ckpt" / "last.safetensors").exists()


def test_killed_run_resumes_to_the_same_weights(tmp_path, corpus):
    # SGD with the plateau schedule: a cosine's length would follow --max-steps, which differs here
    common = ["--corpus", corpus, *TINY, "--optimizer", "sgd", "--lr", "5", "--dropout", "0.3", "--valid-every", "6",
              "--seed", "5"]
    assert run(*common, "--max-steps", "20", "-o", str(tmp_path / "whole.rnn"), "-q").exit_code == 0
    assert run(*common, "--max-steps", "8", "-o", str(tmp_path / "cut.rnn"), "-q").exit_code == 0
    result = run(*common, "--max-steps", "20", "-o", str(tmp_path / "cut.rnn"), "--resume", "-q")
    assert result.exit_code == 0, result.output
    whole = load_file(tmp_path / "whole.rnn.ckpt" / "last.safetensors")
    resumed = load_file(tmp_path / "cut.rnn.ckpt" / "last.safetensors")
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)


def test_resume_with_other_batching_is_refused(tmp_path, corpus):
    out = str(tmp_path / "m.rnn")
    assert run("--corpus", corpus, *TINY, "--max-steps", "3", "-o", out, "-q").exit_code == 0
    result = run("--corpus", corpus, *TINY[:-6], "--batch-size", "2", "--bptt", "5", "--max-steps", "6",
                 "-o", out, "--resume", "-q")
    assert result.exit_code == 2 and "different data" in result.output


@pytest.mark.parametrize("args, code, message", [
    (["--hidden", "0"], 2, "--hidden must be at least 1"),
    (["--dropout", "1.5"], 2, "must be in [0, 1)"),
    (["--tied", "--emb", "10", "--hidden", "20"], 2, "tied weights need equal embedding and hidden sizes"),
    (["--max-time", "soon"], 2, "is not a duration"),
    (["--cutoffs", "4"], 2, "add --adaptive-softmax"),
    (["--optimizer", "adam", "--schedule", "cosine"], 2, "needs --epochs or --max-steps"),
    (["--batch-size", "100000"], 3, "fewer than --batch-size"),
    (["--resume"], 4, "no resume checkpoint"),
])
def test_bad_options_give_one_clear_line(tmp_path, corpus, args, code, message):
    result = run("--corpus", corpus, "-o", str(tmp_path / "m.rnn"), *args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
