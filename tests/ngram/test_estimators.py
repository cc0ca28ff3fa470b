"""Hand-computed examples for every smoothing method of lmtool.ngram.estimators, the registry's
validation, and agreement with nltk.lm where the two define the same number.

The corpus throughout (ids: 0 <unk>, 1 <s>, 2 </s>, 3 a, 4 b, 5 c; V = 6, so V' = 5 ids are
predictable: <unk> </s> a b c)::

    <s> a b a b c </s>
    <s> b c </s>

    unigrams (N = 9, <s> excluded):  a 2   b 3   c 2   </s> 2   <unk> 0
    bigrams:   <s> a 1  <s> b 1  a b 2  b a 1  b c 2  c </s> 2
               contexts: <s> (2 tokens, 2 types)  a (2, 1)  b (3, 2)  c (2, 1)
    trigrams:  <s> a b 1  a b a 1  b a b 1  a b c 1  b c </s> 2  <s> b c 1
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from lmtool.errors import DataError, UsageError
from lmtool.ngram.counting import count_ngrams
from lmtool.ngram.estimators import ESTIMATORS, get_estimator
from lmtool.ngram.tables import log10_prob

IDS = {"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "c": 5}
V = 6
CORPUS = [["a", "b", "a", "b", "c", "</s>"], ["b", "c", "</s>"]]


def counts_of(sentences, order, vocab_size=V):
    ids = np.array([IDS.get(t, t) for s in sentences for t in s], dtype=np.int32)
    starts = np.cumsum([0] + [len(s) for s in sentences])
    return count_ngrams(ids, starts, order, vocab_size)


def fit(method, order, sentences=CORPUS, vocab_size=V, **params):
    tables, _ = get_estimator(method).estimate(counts_of(sentences, order, vocab_size), **params)
    return tables


def p(tables, *words):
    """p(last word | the words before it) as the tables score it (core's vectorised lookup)."""
    gram = np.array([[IDS.get(w, w) for w in words]])
    return float(10.0 ** log10_prob(tables, gram)[0])


# --- mle -------------------------------------------------------------------------------------

def test_mle_hand_computed():
    t = fit("mle", 3)
    assert p(t, "a") == pytest.approx(2 / 9)  # c(a) / N
    assert p(t, "<unk>") == 0.0  # never seen: probability 0 (log10 -inf)
    assert p(t, "a", "b") == pytest.approx(1.0)  # c(a b) / c(a .) = 2 / 2
    assert p(t, "b", "c") == pytest.approx(2 / 3)  # 2 / 3
    assert p(t, "a", "a") == 0.0  # seen context a, unseen word: 0, no fallback
    assert p(t, "</s>", "a") == pytest.approx(2 / 9)  # </s> is never a context: falls back to p(a)
    assert p(t, "a", "b", "c") == pytest.approx(1 / 2)  # c(a b c) / c(a b .) = 1 / 2
    assert p(t, "c", "b", "a") == pytest.approx(1 / 3)  # unseen context "c b": p(a | b) = 1/3


# --- add-k / laplace -----------------------------------------------------------------------

def test_laplace_unigrams_and_backed_off_unseen_mass():
    t = fit("laplace", 2)
    # unigrams (c + 1) / (N + V') = (c + 1) / 14
    assert p(t, "a") == pytest.approx(3 / 14)
    assert p(t, "b") == pytest.approx(4 / 14)
    assert p(t, "<unk>") == pytest.approx(1 / 14)
    # context b: c(b .) = 3, seen words a (1) and c (2) keep Lidstone's values (c + 1) / (3 + 5)
    assert p(t, "b", "a") == pytest.approx(2 / 8)
    assert p(t, "b", "c") == pytest.approx(3 / 8)
    # unseen mass left(b) = 1 * (5 - 2) / 8 = 3/8, spread over <unk> b </s> in proportion to the
    # unigrams (1, 4, 3)/14: weight = (3/8) / (1 - 3/14 - 3/14) = (3/8) / (8/14) = 21/32
    assert p(t, "b", "b") == pytest.approx(21 / 32 * 4 / 14)  # = 3/16 (pure Lidstone: 1/8)
    assert p(t, "b", "<unk>") == pytest.approx(21 / 32 * 1 / 14)  # = 3/64
    assert p(t, "b", "</s>") == pytest.approx(21 / 32 * 3 / 14)  # = 9/64
    # the unseen mass is exactly Lidstone's: 3/16 + 3/64 + 9/64 = 3/8
    assert p(t, "b", "b") + p(t, "b", "<unk>") + p(t, "b", "</s>") == pytest.approx(3 / 8)


def test_add_k_uses_k_and_laplace_is_k_1():
    t = fit("add-k", 1, k=0.5)
    assert p(t, "a") == pytest.approx(2.5 / 11.5)  # (2 + 0.5) / (9 + 0.5 * 5)
    assert p(t, "<unk>") == pytest.approx(0.5 / 11.5)
    one, laplace = fit("add-k", 3, k=1), fit("laplace", 3)
    for a, b in zip(one.log10_probs + one.log10_backoffs, laplace.log10_probs + laplace.log10_backoffs):
        np.testing.assert_array_equal(a, b)


def test_add_k_zero_is_mle():
    zero, mle = fit("add-k", 3, k=0), fit("mle", 3)
    for a, b in zip(zero.log10_probs + zero.log10_backoffs, mle.log10_probs + mle.log10_backoffs):
        np.testing.assert_allclose(a, b)


# --- witten-bell ---------------------------------------------------------------------------

def test_witten_bell_hand_computed():
    t = fit("witten-bell", 3)
    # unigrams: T = 4 seen types, N = 9: p(w) = (c(w) + 4/5) / 13
    assert p(t, "a") == pytest.approx(2.8 / 13)
    assert p(t, "<unk>") == pytest.approx(0.8 / 13)
    # context b: c = 3, T = 2: p(w|b) = (c(b w) + 2 p(w)) / 5
    assert p(t, "b", "a") == pytest.approx((1 + 2 * 2.8 / 13) / 5)  # 18.6/65
    assert p(t, "b", "c") == pytest.approx((2 + 2 * 2.8 / 13) / 5)  # 31.6/65
    assert p(t, "b", "b") == pytest.approx((0 + 2 * 3.8 / 13) / 5)  # 7.6/65
    # context "a b": c = 2, T = 2: p(c|a b) = (1 + 2 p(c|b)) / 4 = (1 + 63.2/65) / 4
    assert p(t, "a", "b", "c") == pytest.approx((1 + 2 * 31.6 / 65) / 4)
    # unseen word in "a b": only the interpolated part, 2/4 p(b|b)
    assert p(t, "a", "b", "b") == pytest.approx(2 / 4 * 7.6 / 65)


# --- absolute ------------------------------------------------------------------------------

def test_absolute_hand_computed_with_unigram_fallback(caplog):
    with caplog.at_level(logging.WARNING, logger="lmtool.ngram.estimators"):
        tables, info = get_estimator("absolute").estimate(counts_of(CORPUS, 2))
    # unigram counts-of-counts n1 = 0: D1 undefined -> 0.5 with a warning;
    # bigrams n1 = 3 (<s> a, <s> b, b a), n2 = 3 (a b, b c, c </s>): D2 = 3 / (3 + 6) = 1/3
    assert info["discounts"] == pytest.approx([0.5, 1 / 3])
    assert "1-grams have n1=0" in caplog.text
    # unigrams: (c - 0.5)/9 + (0.5 * 4/9) / 5 = (c - 0.5)/9 + 0.4/9
    assert p(tables, "a") == pytest.approx(1.9 / 9)
    assert p(tables, "b") == pytest.approx(2.9 / 9)
    assert p(tables, "<unk>") == pytest.approx(0.4 / 9)
    # context b (3 tokens, 2 types): (c - 1/3)/3 + (1/3 * 2/3) p(w)
    assert p(tables, "b", "c") == pytest.approx((2 - 1 / 3) / 3 + 2 / 9 * 1.9 / 9)  # 48.8/81
    assert p(tables, "b", "b") == pytest.approx(2 / 9 * 2.9 / 9)  # 5.8/81


def test_absolute_given_discount_applies_to_every_order():
    tables, info = get_estimator("absolute").estimate(counts_of(CORPUS, 2), discount=0.5)
    assert info["discounts"] == [0.5, 0.5]
    # context a (2 tokens, 1 type): (2 - 0.5)/2 + (0.5 * 1/2) p(b) = 0.75 + 0.25 * 2.9/9
    assert p(tables, "a", "b") == pytest.approx(0.75 + 0.25 * 2.9 / 9)


# --- kneser-ney ----------------------------------------------------------------------------

def test_kneser_ney_hand_computed():
    tables, info = get_estimator("kneser-ney").estimate(counts_of(CORPUS, 2))
    # continuation counts N1+(. w): a {<s>, b} 2, b {<s>, a} 2, c {b} 1, </s> {c} 1; sum 6
    # n1 = 2, n2 = 2: D1 = 2 / (2 + 4) = 1/3; bigrams (raw, highest order): D2 = 1/3
    assert info["discounts"] == pytest.approx([1 / 3, 1 / 3])
    # unigrams: (a - 1/3)/6 + (1/3 * 4/6) / 5 = (a - 1/3)/6 + 4/90
    assert p(tables, "a") == pytest.approx(29 / 90)
    assert p(tables, "c") == pytest.approx(14 / 90)
    assert p(tables, "<unk>") == pytest.approx(4 / 90)
    # p(c|b) = (2 - 1/3)/3 + (1/3 * 2/3) * 14/90 = 5/9 + 28/810 = 478/810
    assert p(tables, "b", "c") == pytest.approx(478 / 810)
    # p(a|<s>) = (1 - 1/3)/2 + (1/3 * 2/2) * 29/90 = 1/3 + 29/270 = 119/270
    assert p(tables, "<s>", "a") == pytest.approx(119 / 270)


def test_kneser_ney_is_modified_kneser_ney_with_equal_discounts():
    from lmtool.ngram.modified_kneser_ney import estimate_modified_kneser_ney

    counts = counts_of(CORPUS * 3, 3)
    kn, _ = get_estimator("kneser-ney").estimate(counts, discount=0.6)
    mkn, _ = estimate_modified_kneser_ney(counts, discounts=[(0.6, 0.6, 0.6)] * 3)
    for a, b in zip(kn.log10_probs[1:] + kn.log10_backoffs, mkn.log10_probs[1:] + mkn.log10_backoffs):
        np.testing.assert_allclose(a, b)


# --- katz ----------------------------------------------------------------------------------

def test_katz_good_turing_unigrams():
    # ids 3..7 once, 8 and 9 twice, 10 three times, one </s>: N = 13,
    # n1 = 6 (five words and </s>), n2 = 2, n3 = 1; <unk> (0) unseen; gtmax = 2:
    #   common = 3 n3 / n1 = 1/2
    #   d1 = (2 n2 / n1 - 1/2) / (1 - 1/2) = (2/3 - 1/2) * 2 = 1/3
    #   d2 = (3 n3 / (2 n2) - 1/2) / (1/2) = (3/4 - 1/2) * 2 = 1/2
    sentence = [3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 10, 2]
    tables, info = get_estimator("katz").estimate(counts_of([sentence], 1, 11), gtmax=2)
    assert info["discounts"] == [pytest.approx([1 / 3, 1 / 2])]
    assert p(tables, 3) == pytest.approx(1 / 3 * 1 / 13)  # d1 * 1/13
    assert p(tables, 8) == pytest.approx(1 / 2 * 2 / 13)  # d2 * 2/13
    assert p(tables, 10) == pytest.approx(3 / 13)  # above gtmax: undiscounted
    # left over: (6 * 2/3 * 1 + 2 * 1/2 * 2) / 13 = 6/13 (= n1/N), all to the one unseen id
    assert p(tables, "<unk>") == pytest.approx(6 / 13)


def test_katz_backoff_weights_with_fallback_discounts(caplog):
    with caplog.at_level(logging.WARNING, logger="lmtool.ngram.estimators"):
        tables = fit("katz", 2)
    # unigrams n1 = 0 and bigrams n = (3, 3, 0, ...) make every d_r invalid: fallback
    # d_r = (r - 0.5) / r, with a warning per order
    assert "no valid Good-Turing discounts for the 1-grams" in caplog.text
    assert "no valid Good-Turing discounts for the 2-grams" in caplog.text
    # unigrams: (c - 0.5)/9, left 4 * 0.5 / 9 = 2/9 all to <unk>
    assert p(tables, "b") == pytest.approx(2.5 / 9)
    assert p(tables, "<unk>") == pytest.approx(2 / 9)
    # context b: p*(a|b) = 0.5/3, p*(c|b) = 1.5/3, left = 1/3;
    # weight = (1/3) / (1 - p(a) - p(c)) = (1/3) / (1 - 3/9) = 1/2
    assert p(tables, "b", "a") == pytest.approx(1 / 6)
    assert p(tables, "b", "c") == pytest.approx(1 / 2)
    assert p(tables, "b", "b") == pytest.approx(1 / 2 * 2.5 / 9)  # 5/36
    assert p(tables, "b", "<unk>") == pytest.approx(1 / 2 * 2 / 9)  # 1/9


def test_katz_context_that_saw_every_word_is_rescaled():
    # "a" is followed by a (2), <unk> (1), </s> (1): all V' = 3 predictable ids (V = 4).
    # Fallback d: p*(a|a) = 1.5/4, p*(<unk>|a) = p*(</s>|a) = 0.5/4, left 1.5/4 has nowhere to
    # go, so the three are rescaled by 1 / (2.5/4): 0.6, 0.2, 0.2
    tables = fit("katz", 2, [["a", "a", "a", "<unk>", "a", "</s>"]], vocab_size=4)
    assert p(tables, "a", "a") == pytest.approx(0.6)
    assert p(tables, "a", "<unk>") == pytest.approx(0.2)
    assert p(tables, "a", "</s>") == pytest.approx(0.2)


def test_katz_context_with_only_large_counts_keeps_mass_for_unseen_words():
    # "<s> a b </s>" x 3, gtmax 2: every count is 3 > 2, so Katz frees no mass anywhere and
    # unseen events would get 0. lmtool discounts such contexts by 0.5 instead:
    #   unigrams a b </s> (3 each, N = 9): 2.5/9 each, <unk> the rest 1.5/9
    #   context a (a b: 3): p(b|a) = 2.5/3, left 0.5/3;
    #   weight = (0.5/3) / (1 - 2.5/9) = 3/13, p(<unk>|a) = 3/13 * 1.5/9 = 1/26
    tables = fit("katz", 2, [["a", "b", "</s>"]] * 3, vocab_size=5, gtmax=2)  # no c: <unk> alone unseen
    assert p(tables, "a") == pytest.approx(2.5 / 9)
    assert p(tables, "<unk>") == pytest.approx(1.5 / 9)
    assert p(tables, "a", "b") == pytest.approx(2.5 / 3)
    assert p(tables, "a", "<unk>") == pytest.approx(1 / 26)
    assert p(tables, "a", "a") == pytest.approx(3 / 13 * 2.5 / 9)  # 5/78


# --- stupid backoff ------------------------------------------------------------------------

def test_stupid_backoff_scores_and_not_normalised():
    t = fit("stupid-backoff", 3)
    assert not ESTIMATORS["stupid-backoff"].normalised
    assert p(t, "b", "c") == pytest.approx(2 / 3)  # relative frequency
    assert p(t, "b", "b") == pytest.approx(0.4 * 3 / 9)  # seen context, unseen word: 0.4 S(b)
    assert p(t, "a", "b", "b") == pytest.approx(0.4 * 0.4 * 3 / 9)  # two steps: 0.4^2 S(b)
    assert p(t, "</s>", "a") == pytest.approx(0.4 * 2 / 9)  # listed n-gram as context: pays 0.4
    # a context never seen is unlisted and backs off with weight 1 (Brants would pay 0.4):
    assert p(t, "c", "b", "a") == pytest.approx(1 / 3)
    # context b: 1/3 + 2/3 + 0.4 (p(b) + p(</s>) + p(<unk>)) = 1 + 0.4 * 5/9 > 1
    total = sum(p(t, "b", w) for w in ("<unk>", "</s>", "a", "b", "c"))
    assert total == pytest.approx(1 + 0.4 * 5 / 9)


def test_stupid_backoff_alpha_parameter():
    t = fit("stupid-backoff", 2, alpha=0.5)
    assert p(t, "b", "b") == pytest.approx(0.5 * 3 / 9)
    assert np.allclose(t.log10_backoffs[0], math.log10(0.5))


# --- registry ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "method, params, fragment",
    [
        ("add-k", {"k": -1}, "--k must be >= 0"),
        ("add-k", {"k": "x"}, "--k must be a number"),
        ("add-k", {"k": float("nan")}, "finite"),
        ("absolute", {"discount": 0}, "--discount must be in (0, 1]"),
        ("kneser-ney", {"discount": 1.5}, "--discount must be in (0, 1]"),
        ("katz", {"gtmax": 1}, "--gtmax must be an integer >= 2"),
        ("katz", {"gtmax": 2.5}, "--gtmax must be an integer >= 2"),
        ("stupid-backoff", {"alpha": 0}, "--alpha must be in (0, 1]"),
        ("stupid-backoff", {"alpha": 2}, "--alpha must be in (0, 1]"),
        ("witten-bell", {"k": 1}, "--k does not apply to --smoothing witten-bell"),
        ("katz", {"discount": 0.5}, "it takes --gtmax"),
    ],
)
def test_registry_rejects_bad_parameters(method, params, fragment):
    with pytest.raises(UsageError) as error:
        get_estimator(method).resolve(params)
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_registry_defaults_and_names():
    assert get_estimator("add-k").resolve({}) == {"k": 0.5}
    assert get_estimator("add-k").resolve({"k": None}) == {"k": 0.5}  # None = option not given
    assert get_estimator("katz").resolve({"gtmax": "7"}) == {"gtmax": 7}
    assert get_estimator("absolute").resolve({}) == {"discount": None}
    assert get_estimator("stupid-backoff").resolve({}) == {"alpha": 0.4}
    assert {name for name, e in ESTIMATORS.items() if not e.normalised} == {"stupid-backoff"}
    with pytest.raises(UsageError, match="unknown smoothing method 'kn'.*modified-kneser-ney"):
        get_estimator("kn")


