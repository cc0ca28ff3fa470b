"""Issue 12, item 4: resume is exact at the edges. A finished run resumed does nothing and says
so; a checkpoint records its run's identity (options, corpus) and a resume with other settings
is refused unless --allow-option-changes; a lock keeps two live runs out of one checkpoint
directory, is released on exit, and a lock left by a killed process is taken over.

Kills at the budget's edge, in real processes, are in test_fault_injection.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import torch

from lmtool.errors import LmtoolError

from .conftest import REPO, invoke, one_line_error

TINY = ["--emb", "4", "--hidden", "8", "--layers", "1", "--bptt", "5", "--batch-size", "4", "--threads", "1",
        "--valid-every", "3", "-q"]


def train(corpus, out, *extra):
    return invoke("train-rnn", "--corpus", corpus, *TINY, "-o", out, *extra)


def snapshot(directory) -> dict:
    """Every file under ``directory`` with its bytes and modification time."""
    return {p.relative_to(directory): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in directory.rglob("*") if p.is_file()}


def test_a_finished_run_resumed_is_a_no_op_that_says_so(tmp_path, corpus_file):
    out = tmp_path / "m.rnn"
    assert train(corpus_file, out, "--max-steps", "6").exit_code == 0
    before = snapshot(tmp_path)
    result = train(corpus_file, out, "--max-steps", "6", "--resume")
    assert result.exit_code == 0, result.output
    assert "already finished at step 6 (max-steps); nothing to do" in result.output
    assert snapshot(tmp_path) == before  # not one more step, no file rewritten
    summary = json.loads(train(corpus_file, out, "--max-steps", "6", "--resume", "--json").stdout)
    assert summary["already_finished"] is True and summary["steps"] == 6
    assert snapshot(tmp_path) == before


def test_an_early_stopped_run_resumed_is_a_no_op(tmp_path, corpus_file):
    out = tmp_path / "m.rnn"
    args = ["--lr", "1e-9", "--patience", "1", "--max-steps", "30"]  # no progress: stops at the 2nd validation
    first = json.loads(train(corpus_file, out, *args, "--json").stdout)
    assert first["stopped"] == "early-stopping" and first["steps"] < 30
    result = train(corpus_file, out, *args, "--resume")
    assert result.exit_code == 0 and "(early-stopping); nothing to do" in result.output


def test_a_budget_may_grow_on_resume(tmp_path, corpus_file):
    out = tmp_path / "m.rnn"
    assert train(corpus_file, out, "--max-steps", "3").exit_code == 0
    resumed = json.loads(train(corpus_file, out, "--max-steps", "5", "--resume", "--json").stdout)
    assert resumed["steps"] == 5 and "already_finished" not in resumed


def test_resuming_with_other_options_is_refused_unless_allowed(tmp_path, corpus_file):
    out = tmp_path / "m.rnn"
    assert train(corpus_file, out, "--max-steps", "3").exit_code == 0
    refused = train(corpus_file, out, "--max-steps", "5", "--resume", "--lr", "5", "--clip", "1")
    assert refused.exit_code == 2
    message = one_line_error(refused)
    assert "other settings (lr 20.0 -> 5.0; clip 0.25 -> 1.0)" in message and "--allow-option-changes" in message
    allowed = train(corpus_file, out, "--max-steps", "5", "--resume", "--lr", "5", "--clip", "1",
                    "--allow-option-changes", "--json")
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["steps"] == 5


def test_a_longer_cosine_is_an_option_change(tmp_path, corpus_file):
    out = tmp_path / "m.rnn"
    assert train(corpus_file, out, "--optimizer", "adam", "--max-steps", "3").exit_code == 0
    refused = train(corpus_file, out, "--optimizer", "adam", "--max-steps", "6", "--resume")
    assert refused.exit_code == 2 and "cosine_steps 3 -> 6" in one_line_error(refused)


def test_resuming_on_another_corpus_is_refused(tmp_path, corpus_file):
    lines = corpus_file.read_text().splitlines(keepends=True)
    (tmp_path / "a.txt").write_text("".join(lines))
    (tmp_path / "b.txt").write_text("".join(reversed(lines)))  # same words and counts: the same vocabulary
    out = tmp_path / "m.rnn"
    whole = ["--split-fractions", "1", "--max-steps", "3"]
    assert train(tmp_path / "a.txt", out, *whole).exit_code == 0
    refused = train(tmp_path / "b.txt", out, *whole[:-1], "5", "--resume")
    assert refused.exit_code == 2 and "the corpus ids differ" in one_line_error(refused)


def test_a_checkpoint_written_before_identities_still_resumes(tmp_path, corpus_file):
    out = tmp_path / "m.rnn"
    assert train(corpus_file, out, "--max-steps", "3").exit_code == 0
    path = tmp_path / "m.rnn.ckpt" / "resume.pt"
    state = torch.load(path, weights_only=True)
    del state["identity"], state["stopped"]
    torch.save(state, path)
    resumed = train(corpus_file, out, "--max-steps", "5", "--resume", "--json")
    assert resumed.exit_code == 0 and json.loads(resumed.stdout)["steps"] == 5


def test_allow_option_changes_needs_resume(tmp_path, corpus_file):
    result = train(corpus_file, tmp_path / "m.rnn", "--max-steps", "3", "--allow-option-changes")
    assert result.exit_code == 2 and "applies to --resume" in one_line_error(result)


def test_a_running_training_holds_the_lock_and_releases_it(tmp_path, corpus_file):
    from lmtool.files import directory_lock
    from lmtool.neural import RnnConfig
    from lmtool.neural.config import TrainOptions
    from lmtool.neural.train import train as train_api
    from lmtool.text import load_corpus

    corpus = load_corpus(str(corpus_file))
    refusals = []

    def second_run(event):
        if event["event"] == "step" and event["step"] == 1:
            try:
                with directory_lock(tmp_path / "m.rnn.ckpt", "lock", "training run"):
                    pass
            except LmtoolError as error:
                refusals.append(str(error))

    config = RnnConfig(vocab_size=len(corpus.vocabulary), emb_size=4, hidden_size=4, layers=1)
    train_api(corpus, config, TrainOptions(max_steps=2, batch_size=4, bptt=5), output=tmp_path / "m.rnn",
              device="cpu", on_event=second_run)
    assert refusals == [f"another training run (host {os.uname().nodename}, pid {os.getpid()}) is using "
                        f"{tmp_path / 'm.rnn.ckpt'}: wait for it to end, or give another directory"]
    assert not (tmp_path / "m.rnn.ckpt" / "lock").exists()  # released on exit


HOLDER = """
import sys, time
from lmtool.files import directory_lock
with directory_lock(sys.argv[1], "lock", "training run"):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_live_run_keeps_others_out_and_a_killed_one_leaves_a_stale_lock(tmp_path, corpus_file, caplog):
    directory = tmp_path / "m.rnn.ckpt"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(directory)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline() == "locked\n"
        refused = train(corpus_file, tmp_path / "m.rnn", "--max-steps", "2")
        assert refused.exit_code == 1
        holder_named = f"another training run (host {os.uname().nodename}, pid {holder.pid}) is using"
        assert holder_named in one_line_error(refused)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    stale = json.loads((directory / "lock").read_text())
    assert stale == {"host": os.uname().nodename, "pid": holder.pid}  # names a process that is gone
    with caplog.at_level("WARNING", logger="lmtool.files"):
        result = train(corpus_file, tmp_path / "m.rnn", "--max-steps", "2")
    assert result.exit_code == 0, result.output
    assert f"taking over the lock of host {os.uname().nodename}, pid {holder.pid}" in caplog.text
    assert not (directory / "lock").exists()


def test_the_lock_file_is_not_left_by_a_failed_run(tmp_path, corpus_file):
    result = train(corpus_file, tmp_path / "m.rnn", "--max-steps", "2", "--resume")  # no checkpoint yet: exit 4
    assert result.exit_code == 4
    assert not (tmp_path / "m.rnn.ckpt" / "lock").exists()
