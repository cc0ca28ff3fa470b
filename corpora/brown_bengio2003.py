"""``brown-bengio2003``: the Brown corpus split as in Bengio et al. 2003.

*A Neural Probabilistic Language Model* trained on the first 800,000 words of Brown,
validated on the next 200,000 and tested on the rest, merging words seen 3 times or fewer into
``<unk>``. Made precise so figures can be checked against other tools: walk
``nltk.corpus.brown.sents()`` in corpus order, one sentence per line, words as given (case
kept); a sentence goes to train if fewer than 800,000 words precede it, else to valid if fewer
than 1,000,000 precede it, else to test. That gives

=======  =========  =======
split    sentences  words
=======  =========  =======
train    35,523     800,001
valid    11,690     200,021
test     10,127     161,170
=======  =========  =======

and, with min count 4, 14,113 kept word types plus ``<unk>`` (the paper's own copy of the
corpus was slightly larger and had |V| = 16,383).
"""

from __future__ import annotations

import functools

import numpy as np

from lmtool.text.nltk_corpora import nltk_lines
from lmtool.text.sources import SPLIT_NAMES, Source

#: words that must precede a sentence for it to start valid, and test
BOUNDARIES = (800_000, 1_000_000)
MIN_COUNT = 4


@functools.lru_cache(maxsize=1)
def split_lines() -> dict[str, tuple[str, ...]]:
    """The Brown sentences (as lines) of each split."""
    lines = nltk_lines("brown")
    lengths = np.fromiter((line.count(" ") + 1 for line in lines), dtype=np.int64, count=len(lines))
    preceding = np.cumsum(lengths) - lengths
    cuts = np.searchsorted(preceding, BOUNDARIES, side="left")  # first sentence with >= boundary words before it
    bounds = [0, *cuts.tolist(), len(lines)]
    return {name: lines[a:b] for name, a, b in zip(SPLIT_NAMES, bounds, bounds[1:])}


def source() -> Source:
    from lmtool.text.nltk_corpora import nltk_reader

    nltk_reader("brown")  # fail fast, with how to get the data

    def reader(name: str):
        return lambda: iter(split_lines()[name])

    return Source(
        "brown-bengio2003",
        splits={name: reader(name) for name in SPLIT_NAMES},
        defaults={"min_count": MIN_COUNT},
    )
