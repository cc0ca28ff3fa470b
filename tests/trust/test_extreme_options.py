"""Issue 12, item 5: divergence and extreme options. Every option is checked at the boundary
(one line, exit 2), a generated corpus is bounded by the machine's memory with the size it
would need, divergence is exit 1 with what to try, and a text of one enormous line is split
in stream units like any other."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lmtool.text import load_corpus

from .conftest import invoke, one_line_error

TINY = ["--emb", "4", "--hidden", "8", "--layers", "1", "--bptt", "5", "--batch-size", "4", "--threads", "1", "-q"]


@pytest.mark.parametrize("args, message", [
    (["--lr", "inf"], "--lr must be positive and finite (got inf)"),
    (["--lr", "nan"], "--lr must be positive and finite (got nan)"),
    (["--clip", "nan"], "--clip must be a finite number (got nan)"),
    (["--weight-decay", "inf"], "--weight-decay must be a finite number (got inf)"),
    (["--lr-decay", "inf"], "--lr-decay must be a finite number (got inf)"),
    (["--seed", "-1"], "--seed must be"),
])
def test_absurd_training_options_are_usage_errors(tmp_path, corpus_file, args, message):
    result = invoke("train-rnn", "--corpus", corpus_file, *TINY, "--max-steps", "2", "-o", tmp_path / "m.rnn", *args)
    assert result.exit_code == 2 and message in one_line_error(result)
    assert not (tmp_path / "m.rnn").exists()


def test_divergence_is_exit_1_with_what_to_try(tmp_path, corpus_file):
    result = invoke("train-rnn", "--corpus", corpus_file, *TINY, "--max-steps", "40", "--valid-every", "4",
                    "--lr", "1e30", "-o", tmp_path / "m.rnn")
    assert result.exit_code == 1
    message = one_line_error(result)
    assert message.startswith("Error: training diverged: validation loss beyond any perplexity")
    assert "after 3 rollbacks" in message and "no model was written: retry with a lower --lr" in message
    assert not (tmp_path / "m.rnn").exists()


def test_a_validation_loss_beyond_exp_overflow_is_no_crash(tmp_path, corpus_file, monkeypatch):
    # 800 nats a token: math.exp(800) overflows. A run whose only validation says so has diverged.
    monkeypatch.setattr("lmtool.neural.training.evaluate_stream", lambda *args: 800.0)
    result = invoke("train-rnn", "--corpus", corpus_file, *TINY, "--max-steps", "8", "--valid-every", "2",
                    "-o", tmp_path / "m.rnn", "--log", tmp_path / "log.jsonl")
    assert result.exit_code == 1 and "validation loss beyond any perplexity (800)" in one_line_error(result)
    events = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["valid_ppl"] for e in events if e["event"] == "valid"] == [None] * 4  # inf is not JSON: null


def test_a_huge_but_finite_loss_gives_an_infinite_perplexity_not_an_overflow():
    from lmtool.lm import nats_to_perplexity, perplexity

    assert nats_to_perplexity(800.0) == math.inf and nats_to_perplexity(1.0) == math.e
    assert perplexity(np.full(3, -800.0)) == (800.0 / math.log(2), math.inf)


@pytest.mark.parametrize("seed", ["-1", str(2**63)])
def test_sample_seed_out_of_range_is_a_usage_error(models, seed):
    result = invoke("sample", models["npz"], "--seed", seed, "--max-tokens", "3")
    assert result.exit_code == 2 and "--seed must be between 0 and 2**63 - 1" in one_line_error(result)


def test_a_negative_split_seed_is_a_usage_error(corpus_file):
    result = invoke("corpus", "info", corpus_file, "--seed", "-1")
    assert result.exit_code == 2 and "--seed must be a non-negative integer, got -1" in one_line_error(result)


@pytest.mark.parametrize("spec, size", [
    ("gen:markov:length=1000000000000", "58.2 TiB"),  # 64 bytes a symbol
    ("gen:repeat:gap=1000000000000,length=10", "16.4 TiB"),  # two blocks of 10**12 + 2 positions, 9 bytes each
])
def test_a_generated_corpus_beyond_memory_names_the_size_it_would_need(monkeypatch, spec, size):
    monkeypatch.setattr("lmtool.limits.physical_memory", lambda: 16 * 2**30)
    result = invoke("corpus", "info", spec)
    assert result.exit_code == 2
    message = one_line_error(result)
    assert f"would need about {size} of memory, more than this machine's 16.0 GiB" in message


def test_a_single_enormous_line_in_stream_units_is_split_by_characters(tmp_path, monkeypatch):
    # the reader hands out lines of at most MAX_LINE_BYTES in pieces (4 MiB); the 10 MB line
    # came out as 3 pieces, dealt 2/1/0 to train/valid/test: "test split empty". 1 KiB pieces of a
    # 10 KiB line reproduce that at a thousandth of the size.
    monkeypatch.setattr("lmtool.text.readers.MAX_LINE_BYTES", 1024)
    text = "".join(np.random.default_rng(0).choice(list("abcdefgh "), size=10_000))
    (tmp_path / "one-line.txt").write_text(text)
    corpus = load_corpus(str(tmp_path / "one-line.txt"), tokenizer="char", unit="stream")
    assert {name: split.n_chars for name, split in corpus.splits.items()} == {"train": 8000, "valid": 1000,
                                                                             "test": 1000}
    decoded = "".join("".join(corpus.vocabulary.decode(corpus.splits[s].ids)) for s in ("train", "valid", "test"))
    assert decoded == text  # contiguous pieces, in order, nothing lost


@pytest.mark.parametrize("args, message", [
    # V = 43 (40 words, <unk> <s> </s>), E = 4, H = 10**8, an LSTM layer: 43 * 4 embedding weights,
    # 4 H (E + H + 2) recurrent ones (40,000,002,400,000,000), H * 43 + 43 in the softmax; 4 bytes
    # times 7 copies of them (weights, gradients, Adam's moments, the rollback snapshot) = 994.8 PiB
    (["--hidden", "100000000"], "a network of 40,000,006,700,000,215 weights would need about 994.8 PiB"),
    (["--layers", "100000000"], "would need about"),
    (["--emb", "100000000000"], "would need about"),
])
def test_a_network_beyond_memory_is_refused_with_its_size(tmp_path, corpus_file, args, message):
    options = [a for a in TINY if a not in ("--hidden", "8")]
    result = invoke("train-rnn", "--corpus", corpus_file, *options, *args, "--max-steps", "1", "-o", tmp_path / "m.rnn")
    assert result.exit_code == 2
    line = one_line_error(result)
    assert message in line and "use smaller --emb, --hidden or --layers" in line


@pytest.mark.parametrize("changes", [{}, {"cell": "gru", "layers": 3}, {"cell": "rnn-relu", "layers": 1},
                                     {"tied": True, "emb_size": 16, "hidden_size": 16},
                                     {"adaptive_cutoffs": [20, 50], "hidden_size": 64}])
def test_the_parameter_count_is_the_networks(changes):
    from lmtool.neural import RnnConfig, RnnNetwork

    config = RnnConfig(**{"vocab_size": 100, "emb_size": 8, "hidden_size": 16, **changes})
    assert config.parameter_count() == sum(p.numel() for p in RnnNetwork(config).parameters())


@pytest.mark.parametrize("changes", [{}, {"layers": 3, "direct": True}, {"tied": True, "emb_size": 16},
                                     {"adaptive_cutoffs": [20, 50], "hidden_size": 64, "context": 2}])
def test_the_neural_ngram_parameter_count_is_the_networks(changes):
    from lmtool.neural.config import NnlmConfig
    from lmtool.neural.feedforward import NnlmNetwork

    config = NnlmConfig(**{"vocab_size": 100, "emb_size": 8, "hidden_size": 16, **changes})
    assert config.parameter_count() == sum(p.numel() for p in NnlmNetwork(config).parameters())


@pytest.mark.parametrize("args, message", [
    (["train-rnn", "--corpus", "{corpus}", "-o", "{tmp}/m.rnn", "--threads", "1000000"],
     "--threads must be at least 1 and at most 1024"),
    (["corpus", "info", "{corpus}", "--tokenizer", "bpe", "--bpe-vocab-size", "1000000000"],
     "--bpe-vocab-size must be at least 257 (256 bytes + 1 merge) and at most 16,777,216"),
])
def test_values_that_crash_the_libraries_below_are_refused(tmp_path, corpus_file, args, message):
    # torch segfaults when asked for a million threads; Hugging Face tokenizers aborts on a 10**9 vocabulary
    result = invoke(*[a.format(corpus=corpus_file, tmp=tmp_path) for a in args])
    assert result.exit_code == 2 and message in one_line_error(result)