@pytest.mark.parametrize("method", sorted(ESTIMATORS))
def test_empty_training_split_is_a_data_error(method):
    with pytest.raises(DataError, match="no tokens"):
        get_estimator(method).estimate(count_ngrams(np.zeros(0, np.int32), np.array([0, 0]), 2, V))


@pytest.mark.parametrize("method", sorted(ESTIMATORS))
def test_every_counted_ngram_is_listed(method):
    counts = counts_of(CORPUS, 3)
    tables, _ = get_estimator(method).estimate(counts)
    np.testing.assert_array_equal(tables.ngrams[0][:, 0], np.arange(V))
    for k in (1, 2):
        np.testing.assert_array_equal(tables.ngrams[k], counts.ngrams[k])
        assert np.all(np.isfinite(tables.log10_probs[k]) | (method == "mle"))
    assert tables.log10_probs[0][IDS["<s>"]] in (-np.inf, 0.0)  # never predicted either way


# --- agreement with nltk.lm ----------------------------------------------------------------

def _nltk_model(cls, order, *args):
    """An nltk.lm model fed exactly lmtool's n-grams: one <s>, no ("<s>",) unigram, and a
    vocabulary of the V' predictable ids (nltk adds "<UNK>" for our <unk>), so len(vocab) = V'."""
    from nltk.lm import Vocabulary

    names = {v: k for k, v in IDS.items()}
    names[0] = "<UNK>"
    counts = counts_of(CORPUS, order)
    grams = [
        tuple(names[int(i)] for i in row)
        for k in range(order)
        for row, c in zip(counts.ngrams[k], counts.counts[k])
        for _ in range(int(c))
        if not (k == 0 and row[0] == IDS["<s>"])
    ]
    model = cls(*args, order, vocabulary=Vocabulary(["a", "b", "c", "</s>"], unk_cutoff=1))
    model.counts.update([grams])  # not fit(): it would map the "<s>" of contexts to "<UNK>"
    assert len(model.vocab) == V - 1
    return model


