"""Stage 1, adjusted counts, by hand on the tiny corpus of conftest.py."""

from __future__ import annotations

from lmtool.ngram.modified_kneser_ney.adjust import adjusted_counts


def test_bigram_model_adjusted_counts(tiny_counts):
    counts = tiny_counts(2)
    a = adjusted_counts(counts)
    # unigram rows <s> </s> a b: <s> 0 (never predicted); </s> preceded by b only -> 1;
    # a preceded by <s> only -> 1; b preceded by <s>, a, b -> 3 (continuation counts, not the raw 3 3 2 4)
    assert a[0].tolist() == [0, 1, 1, 3]
    # the highest order keeps its raw counts: <s> a 2, <s> b 1, a b 2, b </s> 3, b b 1
    assert a[1].tolist() == counts.counts[1].tolist() == [2, 1, 2, 3, 1]


def test_trigram_model_adjusted_counts(tiny_counts):
    counts = tiny_counts(3)
    a = adjusted_counts(counts)
    assert a[0].tolist() == [0, 1, 1, 3]  # as in the bigram model: continuation counts over bigrams
    # bigram rows (<s> a) (<s> b) (a b) (b </s>) (b b):
    #   <s> a, <s> b begin with <s>: nothing precedes them, they keep their raw counts 2 and 1;
    #   a b follows <s> only (<s> a b) -> 1 (raw 2); b </s> follows a and b -> 2 (raw 3);
    #   b b follows <s> only (<s> b b) -> 1
    assert a[1].tolist() == [2, 1, 1, 2, 1]
    assert a[2].tolist() == [2, 1, 2, 1]  # trigrams: raw counts
