"""``lmtool corpus info`` / ``prepare`` through click's CliRunner: figures, JSON, reuse, errors."""

import gzip
import json
import math

import click
import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from lmtool.cli.options import corpus_kwargs, corpus_options
from lmtool.text import CORPUS_OPTIONS, load_corpus

TEXT = "the cat sat\nthe dog sat\na cat ran\nthe end\n"


def invoke(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(TEXT * 10)
    return path


def test_info_json_per_split_figures(text_file):
    result = invoke("corpus", "info", str(text_file), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    train = report["splits"][0]
    # 40 lines, 0.8 -> 32 train sentences; every line is 3 words except "the end" (2)
    assert train["split"] == "train" and train["sentences"] == 32
    assert train["types"] <= 7 and report["tokenizer"] == "word" and report["entropy_rate_bits"] is None
    assert sum(row["chars"] for row in report["splits"]) == len(TEXT) * 10


def test_info_table_shows_entropy_rate_for_generated():
    result = invoke("corpus", "info", "gen:repeat:keys=2,fillers=2,gap=2,length=400")
    assert result.exit_code == 0, result.output
    assert "true entropy rate: 0.750000 bits/symbol" in result.output
    assert "train" in result.output and "320" in result.output


def test_stdin_spec(text_file):
    result = invoke("corpus", "info", "-", "--json", "--split-fractions", "1", input=TEXT)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["splits"][0]["sentences"] == 4


def test_compressed_stdin_spec():
    result = invoke("corpus", "info", "-", "--json", "--split-fractions", "1", input=gzip.compress(TEXT.encode()))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["splits"][0]["sentences"] == 4


def test_prepare_then_reuse_unchanged(text_file, tmp_path):
    out = tmp_path / "prepared"
    result = invoke("corpus", "prepare", str(text_file), "-o", str(out), "--tokenizer", "char", "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    direct = load_corpus(str(text_file), tokenizer="char")
    assert written["fingerprint"] == direct.fingerprint
    reloaded = load_corpus(str(out))
    assert reloaded.splits == direct.splits
    info = json.loads(invoke("corpus", "info", str(out), "--json").output)
    assert info["fingerprint"] == direct.fingerprint
    assert [row["tokens"] for row in info["splits"]] == [s.n_tokens for s in direct.splits.values()]


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["corpus", "info", "missing.txt"], 3, "unknown corpus 'missing.txt'"),
        (["corpus", "info", "gen:markov:order=x"], 2, "order must be an integer"),
        (["corpus", "info", "gen:nope"], 3, "unknown generated corpus"),
        (["corpus", "info", "TEXT", "--split-fractions", "0.5,0.2"], 2, "must sum to 1"),
        (["corpus", "info", "EMPTY"], 3, "split is empty"),
        (["corpus", "info", "BINARY"], 3, "looks binary"),
        (["corpus", "info", "LATIN1", "--split-fractions", "1"], 3, "invalid UTF-8 at byte 3"),
        (["corpus", "info", "TEXT", "--min-count", "0"], 2, "--min-count"),
        (["corpus", "prepare", "TEXT", "-o", "NOTCORPUS"], 2, "not a prepared corpus"),
    ],
)
def test_bad_inputs_give_one_line_and_exit_code(tmp_path, text_file, args, code, message):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "bin.dat").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    (tmp_path / "notcorpus").mkdir()
    (tmp_path / "notcorpus" / "keep.txt").write_text("x")
    paths = {"TEXT": text_file, "EMPTY": tmp_path / "empty.txt", "BINARY": tmp_path / "bin.dat",
             "LATIN1": tmp_path / "latin1.txt", "NOTCORPUS": tmp_path / "notcorpus"}
    result = invoke(*[str(paths.get(a, a)) for a in args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    # one error line (click's own option checks put a usage hint above it)
    assert [line for line in result.output.splitlines() if line.startswith("Error: ")] == [
        result.output.strip().splitlines()[-1]
    ]
    if code == 3:
        assert len(result.output.strip().splitlines()) == 1


def test_corpus_options_bundle_passes_only_given_values():
    seen = {}

    @click.command()
    @corpus_options
    def command(**params):
        seen.update(corpus_kwargs(params))

    result = CliRunner().invoke(command, ["--tokenizer", "bpe", "--bpe-vocab-size", "300", "--split-fractions", "0.9,0.1"])
    assert result.exit_code == 0, result.output
    assert seen == {"tokenizer": "bpe", "bpe_vocab_size": 300, "split_fractions": "0.9,0.1"}
    bad = CliRunner().invoke(command, ["--unit", "paragraph"])
    assert bad.exit_code == 2


def test_corpus_options_bundle_offers_every_load_corpus_option():
    @click.command()
    @corpus_options
    def command(**params):
        pass

    assert {param.name for param in command.params} == set(CORPUS_OPTIONS)


def test_generated_entropy_in_json_is_exact():
    report = json.loads(invoke("corpus", "info", "gen:repeat:keys=4,fillers=2,gap=6,length=80", "--json").output)
    assert report["entropy_rate_bits"] == pytest.approx((math.log2(4) + 6) / 8)


def test_bad_stdin_is_named_as_standard_input():
    result = invoke("corpus", "info", "-", input=b"caf\xe9 noir\n")
    assert result.exit_code == 3
    assert result.output.startswith("Error: standard input: invalid UTF-8 at byte 3")
