"""Fault injection (issue 12): full disks, read-only destinations, kills during saves at random
points, kills of out-of-core counting, and kills at a training budget's edge then resume.

A full disk is a 64 KiB tmpfs when the suite runs as root and ``mount`` works (as in CI), else
an injected ENOSPC at fsync; a read-only destination is a read-only bind mount as root, a 0555
directory otherwise. Kills are real signals to real processes.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmtool.files import atomic_write

from .conftest import REPO, invoke, leftovers, lmtool_process, one_line_error
from .test_write_failures import writers

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture
def full_disk(small_disk, tmp_path, monkeypatch):
    """A directory where writing more than a little fails with ENOSPC: a 64 KiB tmpfs, or (where
    none can be mounted) a plain directory whose fsyncs fail as a full disk's writes would."""
    if small_disk is not None:
        return small_disk
    directory = tmp_path / "full"
    directory.mkdir()

    def no_space(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    return directory


def test_disk_full_while_writing_a_model_is_one_line_and_leaves_nothing(full_disk, corpus_file):
    (full_disk / "filler").write_bytes(b"x" * 48 * 1024)  # the model (about 50 KB) no longer fits
    target = full_disk / "m.npz"
    result = invoke("fit-ngram", "--corpus", corpus_file, "--smoothing", "witten-bell", "-o", target)
    assert result.exit_code == 1
    assert one_line_error(result) == (f"Error: cannot write {target}: No space left on device: free some space or "
                                      "write elsewhere")
    assert [p.name for p in full_disk.iterdir()] == ["filler"]


def test_disk_full_while_writing_per_token_scores_leaves_no_truncated_file(full_disk, corpus_file, models):
    result = invoke("eval", models["npz"], "--corpus", corpus_file, "--split", "train", "--per-token",
                    full_disk / "t.tsv")
    assert result.exit_code == 1 and "t.tsv: No space left on device" in one_line_error(result)
    assert list(full_disk.iterdir()) == []


def test_disk_full_while_writing_a_report_leaves_no_empty_png(full_disk, corpus_file):
    (full_disk / "filler").write_bytes(b"x" * 48 * 1024)  # room for results.json, not for the plots
    report = full_disk / "report"
    result = invoke("compare", "--corpus", corpus_file, "--orders", "1-3", "--rnn-time", "0", "-o", report)
    assert result.exit_code == 1 and "No space left on device" in one_line_error(result)
    for path in report.iterdir():  # what was written is whole: JSON that parses, PNGs that end
        assert path.suffix in (".json", ".png") and path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes().endswith(b"IEND\xaeB`\x82")
        else:
            json.loads(path.read_text())
    assert leftovers(full_disk) == []


def test_disk_full_while_training_is_one_line_and_releases_everything(full_disk, corpus_file):
    result = invoke("train-rnn", "--corpus", corpus_file, "--emb", "16", "--hidden", "64", "--layers", "1",
                    "--threads", "1", "--max-steps", "2", "-o", full_disk / "m.rnn", "-q")
    assert result.exit_code == 1 and "No space left on device" in one_line_error(result)
    assert leftovers(full_disk) == [] and not (full_disk / "m.rnn.ckpt" / "lock").exists()


def test_disk_full_while_preparing_a_corpus_leaves_no_staging_directory(full_disk):
    result = invoke("corpus", "prepare", "gen:repeat:length=100000", "-o", full_disk / "prep")
    assert result.exit_code == 1 and "No space left on device" in one_line_error(result)
    assert list(full_disk.iterdir()) == []


@pytest.mark.parametrize("writer", writers("c", {"npz": "m"}, "x"))
def test_a_read_only_destination_is_refused_before_the_work(read_only_dir, tmp_path, corpus_file, models, writer):
    bad = read_only_dir / "inside" / "out"
    args = [str(a).format(tmp=tmp_path) for a in writers(corpus_file, models, bad)[writer]]
    result = invoke(*args)
    assert result.exit_code == 2
    message = one_line_error(result)
    assert f"cannot write in {read_only_dir / 'inside'}" in message
    assert "Read-only file system" in message or "Permission denied" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]  # nothing computed and written first


SAVER = """
import sys
from lmtool.files import atomic_write
from lmtool.ngram import load_ngram, save_ngram
model, target = load_ngram(sys.argv[1]), sys.argv[2]
print("ready", flush=True)
while True:
    save_ngram(model, target)
"""


