"""Stage 1 of modified Kneser-Ney: adjusted counts (lmplz's adjust_counts.cc).

The adjusted count ``a`` of an n-gram is what Kneser-Ney estimates its probability from:

- highest order: the raw count;
- lower orders: the continuation count N1+(. g), the number of distinct words seen before the
  n-gram ``g`` (one per distinct (k+1)-gram whose suffix is ``g``), because a lower order is
  only ever used after backing off from a longer context;
- except n-grams that begin with ``<s>``: nothing can precede ``<s>``, so they keep their raw
  counts; and the ``<s>`` unigram gets 0 (``<s>`` is never predicted).
"""

from __future__ import annotations

import numpy as np

from lmtool.ngram.counting import NgramCounts
from lmtool.text import BOS_ID


def adjusted_counts(counts: NgramCounts) -> list[np.ndarray]:
    """KenLM's adjusted counts of every listed n-gram of every order (index k for order k+1),
    aligned with ``counts.ngrams[k]``."""
    adjusted = []
    for k in range(counts.order):
        if k == counts.order - 1:
            # the raw counts themselves (no stage writes into adjusted counts), but for unigrams
            a = counts.counts[k].copy() if k == 0 else counts.counts[k]
        else:
            # each (k+1)-gram adds one distinct left neighbour to the k-gram its suffix points at
            a = np.bincount(counts.suffixes[k + 1], minlength=len(counts.ngrams[k])).astype(np.int64)
            bos_initial = counts.ngrams[k][:, 0] == BOS_ID
            a[bos_initial] = counts.counts[k][bos_initial]
        if k == 0:
            a[counts.ngrams[0][:, 0] == BOS_ID] = 0
        adjusted.append(a)
    return adjusted
