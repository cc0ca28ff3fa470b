"""Issue 12, item 1: an output that is the same file as an input, or as another output of the same
command, is refused before any work (exit 2, one line), by resolved path and by inode (hard
links), for every command that writes."""

from __future__ import annotations

import os
import shutil

import pytest

from lmtool.errors import UsageError

from .conftest import invoke, one_line_error


@pytest.fixture
def work(tmp_path, corpus_file, models):
    """Copies of the corpus and the model files in a fresh directory (the commands must not touch them)."""
    shutil.copy(corpus_file, tmp_path / "c.txt")
    for kind in ("npz", "arpa", "rnn"):
        shutil.copy(models[kind], tmp_path / f"m.{kind}")
    split = tmp_path / "split"
    split.mkdir()
    for name in ("train", "valid", "test"):
        shutil.copy(corpus_file, split / f"{name}.txt")
    os.link(tmp_path / "c.txt", tmp_path / "c-link.txt")
    os.link(tmp_path / "m.npz", tmp_path / "m-link.npz")
    (tmp_path / "sub").mkdir()
    return tmp_path


CASES = {
    "fit -o onto its corpus": ["fit-ngram", "--corpus", "c.txt", "-o", "c.txt"],
    "fit -o onto its corpus by another path": ["fit-ngram", "--corpus", "c.txt", "-o", "sub/../c.txt"],
    "fit -o onto a hard link of its corpus": ["fit-ngram", "--corpus", "c.txt", "-o", "c-link.txt"],
    "fit -o onto a split file": ["fit-ngram", "--corpus", "split", "-o", "split/valid.txt"],
    "fit -o onto a globbed file": ["fit-ngram", "--corpus", "c*.txt", "-o", "c-link.txt"],
    "fit -o and --arpa one file": ["fit-ngram", "--corpus", "c.txt", "-o", "x.npz", "--arpa", "./x.npz"],
    "convert -o onto the ARPA input": ["fit-ngram", "--from-arpa", "m.arpa", "-o", "m.arpa"],
    "export onto its model": ["export", "m.npz", "--arpa", "m.npz"],
    "export onto a hard link of its model": ["export", "m.npz", "--arpa", "m-link.npz"],
    "eval --per-token onto a model": ["eval", "m.npz", "--corpus", "c.txt", "--per-token", "m.npz"],
    "eval --per-token onto the corpus": ["eval", "m.npz", "--corpus", "c.txt", "--per-token", "c-link.txt"],
    "train -o onto its corpus": ["train-rnn", "--corpus", "c.txt", "-o", "c.txt"],
    "train -o and --log one file": ["train-rnn", "--corpus", "c.txt", "-o", "x.rnn", "--log", "x.rnn"],
    "train --log onto its checkpoint": ["train-rnn", "--corpus", "c.txt", "-o", "x.rnn", "--log",
                                        "x.rnn.ckpt/last.safetensors"],
    "train -o onto its resume state": ["train-rnn", "--corpus", "c.txt", "-o", "d/resume.pt", "--checkpoint-dir", "d"],
    "prepare into the directory of its corpus": ["corpus", "prepare", "split/train.txt", "-o", "split"],
    "compare -o over its corpus": ["compare", "--corpus", "sub/results.json", "-o", "sub"],
    "analyze view -o onto a model": ["analyze", "view", "m.npz", "m.rnn", "--corpus", "c.txt", "-o", "m.rnn"],
    "analyze --plot onto the corpus": ["analyze", "context-curve", "m.npz", "--corpus", "c.txt", "--plot", "c.txt"],
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_an_output_onto_an_input_or_another_output_is_refused_up_front(work, monkeypatch, args):
    if args[0] == "compare":
        shutil.copy(work / "c.txt", work / "sub" / "results.json")
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    monkeypatch.chdir(work)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    message = one_line_error(result)
    assert "same file" in message or "would be replaced" in message
    assert "loading" not in result.output and "counting" not in result.output  # refused before any work
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before


def test_the_prepared_corpus_cannot_be_prepared_onto_itself(work, monkeypatch):
    monkeypatch.chdir(work)
    assert invoke("corpus", "prepare", "c.txt", "-o", "prep").exit_code == 0
    manifest = (work / "prep" / "manifest.json").read_bytes()
    result = invoke("corpus", "prepare", "prep", "-o", "prep")
    assert result.exit_code == 2 and "would be replaced" in one_line_error(result)
    assert (work / "prep" / "manifest.json").read_bytes() == manifest


def test_distinct_paths_are_accepted(work, monkeypatch):
    monkeypatch.chdir(work)
    result = invoke("fit-ngram", "--corpus", "c.txt", "--smoothing", "witten-bell", "-o", "new.npz",
                    "--arpa", "new.arpa")
    assert result.exit_code == 0, result.output
    assert (work / "new.npz").is_file() and (work / "new.arpa").is_file()


def test_same_file_sees_resolved_paths_and_inodes(tmp_path):
    from lmtool.files import check_distinct, same_file

    (tmp_path / "a").write_text("x")
    os.link(tmp_path / "a", tmp_path / "hard")
    os.symlink(tmp_path / "a", tmp_path / "soft")
    assert same_file(tmp_path / "a", tmp_path / "hard") and same_file(tmp_path / "a", tmp_path / "soft")
    assert same_file(tmp_path / "new", tmp_path / "." / "new")  # neither exists: the resolved path decides
    assert not same_file(tmp_path / "a", tmp_path / "new")
    with pytest.raises(UsageError, match="-o .*hard is the same file as --corpus .*a"):
        check_distinct([("-o", str(tmp_path / "hard"))], [("--corpus", str(tmp_path / "a"))])
