"""Tables built from ARPA entries in any order are the same tables and the same model file.

A file in suffix order (each section sorted by the last word, then the one before, ...: KenLM
writes every section so) takes the binary-search path and learns on the way whether every
suffix is listed; any other order takes the hash path, and the model file's writer establishes
suffix closure itself. Both must agree exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.ngram import fit_ngram, load_ngram, read_arpa, save_ngram, stored_model, write_arpa
from lmtool.ngram.arpa import build, read_arpa_tables
from lmtool.ngram.arpa.read import SPECIALS
from lmtool.ngram.container import read_header

from .helpers import random_sentences, split_of, vocabulary


def _sections(text: str) -> tuple[list[str], list[list[str]], list[str]]:
    """(lines up to the first n-gram section, each n-gram section's entry lines, the rest)."""
    head, body = text.split("\\2-grams:\n", 1)
    sections, rest = [], []
    for part in body.split("\\end\\")[0].split("-grams:\n"):
        lines = [line for line in part.split("\n") if line and line[0] in "-0123456789"]
        sections.append(lines)
    return head.split("\n"), sections, rest


def _reordered(text: str, order_lines) -> str:
    """``text`` with each n-gram section's lines put in ``order_lines(lines, rank)`` order."""
    head, sections, _ = _sections(text)
    unigrams = [line.split("\t")[1] for line in head if line and line[0] in "-0123456789"]
    rank = {w: i for i, w in enumerate(list(SPECIALS) + [w for w in unigrams if w not in SPECIALS])}
    out = "\n".join(head) + "\\2-grams:\n"
    for k, lines in enumerate(sections, start=2):
        out += "\n".join(order_lines(lines, rank)) + "\n\n" + (f"\\{k + 1}-grams:\n" if k < len(sections) + 1 else "")
    return out + "\\end\\\n"


def _suffix_order(lines: list[str], rank: dict) -> list[str]:
    return sorted(lines, key=lambda line: [rank[w] for w in reversed(line.split("\t")[1].split(" "))])


def _shuffled(lines: list[str], rank: dict) -> list[str]:
    return [lines[i] for i in np.random.default_rng(len(lines)).permutation(len(lines))]


def _tables(path) -> list:
    _, tables = read_arpa_tables(path)
    return [(g.tolist(), p.tolist(), b.tolist()) for g, p, b in zip(tables.ngrams, tables.log10_probs, tables.log10_backoffs)]


def _header(path) -> dict:
    return read_header(path)[0]


def test_suffix_order_and_any_order_give_the_same_tables_and_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    model = fit_ngram(split_of(random_sentences(rng, 120, 14)), 4, vocabulary=vocabulary(12), discount_fallback=True)
    written = tmp_path / "written.arpa"
    write_arpa(model, written)
    variants = {"written": written.read_text()}
    variants["suffix"] = _reordered(variants["written"], _suffix_order)
    variants["shuffled"] = _reordered(variants["written"], _shuffled)
    assert variants["suffix"] != variants["written"] and variants["shuffled"] != variants["suffix"]
    files = {}
    for name, text in variants.items():
        (tmp_path / name).mkdir()
        path = tmp_path / name / "m.arpa"  # one name: the model file records it
        path.write_text(text)
        if name == "suffix":  # the binary-search path: the hash path must not run
            monkeypatch.setattr(build, "_prefix_rows", lambda *a: pytest.fail("hash path taken"))
        tables = read_arpa_tables(path)[1]
        monkeypatch.undo()
        assert tables.suffix_closed is (name == "suffix")  # known only in suffix order (else "not known")
        assert _tables(path) == _tables(written)
        save_ngram(read_arpa(path), tmp_path / name / "m.lmt")
        files[name] = (tmp_path / name / "m.lmt").read_bytes()
        assert _header(tmp_path / name / "m.lmt")["tables"]["suffix_closed"] is True  # Kneser-Ney: closed
    assert files["suffix"] == files["written"] == files["shuffled"]


def test_a_missing_suffix_in_suffix_order(tmp_path):
    # "a b a" is listed, its prefix "a b" too, its suffix "b a" not
    text = ("\\data\\\nngram 1=5\nngram 2=2\nngram 3=1\n\n\\1-grams:\n-1.0\t<unk>\t0\n-99\t<s>\t-0.5\n-0.6\t</s>\t0\n"
            "-0.4\ta\t-0.2\n-0.7\tb\t-0.1\n\n\\2-grams:\n-0.3\t<s> a\t-0.1\n-0.2\ta b\t-0.05\n\n"
            "\\3-grams:\n-0.1\ta b a\n\n\\end\\\n")
    path = tmp_path / "open.arpa"
    path.write_text(text)
    model = read_arpa(path)
    assert model.tables.suffix_closed is False
    save_ngram(model, tmp_path / "m.lmt")
    assert _header(tmp_path / "m.lmt")["tables"]["suffix_closed"] is False
    split = split_of([[3, 4, 3], [4, 3, 4, 3]])
    np.testing.assert_array_equal(load_ngram(tmp_path / "m.lmt").score(split), stored_model(model).score(split))


def test_words_too_wide_to_pack_take_the_hash_path(tmp_path):
    # 5,003 words take 13 bits: an order-6 prefix (5 words, 65 bits) does not fit one int64, so
    # the top order is built by hashing, and closure is left to the model file's writer
    words = [f"w{i}" for i in range(5000)]
    sentence = [10, 20, 30, 40, 50, 60]
    lines = {n: [" ".join(words[i] for i in sentence[s : s + n]) for s in range(len(sentence) - n + 1)]
             for n in range(2, 7)}
    head = "\\data\\\n" + f"ngram 1={len(words) + 3}\n" + "".join(f"ngram {n}={len(lines[n])}\n" for n in range(2, 7))
    head += "\n\\1-grams:\n-1.0\t<unk>\t0\n-99\t<s>\t0\n-0.6\t</s>\t0\n" + "".join(f"-3.5\t{w}\t-0.2\n" for w in words)
    text = head + "\n\\2-grams:\n" + "".join(
        "\n".join(f"-0.5\t{g}" + ("\t-0.1" if n < 6 else "") for g in lines[n]) + "\n\n" + (f"\\{n + 1}-grams:\n" if n < 6 else "")
        for n in range(2, 7)) + "\\end\\\n"
    files = {}
    for name, order_lines in (("suffix", _suffix_order), ("shuffled", _shuffled)):
        (tmp_path / name).mkdir()
        path = tmp_path / name / "m.arpa"
        path.write_text(_reordered(text, order_lines))
        model = read_arpa(path)
        assert model.tables.suffix_closed is False  # not known from the build
        save_ngram(model, tmp_path / name / "m.lmt")
        files[name] = (tmp_path / name / "m.lmt").read_bytes()
        assert _header(tmp_path / name / "m.lmt")["tables"]["suffix_closed"] is True
    assert files["suffix"] == files["shuffled"]
    assert _tables(tmp_path / "suffix" / "m.arpa") == _tables(tmp_path / "shuffled" / "m.arpa")
