"""``lmtool sample`` through CliRunner: both families, determinism, JSON, and bad values."""

import json

import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from tests.conftest import save_rnn

TRAIN = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\nthe mat is red\n" * 3


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from lmtool.ngram import fit_ngram, save_ngram
    from lmtool.text import load_corpus

    root = tmp_path_factory.mktemp("sample")
    (root / "train.txt").write_text(TRAIN)
    prepared = load_corpus(str(root / "train.txt"), split_fractions="1")
    save_ngram(fit_ngram(prepared, order=3, method="witten-bell"), str(root / "wb3.npz"))
    save_rnn(root / "tiny.rnn", prepared)
    return root


@pytest.mark.parametrize("name", ["wb3.npz", "tiny.rnn"])
def test_same_seed_same_text_for_both_families(models, name):
    args = ("sample", models / name, "--prompt", "the", "--max-tokens", "20", "--num", "3", "--seed", "4")
    first, again = invoke(*args), invoke(*args)
    assert first.exit_code == 0, first.output
    assert first.stdout == again.stdout
    assert first.stdout.startswith("the")
    assert invoke(*args[:-1], "5").stdout != first.stdout


def test_json_gives_tokens_and_probabilities(models):
    result = invoke("sample", models / "wb3.npz", "--json", "--seed", "1", "--max-tokens", "30", "--until-eos")
    assert result.exit_code == 0, result.output
    (sample,) = json.loads(result.stdout)["samples"]
    assert sample["ended_by"] in ("eos", "max-tokens")
    assert all(0 < t["prob"] <= 1 for t in sample["tokens"])
    words = [t["token"] for t in sample["tokens"] if t["token"] != "</s>"]
    assert sample["text"] == " ".join(words)


def test_greedy_and_stop_string(models):
    greedy = [invoke("sample", models / "wb3.npz", "--temperature", "0", "--seed", str(s), "--max-tokens", "8").stdout
              for s in (1, 2)]
    assert greedy[0] == greedy[1]
    result = invoke("sample", models / "wb3.npz", "--stop", "\\n", "--max-tokens", "200", "--seed", "3", "--json")
    (sample,) = json.loads(result.stdout)["samples"]
    assert "\n" not in sample["text"]
    assert sample["ended_by"] == "stop"


def test_oov_prompt_warns(models, caplog):
    # the warning is logged (the group's logging setup prints it on stderr; pytest captures logs first)
    result = invoke("sample", models / "wb3.npz", "--prompt", "the zebra", "--seed", "1", "--max-tokens", "3")
    assert result.exit_code == 0
    assert "zebra" in caplog.text and "<unk>" in caplog.text
    assert result.stdout.startswith("the zebra")


@pytest.mark.parametrize("options, fragment", [
    (["--temperature", "-1"], "--temperature"),
    (["--top-p", "0"], "--top-p"),
    (["--top-p", "1.5"], "--top-p"),
    (["--max-tokens", "0"], "--max-tokens"),
    (["--num", "0"], "--num"),
    (["--top-k", "-2"], "--top-k"),
])
def test_absurd_values_are_usage_errors(models, options, fragment):
    result = invoke("sample", models / "wb3.npz", *options)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "Traceback" not in result.output


def test_abc_midi_without_abc2midi_says_how_to_install(models, tmp_path):
    result = invoke("sample", models / "wb3.npz", "--abc-midi", tmp_path / "midi", env={"PATH": str(tmp_path)})
    assert result.exit_code == 1
    assert "apt-get install abcmidi" in result.stderr
