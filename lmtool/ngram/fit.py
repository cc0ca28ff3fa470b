"""From counts to a model: every smoothing method behind one dispatch function.

The methods of :mod:`lmtool.ngram.estimators` come with their registry (function, normalised
or not, validated parameters); this module adds ``modified-kneser-ney`` (the default, in
:mod:`lmtool.ngram.modified_kneser_ney`) with its own parameters, so :data:`METHODS` lists them all.
:func:`model_from_counts` is where the in-memory fit (:func:`lmtool.ngram.fit_ngram`) and the
out-of-core one (:func:`lmtool.ngram.external.fit_external`) both end; the cluster's fit
(:mod:`lmtool.ngram.cluster`) estimates on its workers and ends in :func:`model_from_estimate`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lmtool import text  # corpus reading loads when fit_ngram is given a spec (text.load_corpus, ...)
from lmtool.errors import DataError, UsageError
from lmtool.ngram.counting import NgramCounts, check_order, count_ngrams
from lmtool.ngram.estimators import ESTIMATORS, Estimator, Param, get_estimator
from lmtool.ngram.model import NgramModel
from lmtool.ngram.modified_kneser_ney.prune import check_prune
from lmtool.ngram.tables import BackoffTables

DEFAULT_METHOD = "modified-kneser-ney"


def check_flag(name: str, value: Any) -> bool:
    """A yes/no option."""
    return bool(value)


MODIFIED_KNESER_NEY = Estimator(
    DEFAULT_METHOD,
    "lmtool.ngram.modified_kneser_ney:estimate_modified_kneser_ney",
    True,
    (
        Param("prune", None, check_prune, "per-order count thresholds, like lmplz --prune 0 1 1"),
        Param("discount_fallback", False, check_flag, "use D1=0.5 D2=1 D3+=1.5 where discounts are undefined"),
    ),
    "interpolated modified Kneser-Ney, D1/D2/D3+ per order (KenLM lmplz, SRILM -kndiscount -interpolate)",
)

#: every method name -> its Estimator, the default first
METHODS: dict[str, Estimator] = {DEFAULT_METHOD: MODIFIED_KNESER_NEY, **ESTIMATORS}


@dataclass
class Estimate:
    """What :func:`estimate` returns: the tables and what reports say about them."""

    tables: BackoffTables
    method: str
    normalised: bool
    parameters: dict
    info: dict = field(default_factory=dict)


def estimator_for(method: str) -> Estimator:
    """The registered estimator of ``method`` (an unknown name raises :class:`UsageError`)."""
    return MODIFIED_KNESER_NEY if method == DEFAULT_METHOD else get_estimator(method)


def check_fit_options(order: Any, method: str, params: dict) -> None:
    """Validate the order, the method and its options before any counting, so that a typo
    fails at once rather than after a large corpus has been read and counted."""
    check_order(order)
    estimator_for(method).resolve(params)


def estimate(counts: NgramCounts, method: str = DEFAULT_METHOD, **params: Any) -> Estimate:
    """Estimate ``method``'s tables from ``counts``; ``params`` are the method's options.

    Options the method does not take (``k`` with ``witten-bell``) raise :class:`UsageError`;
    options given as ``None`` count as not given.
    """
    estimator = estimator_for(method)
    parameters = estimator.resolve(params)
    tables, info = estimator.estimate(counts, **parameters)
    return Estimate(tables=tables, method=method, normalised=estimator.normalised, parameters=parameters, info=info)


def model_from_counts(counts: NgramCounts, method: str, params: dict, tokenizer: Any, vocabulary: Any, unit: str,
                      training: dict, started: float) -> NgramModel:
    """Smooth ``counts`` with ``method`` and wrap the tables with the text layer's tokenizer and
    vocabulary; the in-memory and the out-of-core fits both end here. ``training`` (corpus,
    unit, sizes) gets the seconds since ``started``, counting included."""
    return model_from_estimate(estimate(counts, method, **params), tokenizer, vocabulary, unit, training, started)


def model_from_estimate(result: Estimate, tokenizer: Any, vocabulary: Any, unit: str, training: dict,
                        started: float) -> NgramModel:
    """The model of an :class:`Estimate`: :func:`model_from_counts` after estimation, and where the
    cluster's fit (:mod:`lmtool.ngram.cluster`), which estimates across its workers, ends."""
    training = {**training, "seconds": round(time.perf_counter() - started, 3)}
    return NgramModel(result.tables, tokenizer, vocabulary, unit=unit, method=result.method, normalised=result.normalised,
                      parameters=result.parameters, discounts=plain_discounts(result.info.get("discounts")),
                      training=training)


def plain_discounts(value: Any) -> Any:
    """Discounts as JSON-ready floats (estimators may give numpy scalars, tuples or None)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain_discounts(v) for v in value]
    return float(value)


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
        options.update({name: params.pop(name) for name in list(params) if name in text.CORPUS_OPTIONS})
    check_fit_options(order, method, params)  # before the corpus is read and counted
    if isinstance(corpus_or_split, str):
        if tokenizer is not None:
            options["tokenizer"] = tokenizer
        corpus_or_split = text.load_corpus(corpus_or_split, **options)
    if isinstance(corpus_or_split, text.PreparedCorpus):
        split, vocabulary, tokenizer = corpus_or_split.splits["train"], corpus_or_split.vocabulary, corpus_or_split.tokenizer
        unit, source = corpus_or_split.unit, corpus_or_split.source
    else:
        if vocabulary is None:
            raise UsageError("fitting on an EncodedSplit needs its vocabulary= (the ids index it)")
        split, unit, source = corpus_or_split, "line", "split"
        tokenizer = tokenizer or text.make_tokenizer("word")
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
