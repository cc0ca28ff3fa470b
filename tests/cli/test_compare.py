"""``lmtool compare`` through CliRunner on a tiny generated corpus: table, report folder, bad options."""

import json

import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli

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
    for name in ("perplexity_by_order.png", "learning_curve.png"):
        image = matplotlib.image.imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert (out / "rnn.safetensors").stat().st_size > 0


def test_without_rnn(tmp_path):
    result = invoke("compare", "--corpus", TINY, "--orders", "2", "--rnn-time", "0", "-o", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)
    assert [r["model"] for r in results["rows"]] == ["mkn2"] and results["rnn"] is None
    assert (tmp_path / "r" / "learning_curve.png").is_file()


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
