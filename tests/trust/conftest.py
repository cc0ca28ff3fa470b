"""Fixtures of issue 12's tests (nothing lost, nothing silently wrong): small corpora and model
files, the CLI through CliRunner and as a real process, and file systems that fail on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from tests.conftest import REPO, save_rnn

#: a word corpus of 1,200 lines: enough for every smoothing method, fitted in a few ms
WORDS = [f"w{i}" for i in range(40)]


def invoke(*args, **kwargs):
    """``lmtool ARGS`` in this process (CliRunner), arguments as strings."""
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


def lmtool_process(*args, cwd=None, **kwargs) -> subprocess.Popen:
    """``python -m lmtool ARGS`` as a child process running this checkout (for kills and signals)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "lmtool", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def one_line_error(result) -> str:
    """The message of a failed CliRunner result, checked to be one line after any progress lines
    (the last line of the output) and no traceback."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return errors[0]


def leftovers(directory: Path) -> list[str]:
    """Names of lmtool's temporary files and directories under ``directory`` (``.NAME.HOST-PID.*.tmp`` and kin)."""
    return sorted(p.name for p in Path(directory).rglob("*") if ".tmp" in p.name or "lmtool-" in p.name)


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 10)))) for _ in range(1200)]
    path = tmp_path_factory.mktemp("corpus") / "text.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory, corpus_file) -> dict[str, Path]:
    """An n-gram .npz and its ARPA file (Witten-Bell trigram) and an untrained tiny RNN, on ``corpus_file``."""
    from lmtool.ngram import fit_ngram, save_ngram, write_arpa
    from lmtool.text import load_corpus

    root = tmp_path_factory.mktemp("models")
    prepared = load_corpus(str(corpus_file))
    model = fit_ngram(prepared, order=3, method="witten-bell")
    save_ngram(model, root / "m.npz")
    write_arpa(model, root / "m.arpa")
    save_rnn(root / "m.rnn", prepared)
    return {"npz": root / "m.npz", "arpa": root / "m.arpa", "rnn": root / "m.rnn", "root": root}


def _mount(*args: str) -> bool:
    return os.geteuid() == 0 and subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A directory on a 64 KiB tmpfs (root and a working ``mount``), or None where none can be mounted."""
    point = tmp_path / "small"
    point.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)):
        yield None
        return
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory nobody can write in: a read-only bind mount as root, mode 0555 otherwise."""
    point = tmp_path / "ro"
    point.mkdir()
    (point / "inside").mkdir()
    if os.geteuid() == 0:
        if not _mount("--bind", str(point), str(point)):
            pytest.skip("running as root, and mount fails: no way to make a directory read-only for root")
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(point)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)
            pytest.skip("running as root, and a read-only remount fails")
        try:
            yield point
        finally:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)
    else:
        point.chmod(0o555)
        try:
            yield point
        finally:
            point.chmod(0o755)

