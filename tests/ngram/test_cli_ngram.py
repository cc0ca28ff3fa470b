"""``lmtool fit-ngram`` and ``lmtool export`` through click's CliRunner."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from lmtool.ngram import load_ngram, read_arpa


@pytest.fixture
def corpus_file(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    weights = 1 / np.arange(1, 401)
    lines = [" ".join(rng.choice(words, size=rng.integers(2, 12), p=weights / weights.sum())) for _ in range(600)]
    path = tmp_path / "text.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_fit_writes_model_and_arpa(tmp_path, corpus_file):
    result = run("fit-ngram", "--corpus", corpus_file, "--order", 3, "-o", tmp_path / "m.npz", "--arpa", tmp_path / "m.arpa")
    assert result.exit_code == 0, result.output
    assert "3-grams" in result.output and "valid perplexity" in result.output and "peak memory" in result.output
    model = load_ngram(tmp_path / "m.npz")
    assert model.order == 3 and read_arpa(tmp_path / "m.arpa").tables.n_listed() == model.tables.n_listed()


def test_arpa_alone_is_the_same_arpa_and_writes_no_model_file(tmp_path, corpus_file):
    # as lmplz does: an ARPA file and nothing else; the ARPA equals the one written beside a model file
    both = run("fit-ngram", "--corpus", corpus_file, "-o", tmp_path / "m.lmt", "--arpa", tmp_path / "a.arpa")
    assert both.exit_code == 0, both.output
    alone = run("fit-ngram", "--corpus", corpus_file, "--arpa", tmp_path / "b.arpa", "--json")
    assert alone.exit_code == 0, alone.output
    summary = json.loads(alone.stdout)
    assert summary["model"] is None and summary["model_bytes"] is None and summary["arpa"] == str(tmp_path / "b.arpa")
    assert (tmp_path / "a.arpa").read_text() == (tmp_path / "b.arpa").read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.arpa", "b.arpa", "m.lmt", "text.txt"]
    assert "-> " + str(tmp_path / "c.arpa") in run("fit-ngram", "--corpus", corpus_file, "--arpa", tmp_path / "c.arpa").output


def test_nothing_to_write_is_a_usage_error(corpus_file):
    result = run("fit-ngram", "--corpus", corpus_file, "--order", 3)
    assert result.exit_code == 2 and "nothing to write" in result.output


def test_quantise_without_a_model_file_is_a_usage_error(tmp_path, corpus_file):
    result = run("fit-ngram", "--corpus", corpus_file, "--arpa", tmp_path / "a.arpa", "--quantise", 8)
    assert result.exit_code == 2 and "--quantise" in result.output and "give -o" in result.output
    assert not (tmp_path / "a.arpa").exists()


def test_json_summary(tmp_path, corpus_file):
    result = run("fit-ngram", "--corpus", corpus_file, "-n", 2, "--smoothing", "witten-bell", "-o", tmp_path / "m.npz", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["method"] == "witten-bell" and len(summary["ngrams"]) == 2
    assert summary["valid_perplexity"] > 1 and summary["training"]["tokens"] > 0


def test_export_equals_fit_arpa(tmp_path, corpus_file):
    assert run("fit-ngram", "--corpus", corpus_file, "-o", tmp_path / "m.npz", "--arpa", tmp_path / "a.arpa").exit_code == 0
    result = run("export", tmp_path / "m.npz", "--arpa", tmp_path / "b.arpa")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.arpa").read_text() == (tmp_path / "b.arpa").read_text()


def test_convert_arpa_and_prune(tmp_path, corpus_file):
    result = run("fit-ngram", "--corpus", corpus_file, "-o", tmp_path / "m.npz", "--arpa", tmp_path / "a.arpa", "--prune", "0 1 1")
    assert result.exit_code == 0, result.output
    result = run("fit-ngram", "--from-arpa", tmp_path / "a.arpa", "-o", tmp_path / "c.npz")
    assert result.exit_code == 0, result.output
    assert load_ngram(tmp_path / "c.npz").tables.n_listed() == load_ngram(tmp_path / "m.npz").tables.n_listed()


def test_stupid_backoff_is_labelled_and_not_exportable(tmp_path, corpus_file):
    result = run("fit-ngram", "--corpus", corpus_file, "--smoothing", "stupid-backoff", "-o", tmp_path / "s.npz")
    assert result.exit_code == 0 and "NOT a perplexity" in result.output
    result = run("export", tmp_path / "s.npz", "--arpa", tmp_path / "s.arpa")
    assert result.exit_code == 2 and "not a normalised model" in result.output


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--order", "0"], 2, "--order must be at least 1"),
        (["--order", "-2"], 2, "--order must be at least 1"),
        (["--smoothing", "add-k", "--k", "-1"], 2, "--k must be >= 0"),
        (["--smoothing", "witten-bell", "--k", "1"], 2, "does not apply"),
        (["--prune", "0 2 1"], 2, "non-decreasing"),
    ],
)
def test_bad_options(tmp_path, corpus_file, args, code, message):
    result = run("fit-ngram", "--corpus", corpus_file, "-o", tmp_path / "m.npz", *args)
    assert result.exit_code == code and message in result.output and "Traceback" not in result.output


def test_empty_training_split(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    result = run("fit-ngram", "--corpus", empty, "-o", tmp_path / "m.npz")
    assert result.exit_code == 3 and "Error:" in result.output


def test_needs_exactly_one_source(tmp_path, corpus_file):
    assert run("fit-ngram", "-o", tmp_path / "m.npz").exit_code == 2
    assert run("fit-ngram", "--corpus", corpus_file, "--from-arpa", tmp_path / "x", "-o", tmp_path / "m.npz").exit_code == 2


def test_export_rejects_wrong_kind_and_corruption(tmp_path, corpus_file):
    other = tmp_path / "rnn.safetensors"
    other.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}")
    result = run("export", other, "--arpa", tmp_path / "x.arpa")
    assert result.exit_code == 4 and "not an lmtool n-gram model" in result.output
    assert run("fit-ngram", "--corpus", corpus_file, "-o", tmp_path / "m.npz").exit_code == 0
    (tmp_path / "cut.npz").write_bytes((tmp_path / "m.npz").read_bytes()[:200])
    result = run("export", tmp_path / "cut.npz", "--arpa", tmp_path / "x.arpa")
    assert result.exit_code == 4 and "corrupt or truncated" in result.output
    assert not (tmp_path / "x.arpa").exists()


@pytest.mark.parametrize("command", ["fit-ngram", "export"])
def test_help_ends_with_an_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "Example: lmtool " + command in result.output


def test_more_workers_than_the_machine_can_use_is_a_usage_error(tmp_path, corpus_file):
    result = run("fit-ngram", "--corpus", corpus_file, "--memory", "10M", "--workers", 100_000, "-o", tmp_path / "m.lmt")
    assert result.exit_code == 2 and "--workers 100000 is more processes than" in result.output
    assert not (tmp_path / "m.lmt").exists()
