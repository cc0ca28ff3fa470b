"""lmtool's modified-kneser-ney against KenLM's lmplz and query (../shared/golden/kenlm).

Every n-gram of every reference ARPA file must be listed by lmtool with the same log10
probability and backoff weight (within 1e-4; the files carry about 8 digits and the measured
difference is below 1e-6), and no other n-gram may be listed. The query outputs are matched
token by token (log10 probability and the length of the n-gram used), and so are the two
perplexities query prints.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from lmtool.ngram import fit_ngram, read_arpa
from lmtool.ngram.tables import find_rows, score_stream
from lmtool.text import EOS_ID, load_corpus

CASES = [
    ("ptb-valid.train.txt", "ptb-valid.o2.arpa", 2, {}),
    ("ptb-valid.train.txt", "ptb-valid.o3.arpa", 3, {}),
    ("ptb-valid.train.txt", "ptb-valid.o4.arpa", 4, {}),
    ("ptb-valid.train.txt", "ptb-valid.o5.arpa", 5, {}),
    ("ptb-valid.train.txt", "ptb-valid.o4.prune011.arpa", 4, {"prune": [0, 1, 1]}),
    ("tiny40.train.txt", "tiny40.o3.fallback.arpa", 3, {"discount_fallback": True}),
    ("abc3000.chars.train.txt", "abc3000.chars.o7.arpa", 7, {}),
]

_models: dict = {}


def fitted(golden_kenlm, train: str, order: int, params: dict):
    """The model lmplz's settings give on ``train`` (whole file as the train split), cached."""
    key = (train, order, tuple(sorted((k, str(v)) for k, v in params.items())))
    if key not in _models:
        corpus = load_corpus(str(golden_kenlm / train), split_fractions="1")
        _models[key] = fit_ngram(corpus, order, "modified-kneser-ney", **params)
    return _models[key]


@pytest.mark.parametrize("train, arpa, order, params", CASES, ids=[c[1] for c in CASES])
def test_arpa_matches_lmplz_ngram_by_ngram(golden_kenlm, train, arpa, order, params):
    model = fitted(golden_kenlm, train, order, params)
    reference = read_arpa(golden_kenlm / arpa)
    ours = model.tables
    assert reference.vocabulary.tokens[:3] == model.vocabulary.tokens[:3]
    assert set(reference.vocabulary.tokens) == set(model.vocabulary.tokens)
    to_ours = np.array([model.vocabulary.id(t) for t in reference.vocabulary.tokens])
    assert ours.n_listed() == reference.tables.n_listed()
    for k in range(order):
        grams = to_ours[reference.tables.ngrams[k]]
        rows = find_rows(ours, k, grams)
        assert (rows >= 0).all(), f"{(rows < 0).sum()} {k + 1}-grams of {arpa} are missing"
        probs = ours.log10_probs[k][rows]
        expected = reference.tables.log10_probs[k]
        predicted = grams[:, -1] != 1  # <s> as a word: lmplz writes 0, it is never scored
        np.testing.assert_allclose(probs[predicted], expected[predicted], atol=1e-4, rtol=0)
        if k < order - 1:
            np.testing.assert_allclose(ours.log10_backoffs[k][rows], reference.tables.log10_backoffs[k], atol=1e-4, rtol=0)


def test_fallback_is_needed_for_tiny40(golden_kenlm):
    """Without --discount_fallback lmplz stops on tiny40 ("2-gram discount out of range"); so do we."""
    from lmtool.errors import DataError

    corpus = load_corpus(str(golden_kenlm / "tiny40.train.txt"), split_fractions="1")
    with pytest.raises(DataError, match="2-gram discount out of range.*--discount-fallback"):
        fit_ngram(corpus, 3)
    model = fitted(golden_kenlm, "tiny40.train.txt", 3, {"discount_fallback": True})
    assert model.discounts[1] == [0.5, 1.0, 1.5]


def parse_query(path):
    """(per-token log10, per-token n-gram length, ppl incl. OOV, ppl excl. OOV) of a query output."""
    text = path.read_text()
    tokens = re.findall(r"(\S+)=(\d+) (\d+) (\S+)", text)
    log10 = np.array([float(t[3]) for t in tokens])
    length = np.array([int(t[2]) for t in tokens])
    including = float(re.search(r"Perplexity including OOVs:\s*(\S+)", text).group(1))
    excluding = float(re.search(r"Perplexity excluding OOVs:\s*(\S+)", text).group(1))
    return log10, length, including, excluding


def encode_lines(model, path):
    ids, starts = [], [0]
    for line in path.read_text().splitlines():
        ids.extend(model.vocabulary.id(t) for t in line.split())
        ids.append(EOS_ID)
        starts.append(len(ids))
    return np.array(ids, dtype=np.int32), np.array(starts, dtype=np.int64)


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_query_matches_kenlm_token_by_token(golden_kenlm, order):
    model = fitted(golden_kenlm, "ptb-valid.train.txt", order, {})
    expected, expected_length, ppl_in, ppl_out = parse_query(golden_kenlm / f"ptb-valid.o{order}.query-test300.txt")
    ids, starts = encode_lines(model, golden_kenlm / "ptb-test300.eval.txt")
    log10, length = score_stream(model.tables, ids, starts)
    assert len(log10) == len(expected)
    np.testing.assert_allclose(log10, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(length, expected_length)
    # query's perplexities: 10 ** -mean log10, over every token (</s> included) or without OOVs
    assert 10 ** -log10.mean() == pytest.approx(ppl_in, rel=1e-5)
    known = ids != 0
    assert 10 ** -log10[known].mean() == pytest.approx(ppl_out, rel=1e-5)


def test_char_model_query_matches_kenlm(golden_kenlm):
    model = fitted(golden_kenlm, "abc3000.chars.train.txt", 7, {})
    expected, expected_length, ppl_in, _ = parse_query(golden_kenlm / "abc3000.chars.o7.query-eval.txt")
    ids, starts = encode_lines(model, golden_kenlm / "abc.chars.eval.txt")
    log10, length = score_stream(model.tables, ids, starts)
    np.testing.assert_allclose(log10, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(length, expected_length)
    assert 10 ** -log10.mean() == pytest.approx(ppl_in, rel=1e-5)


@pytest.mark.parametrize("arpa", ["ptb-valid.o3.arpa", "ptb-valid.o4.prune011.arpa"])
def test_reference_arpa_scores_like_kenlm_query(golden_kenlm, arpa):
    """The ARPA file itself, loaded, scores the test lines as query does (ARPA import path)."""
    model = read_arpa(golden_kenlm / arpa)
    ids, starts = encode_lines(model, golden_kenlm / "ptb-test300.eval.txt")
    log10, _ = score_stream(model.tables, ids, starts)
    if arpa == "ptb-valid.o3.arpa":
        expected, _, _, _ = parse_query(golden_kenlm / "ptb-valid.o3.query-test300.txt")
        np.testing.assert_allclose(log10, expected, atol=1e-4, rtol=0)
    fitted_model = fitted(golden_kenlm, "ptb-valid.train.txt", model.order, {"prune": [0, 1, 1]} if "prune" in arpa else {})
    theirs = fitted_model.score_sentence  # same numbers through the fitted model's own vocabulary
    line = (golden_kenlm / "ptb-test300.eval.txt").read_text().splitlines()[0].split()
    assert model.score_sentence(line) == pytest.approx(theirs(line), abs=1e-3)
