"""``lmtool eval`` and ``lmtool info`` through CliRunner: the table, its formats, and bad inputs
(bad model files for every command that reads one: eval, sample, info)."""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from tests.conftest import save_rnn

TRAIN = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\nthe mat is red\n"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A split corpus, a word bigram (.npz and ARPA), a tiny untrained LSTM, and a char bigram."""
    from lmtool.ngram import fit_ngram, save_ngram, write_arpa
    from lmtool.text import load_corpus

    root = tmp_path_factory.mktemp("eval")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "train.txt").write_text(TRAIN)
    (corpus / "valid.txt").write_text("the cat sat\nthe dog is red\n")
    (corpus / "test.txt").write_text("the cat is on the log\na zebra sat\n")
    prepared = load_corpus(str(corpus))
    word = fit_ngram(prepared, order=2, method="witten-bell")
    save_ngram(word, str(root / "wb2.npz"))
    write_arpa(word, str(root / "wb2.arpa"))
    save_rnn(root / "tiny.rnn", prepared)
    save_ngram(fit_ngram(load_corpus(str(corpus), tokenizer="char"), order=2, method="witten-bell"), str(root / "char2.npz"))
    return root, corpus


def test_table_with_both_families_and_a_mixture(setup):
    root, corpus = setup
    result = invoke("eval", "--perplexity", root / "wb2.npz", root / "wb2.arpa", root / "tiny.rnn",
                    "--corpus", corpus, "--variants", "--interpolate")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "kind", "regime"] and "srilm" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == {"wb2.npz", "wb2.arpa", "tiny.rnn", "mixture"}
    # test: 6 + 3 words, 2 </s>: 11 tokens, "zebra" is the only OOV; same for every row
    assert all(row[4:7] == ["11", "2", "1"] for row in rows.values())
    assert rows["tiny.rnn"][2] == "carried" and rows["wb2.npz"][2] == "per-sentence"
    # the ARPA export scores exactly as the native file
    assert rows["wb2.arpa"][8:11] == rows["wb2.npz"][8:11]


def test_json_csv_and_per_token(setup, tmp_path):
    root, corpus = setup
    result = invoke("eval", root / "wb2.npz", root / "tiny.rnn", "--corpus", corpus, "--json",
                    "--reset-per-sentence", "--per-token", tmp_path / "pt.tsv")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["regime"] for r in report["rows"]] == ["per-sentence", "reset"]
    assert report["rows"][0]["perplexity"] == pytest.approx(2 ** report["rows"][0]["bits_per_token"])
    per_token = (tmp_path / "pt.tsv").read_text().splitlines()
    assert per_token[0] == "position\tsegment\ttoken\twb2.npz log10p\ttiny.rnn log10p" and len(per_token) == 12
    result = invoke("eval", root / "wb2.npz", "--corpus", corpus, "--csv")
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["model"] == "wb2.npz" and row["tokens"] == "11"


def test_explain_prints_the_convention():
    result = invoke("eval", "--explain")
    assert result.exit_code == 0
    assert "SRILM" in result.output and "ppl1" in result.output and "including OOVs" in result.output


def test_mismatched_fingerprints_warn_and_keep_bits_per_char(setup):
    root, corpus = setup
    result = invoke("eval", root / "wb2.npz", root / "char2.npz", "--corpus", corpus, "--json")
    assert result.exit_code == 0, result.output
    assert "bits/char compares all rows" in result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [r["vocab"] for r in rows] == ["A", "B"]
    assert rows[1]["tokens"] > rows[0]["tokens"]  # characters outnumber words
    assert all(r["bits_per_char"] > 0 for r in rows)


@pytest.mark.parametrize("command", [["eval", "--corpus", "CORPUS"], ["sample"], ["info"]])
@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.npz", "no such model file"),
    (lambda d: _write(d / "notes.txt", b"not a model\n"), "not a model file"),
    (lambda d: _write(d / "cut.npz", (d / "wb2.npz").read_bytes()[:300]), "cut.npz"),
])
def test_bad_model_files_in_every_command_that_reads_one(setup, command, make, message):
    root, corpus = setup
    name, *options = command
    result = invoke(name, make(root), *[corpus if option == "CORPUS" else option for option in options])
    assert result.exit_code == 4, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def _write(path, content):
    path.write_bytes(content)
    return path


def test_usage_errors(setup):
    root, corpus = setup
    assert invoke("eval", "--corpus", corpus).exit_code == 2
    assert invoke("eval", root / "wb2.npz").exit_code == 2
    result = invoke("eval", root / "wb2.npz", root / "tiny.rnn", "--corpus", corpus, "--interpolate", "--weights", "1,2")
    assert result.exit_code == 2 and "sum to 1" in result.stderr
    result = invoke("eval", root / "wb2.npz", "--corpus", corpus, "--weights", "0.5,0.5")
    assert result.exit_code == 2 and "--interpolate" in result.stderr
    result = invoke("eval", root / "wb2.npz", "--corpus", corpus, "--split", "dev")
    assert result.exit_code == 3 and "split" in result.stderr


def test_info_text_and_json(setup):
    root, _ = setup
    result = invoke("info", root / "wb2.npz")
    assert result.exit_code == 0 and "order: 2" in result.output and "witten-bell" in result.output
    described = json.loads(invoke("info", root / "tiny.rnn", "--json").stdout)
    assert described["kind"] == "rnn" and described["architecture"]["cell"] == "lstm"
