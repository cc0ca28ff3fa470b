"""``--json`` output is strict JSON for every command: a NaN or infinite figure (the perplexity of a
model that gives a token probability 0, a throughput before any time passed) is ``null``, never
``NaN`` or ``Infinity``, which strict readers reject. The training log's JSON lines too."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lmtool.cli.main import COMMANDS
from lmtool.cli.options import print_json

from .conftest import invoke


def strict(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity."""
    def refuse(constant):
        raise AssertionError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def mle(tmp_path_factory, corpus_file):
    """An unsmoothed trigram: the valid and test splits hold trigrams it never saw, probability 0."""
    path = tmp_path_factory.mktemp("mle") / "mle.npz"
    result = invoke("fit-ngram", "--corpus", corpus_file, "--smoothing", "mle", "-o", path, "--json")
    assert result.exit_code == 0, result.output
    return path, strict(result.stdout)


def runs(corpus, models, mle_model, tmp):
    """One --json invocation of every command (and subcommand)."""
    rnn = ["--emb", "4", "--hidden", "4", "--layers", "1", "--threads", "1", "--max-steps", "2"]
    return {
        "corpus info": ["corpus", "info", corpus],
        "corpus prepare": ["corpus", "prepare", corpus, "-o", tmp / "prep"],
        "fit-ngram": ["fit-ngram", "--corpus", corpus, "--smoothing", "mle", "-o", tmp / "m.npz"],
        "export": ["export", models["npz"], "--arpa", tmp / "m.arpa"],
        "train-rnn": ["train-rnn", "--corpus", corpus, *rnn, "-o", tmp / "m.rnn"],
        "train-nnlm": ["train-nnlm", "--corpus", corpus, *rnn, "--context", "2", "-o", tmp / "m.nnlm"],
        "eval": ["eval", mle_model, models["npz"], "--corpus", corpus, "--variants"],
        "sample": ["sample", models["rnn"], "--max-tokens", "5", "--seed", "1"],
        "compare": ["compare", "--corpus", corpus, "--orders", "1,3", "--methods", "mle", "--rnn-time", "0",
                    "--nnlm-time", "0", "-o", tmp / "report"],
        "info": ["info", models["npz"]],
        "query": ["query", mle_model, corpus],
        "analyze context-curve": ["analyze", "context-curve", mle_model, models["rnn"], "--corpus", corpus,
                                  "--contexts", "1,2", "--positions", "50"],
        "analyze attribution": ["analyze", "attribution", models["npz"], models["rnn"], "--corpus", corpus],
        "analyze view": ["analyze", "view", mle_model, models["rnn"], "--corpus", corpus, "--lines", "2",
                         "-o", tmp / "view.html"],
        "analyze gradient-flow": ["analyze", "gradient-flow", models["rnn"], "--corpus", corpus, "--span", "3",
                                  "--positions", "4"],
    }


NAMES = ["corpus info", "corpus prepare", "fit-ngram", "export", "train-rnn", "train-nnlm", "eval", "sample", "compare", "info",
         "query", "analyze context-curve", "analyze attribution", "analyze view", "analyze gradient-flow"]


def test_every_command_is_covered(tmp_path):
    assert list(runs("c", {"npz": "m", "rnn": "r"}, "x", tmp_path)) == NAMES
    assert {name.split()[0] for name in NAMES} == set(COMMANDS)


@pytest.mark.parametrize("name", NAMES)
def test_json_output_is_strict(tmp_path, corpus_file, models, mle, name):
    result = invoke(*runs(corpus_file, models, mle[0], tmp_path)[name], "--json")
    assert result.exit_code == 0, result.output
    strict(result.stdout)


def test_infinite_perplexities_are_null(tmp_path, corpus_file, models, mle):
    assert mle[1]["valid_perplexity"] is None  # infinite: the unsmoothed trigram gives valid tokens probability 0
    rows = strict(invoke("eval", mle[0], "--corpus", corpus_file, "--json").stdout)["rows"]
    assert rows[0]["perplexity"] is None and rows[0]["bits_per_token"] is None
    report = invoke(*runs(corpus_file, models, mle[0], tmp_path)["compare"], "--json")
    mle3 = [row for row in strict(report.stdout)["rows"] if row["model"] == "mle3"][0]
    assert mle3["perplexity"] is None
    assert strict((tmp_path / "report" / "results.json").read_text())["rows"] == strict(report.stdout)["rows"]


def test_the_training_log_is_strict_json_lines(tmp_path, corpus_file):
    result = invoke("train-rnn", "--corpus", corpus_file, "--emb", "4", "--hidden", "4", "--layers", "1",
                    "--threads", "1", "--max-steps", "3", "--log-every", "1", "-o", tmp_path / "m.rnn",
                    "--log", tmp_path / "log.jsonl", "-q")
    assert result.exit_code == 0, result.output
    events = [strict(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "step" and events[0]["tokens_per_s"] is None  # no time has passed at step 1


def test_print_json_maps_every_non_finite_float_to_null(capsys):
    payload = {"a": math.inf, "b": [-math.inf, math.nan, 1.5], "c": np.float32("nan"), "d": np.float64(2.0),
               "e": np.array([1.0, np.inf]), "f": (np.int64(3), "x")}
    print_json(payload)
    assert strict(capsys.readouterr().out) == {"a": None, "b": [None, None, 1.5], "c": None, "d": 2.0,
                                               "e": [1.0, None], "f": [3, "x"]}
