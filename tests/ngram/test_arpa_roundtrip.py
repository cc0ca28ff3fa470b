"""ARPA out and back in without loss: the bulk writer prints what a line-by-line writer prints,
KenLM's files come back out with the same n-grams and the same numbers, and a Brown model
survives write -> read -> write exactly."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.errors import LmtoolError
from lmtool.ngram import fit_ngram, read_arpa, write_arpa
from lmtool.ngram.arpa import read_arpa_tables

from .helpers import random_sentences, split_of, vocabulary
from .test_arpa_variants import CANON

GOLDEN = ["ptb-valid.o2.arpa", "ptb-valid.o3.arpa", "ptb-valid.o4.arpa", "ptb-valid.o5.arpa",
          "ptb-valid.o4.prune011.arpa", "tiny40.o3.fallback.arpa", "abc3000.chars.o7.arpa"]


def reference_text(tokens, tables) -> str:
    """The ARPA text written one line at a time with Python's own formatting (the writer lmtool
    had before the bulk one): '%.9g', -inf as -99, unlisted rows skipped."""
    out = ["", "\\data\\"] + [f"ngram {k + 1}={n}" for k, n in enumerate(tables.n_listed())]
    for k in range(tables.order):
        out += ["", f"\\{k + 1}-grams:"]
        for r in range(len(tables.ngrams[k])):
            if tables.listed is not None and not tables.listed[k][r]:
                continue
            words = " ".join(tokens[i] for i in tables.ngrams[k][r])
            prob, back = (-99.0 if np.isneginf(v) else v for v in (tables.log10_probs[k][r], tables.log10_backoffs[k][r]))
            out.append(f"{prob:.9g}\t{words}" + (f"\t{back:.9g}" if k < tables.order - 1 else ""))
    return "\n".join(out + ["", "\\end\\", ""])


@pytest.mark.parametrize("method, order", [("modified-kneser-ney", 5), ("witten-bell", 3), ("katz", 4),
                                           ("mle", 3), ("add-k", 2), ("kneser-ney", 1)])
def test_bulk_writer_prints_what_a_line_writer_prints(tmp_path, method, order):
    rng = np.random.default_rng(order)
    params = {"discount_fallback": True} if method == "modified-kneser-ney" else {}
    model = fit_ngram(split_of(random_sentences(rng, 300, 40)), order, method, vocabulary=vocabulary(37), **params)
    write_arpa(model, tmp_path / "m.arpa")
    assert (tmp_path / "m.arpa").read_text() == reference_text(model.vocabulary.tokens, model.tables)


def test_writer_skips_unlisted_rows(tmp_path):
    path = tmp_path / "pruned.arpa"
    path.write_text(CANON.replace("ngram 2=4", "ngram 2=3").replace("-0.2\ta b\t-0.05\n", ""))
    model = read_arpa(path)
    assert model.tables.listed is not None
    write_arpa(model, tmp_path / "again.arpa")
    assert (tmp_path / "again.arpa").read_text() == reference_text(model.vocabulary.tokens, model.tables)


@pytest.mark.parametrize("threads", [1, 2])
def test_blocks_through_every_order_on_threads_print_what_a_line_writer_prints(tmp_path, monkeypatch, threads):
    # one stream of 5-line blocks through every order on two threads: unlisted rows anywhere, a
    # section with no listed line between two with lines, and the section titles in their places
    from lmtool.ngram.arpa import write as writer

    rng = np.random.default_rng(11)
    model = fit_ngram(split_of(random_sentences(rng, 200, 30)), 4, "witten-bell", vocabulary=vocabulary(27))
    model.tables.listed = [rng.random(len(g)) < 0.7 for g in model.tables.ngrams]
    model.tables.listed[2][:] = False
    monkeypatch.setattr(writer, "BLOCK_ROWS", 5)
    monkeypatch.setattr(writer, "GATHER_ROWS", 2)
    with open(tmp_path / "m.arpa", "wb") as out:
        writer.write_arpa_tables(model.vocabulary.tokens, model.tables, out, threads=threads)
    text = (tmp_path / "m.arpa").read_text()
    assert "\\3-grams:\n\n\\4-grams:" in text
    assert text == reference_text(model.vocabulary.tokens, model.tables)


def test_nan_has_no_arpa_form(tmp_path):
    model = read_arpa_model_of(tmp_path, CANON)
    model.tables.log10_backoffs[1][0] = np.nan
    with pytest.raises(LmtoolError, match="NaN or \\+inf log10 backoff among its 2-grams"):
        write_arpa(model, tmp_path / "x.arpa")
    assert not (tmp_path / "x.arpa").exists()


def read_arpa_model_of(tmp_path, text):
    path = tmp_path / "in.arpa"
    path.write_text(text)
    return read_arpa(path)


def entries(text: str) -> dict:
    """{(order, words): (prob, backoff)} of an ARPA text, parsed by plain Python (an oracle
    independent of lmtool's reader); a missing backoff reads 0."""
    out, order = {}, 0
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] == "\\data\\" or fields[0] == "ngram":
            continue
        if fields[0].endswith("-grams:"):
            order = int(fields[0][1:].split("-")[0])
        elif fields[0] != "\\end\\":
            words = tuple(fields[1 : 1 + order])
            assert (order, words) not in out
            out[(order, words)] = (float(fields[0]), float(fields[1 + order]) if len(fields) > 1 + order else 0.0)
    return out


@pytest.mark.parametrize("name", GOLDEN)
def test_kenlm_file_comes_back_with_the_same_numbers(golden_kenlm, tmp_path, name):
    write_arpa(read_arpa(golden_kenlm / name), tmp_path / "out.arpa")
    original, written = entries((golden_kenlm / name).read_text()), entries((tmp_path / "out.arpa").read_text())
    assert written.keys() == original.keys()
    # KenLM prints at most 9 significant digits, which '%.9g' of the parsed double reproduces
    assert written == original


def test_brown_model_write_read_write(nltk_data, tmp_path):
    from lmtool.text import load_corpus

    model = fit_ngram(load_corpus("brown-bengio2003"), 3)
    write_arpa(model, tmp_path / "a.arpa")
    tokens, tables = read_arpa_tables(tmp_path / "a.arpa")
    assert tokens == model.vocabulary.tokens
    for k in range(3):
        np.testing.assert_array_equal(tables.ngrams[k], model.tables.ngrams[k])
        for ours, theirs in ((tables.log10_probs[k], model.tables.log10_probs[k]),
                             (tables.log10_backoffs[k], model.tables.log10_backoffs[k])):
            finite = np.isfinite(theirs)  # <s>'s -inf is written -99
            np.testing.assert_allclose(ours[finite], theirs[finite], rtol=5e-9, atol=0)
    write_arpa(read_arpa(tmp_path / "a.arpa"), tmp_path / "b.arpa")
    assert (tmp_path / "a.arpa").read_bytes() == (tmp_path / "b.arpa").read_bytes()
