"""Stage 4 of modified Kneser-Ney: interpolation into backoff tables (lmplz's interpolate.cc).

From the unigrams up, with the initial probabilities ``u`` and ``gamma`` (:mod:`.initial`)::

    p(w)   = u(w) + gamma() / (V - 1)          uniform over the vocabulary without <s>
    p(w|h) = u(w|h) + gamma(h) p(w|h[1:])

``<unk>`` with no count gets just the uniform share. The backoff weight of a context is its
``gamma`` (1 for an n-gram that is no context); ``<s>`` gets unigram probability 1 (log10 0,
as lmplz writes it; the tables never predict it). The result is the backoff (ARPA) form of
:mod:`lmtool.ngram.tables` in log10, which storage and the ARPA writer take as it is.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.modified_kneser_ney.initial import InitialProbabilities
from lmtool.ngram.tables import BackoffTables
from lmtool.text import BOS_ID


def interpolate(counts: NgramCounts, initial: Iterable[InitialProbabilities]) -> BackoffTables:
    """The backoff tables of the interpolated model, built order by order as ``initial`` yields
    (each stage's ``u`` becomes its order's probabilities, in place)."""
    stages = iter(initial)
    unigrams = next(stages)
    vocab = counts.vocab_size
    p = unigrams.u + unigrams.gamma / (vocab - 1)
    p[BOS_ID] = 1.0
    probs, backoffs, ngrams = [p], [np.ones(vocab)], [np.arange(vocab, dtype=np.int32)[:, None]]
    # count_row_to_table[k][r]: row in the tables of counts row r (-1 if pruned), or None when the
    # order lost nothing to pruning (the rows are the same); unigram rows are ids
    count_row_to_table: list[np.ndarray | None] = [counts.ngrams[0][:, 0].astype(np.int64)]
    for stage in stages:
        k = stage.order - 1
        # the context's backoff weight is its gamma (a pruned context has no row to hold it)
        context_rows = _table_rows(count_row_to_table[k - 1], stage.contexts)
        listed = context_rows >= 0
        backoffs[k - 1][context_rows[listed]] = stage.gamma[stage.contexts[listed]]
        rows = stage.rows
        # u + gamma * lower, summed into the arrays of stage.u and of the gathered lower orders
        lower = probs[k - 1][_table_rows(count_row_to_table[k - 1], counts.suffixes[k][rows])]
        lower *= stage.gamma[counts.prefixes[k][rows]]
        probs.append(np.add(stage.u, lower, out=stage.u))
        del lower
        backoffs.append(np.ones(len(stage.u)) if k < counts.order - 1 else None)  # the highest order has none
        ngrams.append(counts.ngrams[k][rows])
        count_row_to_table.append(_rows_to_table(rows, len(counts.ngrams[k])))
        del stage  # its gamma and contexts, before the next order's stage is computed
    return log10_tables(counts.order, vocab, ngrams, probs, backoffs)


def _table_rows(count_row_to_table: np.ndarray | None, count_rows: np.ndarray) -> np.ndarray:
    """Rows in the tables of the counts rows ``count_rows`` (None: the same rows)."""
    return count_rows if count_row_to_table is None else count_row_to_table[count_rows]


def _rows_to_table(rows: slice | np.ndarray, n_rows: int) -> np.ndarray | None:
    """count_row_to_table of an order whose kept counts rows are ``rows`` (None when all are kept)."""
    if isinstance(rows, slice):
        return None
    to_table = np.full(n_rows, -1, dtype=np.int64)
    to_table[rows] = np.arange(len(rows))
    return to_table


def log10_tables(order: int, vocab: int, ngrams: list[np.ndarray], probs: list[np.ndarray],
                 backoffs: list[np.ndarray | None]) -> BackoffTables:
    """The tables in log10, converted in place (the arrays are this stage's own); the highest
    order's backoffs (None) are log10 1, zeros that take no memory until written."""
    with np.errstate(divide="ignore"):  # p(<s>) = 0 is meant: log10 -inf (ARPA writes it -99)
        log10_probs = [np.minimum(0.0, np.log10(p, out=p), out=p) for p in probs]
        log10_backoffs = [np.zeros(len(p)) if b is None else np.log10(b, out=b) for p, b in zip(probs, backoffs)]
    return BackoffTables(order=order, vocab_size=vocab, ngrams=ngrams, log10_probs=log10_probs,
                         log10_backoffs=log10_backoffs)