def test_sigkill_during_saves_leaves_the_previous_file_and_the_next_save_cleans_up(tmp_path, models):
    from lmtool.ngram import load_ngram, save_ngram

    target = tmp_path / "m.npz"
    save_ngram(load_ngram(models["npz"]), target)
    expected = target.read_bytes()
    seed = random.randrange(10**6)
    draws = random.Random(seed)
    for attempt in range(3):
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(models["npz"]), str(target)], env=ENV,
                                 stdout=subprocess.PIPE, text=True)
        assert saver.stdout.readline() == "ready\n"
        time.sleep(draws.uniform(0.0, 0.15))  # a save takes ~25 ms: the kill lands inside one most times
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        assert target.read_bytes() == expected, f"seed {seed}, attempt {attempt}"  # the old file or the new, whole
        for name in leftovers(tmp_path):
            assert f"-{saver.pid}." in name, name  # only the killed writer's temporary file
    atomic_write(target, lambda out: out.write(expected))  # the next write of the file removes them
    assert leftovers(tmp_path) == [] and target.read_bytes() == expected


TERMINATED_SAVER = """
import sys
from lmtool.cli.main import sigterm_raises
from lmtool.ngram import load_ngram, save_ngram
model, target = load_ngram(sys.argv[1]), sys.argv[2]
with sigterm_raises():  # as while any lmtool command runs
    print("ready", flush=True)
    while True:
        save_ngram(model, target)
"""


