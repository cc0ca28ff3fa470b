"""If the ``kenlm`` Python module is installed (``pip install lmtool[kenlm]``), it loads
lmtool's ARPA export and scores every sentence as lmtool does (log10, within 1e-4)."""

from __future__ import annotations

import numpy as np
import pytest

from lmtool.ngram import fit_ngram, write_arpa
from lmtool.text import load_corpus

kenlm = pytest.importorskip("kenlm", reason="the optional kenlm module is not installed (pip install kenlm)")


@pytest.mark.parametrize("method", ["modified-kneser-ney", "kneser-ney", "absolute", "witten-bell", "katz", "add-k"])
def test_kenlm_scores_our_arpa_like_we_do(tmp_path, golden_kenlm, method):
    corpus = load_corpus(str(golden_kenlm / "ptb-valid.train.txt"), split_fractions="1")
    model = fit_ngram(corpus, 3, method)
    path = tmp_path / "m.arpa"
    write_arpa(model, path)
    reference = kenlm.Model(str(path))
    for line in (golden_kenlm / "ptb-test300.eval.txt").read_text().splitlines()[:100]:
        ours = model.score_sentence(line.split()) / np.log(10)
        assert reference.score(line, bos=True, eos=True) == pytest.approx(ours, abs=1e-4)