def _all_seen(order):
    """(context, word) of every seen n-gram of orders 1..order, as token strings."""
    names = {v: k for k, v in IDS.items()}
    counts = counts_of(CORPUS, order)
    return [
        tuple(names[int(i)] for i in row)
        for k in range(order)
        for row in counts.ngrams[k]
        if not (k == 0 and row[0] == IDS["<s>"])
    ]


def test_mle_and_lidstone_agree_with_nltk_on_seen_ngrams():
    from nltk.lm import MLE, Lidstone

    mle, lid = _nltk_model(MLE, 3), _nltk_model(Lidstone, 3, 0.3)
    ours_mle, ours_lid = fit("mle", 3), fit("add-k", 3, k=0.3)
    for gram in _all_seen(3):
        context, word = gram[:-1], gram[-1]
        assert p(ours_mle, *gram) == pytest.approx(mle.unmasked_score(word, context))
        assert p(ours_lid, *gram) == pytest.approx(lid.unmasked_score(word, context))
    # order 1 is Lidstone exactly, unseen words included (nltk's <UNK> is our <unk>)
    assert p(ours_lid, "<unk>") == pytest.approx(lid.unmasked_score("<UNK>"))


def test_stupid_backoff_agrees_with_nltk_in_seen_contexts():
    from nltk.lm import StupidBackoff

    nltk_sb = _nltk_model(StupidBackoff, 3, 0.4)
    ours = fit("stupid-backoff", 3)
    contexts = {g[:-1] for g in _all_seen(3) if len(g) > 1}
    for context in contexts:
        for word in ("<UNK>", "</s>", "a", "b", "c"):
            ours_word = "<unk>" if word == "<UNK>" else word
            assert p(ours, *context, ours_word) == pytest.approx(nltk_sb.unmasked_score(word, context)), (context, word)


@pytest.mark.parametrize(
    "nltk_class, kwargs, method, params",
    [("WittenBellInterpolated", {}, "witten-bell", {}),
     ("AbsoluteDiscountingInterpolated", {"discount": 0.75}, "absolute", {"discount": 0.75})],
)
def test_interpolated_methods_match_nltk_above_the_unigrams(nltk_class, kwargs, method, params):
    """nltk's interpolated models end at the plain relative-frequency unigram, lmtool's at the
    unigram interpolated with the uniform distribution; with nltk's gamma(h) the two must differ
    by exactly gamma(h) (p_ours(w) - p_nltk(w)) in every bigram context."""
    import nltk.lm

    model = _nltk_model(lambda order, **kw: getattr(nltk.lm, nltk_class)(order, **kwargs, **kw), 2)
    ours = fit(method, 2, **params)
    for context in [("<s>",), ("a",), ("b",), ("c",)]:
        gamma = model.estimator._gamma(context)
        for word in ("<UNK>", "</s>", "a", "b", "c"):
            mine = "<unk>" if word == "<UNK>" else word
            expected = model.unmasked_score(word, context) + gamma * (p(ours, mine) - model.unmasked_score(word))
            assert p(ours, *context, mine) == pytest.approx(expected), (context, word)
