"""The comparison table against hand arithmetic: one explicit bigram, one ARPA n-gram, one RNN."""

import math

import numpy as np
import pytest

from lmtool.errors import DataError, UsageError
from lmtool.evaluate import em_weights, evaluate, mix, per_token_lines, render_table, COLUMNS
from tests.conftest import ARPA
from tests.lm_fakes import ROWS, BigramTable

FLAT = {prev: {t: 0.2 for t in ("a", "b", "c", "</s>", "<unk>")} for prev in ROWS}

# test split "a b" / "c zebra": ids a b </s> c <unk> </s>, 12 characters with the newlines.
# p = .5 (a|<s>) .6 (b|a) .3 (</s>|b) | .2 (c|<s>) .2 (<unk>|c) .6 (</s>|<unk>)
TEST_PROBS = [0.5, 0.6, 0.3, 0.2, 0.2, 0.6]


@pytest.fixture()
def corpus(tmp_path):
    (tmp_path / "train.txt").write_text("a b c\n")
    (tmp_path / "valid.txt").write_text("a b\nb c\nc a\n")
    (tmp_path / "test.txt").write_text("a b\nc zebra\n")
    return str(tmp_path)


def test_table_figures_of_an_explicit_bigram(corpus):
    model = BigramTable(["a", "b", "c"], ROWS)
    result = evaluate({"bigram": model}, corpus, "test", variants=True)
    (row,) = result.rows
    product = math.prod(TEST_PROBS)  # 0.00216
    assert row["tokens"] == 6 and row["sentences"] == 2 and row["oovs"] == 1
    assert row["oov_rate"] == pytest.approx(1 / 6)
    assert row["perplexity"] == pytest.approx(product ** (-1 / 6))  # 2.781
    assert row["bits_per_token"] == pytest.approx(-math.log2(product) / 6)
    assert row["bits_per_char"] == pytest.approx(-math.log2(product) / 12)
    # SRILM ppl: the <unk> token (p .2) left out, </s> kept: 5 tokens.
    assert row["srilm_ppl"] == pytest.approx((0.5 * 0.6 * 0.3 * 0.2 * 0.6) ** (-1 / 5))
    # SRILM ppl1: <unk> and both </s> left out: a, b, c.
    assert row["srilm_ppl1"] == pytest.approx((0.5 * 0.6 * 0.2) ** (-1 / 3))
    assert row["kenlm_ppl"] == row["perplexity"]
    assert row["kind"] == "ngram" and row["regime"] == "per-sentence" and result.warnings == []


def test_per_token_file_holds_log10_probabilities(corpus):
    model = BigramTable(["a", "b", "c"], ROWS)
    lines = list(per_token_lines(evaluate({"bigram": model}, corpus, "test")))
    assert lines[0] == "position\tsegment\ttoken\tbigram log10p"
    assert [line.split("\t")[2] for line in lines[1:]] == ["a", "b", "</s>", "c", "<unk>", "</s>"]
    assert [int(line.split("\t")[1]) for line in lines[1:]] == [0, 0, 0, 1, 1, 1]
    assert [float(line.split("\t")[3]) for line in lines[1:]] == pytest.approx(np.log10(TEST_PROBS), abs=1e-6)


def test_different_vocabularies_warn_and_still_give_bits_per_char(corpus):
    small = BigramTable(["a", "b"], {p: {t: 0.25 for t in ("a", "b", "</s>", "<unk>")} for p in ("<s>", "a", "b", "<unk>")})
    result = evaluate({"big": BigramTable(["a", "b", "c"], ROWS), "small": small}, corpus, "test")
    assert [r["vocab"] for r in result.rows] == ["A", "B"]
    assert any("bits/char compares all rows" in w for w in result.warnings)
    # small: every token has p 1/4 (c is <unk> too): 6 tokens x 2 bits over 12 characters.
    assert result.rows[1]["bits_per_char"] == pytest.approx(1.0)
    assert result.rows[1]["oovs"] == 2
    with pytest.raises(UsageError):
        list(per_token_lines(result))


