"""Stage 3 of the cluster fit: partitions by last word, where Kneser-Ney's adjusted counts are local.

After the shuffle of stage 2, partition ``b`` holds, for every order, all the n-grams whose last
word hashes to ``b`` (from every part). It merges them (the out-of-core merge's
:func:`~lmtool.ngram.external.merge.combine`: sort, sum equal rows), which gives each order's rows
sorted and unique with their exact counts, and links every n-gram to its suffix, which ends in
the same word and so is here too. That is an :class:`~lmtool.ngram.counting.NgramCounts` of its
own (``prefixes`` are not local and stay empty), on which the modified Kneser-Ney stages run
unchanged:

- :func:`~lmtool.ngram.modified_kneser_ney.adjust.adjusted_counts` (the continuation count of a
  lower-order n-gram is the number of higher-order rows whose suffix it is: all here);
- :func:`~lmtool.ngram.modified_kneser_ney.discounts.kenlm_statistics`, whose KenLM quirk follows
  a chain of n-grams that all end in the word seen last for the first time: the partition of
  that word gets ``first_seen``, the others None (no quirk);
- counts-of-counts, the small per-partition figures that stage 4 sums into the discounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmtool.ngram.counting import NgramCounts, counts_of_counts
from lmtool.ngram.external.merge import combine
from lmtool.ngram.modified_kneser_ney.adjust import adjusted_counts
from lmtool.ngram.modified_kneser_ney.discounts import kenlm_statistics


@dataclass
class SuffixPartition:
    """One partition by last word: its local counts (``suffixes`` local, ``prefixes`` empty) and
    their adjusted counts; it stays on its worker until the model's tables are built."""

    counts: NgramCounts
    adjusted: list[np.ndarray]


@dataclass
class Statistics:
    """What stage 3 sends back to the client for one partition: per order, the counts-of-counts
    (0..4) of KenLM's statistics (modified Kneser-Ney) and of the adjusted counts (Kneser-Ney),
    the number of positive adjusted counts, the rows; and its unigrams, for the unigram stage."""

    kenlm: list[np.ndarray]
    adjusted: list[np.ndarray]
    positive: list[int]
    rows: list[int]
    unigram_ids: np.ndarray
    unigram_counts: np.ndarray
    unigram_adjusted: np.ndarray


def rows_in(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The row in ``table`` (sorted, unique rows) of each row of ``queries``: one lexicographic
    sort of both, in which each table row heads the group of its equal queries. A query that
    ``table`` lacks gets a number of ``len(table)`` or more (see :func:`listed_in`)."""
    both = np.concatenate([table, queries])
    order = np.lexsort(both.T[::-1])  # stable: a table row sorts before its equal queries
    ranked = both[order]
    new = np.ones(len(both), dtype=bool)
    np.any(ranked[1:] != ranked[:-1], axis=1, out=new[1:])
    heads = order[np.maximum.accumulate(np.where(new, np.arange(len(both)), 0))]
    found = np.empty(len(both), dtype=np.int64)
    found[order] = heads
    return found[len(table):]


def listed_in(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Whether each row of ``queries`` is a row of ``table`` (sorted, unique rows)."""
    return rows_in(table, queries) < len(table)


def suffix_partition(index: int, order: int, vocab_size: int, first_seen: np.ndarray | None,
                     *pieces: list) -> SuffixPartition:
    """Stage 3's task: merge the pieces every part sent to partition ``index`` and adjust the counts.

    ``pieces[i][k]`` is ``(rows, counts)`` of order k+1 from part i; ``first_seen`` is given to the
    partition of the word seen last for the first time (see the module docstring), else None.
    """
    ngrams, counts = [], []
    for k in range(order):
        rows, values = combine([piece[k][0] for piece in pieces], [piece[k][1] for piece in pieces])
        ngrams.append(rows)
        counts.append(values)
    suffixes = [np.full(len(ngrams[0]), -1, dtype=np.int64)]
    suffixes += [rows_in(ngrams[k - 1], ngrams[k][:, 1:]) for k in range(1, order)]
    local = NgramCounts(order=order, vocab_size=vocab_size, ngrams=ngrams, counts=counts, prefixes=[],
                        suffixes=suffixes, first_seen=first_seen)
    return SuffixPartition(local, adjusted_counts(local))


def statistics(partition: SuffixPartition) -> Statistics:
    """Stage 3's summary task: the figures the discounts and the unigram stage need."""
    counts, adjusted = partition.counts, partition.adjusted
    kenlm = kenlm_statistics(counts, adjusted)
    return Statistics(kenlm=[counts_of_counts(s, 4) for s in kenlm], adjusted=[counts_of_counts(a, 4) for a in adjusted],
                      positive=[int(np.count_nonzero(a)) for a in adjusted], rows=[len(g) for g in counts.ngrams],
                      unigram_ids=counts.ngrams[0][:, 0].astype(np.int64), unigram_counts=counts.counts[0],
                      unigram_adjusted=adjusted[0])
