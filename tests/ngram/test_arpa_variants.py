"""ARPA files as KenLM and SRILM write them (and as people edit them) all read to the same tables.

Every variant below is the canonical file CANON respelled; each must give exactly CANON's
vocabulary, n-grams, log10 probabilities, backoffs and listed flags.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from lmtool.ngram import fit_ngram, read_arpa, write_arpa
from lmtool.ngram.arpa import read, read_arpa_tables

from .helpers import random_sentences, split_of, vocabulary

CANON = """\\data\\
ngram 1=5
ngram 2=4
ngram 3=2

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.5
-0.6\t</s>\t0
-0.4\ta\t-0.2
-0.7\tb\t-0.1

\\2-grams:
-0.3\t<s> a\t-0.15
-0.2\ta b\t-0.05
-0.25\tb a\t-0.1
-0.5\tb </s>\t0

\\3-grams:
-0.1\t<s> a b
-0.05\ta b a

\\end\\
"""


def tables_of(path):
    tokens, tables = read_arpa_tables(path)
    listed = tables.listed or [np.ones(len(g), dtype=bool) for g in tables.ngrams]
    return tokens, [(g.tolist(), p.tolist(), b.tolist(), m.tolist())
                    for g, p, b, m in zip(tables.ngrams, tables.log10_probs, tables.log10_backoffs, listed)]


@pytest.fixture
def canon(tmp_path):
    path = tmp_path / "canon.arpa"
    path.write_text(CANON)
    return tables_of(path)


def _no_zero_backoffs(text: str) -> str:
    return text.replace("\t0\n", "\n")


def _messy_whitespace(text: str) -> str:
    lines = []
    for i, line in enumerate(text.split("\n")):
        if line and line[0] in "-0123456789":
            line = ("  " if i % 2 else "\t") + line.replace("\t", " \t  ").replace(" ", "   ", 1) + " \t"
        lines.append(line)
    return "\n".join(lines)


VARIANTS = {
    "missing backoff columns": _no_zero_backoffs,
    "spaces and tabs anywhere": _messy_whitespace,
    "header spaced": lambda t: t.replace("ngram 1=5", "ngram 1= 5").replace("ngram 2=4", "ngram  2 =4"),
    "windows line ends": lambda t: t.replace("\n", "\r\n"),
    "text before data": lambda t: "written by a tool\nwith a comment \\ here\n\n" + t,
    "blank lines": lambda t: t.replace("\n", "\n\n").replace("\\end\\\n\n", "\\end\\\n"),
    "no final newline": lambda t: t.rstrip("\n"),
    "text after end": lambda t: t + "anything\n\\2-grams:\n",
    "exponents and signs": lambda t: t.replace("-0.15", "-1.5e-1").replace("-0.05", "-5E-02").replace("\t0\n", "\t+0.0\n"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_reads_as_canon(tmp_path, canon, name):
    path = tmp_path / "variant.arpa"
    path.write_bytes(VARIANTS[name](CANON).encode())
    assert tables_of(path) == canon


def test_gzip_compressed(tmp_path, canon):
    path = tmp_path / "canon.arpa.gz"
    path.write_bytes(gzip.compress(CANON.encode()))
    assert tables_of(path) == canon


def test_kenlm_zero_for_s_is_kept(tmp_path):
    # KenLM writes 0 where SRILM writes -99 for <s>; either is kept (never scored) for re-export
    path = tmp_path / "kenlm.arpa"
    path.write_text(CANON.replace("-99\t<s>", "0\t<s>"))
    tokens, tables = read_arpa_tables(path)
    assert tables.log10_probs[0][tokens.index("<s>")] == 0.0


def test_trailing_empty_section(tmp_path, canon):
    # an order the header announces with 0 n-grams: an order-4 model scoring as the order-3 one
    path = tmp_path / "empty4.arpa"
    path.write_text(CANON.replace("ngram 3=2\n", "ngram 3=2\nngram 4=0\n").replace("\\end\\", "\\4-grams:\n\n\\end\\"))
    tokens, tables = read_arpa_tables(path)
    assert tables.order == 4 and len(tables.ngrams[3]) == 0 and tables.ngrams[3].shape == (0, 4)
    canon_path = tmp_path / "canon.arpa"
    canon_path.write_text(CANON)
    sentence = ["a", "b", "a", "b"]
    assert read_arpa(path).score_sentence(sentence) == pytest.approx(read_arpa(canon_path).score_sentence(sentence))
    write_arpa(read_arpa(path), tmp_path / "again.arpa")
    assert "ngram 4=0" in (tmp_path / "again.arpa").read_text()


def test_unlisted_context_scores_by_backoff_and_is_not_written(tmp_path):
    # SRILM pruning: "a b a" is listed while its context "a b" is not (the bigram line removed)
    pruned = CANON.replace("ngram 2=4", "ngram 2=3").replace("-0.2\ta b\t-0.05\n", "")
    path = tmp_path / "pruned.arpa"
    path.write_text(pruned)
    model = read_arpa(path)
    # p(b | <s> a) = listed trigram -0.1; p(a | a b) = listed trigram -0.05 (its context unlisted)
    # p(</s> | b a) = bo(b a) + p(</s> | a) = -0.1 + bo(a) + p(</s>) = -0.1 - 0.2 - 0.6
    log10 = model.score_sentence(["a", "b", "a"]) / np.log(10)
    assert log10 == pytest.approx(-0.3 - 0.1 - 0.05 + (-0.1 - 0.2 - 0.6))
    write_arpa(model, tmp_path / "again.arpa")
    assert "a b\t" not in (tmp_path / "again.arpa").read_text().split("\\3-grams:")[0]
    assert tables_of(tmp_path / "again.arpa") == tables_of(path)


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 1000])
def test_block_boundaries_anywhere(tmp_path, monkeypatch, block_bytes):
    # lines, sections and \end\ split across blocks read exactly as from one block
    rng = np.random.default_rng(1)
    model = fit_ngram(split_of(random_sentences(rng, 60, 10)), 3, vocabulary=vocabulary(7), discount_fallback=True)
    path = tmp_path / "m.arpa"
    write_arpa(model, path)
    path.write_text(_messy_whitespace(path.read_text()).replace("\n", "\r\n"))
    whole = tables_of(path)
    monkeypatch.setattr(read, "BLOCK_BYTES", block_bytes)
    assert tables_of(path) == whole


def test_shared_hashes_take_the_exact_paths(tmp_path, monkeypatch):
    # hashes only find candidates: with words and n-grams forced to share hashes, the dict
    # lookup of words and the key-by-key lookup of prefixes give the same tables
    from lmtool.ngram.arpa import build, fields

    rng = np.random.default_rng(2)
    model = fit_ngram(split_of(random_sentences(rng, 80, 12)), 4, vocabulary=vocabulary(10), discount_fallback=True)
    path = tmp_path / "m.arpa"
    write_arpa(model, path)
    whole = tables_of(path)
    monkeypatch.setattr(fields, "_hash", lambda chunks, lengths: lengths.astype(np.uint64))
    monkeypatch.setattr(build, "hash_columns", lambda columns: np.zeros(len(columns), dtype=np.uint64))
    assert tables_of(path) == whole