def test_em_weights_maximise_held_out_likelihood():
    rng = np.random.default_rng(0)
    log_probs = np.log(rng.uniform(0.01, 1.0, size=(2, 200)))
    weights = em_weights(log_probs)
    best = mix(log_probs, weights).sum()
    grid = [mix(log_probs, [w, 1 - w]).sum() for w in np.linspace(0, 1, 101)]
    assert weights.sum() == pytest.approx(1.0)
    assert best >= max(grid) - 1e-6


def test_em_weights_of_a_model_that_is_always_better():
    # Model 0 gives every token p .5, model 1 gives .1: all the weight goes to model 0.
    weights = em_weights(np.log([[0.5] * 10, [0.1] * 10]), iterations=2000)
    assert weights[0] > 0.99


def test_interpolation_row(corpus):
    sharp, flat = BigramTable(["a", "b", "c"], ROWS), BigramTable(["a", "b", "c"], FLAT)
    result = evaluate({"sharp": sharp, "flat": flat}, corpus, "test", interpolate=True, weights="0.25,0.75")
    mixture = result.rows[-1]
    assert mixture["kind"] == "mixture" and mixture["model"] == "mixture"
    assert "weights sharp=0.250, flat=0.750 (given)" in mixture["notes"]
    expected = math.prod(0.25 * p + 0.75 * 0.2 for p in TEST_PROBS) ** (-1 / 6)
    assert mixture["perplexity"] == pytest.approx(expected)
    tuned = evaluate({"sharp": sharp, "flat": flat}, corpus, "test", interpolate=True).rows[-1]
    assert "tuned by EM on valid" in tuned["notes"]
    with pytest.raises(UsageError):
        evaluate({"sharp": sharp, "flat": flat}, corpus, "test", interpolate=True, weights="0.5,0.6")
    with pytest.raises(UsageError):
        evaluate({"sharp": sharp}, corpus, "test", interpolate=True)


def test_interpolation_needs_a_valid_split_or_weights(tmp_path):
    (tmp_path / "train.txt").write_text("a b c\n")
    (tmp_path / "test.txt").write_text("a b\n")
    models = {"x": BigramTable(["a", "b", "c"], ROWS), "y": BigramTable(["a", "b", "c"], FLAT)}
    with pytest.raises(DataError, match="--weights"):
        evaluate(models, str(tmp_path), "test", interpolate=True)
    assert evaluate(models, str(tmp_path), "test", interpolate=True, weights="0.5,0.5").rows[-1]["tokens"] == 3


def test_unnormalised_rows_are_flagged(corpus):
    result = evaluate({"sb": BigramTable(["a", "b", "c"], ROWS, normalised=False)}, corpus, "test")
    assert "not normalised" in result.rows[0]["notes"]
    assert "not normalised" in render_table(result.rows, COLUMNS)


def test_missing_split_is_a_data_error(corpus):
    with pytest.raises(DataError, match="split"):
        evaluate({"m": BigramTable(["a", "b", "c"], ROWS)}, corpus, "nonesuch")




def test_table_figures_of_an_arpa_ngram(corpus, tmp_path):
    from lmtool.models import load_model

    path = tmp_path / "hand.arpa"
    path.write_text(ARPA)
    (row,) = evaluate({"arpa": load_model(path)}, corpus, "test").rows
    # "a b </s>": listed bigrams. "c zebra </s>": c backs off from <s>, then unigrams (bow(c) = 1).
    log10 = (-0.221849 - 0.301030 - 0.397940) + (-0.243038 - 0.823909) + (-1.0) + (-0.698970)
    assert row["tokens"] == 6 and row["oovs"] == 1
    assert row["perplexity"] == pytest.approx(10 ** (-log10 / 6), rel=1e-6)
    assert row["bits_per_char"] == pytest.approx(-log10 * math.log2(10) / 12, rel=1e-6)


def tiny_rnn(corpus_spec, seed=0):
    """An untrained (seeded) 1-layer LSTM over the corpus's own vocabulary, as an RnnModel."""
    torch = pytest.importorskip("torch")
    from lmtool.neural import RnnConfig, RnnNetwork, RnnModel
    from lmtool.text import load_corpus

    prepared = load_corpus(corpus_spec)
    torch.manual_seed(seed)
    net = RnnNetwork(RnnConfig(vocab_size=len(prepared.vocabulary), emb_size=8, hidden_size=8, layers=1))
    meta = {"format": "lmtool-rnn", "format_version": 1, "unit": prepared.unit, "fingerprint": prepared.fingerprint}
    return RnnModel(net, prepared.tokenizer, prepared.vocabulary, meta), prepared


