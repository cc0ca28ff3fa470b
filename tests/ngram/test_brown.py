"""Brown (Bengio et al. 2003 split): modified-kneser-ney perplexities equal lmplz's within 0.1%.

lmplz figures (../shared/golden/kenlm/README.md): order 3 test 147.70 / valid 156.92, order 5
test 146.74 / valid 156.00, </s> included, words seen 3 times or fewer in train as one type.
"""

from __future__ import annotations

import pytest

from lmtool.ngram import fit_ngram
from lmtool.text import load_corpus

KENLM = {3: (147.70, 156.92), 5: (146.74, 156.00)}


@pytest.fixture(scope="module")
def brown(nltk_data):
    return load_corpus("brown-bengio2003")


@pytest.mark.parametrize("order", [3, 5])
def test_brown_perplexity_equals_lmplz(brown, order):
    model = fit_ngram(brown, order)
    test, valid = KENLM[order]
    assert model.perplexity(brown.splits["test"]) == pytest.approx(test, rel=1e-3)
    assert model.perplexity(brown.splits["valid"]) == pytest.approx(valid, rel=1e-3)


def test_brown_compact_file_keeps_lmplz_perplexity(brown, tmp_path):
    from lmtool.ngram import load_ngram, save_ngram

    model = fit_ngram(brown, 5)
    save_ngram(model, tmp_path / "brown5.lmt")
    mapped = load_ngram(tmp_path / "brown5.lmt")
    test, valid = KENLM[5]
    # float32 values: equal to lmplz's to the printed precision, and to the float64 model to 1e-7
    assert round(mapped.perplexity(brown.splits["test"]), 2) == test
    assert round(mapped.perplexity(brown.splits["valid"]), 2) == valid
    assert mapped.perplexity(brown.splits["test"]) == pytest.approx(model.perplexity(brown.splits["test"]), rel=1e-7)
