"""The music recipe's checker: tunes split at X: / blank lines, validated by abc2midi (skipped without it)."""

import json
import shutil

import pytest
from click.testing import CliRunner

from lmtool.abc_notation import check_tunes, split_tunes, summary
from lmtool.cli.main import cli

# Tunes written for these tests (not from any collection).
GOOD = "X:1\nT:Test Reel\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n"
GOOD2 = "X:2\nT:Test Jig\nM:6/8\nL:1/8\nK:D\nA|dfe dcB|AFA DFA|dfe dcB|AFD D2:|\n"
NESTED = "X:3\nT:Broken\nM:4/4\nK:G\nG[[[AB(c d|zz]]]|\n"
NO_KEY = "X:4\nT:No key field\n"

needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None,
                                    reason="abc2midi is not installed (apt-get install abcmidi)")


def test_split_tunes_from_x_to_blank_line():
    text = "noise before\n" + GOOD + "\n\n" + GOOD2 + "\n" + "X:9\nT:unfinished"
    assert split_tunes(text) == [GOOD, GOOD2, "X:9\nT:unfinished\n"]
    assert split_tunes("no tunes here\n\n") == []


@needs_abc2midi
def test_abc2midi_tells_valid_from_broken(tmp_path):
    checks = check_tunes([GOOD, NESTED, GOOD2, NO_KEY], tmp_path / "midi")
    assert [c.valid for c in checks] == [True, False, True, False]
    assert any("nest" in e for e in checks[1].errors)
    report = summary(checks)
    assert report["tunes"] == 4 and report["valid"] == 2 and report["valid_fraction"] == 0.5
    files = sorted(p.name for p in (tmp_path / "midi").iterdir())
    assert files == ["tune_000.mid", "tune_002.mid"]
    assert (tmp_path / "midi" / "tune_000.mid").read_bytes()[:4] == b"MThd"


@needs_abc2midi
def test_sample_abc_midi_end_to_end(tmp_path):
    from lmtool.ngram import fit_ngram, save_ngram
    from lmtool.text import load_corpus

    corpus = tmp_path / "tunes.abc"
    corpus.write_text((GOOD + "\n" + GOOD2 + "\n") * 5)
    prepared = load_corpus(str(corpus), tokenizer="char", unit="stream", split_fractions="1")
    save_ngram(fit_ngram(prepared, order=8, method="witten-bell"), str(tmp_path / "abc8.npz"))
    result = CliRunner().invoke(cli, ["sample", str(tmp_path / "abc8.npz"), "--prompt", "X:", "--stop", "\\n\\n",
                                      "--num", "6", "--max-tokens", "400", "--seed", "2", "--json",
                                      "--abc-midi", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["abc"]["tunes"] == 6
    # an order-8 char model of two tunes mostly copies them: most samples are playable
    assert report["abc"]["valid"] >= 3
    assert len(list((tmp_path / "out").glob("*.mid"))) == report["abc"]["valid"]