def direct_torch_log_probs(model, ids, starts, reset):
    """Token by token: input <s> at the start (and at each sentence start when reset), else the previous id."""
    import torch

    out, hidden = [], None
    for t, target in enumerate(ids):
        new_segment = t in set(starts[:-1].tolist())
        if t == 0 or (reset and new_segment):
            hidden, previous = None, 1  # <s>
        else:
            previous = int(ids[t - 1])
        with torch.no_grad():
            logits, _, hidden = model.net(torch.tensor([[previous]]), hidden)
        out.append(torch.log_softmax(logits[0, -1].double(), dim=-1)[int(target)].item())
    return np.array(out)


@pytest.mark.parametrize("reset", [False, True])
def test_table_figures_of_an_rnn_match_a_direct_torch_computation(corpus, reset):
    model, prepared = tiny_rnn(corpus)
    (row,) = evaluate({"lstm": model}, corpus, "test", reset_per_sentence=reset).rows
    split = prepared.splits["test"]
    expected = direct_torch_log_probs(model, split.ids, split.starts, reset)
    assert row["regime"] == ("reset" if reset else "carried")
    assert row["tokens"] == 6
    assert row["perplexity"] == pytest.approx(math.exp(-expected.mean()), rel=1e-6)  # float32 network
    assert row["bits_per_char"] == pytest.approx(-expected.sum() / math.log(2) / 12, rel=1e-6)


def test_every_family_scores_identical_tokens(corpus):
    from lmtool.neural import NnlmConfig, NnlmModel, NnlmNetwork
    from lmtool.ngram import fit_ngram

    rnn, prepared = tiny_rnn(corpus)
    ngram = fit_ngram(prepared, order=2, method="witten-bell")
    nnlm = NnlmModel(NnlmNetwork(NnlmConfig(vocab_size=len(prepared.vocabulary), context=2, emb_size=4, hidden_size=4)),
                     prepared.tokenizer, prepared.vocabulary, {"format": "lmtool-nnlm", "format_version": 1,
                                                               "unit": prepared.unit})
    assert ngram.fingerprint == rnn.fingerprint == nnlm.fingerprint
    result = evaluate({"ngram": ngram, "nnlm": nnlm, "rnn": rnn}, corpus, "test", variants=True)
    counted = [(r["tokens"], r["sentences"], r["oovs"], r["vocab"]) for r in result.rows]
    assert counted[0] == counted[1] == counted[2] == (6, 2, 1, "A")  # train has a b c: only "zebra" is OOV
    assert [r["regime"] for r in result.rows] == ["per-sentence", "per-sentence", "carried"]
    assert result.warnings == []
    lines = list(per_token_lines(result))
    assert lines[0].endswith("ngram log10p\tnnlm log10p\trnn log10p") and len(lines) == 7


def test_models_of_different_vocabularies_are_never_mixed(corpus):
    from lmtool.evaluate import Scored, mixture

    small = BigramTable(["a", "b"], {p: {t: 0.25 for t in ("a", "b", "</s>", "<unk>")} for p in ("<s>", "a", "b", "<unk>")})
    big = BigramTable(["a", "b", "c"], ROWS)
    with pytest.raises(UsageError, match="needs at least two normalised models with the same tokenizer"):
        evaluate({"big": big, "small": small}, corpus, "test", interpolate=True)
    result = evaluate({"big": big, "small": small}, corpus, "test")
    with pytest.raises(UsageError, match="cannot mix big, small: they score different tokens"):
        mixture("m", result.scored, [0.5, 0.5], "given")
    other = Scored("other", "ngram", "per-sentence", 0, result.scored[0].ids[:-1], result.scored[0].starts, 12,
                   result.scored[0].log_probs[:-1])
    with pytest.raises(UsageError, match="different tokens"):
        mixture("m", [result.scored[0], other], [0.5, 0.5], "given")
