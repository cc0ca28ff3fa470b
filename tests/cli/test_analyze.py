"""``lmtool analyze`` through CliRunner: each subcommand's table and JSON, its files, and one-line errors."""

import json

import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from tests.browser import render
from tests.conftest import save_rnn

TEXT = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog ran\nthe mat is red\n" * 5


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A word corpus with its splits, Witten-Bell n-grams of orders 1 to 3, a tiny LSTM, a char model."""
    from lmtool.ngram import fit_ngram, save_ngram
    from lmtool.text import load_corpus

    root = tmp_path_factory.mktemp("analyze")
    for name, lines in (("train", TEXT), ("valid", "the cat ran\n"), ("test", "the dog sat on the mat\na cat ran\n")):
        (root / f"{name}.txt").write_text(lines)
    corpus = load_corpus(str(root))
    for order in (1, 2, 3):
        save_ngram(fit_ngram(corpus, order=order, method="witten-bell"), root / f"wb{order}.npz")
    save_rnn(root / "tiny.rnn", corpus)
    save_ngram(fit_ngram(load_corpus(str(root), tokenizer="char"), order=2, method="witten-bell"), root / "char2.npz")
    return root


def test_context_curve_table_json_and_plot(setup, tmp_path):
    root = setup
    result = invoke("analyze", "context-curve", root / "tiny.rnn", root / "wb1.npz", root / "wb3.npz",
                    "--corpus", root, "--contexts", "1,2,4", "--reset-per-sentence", "--plot", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["model", "kind", "sees", "K=1", "K=2", "K=4", "full"]
    assert [line.split()[0] for line in lines[2:5]] == ["tiny.rnn", "wb1.npz", "wb3.npz"]
    assert lines[3].split()[2:4] == ["0", lines[3].split()[-1]]  # a unigram sees nothing: one value throughout
    assert lines[4].split()[2:4] == ["2", "-"]  # a trigram sees two tokens: no figure at K = 1
    assert "all 11 eligible targets of 11 tokens" in lines[5]
    assert (tmp_path / "c.png").stat().st_size > 0
    data = json.loads(invoke("analyze", "context-curve", root / "tiny.rnn", "--corpus", root, "--contexts", "2",
                             "--positions", "5", "--json").stdout)
    assert data["contexts"] == [2] and data["scored"] == 5 and data["regime"] == "carried"


def test_attribution_table_and_json(setup):
    root = setup
    result = invoke("analyze", "attribution", root / "wb2.npz", root / "tiny.rnn", "--corpus", root,
                    "--reset-per-sentence")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("tiny.rnn vs wb2.npz over 11 tokens:")
    for title in ("training frequency", "longest n-gram seen", "tokens since the same token", "position in the"):
        assert f"by {title}" in result.stdout
    assert "\n1      2       18.2" in result.stdout  # share% of the tokens: 2 of 11 first in their sentence
    data = json.loads(invoke("analyze", "attribution", root / "wb2.npz", root / "tiny.rnn", "--corpus", root,
                             "--json").stdout)
    assert data["regime"] == "carried" and data["model_b"] == "tiny.rnn"
    # novelty looks up n-grams up to the highest order given (2)
    assert {r["group"] for r in data["groups"]["novelty"]} <= {"0", "1", "2"}
    for rows in data["groups"].values():
        assert sum(r["bits_gained"] for r in rows) == pytest.approx(data["bits_gained"])


def test_view_writes_a_page_that_renders(setup, tmp_path):
    root = setup
    result = invoke("analyze", "view", root / "wb2.npz", root / "tiny.rnn", "--corpus", root, "--lines", "1",
                    "--top", "3", "-o", tmp_path / "view.html")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "view.html").read_text()
    assert html.count("data-i=") == 7  # "the dog sat on the mat" and </s>
    probe, console = render(tmp_path / "view.html", tmp_path)
    assert console == []
    assert probe["tip"]["display"] == "block" and probe["tip"]["text"].startswith("the:")


def test_gradient_flow(setup):
    root = setup
    result = invoke("analyze", "gradient-flow", root / "tiny.rnn", "--corpus", root, "--span", "4",
                    "--positions", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["span"] == 4 and data["windows"] == 3
    assert set(data["curves"]) == {"initialisation", "trained"} and len(data["curves"]["trained"]) == 5


@pytest.mark.parametrize("args, code, fragment", [
    (["context-curve", "tiny.rnn", "--contexts", "0,2"], 2, "at least 1 token"),
    (["context-curve", "wb2.npz", "char2.npz"], 2, "different vocabularies"),
    (["attribution", "wb2.npz", "char2.npz"], 2, "different vocabularies"),
    (["gradient-flow", "wb2.npz"], 4, "no recurrent state"),
    (["context-curve", "tiny.rnn", "--split", "dev"], 3, "no 'dev' split"),
    (["attribution", "wb2.npz", "tiny.rnn", "--corpus", "EMPTY"], 3, "empty"),
    (["view", "wb2.npz", "tiny.rnn", "--lines", "0", "-o", "v.html"], 2, "--lines"),
    (["gradient-flow", "tiny.rnn", "--span", "0"], 2, "--span"),
    (["context-curve", "missing.rnn"], 4, "no such model file"),
])
def test_bad_input_is_one_line(setup, tmp_path, args, code, fragment):
    root = setup
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("train", "valid"):
        (empty / f"{name}.txt").write_text(TEXT)
    (empty / "test.txt").write_text("")
    command, *rest = args
    paths = [root / a if a.endswith((".rnn", ".npz")) else a for a in rest]
    corpus = [] if "--corpus" in rest else ["--corpus", root]
    paths = [empty if a == "EMPTY" else a for a in paths]
    result = invoke("analyze", command, *paths, *corpus)
    assert result.exit_code == code, result.output
    assert fragment in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
