"""Order-n Markov models: counting, smoothing, storage, ARPA; never imports torch.

Estimation runs in named stages, each its own module: :mod:`~lmtool.ngram.counting` (raw
counts by array sorts; :mod:`~lmtool.ngram.external` for corpora larger than memory;
:mod:`~lmtool.ngram.cluster` runs the same stages on a Dask cluster),
:mod:`~lmtool.ngram.modified_kneser_ney` (the default, one module per lmplz stage: adjust,
discounts, initial probabilities, interpolate) and :mod:`~lmtool.ngram.estimators` (the other
methods) into backoff tables, :mod:`~lmtool.ngram.tables` (the ARPA form and vectorised
scoring), :mod:`~lmtool.ngram.storage` and :mod:`~lmtool.ngram.arpa` (files; the model does
not know how it is stored; :mod:`~lmtool.ngram.compact` is the memory-mapped model file, built
from :mod:`~lmtool.ngram.container`, :mod:`~lmtool.ngram.hashing`, :mod:`~lmtool.ngram.values`
and :mod:`~lmtool.ngram.bitpack`; :mod:`~lmtool.ngram.legacy` reads the older ``.npz``).
:mod:`~lmtool.ngram.fit` lists the methods and dispatches to them.

Python API::

    from lmtool.ngram import fit_ngram, load_ngram, read_arpa, save_ngram, write_arpa
    corpus = load_corpus("brown-bengio2003")                       # from lmtool.text
    model = fit_ngram(corpus, order=3)                             # modified Kneser-Ney
    fit_ngram("notes.txt", 5, "witten-bell", tokenizer="char")     # a spec: corpus options too
    model.logprob("jury", ["<s>", "the"])     # natural log p(jury | <s> the)
    model.score_sentence("the jury said")     # natural log p of the sentence and </s>
    model.perplexity(corpus.splits["test"])   # </s> included, <s> never predicted
    save_ngram(model, "brown3.lmt"); load_ngram("brown3.lmt"); write_arpa(model, "brown3.arpa")
    save_ngram(model, "brown3q.lmt", quantise=8)                  # 8-bit values, about half the size
"""

from __future__ import annotations

from lmtool.lazy import lazy_names
from lmtool.ngram.counting import NgramCounts, count_ngrams
from lmtool.ngram.model import NgramModel
from lmtool.ngram.storage import load_ngram, save_ngram, stored_model
from lmtool.ngram.tables import BackoffTables

#: imported on first use: the ARPA parser and writer (about 10 ms of every process's start), the
#: estimators and corpus loading behind fitting (about 10 ms and 2 MiB), which scoring a model
#: file (``lmtool query``) never needs
_LAZY = {
    "read_arpa": "lmtool.ngram.arpa",
    "write_arpa": "lmtool.ngram.arpa",
    **{name: "lmtool.ngram.fit" for name in ("DEFAULT_METHOD", "METHODS", "check_fit_options", "estimate",
                                             "fit_ngram", "model_from_counts")},
}
__getattr__ = lazy_names(__name__, _LAZY)

__all__ = [
    "BackoffTables",
    "DEFAULT_METHOD",
    "METHODS",
    "NgramCounts",
    "NgramModel",
    "count_ngrams",
    "estimate",
    "fit_ngram",
    "load_ngram",
    "model_from_counts",
    "read_arpa",
    "save_ngram",
    "stored_model",
    "write_arpa",
]
