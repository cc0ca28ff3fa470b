"""Every normalised method, every order 1..5: each conditional distribution sums to 1.

Property test (hypothesis) over random small corpora: for the contexts seen in training and
random ones (unseen, short histories, odd places for <s> and <unk>), the distribution over the
V-1 predictable ids, computed by core's vectorised ``log10_distribution``, sums to 1 within
1e-6; and on a few contexts it equals a slow, obviously correct reference scorer written here
from the ARPA backoff rule. Stupid backoff is checked to be NOT normalised.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmtool.ngram.counting import count_ngrams
from lmtool.ngram.fit import METHODS, estimate
from lmtool.ngram import tables as _tables
from lmtool.ngram.tables import BackoffTables
from lmtool.text import BOS_ID

#: (method, parameters): every normalised method, defaults and a few non-default settings
CASES = [(name, {}) for name, e in METHODS.items() if e.normalised and name != "modified-kneser-ney"] + [
    ("modified-kneser-ney", {"discount_fallback": True}),
    ("modified-kneser-ney", {"discount_fallback": True, "prune": [0, 1, 1]}),
    ("add-k", {"k": 0.01}),
    ("add-k", {"k": 3.0}),
    ("absolute", {"discount": 1.0}),
    ("kneser-ney", {"discount": 0.2}),
    ("katz", {"gtmax": 2}),
]


@st.composite
def corpora(draw):
    """(vocab size, id sentences, order): 1-5 words, <unk> sometimes used, </s> or stream-style."""
    vocab_size = 3 + draw(st.integers(1, 5))
    words = st.sampled_from([0] + list(range(3, vocab_size)))
    sentences = draw(st.lists(st.lists(words, max_size=7), min_size=1, max_size=5))
    if draw(st.booleans()):  # line units end each sentence with </s>; stream units do not
        sentences = [s + [2] for s in sentences]
    if not any(sentences):
        sentences[0] = [3]
    return vocab_size, sentences, draw(st.integers(1, 5)), draw(st.integers(0, 2**32 - 1))


def counts_of(vocab_size, sentences, order):
    ids = np.array([w for s in sentences for w in s], dtype=np.int32)
    starts = np.cumsum([0] + [len(s) for s in sentences])
    return count_ngrams(ids, starts, order, vocab_size)


def contexts_for(counts, seed: int) -> np.ndarray:
    """Width order-1 contexts, -1 = no word (left padding): every seen n-gram of a lower
    order as a context, plus random ones (mostly unseen; <s> and <unk> anywhere)."""
    width, vocab_size = counts.order - 1, counts.vocab_size
    rng = np.random.default_rng(seed)
    rows = [np.full((1, width), -1)]
    for k in range(min(width, counts.order)):
        seen = counts.ngrams[k]
        rows.append(np.concatenate([np.full((len(seen), width - k - 1), -1), seen], axis=1))
    random = rng.integers(0, vocab_size, size=(40, width))
    lengths = rng.integers(0, width + 1, size=40)
    random[np.arange(width)[None, :] < (width - lengths)[:, None]] = -1  # short histories
    rows.append(random)
    return np.concatenate(rows).astype(np.int64)


def reference_log10(tables: BackoffTables, context, word) -> float:
    """log10 p(word | context) by the ARPA rule, one dict lookup at a time (slow, plain)."""
    if word == BOS_ID:
        return -np.inf
    entries = {}
    for k in range(tables.order):
        for row, prob, backoff in zip(tables.ngrams[k].tolist(), tables.log10_probs[k], tables.log10_backoffs[k]):
            entries[tuple(row)] = (prob, backoff)
    history = tuple(w for w in context if w >= 0)[-(tables.order - 1) :] if tables.order > 1 else ()
    total = 0.0
    while True:
        if history + (word,) in entries:
            return total + entries[history + (word,)][0]
        total += entries[history][1] if history in entries else 0.0
        history = history[1:]


def distributions(tables, contexts):
    """(B, V) probabilities from core's vectorised function; (B, 0) contexts for order 1."""
    return 10.0 ** _tables.log10_distribution(tables, contexts if contexts.shape[1] else np.zeros((len(contexts), 0), np.int64))


@pytest.fixture(autouse=True, scope="module")
def quiet_discount_fallbacks():
    """Discount fallbacks are expected on these tiny corpora; silence them for this module only."""
    logger = logging.getLogger("lmtool")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.mark.parametrize("method, params", CASES, ids=[m + "".join(f"-{k}={v}" for k, v in p.items()) for m, p in CASES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=corpora())
def test_every_distribution_sums_to_one(method, params, corpus):
    vocab_size, sentences, order, seed = corpus
    counts = counts_of(vocab_size, sentences, order)
    tables = estimate(counts, method, **params).tables
    contexts = contexts_for(counts, seed)
    probs = distributions(tables, contexts)
    assert np.all(probs[:, BOS_ID] == 0.0)
    sums = probs.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    assert abs(sums[worst] - 1.0) < 1e-6, (contexts[worst].tolist(), sums[worst])
    # two routes to the same numbers: the vectorised scorer and the reference rule
    for i in np.random.default_rng(seed).choice(len(contexts), size=min(6, len(contexts)), replace=False):
        expected = [10.0 ** reference_log10(tables, contexts[i].tolist(), w) for w in range(vocab_size)]
        np.testing.assert_allclose(probs[i], expected, rtol=1e-9, atol=1e-15)


def test_stupid_backoff_is_not_normalised():
    # "<s> a b a b c </s> <s> b c </s>", order 3: context b gives its seen words 1/3 + 2/3 and
    # then 0.4 x unigram score to b, </s>, <unk>: 1 + 0.4 * 5/9
    counts = counts_of(6, [[3, 4, 3, 4, 5, 2], [4, 5, 2]], 3)
    result = estimate(counts, "stupid-backoff")
    assert not result.normalised
    sums = distributions(result.tables, np.array([[-1, 4], [3, 4], [5, 4], [-1, -1]])).sum(axis=1)
    assert sums[0] == pytest.approx(1 + 0.4 * 5 / 9)
    assert np.all(sums[:3] > 1.0 + 1e-3)
    assert sums[3] == pytest.approx(1.0)  # the unigram relative frequencies alone do sum to 1


@settings(max_examples=30, deadline=None)
@given(corpus=corpora())
def test_stupid_backoff_never_sums_below_one_in_contexts_with_data(corpus):
    # a context seen with continuations gives them relative frequencies summing to 1, and
    # alpha x (a score >= 0) to every other word
    vocab_size, sentences, order, _ = corpus
    counts = counts_of(vocab_size, sentences, max(order, 2))
    tables = estimate(counts, "stupid-backoff").tables
    width = counts.order - 1
    contexts = [
        np.concatenate([np.full((len(rows), width - k - 1), -1), counts.ngrams[k][rows]], axis=1)
        for k in range(width)
        for rows in [np.unique(counts.prefixes[k + 1])]
    ]
    assert np.all(distributions(tables, np.concatenate(contexts)).sum(axis=1) >= 1.0 - 1e-9)