def test_sigterm_during_saves_leaves_no_temporary_file_at_all(tmp_path, models):
    from lmtool.ngram import load_ngram, save_ngram

    target = tmp_path / "m.npz"
    save_ngram(load_ngram(models["npz"]), target)
    expected = target.read_bytes()
    seed = random.randrange(10**6)
    draws = random.Random(seed)
    for attempt in range(3):
        saver = subprocess.Popen([sys.executable, "-c", TERMINATED_SAVER, str(models["npz"]), str(target)], env=ENV,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert saver.stdout.readline() == "ready\n"
        time.sleep(draws.uniform(0.0, 0.15))
        saver.send_signal(signal.SIGTERM)
        _, stderr = saver.communicate(timeout=30)
        assert "Terminated" in stderr, stderr  # the signal arrived as the exception
        assert leftovers(tmp_path) == [], f"seed {seed}, attempt {attempt}"  # removed by the writer itself
        assert target.read_bytes() == expected


def big_corpus(path: Path) -> Path:
    """About 200,000 words: a few seconds of counting with --memory 64K."""
    import numpy as np

    rng = np.random.default_rng(1)
    words = np.array([f"w{i}" for i in range(500)])
    lines = [" ".join(rng.choice(words, size=8)) for _ in range(25_000)]
    path.write_text("\n".join(lines) + "\n")
    return path


def counting_process(corpus, runs, out):
    """``fit-ngram --memory 64K --tmp RUNS``, started; returns once its run directory exists."""
    process = lmtool_process("fit-ngram", "--corpus", corpus, "--smoothing", "witten-bell", "--memory", "64K",
                             "--tmp", runs, "-o", out)
    deadline = time.monotonic() + 60
    while not any(runs.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.005)
    return process


def test_a_killed_out_of_core_count_leaves_no_run_directory(tmp_path):
    corpus, runs, out = big_corpus(tmp_path / "big.txt"), tmp_path / "runs", tmp_path / "m.npz"
    runs.mkdir()
    terminated = counting_process(corpus, runs, out)
    terminated.send_signal(signal.SIGTERM)
    _, stderr = terminated.communicate(timeout=60)
    assert terminated.returncode == 143 and stderr.splitlines()[-1] == "Error: terminated"
    assert list(runs.iterdir()) == [] and not out.exists()

    killed = counting_process(corpus, runs, out)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    left = [p.name for p in runs.iterdir()]
    assert len(left) == 1 and left[0].startswith("lmtool-ngram-runs.") and f"-{killed.pid}." in left[0]
    result = invoke("fit-ngram", "--corpus", corpus, "--smoothing", "witten-bell", "--memory", "64K", "--tmp", runs,
                    "-o", out, "-n", "2")
    assert result.exit_code == 0, result.output
    assert list(runs.iterdir()) == []  # the next run removed the killed one's directory


KILL_AFTER_CHECKPOINT = """
import os, signal, sys
import lmtool.neural.training as training
step, stopped = int(sys.argv[1]), sys.argv[2]
save = training.save_resume

def save_then_die(path, state):
    save(path, state)
    if state["position"]["step"] == step and str(state["stopped"]) == stopped:
        os.kill(os.getpid(), signal.SIGKILL)

training.save_resume = save_then_die
from lmtool.cli.main import main
main(sys.argv[3:])
"""

EDGE = ["--emb", "4", "--hidden", "8", "--layers", "1", "--bptt", "5", "--batch-size", "4", "--threads", "1",
        "--optimizer", "sgd", "--lr", "5", "--dropout", "0.3", "--valid-every", "3", "--max-steps", "6", "--seed", "3",
        "-q"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, corpus_file):
    out = tmp_path_factory.mktemp("whole") / "m.rnn"
    result = invoke("train-rnn", "--corpus", corpus_file, *EDGE, "-o", out)
    assert result.exit_code == 0, result.output
    return load_file(out.with_name("m.rnn.ckpt") / "last.safetensors")


def killed_after(tmp_path, corpus_file, step: int, stopped: str) -> Path:
    """A run of EDGE SIGKILLed right after it wrote its checkpoint of ``step`` (``stopped``: why it ended, or None)."""
    out = tmp_path / "m.rnn"
    args = ["train-rnn", "--corpus", str(corpus_file), *EDGE, "-o", str(out)]
    done = subprocess.run([sys.executable, "-c", KILL_AFTER_CHECKPOINT, str(step), stopped, *args], env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return out


def test_kill_at_the_budget_edge_then_resume_gives_the_uninterrupted_weights(tmp_path, corpus_file, uninterrupted):
    # step 6 is the budget's edge: its scheduled checkpoint is written, the run is killed before it ends
    out = killed_after(tmp_path, corpus_file, 6, "None")
    result = invoke("train-rnn", "--corpus", corpus_file, *EDGE[:-1], "-o", out, "--resume", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] == 6  # no step past the budget
    resumed = load_file(out.with_name("m.rnn.ckpt") / "last.safetensors")
    assert all(torch.equal(uninterrupted[name], resumed[name]) for name in uninterrupted)
    assert leftovers(tmp_path) == []


def test_kill_after_the_final_checkpoint_then_resume_changes_nothing(tmp_path, corpus_file):
    out = killed_after(tmp_path, corpus_file, 6, "max-steps")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != "lock"}
    result = invoke("train-rnn", "--corpus", corpus_file, *EDGE, "-o", out, "--resume")
    assert result.exit_code == 0 and "already finished at step 6 (max-steps)" in result.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != "lock"} == before


def test_sigterm_inside_a_write_removes_the_temporary_file_and_exits_143(tmp_path, models, monkeypatch):
    target = tmp_path / "m.arpa"
    target.write_bytes(b"previous")
    real_fsync = os.fsync

    def terminated_while_syncing(descriptor):  # the signal arrives with the whole file written, not yet renamed
        os.kill(os.getpid(), signal.SIGTERM)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", terminated_while_syncing)
    handler = signal.getsignal(signal.SIGTERM)
    result = invoke("export", models["npz"], "--arpa", target)
    assert result.exit_code == 143 and one_line_error(result) == "Error: terminated"
    assert target.read_bytes() == b"previous" and leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is handler  # the command's handler is gone with it


def test_disk_full_while_spilling_runs_names_the_tmp_disk(small_disk, tmp_path, corpus_file, monkeypatch):
    runs = small_disk
    if runs is None:  # no tmpfs: the spill's own write fails as a full disk's would
        runs = tmp_path / "runs"
        runs.mkdir()

        def no_space(handle, array):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr("lmtool.ngram.external.spill.write_npy", no_space)
    result = invoke("fit-ngram", "--corpus", corpus_file, "--smoothing", "witten-bell", "--memory", "1M",
                    "--tmp", runs, "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert one_line_error(result) == (f"Error: no space left on the device of {runs} while spilling n-gram runs: "
                                      "free disk space or give --tmp on a larger disk")
    assert list(runs.iterdir()) == [] and not (tmp_path / "m.npz").exists()
