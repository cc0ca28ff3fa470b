"""Stages 4 and 5 of the cluster fit: discounts, initial probabilities by context, interpolation by suffix.

4. **Discounts** (client): each partition's counts-of-counts (:mod:`.suffix`) summed, then the
   very functions the in-memory estimators call on theirs
   (:func:`~lmtool.ngram.modified_kneser_ney.discounts.discounts_from_counts_of_counts`;
   Kneser-Ney's single D by
   :func:`~lmtool.ngram.estimators._grouping.discount_from_counts_of_counts`). The unigrams'
   initial probabilities (:func:`~lmtool.ngram.modified_kneser_ney.initial.initial_unigrams`,
   over V ids: small) are computed here too and sent to every partition.
5. **By context.** Every n-gram of order >= 2 is sent to the partition of its context (its words
   but the last: :func:`by_context`); there each context's denominators and its continuations
   with adjusted counts 1, 2, 3+ are local, and
   :func:`~lmtool.ngram.modified_kneser_ney.initial.initial_order` runs unchanged on a view of
   the partition in which its contexts are the rows of the order below
   (:func:`context_partition`). The results go back: ``u`` and the context's ``gamma`` to each
   n-gram's partition by last word, and each context's ``gamma`` (its backoff weight) to the
   partition by last word of the context itself. There
   :func:`~lmtool.ngram.modified_kneser_ney.interpolate.interpolate` joins every n-gram with its
   suffix's probability, one order after the other, all local (:func:`interpolate_partition`).

Rows within a context come out of the sort in the order the in-memory fit has them (by last
word), so every sum is taken in the same order and the probabilities are the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from lmtool.ngram.cluster.counting import bucket_of, deal, nbytes
from lmtool.ngram.cluster.suffix import Statistics, SuffixPartition, rows_in
from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.estimators._grouping import discount_from_counts_of_counts
from lmtool.ngram.modified_kneser_ney import check_vocabulary
from lmtool.ngram.modified_kneser_ney.discounts import Discounts, discounts_from_counts_of_counts
from lmtool.ngram.modified_kneser_ney.initial import InitialProbabilities, initial_order, initial_unigrams
from lmtool.ngram.modified_kneser_ney.interpolate import interpolate
from lmtool.ngram.modified_kneser_ney.prune import prune_thresholds
from lmtool.ngram.tables import BackoffTables

#: the methods a cluster fits: the ones whose stages are written as above
CLUSTER_METHODS = ("modified-kneser-ney", "kneser-ney")


@dataclass
class Smoothing:
    """Stage 4's result: per order the discount triple and the pruning threshold, the unigrams'
    initial probabilities, and what the model reports (``info`` as the in-memory estimator's)."""

    discounts: list[Discounts]
    thresholds: list[int]
    unigrams: InitialProbabilities
    info: dict


def smoothing(method: str, parameters: dict, order: int, vocab_size: int, *stats: Statistics) -> Smoothing:
    """Stage 4: discounts from the summed counts-of-counts, and the unigram stage. It runs on the
    client (whose user sees its warnings and errors, as in memory) and again as a task whose
    result the tasks of stage 5 take (see :class:`~.engine.Run` on why nothing is scattered)."""
    check_vocabulary(vocab_size)
    if method == "modified-kneser-ney":
        chosen, fallback_orders = [], []
        for k in range(order):
            d, fell_back = discounts_from_counts_of_counts(sum(s.kenlm[k] for s in stats), k + 1,
                                                           parameters["discount_fallback"])
            chosen.append(d)
            fallback_orders += [k + 1] if fell_back else []
        thresholds = prune_thresholds(parameters["prune"], order)
        info = {"discounts": chosen, "fallback_orders": fallback_orders}
    else:
        single = [parameters["discount"] if parameters["discount"] is not None else
                  discount_from_counts_of_counts(sum(s.adjusted[k] for s in stats), sum(s.positive[k] for s in stats),
                                                 k + 1, "kneser-ney") for k in range(order)]
        chosen, thresholds, info = [(d, d, d) for d in single], [0] * order, {"discounts": single}
    ids = np.concatenate([s.unigram_ids for s in stats])
    unigrams = NgramCounts(order=1, vocab_size=vocab_size, ngrams=[ids[:, None]],
                           counts=[np.concatenate([s.unigram_counts for s in stats])])
    initial = initial_unigrams(unigrams, np.concatenate([s.unigram_adjusted for s in stats]), chosen[0])
    return Smoothing(chosen, thresholds, initial, info)


def by_context(partition: SuffixPartition, n: int) -> tuple:
    """Stage 5's first shuffle: per order >= 2, the rows, adjusted and raw counts and row numbers
    of this partition's n-grams, dealt into ``n`` pieces by the hash of their context."""
    counts = partition.counts
    pieces = [[] for _ in range(n)]
    for k in range(1, counts.order):
        rows = counts.ngrams[k]
        arrays = [rows, partition.adjusted[k], counts.counts[k], np.arange(len(rows))]
        for j, piece in enumerate(deal(bucket_of(rows[:, :-1], n), n, arrays)):
            pieces[j].append(piece)
    return tuple(pieces)


def context_partition(index: int, smoothed: Smoothing, vocab_size: int, *pieces: list) -> tuple:
    """Stage 5's task by context: the initial probabilities of the n-grams of partition ``index``'s
    contexts, dealt back. Returns ``((bytes received, bytes sent back), piece 0, ..., piece n-1)``:
    piece ``b`` holds, per order >= 2, ``(row numbers, u, gamma of their context)`` of the kept
    n-grams from suffix partition ``b``, and ``(context rows, gamma)`` of the contexts whose last
    word is in partition ``b``."""
    n = len(pieces)
    back = [[] for _ in range(n)]
    for k in range(1, len(smoothed.discounts)):
        rows, adjusted, raw, numbers = (np.concatenate([piece[k - 1][i] for piece in pieces]) for i in range(4))
        source = np.repeat(np.arange(n), [len(piece[k - 1][0]) for piece in pieces])
        order = np.lexsort(rows.T[::-1])
        rows, adjusted, raw, numbers, source = rows[order], adjusted[order], raw[order], numbers[order], source[order]
        new = np.ones(len(rows), dtype=bool)
        np.any(rows[1:, :-1] != rows[:-1, :-1], axis=1, out=new[1:])
        prefix = np.cumsum(new) - 1
        # order k+1 as initial_order reads it: its contexts are the rows of order k (none below)
        view = NgramCounts(order=k + 1, vocab_size=vocab_size, ngrams=[None] * (k - 1) + [rows[new, :-1], rows],
                           counts=[None] * k + [raw], prefixes=[None] * k + [prefix])
        stage = initial_order(view, k, adjusted, smoothed.discounts[k], raw > smoothed.thresholds[k])
        kept = np.arange(len(rows))[stage.rows]
        to_rows = deal(source[kept], n, [numbers[kept], stage.u, stage.gamma[prefix[kept]]])
        contexts = rows[new, :-1][stage.contexts]
        to_contexts = deal(bucket_of(contexts[:, -1:], n), n, [contexts, stage.gamma[stage.contexts]])
        for b in range(n):
            back[b].append((*to_rows[b], *to_contexts[b]))
    return ((nbytes(pieces), nbytes(back)), *back)


def interpolate_partition(index: int, partition: SuffixPartition, smoothed: Smoothing, *pieces: list) -> BackoffTables:
    """Stage 5's task by last word: the backoff tables of this partition's n-grams. Of the unigrams
    it keeps the backoff weights of its own words only (in id order), and only partition 0 keeps
    their probabilities, which every partition computes alike: the client gathers them once.

    :func:`interpolate` reads ``gamma[prefixes[k]]`` for an n-gram's context and ``gamma[contexts]``
    for the backoff weights of this partition's rows of order k: here the two live in one array,
    this partition's contexts first, then one entry per n-gram of order k+1 (its context's gamma,
    which came with it), and ``prefixes[k]`` points into the second half."""
    counts = partition.counts
    stages, prefixes = [smoothed.unigrams], [counts.suffixes[0]]
    for k in range(1, counts.order):
        numbers, u, gamma, contexts, context_gamma = (np.concatenate([piece[k - 1][i] for piece in pieces])
                                                      for i in range(5))
        m_context, m = len(counts.ngrams[k - 1]), len(counts.ngrams[k])
        own = rows_in(counts.ngrams[k - 1], contexts)
        combined = np.zeros(m_context + m)
        combined[own] = context_gamma
        combined[m_context + numbers] = gamma
        keep = counts.counts[k] > smoothed.thresholds[k]
        rows = slice(None) if keep.all() else np.flatnonzero(keep)
        u_rows = np.zeros(m)
        u_rows[numbers] = u
        stages.append(InitialProbabilities(order=k + 1, u=u_rows[rows], gamma=combined, rows=rows, contexts=own))
        prefixes.append(m_context + np.arange(m, dtype=np.int64))
    tables = interpolate(replace(counts, prefixes=prefixes), stages)
    tables.log10_backoffs[0] = tables.log10_backoffs[0][bucket_of(tables.ngrams[0], len(pieces)) == index]
    if index:
        tables.ngrams[0], tables.log10_probs[0] = tables.ngrams[0][:0], tables.log10_probs[0][:0]
    return tables
