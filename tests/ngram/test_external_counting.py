"""Out-of-core counting (fit-ngram --memory): the same counts and model as in memory, exactly."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from lmtool.errors import UsageError
from lmtool.ngram import count_ngrams, fit_ngram, load_ngram
from lmtool.ngram import external
from lmtool.ngram.external import spill
from lmtool.ngram.external import ExternalStats, count_external, fit_external, parse_memory
from lmtool.text import EncodedSplit, load_corpus
from lmtool.text.streaming import split_chunks, stream_train

COUNT_FIELDS = ("ngrams", "counts", "prefixes", "suffixes")


def assert_same_counts(expected, got) -> None:
    assert got.order == expected.order and got.vocab_size == expected.vocab_size
    for name in COUNT_FIELDS:
        for k, (a, b) in enumerate(zip(getattr(expected, name), getattr(got, name))):
            assert a.dtype == b.dtype and np.array_equal(a, b), f"{name}[{k}] differs"
    assert np.array_equal(expected.first_seen, got.first_seen)


def assert_same_model(expected, got) -> None:
    for name in ("ngrams", "log10_probs", "log10_backoffs", "listed"):
        a, b = getattr(expected.tables, name), getattr(got.tables, name)
        assert (a is None) == (b is None)
        for k, (x, y) in enumerate(zip(a or [], b or [])):
            assert x.dtype == y.dtype and np.array_equal(x, y), f"{name}[{k}] differs"
    assert expected.discounts == got.discounts
    assert expected.vocabulary == got.vocabulary
    assert expected.tokenizer.to_json() == got.tokenizer.to_json()
    assert expected.fingerprint == got.fingerprint
    drop = lambda training: {key: value for key, value in training.items() if key != "seconds"}  # noqa: E731
    assert drop(expected.training) == drop(got.training)


@pytest.fixture(scope="module")
def word_corpus(tmp_path_factory) -> str:
    """About 9,000 Zipf-distributed word tokens in 1,000 lines (some empty), with rare types."""
    rng = np.random.default_rng(7)
    words = np.array([f"w{i}" for i in range(400)])
    p = 1 / np.arange(1, 401)
    lines = [" ".join(words[rng.choice(400, rng.integers(0, 18), p=p / p.sum())]) for _ in range(1000)]
    path = tmp_path_factory.mktemp("external") / "words.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def char_corpus(tmp_path_factory) -> str:
    """A character text with newlines: one segment under --unit stream."""
    rng = np.random.default_rng(3)
    text = "".join(rng.choice(list("abcab \n"), 6000))
    path = tmp_path_factory.mktemp("external") / "chars.txt"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("options", [dict(min_count=2), dict(tokenizer="char", unit="stream")])
def test_streamed_train_split_equals_load_corpus(word_corpus, options):
    corpus = load_corpus(word_corpus, **options)
    train = stream_train(word_corpus, **options)
    assert train.vocabulary == corpus.vocabulary and train.unit == corpus.unit
    chunks = list(train.chunks(500))
    assert len(chunks) > 3
    assert np.array_equal(np.concatenate([c.ids for c in chunks]), corpus.splits["train"].ids)
    # line units: whole sentences per chunk; stream units: every chunk after the first continues
    assert [c.continues for c in chunks] == [options.get("unit") == "stream" and i > 0 for i in range(len(chunks))]


@pytest.mark.parametrize("order", [1, 3, 5])
@pytest.mark.parametrize("chunk", [7, 61, 5000])
def test_counts_equal_in_memory_for_cuts_anywhere(order, chunk):
    """Cuts inside sentences (split_chunks cuts every `chunk` tokens) exercise the overlap."""
    rng = np.random.default_rng(order * 100 + chunk)
    ids = rng.integers(2, 40, 1000).astype(np.int32)
    ids[rng.random(1000) < 0.05] = 0
    starts = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 1000), 50, replace=False)), [1000]])
    for segment_starts in (starts, np.array([0, 1000])):
        split = EncodedSplit(ids, segment_starts.astype(np.int64), 0)
        stats = ExternalStats(chunk, 1)
        got = count_external(split_chunks(split, chunk), order, 40, 1 << 16, stats=stats)
        assert stats.runs == -(-1000 // chunk) and stats.tokens == 1000
        assert_same_counts(count_ngrams(ids, segment_starts, order, 40), got)


def test_many_spills_give_the_in_memory_counts_and_model(word_corpus, tmp_path):
    corpus = load_corpus(word_corpus)
    split = corpus.splits["train"]
    stats = ExternalStats(external.chunk_tokens(parse_memory("64K"), 1, 3), 1)
    train = stream_train(word_corpus)
    counts = count_external(train.chunks(stats.chunk_tokens), 3, len(train.vocabulary), parse_memory("64K"),
                            str(tmp_path), stats=stats)
    assert stats.runs > 3 and stats.chunks == stats.runs
    assert_same_counts(count_ngrams(split.ids, split.starts, 3, len(corpus.vocabulary)), counts)
    model, _ = fit_external(word_corpus, 3, "modified-kneser-ney", parse_memory("64K"), str(tmp_path))
    assert_same_model(fit_ngram(corpus, 3), model)
    assert os.listdir(tmp_path) == []  # the runs' directory is gone


def test_workers_one_and_two_identical(word_corpus):
    one, stats_one = fit_external(word_corpus, 4, "modified-kneser-ney", parse_memory("64K"), workers=1)
    two, stats_two = fit_external(word_corpus, 4, "modified-kneser-ney", parse_memory("64K"), workers=2)
    assert stats_two.runs > 3 and stats_two.workers == 2
    assert_same_model(one, two)


def test_stream_unit_cut_inside_the_single_segment(char_corpus):
    options = dict(tokenizer="char", unit="stream")
    corpus = load_corpus(char_corpus, **options)
    assert corpus.splits["train"].n_segments == 1
    model, stats = fit_external(char_corpus, 5, "modified-kneser-ney", parse_memory("64K"), corpus_options=options,
                                discount_fallback=True)  # 7 symbols: some counts-of-counts are 0
    assert stats.runs > 3 and stats.segments == 1
    assert_same_model(fit_ngram(corpus, 5, discount_fallback=True), model)


@pytest.mark.parametrize("text,size", [("65536", 65536), ("64K", 65536), ("500M", 500 << 20), ("2G", 2 << 30),
                                       ("1.5g", 3 << 29), ("2GiB", 2 << 30), (" 3MB ", 3 << 20)])
def test_parse_memory(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "2X", "1e9", "10K", "0"])
def test_bad_memory_is_a_usage_error(text, word_corpus, tmp_path):
    with pytest.raises(UsageError):
        parse_memory(text)
    result = CliRunner().invoke(cli, ["fit-ngram", "--corpus", word_corpus, "-o", str(tmp_path / "m.npz"),
                                      "--memory", text])
    assert result.exit_code == 2 and "--memory" in result.output
    assert not (tmp_path / "m.npz").exists()


def test_cli_memory_and_workers_write_the_in_memory_model(word_corpus, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    args = ["fit-ngram", "--corpus", word_corpus, "--order", "3"]
    assert CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "mem.npz")]).exit_code == 0
    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "ext.npz"), "--memory", "64K", "--workers", "2",
                                      "--tmp", str(runs)])
    assert result.exit_code == 0, result.output
    assert "out of core:" in result.output and "peak RSS" in result.output
    assert_same_model(load_ngram(str(tmp_path / "mem.npz")), load_ngram(str(tmp_path / "ext.npz")))
    assert os.listdir(runs) == []


@pytest.mark.parametrize("failure,code,message", [
    (OSError(errno.ENOSPC, "No space left on device"), 1, "no space left"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_failure_while_spilling_leaves_no_model_and_no_runs(word_corpus, tmp_path, monkeypatch, failure, code, message):
    calls = []

    def failing_write_run(*args):
        calls.append(args)
        if len(calls) > 2:  # fail once a few runs are on disk
            raise failure
        return original(*args)

    original = spill.write_run
    monkeypatch.setattr(spill, "write_run", failing_write_run)
    runs = tmp_path / "runs"
    runs.mkdir()
    output = tmp_path / "model.npz"
    result = CliRunner().invoke(cli, ["fit-ngram", "--corpus", word_corpus, "-o", str(output), "--memory", "64K",
                                      "--tmp", str(runs)])
    assert result.exit_code == code
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.output
    assert not output.exists() and os.listdir(tmp_path) == ["runs"] and os.listdir(runs) == []


def test_tmp_that_cannot_hold_a_directory(word_corpus, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli, ["fit-ngram", "--corpus", word_corpus, "-o", str(tmp_path / "m.npz"),
                                      "--memory", "1M", "--tmp", str(blocker / "sub")])
    assert result.exit_code == 2 and "--tmp" in result.output


def test_prepared_corpus_directory_is_cut_into_chunks(word_corpus, tmp_path):
    corpus = load_corpus(word_corpus)
    corpus.save(str(tmp_path / "prepared"))
    model, stats = fit_external(str(tmp_path / "prepared"), 3, "modified-kneser-ney", parse_memory("64K"))
    assert stats.runs > 3
    assert_same_model(fit_ngram(corpus, 3), model)
