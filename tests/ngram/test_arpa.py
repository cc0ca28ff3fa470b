"""ARPA: round trips, SRILM-style oddities, and errors that name the line."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from lmtool.errors import ModelFileError, UsageError
from lmtool.ngram import fit_ngram, load_ngram, read_arpa, write_arpa
from lmtool.ngram.arpa import read_arpa_tables
from lmtool.text import Vocabulary

from .helpers import random_sentences, split_of, vocabulary

# SRILM-like: -99 for <s>, no <unk>, blank lines, spaces instead of tabs, and the trigram
# "b a b" listed while its prefix "b a" is not (SRILM pruning does this).
SRILM = """
\\data\\
ngram 1=4
ngram 2=2

ngram 3=1

\\1-grams:
-99\t<s>\t-0.5
-0.6\t</s>

-0.4 a -0.2
-0.7\tb\t-0.1

\\2-grams:
-0.3\t<s> a\t-0.15
-0.2\ta b

\\3-grams:
-0.1\tb a b

\\end\\
"""


def test_srilm_style_file_scores_by_the_backoff_rule(tmp_path):
    path = tmp_path / "srilm.arpa"
    path.write_text(SRILM)
    model = read_arpa(path)
    assert model.vocabulary.tokens[:3] == ["<unk>", "<s>", "</s>"]
    # <s> b: bo(<s>) + p(b) = -0.5 - 0.7;  a | <s> b: bo(b) + p(a) = -0.1 - 0.4 (context <s> b unlisted)
    # b | b a: listed -0.1;  </s> | a b: "a b" has no backoff, bo(b) + p(</s>) = -0.1 - 0.6
    log10 = model.score_sentence(["b", "a", "b"]) / np.log(10)
    assert log10 == pytest.approx(-1.2 - 0.5 - 0.1 - 0.7)
    assert "ARPA" in model.describe()["note"]


def test_srilm_style_file_reexports_what_it_read(tmp_path):
    path = tmp_path / "srilm.arpa"
    path.write_text(SRILM)
    out = tmp_path / "again.arpa"
    write_arpa(read_arpa(path), out)
    lines = {tuple(line.split()) for line in out.read_text().splitlines() if line.strip()}
    original = {tuple(line.split()) for line in SRILM.splitlines() if line.strip()}
    # the unlisted prefix and the added <unk> are not written; the missing backoffs read as 0
    normalise = lambda rows: {tuple(float(x) if x.lstrip("-").replace(".", "").isdigit() else x for x in r) for r in rows}
    assert normalise(lines) - normalise(original) == {(-0.6, "</s>", 0.0), (-0.2, "a", "b", 0.0)}
    assert normalise(original) - normalise(lines) == {(-0.6, "</s>"), (-0.2, "a", "b")}


@pytest.mark.parametrize("method", ["modified-kneser-ney", "witten-bell", "katz", "add-k", "mle"])
def test_round_trip_gives_identical_scores(tmp_path, method):
    rng = np.random.default_rng(4)
    train, test = split_of(random_sentences(rng, 200, 12)), split_of(random_sentences(rng, 30, 12))
    params = {"discount_fallback": True} if method == "modified-kneser-ney" else {}
    model = fit_ngram(train, 3, method, vocabulary=vocabulary(9), **params)
    path = tmp_path / "m.arpa"
    write_arpa(model, path)
    again = read_arpa(path)
    finite = np.isfinite(model.score(test))
    np.testing.assert_allclose(again.score(test)[finite], model.score(test)[finite], atol=1e-7)
    write_arpa(again, tmp_path / "m2.arpa")
    assert (tmp_path / "m2.arpa").read_text() == path.read_text()


def test_gzipped_arpa_and_load_ngram_detects_arpa(tmp_path):
    path = tmp_path / "m.arpa.gz"
    with gzip.open(path, "wt") as out:
        out.write(SRILM)
    assert read_arpa(path).order == 3
    assert load_ngram(path).order == 3


def test_stupid_backoff_has_no_arpa_form(tmp_path):
    model = fit_ngram(split_of([[3, 4]] * 5), 2, "stupid-backoff", vocabulary=vocabulary(2))
    with pytest.raises(UsageError, match="not a normalised"):
        write_arpa(model, tmp_path / "x.arpa")


def _broken(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        (_broken(SRILM, "-0.7\tb\t-0.1", "-0.x\tb\t-0.1"), r"line 13: not a number"),
        (_broken(SRILM, "-0.2\ta b", "-0.2\ta b c d"), r"line 17: a 2-gram line needs"),
        (_broken(SRILM, "-0.1\tb a b", "-0.1\tb a zz"), r"line 20: a 3-gram uses a word missing"),
        (SRILM.split("\\3-grams:")[0], r"ends before \\end\\"),
        (_broken(SRILM, "ngram 3=1", "ngram 3=2"), r"line 19: the \\3-grams: section has 1 entries but the header promises 2"),
        ("hello world\n", r"no \\data\\ header"),
        (_broken(SRILM, "\\2-grams:", "\\7-grams:"), r"line 15: unexpected section"),
    ],
    ids=["number", "fields", "unknown-word", "truncated", "count", "not-arpa", "section"],
)
def test_malformed_arpa_names_the_line(tmp_path, text, message):
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=message):
        read_arpa_tables(path)


def test_binary_garbage_is_a_model_file_error(tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_bytes(b"\\data\\\n\xff\xfe\x00garbage")
    with pytest.raises(ModelFileError):
        read_arpa_tables(path)


@pytest.mark.parametrize("method", ["modified-kneser-ney", "mle"])
def test_blocks_made_on_threads_give_the_same_bytes(tmp_path, monkeypatch, method):
    # blocks of 3 lines (gathered 2 lines at a time) on 2 threads, each with its own copy of the words' buffer (the numbers
    # are formatted into it): the file must be byte for byte the one thread's, long and
    # multi-byte words and -inf (written -99: mle's <s>) included
    from lmtool.ngram.arpa import write as writer

    rng = np.random.default_rng(7)
    vocab = vocabulary(10)
    tokens = vocab.tokens[:-2] + ["a-word-well-past-sixteen-bytes", "ünïcödé-wörds-of-many-bytes"]
    vocab = Vocabulary(tokens, np.zeros(len(tokens), dtype=np.int64))
    params = {"discount_fallback": True} if method == "modified-kneser-ney" else {}
    model = fit_ngram(split_of(random_sentences(rng, 200, len(tokens))), 3, method, vocabulary=vocab, **params)
    monkeypatch.setattr(writer, "BLOCK_ROWS", 3)
    monkeypatch.setattr(writer, "GATHER_ROWS", 2)
    texts = []
    for threads in (1, 2):
        with open(tmp_path / f"t{threads}.arpa", "wb") as out:
            writer.write_arpa_tables(model.vocabulary.tokens, model.tables, out, threads=threads)
        texts.append((tmp_path / f"t{threads}.arpa").read_bytes())
    assert texts[0] == texts[1]
    assert "ünïcödé-wörds-of-many-bytes a-word-well-past-sixteen-bytes".encode() in texts[0] or \
        "a-word-well-past-sixteen-bytes ünïcödé-wörds-of-many-bytes".encode() in texts[0]
    assert method != "mle" or b"-99\t<s>" in texts[0]
