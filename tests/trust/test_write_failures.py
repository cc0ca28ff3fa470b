"""Issue 12, item 2: every writer checks its destination before the work starts (exit 2, one
line), turns an ``OSError`` at write time into one line naming the path and the cause (exit 1),
leaves no partial file, and creates files with the umask's permissions (not mkstemp's 0600).

Full disks, read-only mounts and kills are in test_fault_injection.py.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat

import pytest

from lmtool.errors import LmtoolError, UsageError
from lmtool.files import atomic_write

from .conftest import invoke, leftovers, one_line_error

TINY_RNN = ["--emb", "4", "--hidden", "4", "--layers", "1", "--bptt", "5", "--batch-size", "4", "--threads", "1",
            "--max-steps", "2", "-q"]


def writers(corpus, models, bad):
    """Every command that writes, with ``bad`` (an impossible path) as each of its outputs in turn."""
    fit = ["fit-ngram", "--corpus", corpus, "--smoothing", "witten-bell"]
    return {
        "fit-ngram -o": [*fit, "-o", bad],
        "fit-ngram --arpa": [*fit, "-o", "{tmp}/ok.npz", "--arpa", bad],
        "fit-ngram --memory --tmp": [*fit, "-o", "{tmp}/ok.npz", "--memory", "1M", "--tmp", bad],
        "export --arpa": ["export", models["npz"], "--arpa", bad],
        "eval --per-token": ["eval", models["npz"], "--corpus", corpus, "--per-token", bad],
        "train-rnn -o": ["train-rnn", "--corpus", corpus, *TINY_RNN, "-o", bad],
        "train-rnn --checkpoint-dir": ["train-rnn", "--corpus", corpus, *TINY_RNN, "-o", "{tmp}/ok.rnn",
                                       "--checkpoint-dir", bad],
        "train-rnn --log": ["train-rnn", "--corpus", corpus, *TINY_RNN, "-o", "{tmp}/ok.rnn", "--log", bad],
        "corpus prepare -o": ["corpus", "prepare", corpus, "-o", bad],
        "compare -o": ["compare", "--corpus", corpus, "--orders", "1", "--rnn-time", "0", "-o", bad],
        "sample --abc-midi": ["sample", models["npz"], "--abc-midi", bad],
        "analyze context-curve --plot": ["analyze", "context-curve", models["npz"], "--corpus", corpus, "--plot", bad],
        "analyze view -o": ["analyze", "view", models["npz"], models["npz"], "--corpus", corpus, "-o", bad],
    }


BAD_PLACES = {
    "under /proc": "/proc/lmtool-test/out",
    "under a file": "{corpus}/out",
}


@pytest.mark.parametrize("place", BAD_PLACES)
@pytest.mark.parametrize("writer", writers("c", {"npz": "m"}, "x"))
def test_an_unwritable_destination_is_refused_before_the_work(tmp_path, corpus_file, models, writer, place):
    bad = BAD_PLACES[place].format(corpus=corpus_file)
    args = [str(a).format(tmp=tmp_path) for a in writers(corpus_file, models, bad)[writer]]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    message = one_line_error(result)
    assert bad.split("/out")[0] in message  # names where it cannot write
    assert not any(tmp_path.iterdir())  # nothing was computed and written elsewhere first


def test_an_existing_directory_where_a_file_goes_is_refused(tmp_path, corpus_file):
    (tmp_path / "m.npz").mkdir()
    result = invoke("fit-ngram", "--corpus", corpus_file, "-o", tmp_path / "m.npz")
    assert result.exit_code == 2 and "is a directory" in one_line_error(result)
    from lmtool.files import check_writable

    with pytest.raises(UsageError, match="m.npz exists and is not a file"):
        check_writable(tmp_path / "m.npz", "-o")


def test_missing_parent_directories_are_created(tmp_path, corpus_file, models):
    result = invoke("eval", models["npz"], "--corpus", corpus_file, "--per-token", tmp_path / "a" / "b" / "t.tsv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "b" / "t.tsv").read_text().startswith("position\t")


def test_an_oserror_while_writing_is_one_line_naming_path_and_cause(tmp_path, corpus_file, monkeypatch):
    real_fsync = os.fsync

    def full(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    result = invoke("fit-ngram", "--corpus", corpus_file, "--smoothing", "witten-bell", "-o", tmp_path / "m.npz")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert result.exit_code == 1, result.output
    line = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert line == [f"Error: cannot write {tmp_path / 'm.npz'}: No space left on device: free some space or write "
                    "elsewhere"]
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []


def test_a_failed_per_token_write_leaves_no_partial_file(tmp_path):
    from lmtool.files import atomic_write_lines

    target = tmp_path / "t.tsv"

    def lines():
        yield "position\tsegment\ttoken"
        yield "0\t0\tthe"
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(LmtoolError, match="cannot write .*t.tsv: Input/output error"):
        atomic_write_lines(target, lines())
    assert list(tmp_path.iterdir()) == []


def test_an_oserror_escaping_a_command_is_still_one_line(tmp_path, monkeypatch, corpus_file):
    def vanished(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(corpus_file))

    monkeypatch.setattr("lmtool.text.load_corpus", vanished)
    result = invoke("corpus", "info", corpus_file)
    assert result.exit_code == 1
    assert one_line_error(result) == f"Error: {corpus_file}: No such file or directory"


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield 0o640
    os.umask(previous)


def test_files_get_the_umask_permissions_not_0600(tmp_path, corpus_file, umask_027):
    fit = invoke("fit-ngram", "--corpus", corpus_file, "--smoothing", "witten-bell", "-o", tmp_path / "m.npz",
                 "--arpa", tmp_path / "m.arpa")
    assert fit.exit_code == 0, fit.output
    assert invoke("eval", tmp_path / "m.npz", "--corpus", corpus_file, "--per-token", tmp_path / "t.tsv").exit_code == 0
    assert invoke("corpus", "prepare", corpus_file, "-o", tmp_path / "prep").exit_code == 0
    for name in ("m.npz", "m.arpa", "t.tsv", "prep/manifest.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == umask_027, name
    assert stat.S_IMODE((tmp_path / "prep").stat().st_mode) == 0o750  # not mkdtemp's 0700


def test_rnn_model_files_get_the_umask_permissions(tmp_path, models, umask_027):
    from lmtool.neural.checkpoint import read_model_file, save_model_file

    net, meta = read_model_file(models["rnn"])
    save_model_file(tmp_path / "m.rnn", net, {k: v for k, v in meta.items() if k != "architecture"})
    assert stat.S_IMODE((tmp_path / "m.rnn").stat().st_mode) == umask_027


def test_atomic_write_removes_what_killed_writers_left_and_keeps_live_ones(tmp_path):
    from lmtool.files import owner_tag

    host = owner_tag().rsplit("-", 1)[0]
    dead = tmp_path / f".m.npz.{host}-{2**22 + 12345}.abcd1234.tmp"  # above Linux's default pid_max: no such process
    live = tmp_path / f".m.npz.{host}-1.abcd1234.tmp"  # pid 1 always runs
    other_host = tmp_path / f".m.npz.otherhost-{2**22 + 12345}.abcd1234.tmp"
    older_format = tmp_path / ".m.npz.abcd1234.tmp"  # no owner in the name: never ours to remove
    for path in (dead, live, other_host, older_format):
        path.write_bytes(b"half")
    atomic_write(tmp_path / "m.npz", lambda out: out.write(b"model"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m.npz", live.name, other_host.name, older_format.name])
    assert leftovers(tmp_path) == sorted([live.name, other_host.name, older_format.name])


def test_the_checkpoint_files_are_checked_before_training(tmp_path, corpus_file):
    (tmp_path / "ckpt" / "resume.pt").mkdir(parents=True)  # where the resume state must go
    result = invoke("train-rnn", "--corpus", corpus_file, *TINY_RNN, "-o", tmp_path / "m.rnn",
                    "--checkpoint-dir", tmp_path / "ckpt")
    assert result.exit_code == 2 and "resume.pt exists and is not a file" in one_line_error(result)
    assert not (tmp_path / "m.rnn").exists()  # no training happened first


def test_compare_report_is_written_atomically(tmp_path, monkeypatch, corpus_file):
    import matplotlib.figure

    def broken(self, out, **kwargs):
        out.write(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    report = tmp_path / "report"
    result = invoke("compare", "--corpus", corpus_file, "--orders", "1", "--rnn-time", "0", "-o", report)
    assert result.exit_code == 1 and ".png: No space left on device" in one_line_error(result)
    assert not [p.name for p in report.iterdir() if p.suffix == ".png"]  # no empty or partial PNG
    shutil.rmtree(report)
