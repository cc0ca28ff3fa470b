"""``lmtool compare`` through CliRunner on a tiny generated corpus: table, report folder, bad options."""

import json

import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from tests.browser import render

TINY = "gen:repeat:keys=4,fillers=2,gap=6,length=4000"  # H = (2 + 6) / 8 = 1 bit per symbol


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "report"
    result = invoke("compare", "--corpus", TINY, "--orders", "1-3", "--methods", "modified-kneser-ney,witten-bell",
                    "--rnn-time", "2", "--hidden", "16", "--emb", "8", "--batch-size", "8", "--bptt", "20", "-o", out)
    assert result.exit_code == 0, result.output
    return out, result


def test_table_lists_every_model_and_the_mixture(report):
    _, result = report
    names = [line.split()[0] for line in result.stdout.splitlines()[2:] if line and not line.startswith(("true", "report"))]
    assert names == ["mkn1", "mkn2", "mkn3", "wb1", "wb2", "wb3", "lstm", names[-1]]
    assert names[-1].endswith("+lstm")
    assert "perplexity floor 2.000" in result.stdout


def test_report_folder(report):
    import matplotlib.image

    out, _ = report
    results = json.loads((out / "results.json").read_text())
    assert results["corpus"]["entropy_rate_bits"] == pytest.approx(1.0)
    assert results["corpus"]["floor_perplexity"] == pytest.approx(2.0)
    rows = {r["model"]: r for r in results["rows"]}
    # every row scores the same 400 test characters (10% of 4000)
    assert {r["tokens"] for r in rows.values()} == {400}
    # no model beats the true entropy rate by more than sampling noise on 400 symbols
    assert all(r["bits_per_token"] > 0.8 for r in rows.values())
    assert sum(results["mixture"]["weights"]) == pytest.approx(1.0)
    assert results["rnn"]["curves"]["valid_loss"]
    for name in ("perplexity_by_order.png", "learning_curve.png", "context_curve.png", "attribution.png"):
        image = matplotlib.image.imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert (out / "rnn.safetensors").stat().st_size > 0


def test_results_hold_the_analyses(report):
    out, _ = report
    results = json.loads((out / "results.json").read_text())
    curve = results["context_curve"]
    # the first method's n-grams (orders 1-3: K = 0, 1, 2) and the RNN, on the same sampled targets
    assert [(r["model"], r["context_size"]) for r in curve["rows"]] == [("mkn1", 0), ("mkn2", 1), ("mkn3", 2),
                                                                         ("lstm", None)]
    assert curve["regime"] == "stream" and curve["eligible"] == 400 - 63 and curve["scored"] == 337
    attribution = results["attribution"]
    assert (attribution["model_a"], attribution["model_b"]) == tuple(results["mixture"]["models"])
    assert set(attribution["groups"]) == {"frequency", "novelty", "distance"}  # no sentences in a stream
    for rows in attribution["groups"].values():
        assert sum(r["tokens"] for r in rows) == 400
        assert sum(r["bits_gained"] for r in rows) == pytest.approx(attribution["bits_gained"])


def test_report_html_renders_self_contained(report, tmp_path):
    out, _ = report
    html = (out / "report.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    probe, console = render(out / "report.html", tmp_path)
    assert console == []  # no script error, no blocked request
    # the four plots decoded; the results, context-curve and three attribution tables; the view's tooltip
    assert len(probe["images"]) == 4 and min(probe["images"]) > 100
    assert probe["tables"] == 5
    assert probe["tip"]["display"] == "block" and "bits for lstm" in probe["tip"]["text"]


def test_without_rnn(tmp_path):
    result = invoke("compare", "--corpus", TINY, "--orders", "2", "--rnn-time", "0", "-o", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)
    assert [r["model"] for r in results["rows"]] == ["mkn2"] and results["rnn"] is None
    assert (tmp_path / "r" / "learning_curve.png").is_file()
    assert results["context_curve"]["rows"][0]["model"] == "mkn2" and results["attribution"] is None
    assert "Perplexity by context length" in (tmp_path / "r" / "report.html").read_text()


@pytest.mark.parametrize("args, code, fragment", [
    (["--orders", "0-2"], 2, "--orders"),
    (["--orders", "x"], 2, "--orders"),
    (["--methods", "magic"], 2, "magic"),
    (["--rnn-time", "soon"], 2, "--rnn-time"),
    (["--split-fractions", "0.9,0,0.1"], 3, "valid"),
])
def test_bad_options(tmp_path, args, code, fragment):
    result = invoke("compare", "--corpus", TINY, "-o", tmp_path / "r", "--rnn-time", "0", *args)
    assert result.exit_code == code, result.output
    assert fragment in result.stderr and "Traceback" not in result.output
