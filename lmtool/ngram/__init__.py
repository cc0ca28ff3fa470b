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

import importlib
import time
from typing import Any

from lmtool.errors import DataError, UsageError
from lmtool.ngram.counting import NgramCounts, count_ngrams
from lmtool.ngram.fit import DEFAULT_METHOD, METHODS, check_fit_options, estimate, model_from_counts
from lmtool.ngram.model import NgramModel
from lmtool.ngram.storage import load_ngram, save_ngram, stored_model
from lmtool.ngram.tables import BackoffTables
from lmtool.text import CORPUS_OPTIONS, PreparedCorpus, load_corpus, make_tokenizer

#: imported on first use: the ARPA parser and writer cost about 10 ms of every process's start,
#: which scoring a model file (``lmtool query``) never needs
_LAZY = {"read_arpa": "lmtool.ngram.arpa", "write_arpa": "lmtool.ngram.arpa"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value

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


def fit_ngram(corpus_or_split: Any, order: int = 3, method: str = DEFAULT_METHOD, *, vocabulary: Any = None,
              tokenizer: Any = None, corpus_options: dict | None = None, **params) -> NgramModel:
    """Fit an order-``order`` model on a corpus's train split.

    ``corpus_or_split`` is a corpus spec string (loaded with ``corpus_options`` and any
    :data:`lmtool.text.CORPUS_OPTIONS` keyword, e.g. ``tokenizer="char"``), a
    :class:`lmtool.text.PreparedCorpus`, or an :class:`lmtool.text.EncodedSplit` together with
    its ``vocabulary`` (and optionally ``tokenizer``, default word). ``params`` are the
    method's options: ``k`` (add-k), ``discount`` (absolute, kneser-ney), ``prune`` and
    ``discount_fallback`` (modified-kneser-ney), ...
    """
    if isinstance(corpus_or_split, str):
        options = dict(corpus_options or {})
        options.update({name: params.pop(name) for name in list(params) if name in CORPUS_OPTIONS})
    check_fit_options(order, method, params)  # before the corpus is read and counted
    if isinstance(corpus_or_split, str):
        if tokenizer is not None:
            options["tokenizer"] = tokenizer
        corpus_or_split = load_corpus(corpus_or_split, **options)
    if isinstance(corpus_or_split, PreparedCorpus):
        split, vocabulary, tokenizer = corpus_or_split.splits["train"], corpus_or_split.vocabulary, corpus_or_split.tokenizer
        unit, source = corpus_or_split.unit, corpus_or_split.source
    else:
        if vocabulary is None:
            raise UsageError("fitting on an EncodedSplit needs its vocabulary= (the ids index it)")
        split, unit, source = corpus_or_split, "line", "split"
        tokenizer = tokenizer or make_tokenizer("word")
    if split.n_tokens == 0:
        raise DataError("the training split is empty: give a corpus with text in its train split")
    started = time.perf_counter()
    counts = count_ngrams(split.ids, split.starts, int(order), len(vocabulary))
    training = {
        "corpus": source,
        "unit": unit,
        "segments": int(split.n_segments),
        "tokens": int(split.n_tokens),
        "unk_tokens": int(split.n_unk),
    }
    return model_from_counts(counts, method, params, tokenizer, vocabulary, unit, training, started)

