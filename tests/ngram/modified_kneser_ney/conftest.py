"""The tiny corpus every stage test of modified Kneser-Ney works by hand.

Ids: 0 <unk>, 1 <s>, 2 </s>, 3 a, 4 b (V = 5; <unk> never occurs)::

    <s> a b </s>
    <s> b b </s>
    <s> a b </s>

    raw unigrams:  <s> 3   </s> 3   a 2   b 4
    raw bigrams:   <s> a 2   <s> b 1   a b 2   b </s> 3   b b 1
    raw trigrams:  <s> a b 2   <s> b b 1   a b </s> 2   b b </s> 1

Counts rows are sorted lexicographically by ids: unigram rows <s> </s> a b; bigram rows
(<s> a) (<s> b) (a b) (b </s>) (b b); trigram rows (<s> a b) (<s> b b) (a b </s>) (b b </s>).
"""

from __future__ import annotations

import pytest

from lmtool.ngram.counting import NgramCounts, count_ngrams

from ..helpers import split_of

SENTENCES = [[3, 4], [4, 4], [3, 4]]
V = 5


@pytest.fixture
def tiny_counts():
    """``tiny_counts(order)``: the counts of the corpus above up to ``order``."""

    def counts(order: int) -> NgramCounts:
        split = split_of(SENTENCES)
        return count_ngrams(split.ids, split.starts, order, V)

    return counts
