"""The streaming scorer: byte tokenization equals the word tokenizer, output equals KenLM's query,
scores equal the model's own, the batch API, and the command's errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from lmtool.ngram import fit_ngram, load_ngram, read_arpa, save_ngram
from lmtool.ngram import query as streaming
from lmtool.ngram.bytetext import ByteVocabulary, split_lines
from lmtool.ngram.formatting import Records
from lmtool.ngram.tables import LN10, score_stream
from lmtool.text import Vocabulary, load_corpus
from tests.conftest import save_nnlm, save_rnn

TRICKY = ("the a  <s> </s> <unk>\texactly8 exactly sixteen_bytes_xx seventeen_bytes_x\r\n\n averyveryverylongtokenindeed "
          "é 日本語 日本 x\x1cthe\x0bx\x0c\n\nthe \u00e9t\u00e9 a\x1fb")
TOKENS = ["<unk>", "<s>", "</s>", "the", "a", "averyveryverylongtokenindeed", "exactly8", "sixteen_bytes_xx",
          "seventeen_bytes_x", "é", "日本語", "x", "été"]


def python_ids(vocabulary: Vocabulary, text: str) -> list[list[int]]:
    """What the word tokenizer and Vocabulary.encode give, line by line."""
    lines = text.split("\n")
    return [vocabulary.encode(line.split()).tolist() for line in (lines[:-1] if lines[-1] == "" else lines)]


def test_byte_tokenizer_equals_str_split_and_the_vocabulary():
    vocabulary = Vocabulary(TOKENS, np.zeros(len(TOKENS)))
    block = TRICKY.encode()
    tokens, begin = split_lines(block)
    ids = ByteVocabulary.of(TOKENS).lookup(block, begin, tokens.length)
    got = [line.tolist() for line in np.split(ids, np.cumsum(tokens.per_line)[:-1])]
    assert got == python_ids(vocabulary, TRICKY)
    np.testing.assert_array_equal(tokens.offsets(), begin)
    expected = [token.encode() for token in TRICKY.split()]
    assert [block[b : b + n] for b, n in zip(begin.tolist(), tokens.length.tolist())] == expected
    first, second = tokens.words(np.arange(len(expected))[::-1], tokens.padded(), begin)  # any order of tokens
    spelled = np.column_stack([first, second]).view(np.uint8).reshape(-1, 16)
    assert [bytes(row) for row in spelled] == [token[:16].ljust(16, b"\0") for token in expected[::-1]]


def test_byte_tokenizer_on_random_text():
    rng = np.random.default_rng(0)
    pieces = TOKENS + ["zz", "q" * 40, "<S>", "the\u00e9", "x" * 8, "x" * 16, "x" * 17, "y" * 9]
    spaces = [" ", "  ", "\t", "\r", "\x0b", "\n", "\n\n"]
    text = "".join(pieces[rng.integers(len(pieces))] + spaces[rng.integers(len(spaces))] for _ in range(3000))
    vocabulary = Vocabulary(TOKENS + ["x" * 16, "x" * 17, "q" * 40], np.zeros(len(TOKENS) + 3))
    tokens, begin = split_lines(text.encode())
    ids = ByteVocabulary.of(vocabulary.tokens).lookup(text.encode(), begin, tokens.length)
    assert [line.tolist() for line in np.split(ids, np.cumsum(tokens.per_line)[:-1])] == python_ids(vocabulary, text)


@pytest.mark.parametrize("places", [3, 4, 6, 7])
def test_formatting_equals_python(places):
    rng = np.random.default_rng(places)
    values = np.concatenate([rng.normal(0, 30, 500), -rng.exponential(1e-4, 50), [0.0, -0.0, -99.0, 1e6, -np.inf, np.nan]])
    integers = rng.integers(0, 10**7, len(values))
    records = Records(len(values), 40).text(b"x=").integers(integers).text(b" ").decimals(values, places).text(b"\n")
    expected = "".join(f"x={i} " + ("0." + "0" * places if f"{v:.{places}f}" == "-0." + "0" * places else f"{v:.{places}f}")
                       + "\n" for i, v in zip(integers, values))
    assert bytes(records.squeeze()).decode() == expected


@pytest.mark.parametrize("width", range(1, 12))
def test_integers_of_every_width_and_at_the_last_columns(width):
    # digits are written four bytes at a time (the fourth a zero byte): a number ending at the
    # matrix's last column, or one column before, must not run into the next row
    rng = np.random.default_rng(width)
    values = np.concatenate([[0, 10 ** (width - 1)], rng.integers(0, 10**width, 200)])
    for after in (b"", b";"):
        records = Records(len(values), 1 + width + len(after)).text(b"[").integers(values, width).text(after)
        assert bytes(records.squeeze()).decode() == "".join(f"[{v}" + after.decode() for v in values)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(400)]
    root = tmp_path_factory.mktemp("query")
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    model = fit_ngram(load_corpus(str(root / "train.txt"), split_fractions="1,0,0"), 3, discount_fallback=True)
    save_ngram(model, root / "m.lmt")
    return root, load_ngram(root / "m.lmt")


def test_scores_are_the_models_own(small_model):
    root, model = small_model
    text = "w1 w2 w3\nw4 zzz w5 w1\n\n  w7\nw9 <s> w2"
    scored = streaming.score_sentences(model, text.split("\n"))
    ids = [model.encode(line) for line in text.split("\n")]
    starts = np.concatenate([[0], np.cumsum([len(i) for i in ids])])
    np.testing.assert_array_equal(scored.ids, np.concatenate(ids))
    log10, length = score_stream(model.lookup, np.concatenate(ids), starts)
    np.testing.assert_array_equal(scored.log10, log10)
    np.testing.assert_array_equal(scored.length, length)
    np.testing.assert_allclose(scored.totals * LN10, [model.score_sentence(line) for line in text.split("\n")], rtol=1e-12)
    assert scored.oovs.tolist() == [0, 1, 0, 0, 1]
    np.testing.assert_allclose(model.score_sentences(text.split("\n")), scored.totals * LN10, rtol=1e-15)


def test_blocks_do_not_change_the_output(small_model):
    root, model = small_model
    text = b"".join(b"w%d w%d  w%d\n" % (i % 30, (i * 7) % 30, (i * 3) % 31) for i in range(500)) + b"w1 " * 300
    whole, pieces = io.BytesIO(), io.BytesIO()
    streaming.query(model, io.BytesIO(text), whole)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(streaming, "BLOCK", 64)  # blocks of a line or two, and a line longer than a block
        streaming.query(model, io.BytesIO(text), pieces)
    assert whole.getvalue() == pieces.getvalue()
    assert whole.getvalue().count(b"\n") == 501 + 4
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(streaming, "BLOCK", 64)
        threaded = io.BytesIO()
        streaming.query(model, io.BytesIO(text), threaded, threads=3)
    assert threaded.getvalue() == pieces.getvalue()


def python_word_level(model, text: str) -> str:
    """The word level spelled out in Python: each line's words (``str.split``) with the scores of
    :func:`streaming.score_sentences`, six decimals and never ``-0.000000``."""
    def decimal(value: float) -> str:
        spelled = f"{value:.6f}"
        return spelled[1:] if spelled == "-0.000000" else spelled

    lines = text.split("\n")[:-1]
    scored = streaming.score_sentences(model, lines)
    out, at = [], 0
    for line, total, oovs in zip(lines, scored.totals, scored.oovs):
        words = line.split() + ["</s>"]
        fields = [f"{word}={scored.ids[at + k]} {scored.length[at + k]} {decimal(scored.log10[at + k])}"
                  for k, word in enumerate(words)]
        out.append("\t".join(fields + [f"Total: {decimal(total)} OOV: {oovs}"]) + "\n")
        at += len(words)
    return "".join(out)


@pytest.mark.parametrize("rows", [3, 7, streaming.RENDER_ROWS])
def test_word_level_equals_python(small_model, rows):
    # words past 16 bytes (their rest is inserted after the squeeze), exactly 8 and 16 bytes,
    # unicode, empty lines and lines of spaces, \r\n, lines of one word, chunks of a few rows
    root, model = small_model
    pieces = ["w1", "w2", "w17", "zzz", "x" * 16, "y" * 17, "q" * 40, "abcdefgh", "日本語" * 3, "été",
              "w3\r", "", "  ", "\t"]
    rng = np.random.default_rng(rows)
    lines = [" ".join(rng.choice(pieces, rng.integers(0, 6))) for _ in range(300)] + ["", "w1 " + "z" * 100]
    text = "\n".join(lines) + "\n"
    out = io.BytesIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(streaming, "RENDER_ROWS", rows)
        summary = streaming.query(model, io.BytesIO(text.encode()), out)
    assert out.getvalue().decode() == python_word_level(model, text) + summary.text()


def test_output_equals_kenlm_query(golden_kenlm):
    model = read_arpa(golden_kenlm / "ptb-valid.o3.arpa")
    out = io.BytesIO()
    summary = streaming.query(model, open(golden_kenlm / "ptb-test300.eval.txt", "rb"), out)
    ours = out.getvalue().decode().splitlines()
    theirs = (golden_kenlm / "ptb-valid.o3.query-test300.txt").read_text().splitlines()
    assert len(ours) == len(theirs) == 304
    for mine, kenlm in zip(ours[:300], theirs[:300]):
        mine, kenlm = mine.split("\t"), kenlm.split("\t")
        assert len(mine) == len(kenlm)
        for a, b in zip(mine[:-1], kenlm[:-1]):
            (word_a, rest_a), (word_b, rest_b) = a.rsplit("=", 1), b.rsplit("=", 1)
            (id_a, n_a, p_a), (id_b, n_b, p_b) = rest_a.split(), rest_b.split()
            assert (word_a, n_a, id_a == "0") == (word_b, n_b, id_b == "0")
            assert float(p_a) == pytest.approx(float(p_b), abs=1.5e-6)  # 6 decimals; KenLM prints float32
        total_a, total_b = mine[-1].split(), kenlm[-1].split()
        # KenLM adds a line's float32 values in float32
        assert float(total_a[1]) == pytest.approx(float(total_b[1]), rel=1e-6, abs=2e-6) and total_a[3] == total_b[3]
    for mine, kenlm in zip(ours[300:], theirs[300:]):
        label, value = mine.split("\t")
        assert label == kenlm.split("\t")[0] and float(value) == pytest.approx(float(kenlm.split("\t")[1]), rel=1e-6)
    assert summary.tokens == 6642 and summary.oovs == 161


def test_other_tokenizers_and_unicode_spaces(tmp_path):
    text = "ab ba\nabc\u00a0ab\n"
    for tokenizer in ("char", "word"):
        model = fit_ngram(load_corpus(str(_write(tmp_path / f"{tokenizer}.txt", text * 20)), tokenizer=tokenizer,
                                      split_fractions="1,0,0"), 3, "witten-bell")
        scored = streaming.score_sentences(model, ["ab ba", "abc\u00a0ab", "bb"])
        np.testing.assert_allclose(scored.totals * LN10, [model.score_sentence(s) for s in ["ab ba", "abc\u00a0ab", "bb"]],
                                   rtol=1e-12)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def test_command(small_model, tmp_path):
    root, model = small_model
    result = invoke("query", root / "m.lmt", input="w1 w2\nw3 zzz\n")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("w1=") and lines[0].split("\t")[2].startswith("</s>=2 ") and "Total: " in lines[0]
    assert lines[1].split("\t")[1].startswith("zzz=0 ") and lines[1].endswith("OOV: 1")
    assert lines[2].startswith("Perplexity including OOVs:\t") and lines[5] == "Tokens:\t6"
    sentence = invoke("query", root / "m.lmt", "--level", "sentence", input="w1 w2\nw3 zzz\n")
    assert sentence.output.splitlines()[:2] == [line.split("\t")[-1] for line in lines[:2]]
    (tmp_path / "in.txt").write_text("w1 w2\nw3 zzz\n")
    as_json = json.loads(invoke("query", root / "m.lmt", tmp_path / "in.txt", "--json").output)
    assert as_json["tokens"] == 6 and as_json["oovs"] == 1 and as_json["lines"] == 2
    assert as_json["perplexity"] == pytest.approx(float(lines[2].split("\t")[1]))
    empty = json.loads(invoke("query", root / "m.lmt", "--json", input="").output)
    assert empty["tokens"] == 0 and empty["perplexity"] is None


@pytest.mark.parametrize("setup, code, message", [
    (lambda root, tmp: (root / "missing.lmt", "x\n"), 4, "no such model file"),
    (lambda root, tmp: (root / "m.lmt", None), 3, "cannot read the text"),
    (lambda root, tmp: (root / "m.lmt", b"a\0b\n"), 3, "looks binary"),
    (lambda root, tmp: (root / "m.lmt", b"w1 \xff\xfe\n"), 3, "invalid UTF-8 at byte 3"),
])
def test_command_errors(small_model, tmp_path, setup, code, message):
    root, _ = small_model
    model, text = setup(root, tmp_path)
    result = invoke("query", model, input=text) if text is not None else invoke("query", model, tmp_path / "none.txt")
    assert result.exit_code == code and message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("kind, save", [("rnn", save_rnn), ("nnlm", save_nnlm)])
def test_neural_models_are_the_wrong_kind(tmp_path, kind, save):
    prepared = load_corpus(str(_write(tmp_path / "t.txt", "ab ba\n" * 30)), split_fractions="1,0,0")
    save(tmp_path / "m.model", prepared)
    result = invoke("query", tmp_path / "m.model", input="ab\n")
    assert result.exit_code == 4 and f"is a {kind} model, not an n-gram model" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_stream_models_are_refused(tmp_path):
    model = fit_ngram(load_corpus(str(_write(tmp_path / "s.txt", "ab ba\n" * 30)), unit="stream", split_fractions="1,0,0"), 2, "witten-bell")
    save_ngram(model, tmp_path / "s.lmt")
    result = invoke("query", tmp_path / "s.lmt", input="ab\n")
    assert result.exit_code == 2 and "stream" in result.output


def test_a_closed_pipe_ends_quietly(small_model, tmp_path):
    import os
    import subprocess
    import sys

    root, _ = small_model
    (tmp_path / "long.txt").write_text("w1 w2 w3 w4\n" * 200_000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    pipeline = subprocess.run(f"{sys.executable} -m lmtool query {root / 'm.lmt'} {tmp_path / 'long.txt'} | head -1",
                              shell=True, capture_output=True, env=env)
    assert pipeline.stdout.count(b"\n") == 1 and pipeline.stderr == b""


def test_fit_ngram_quantise_reports_the_perplexity_change(tmp_path):
    rng = np.random.default_rng(2)
    text = "\n".join(" ".join(f"w{int(i)}" for i in rng.zipf(1.5, rng.integers(3, 15)) % 200) for _ in range(3000))
    (tmp_path / "c.txt").write_text(text + "\n")
    exact = invoke("fit-ngram", "--corpus", tmp_path / "c.txt", "-n", "3", "-o", tmp_path / "e.lmt", "--json", "--discount-fallback")
    small = invoke("fit-ngram", "--corpus", tmp_path / "c.txt", "-n", "3", "-o", tmp_path / "q.lmt", "--quantise", "8", "--json",
                   "--discount-fallback")
    assert exact.exit_code == small.exit_code == 0, small.output
    exact, small = json.loads(exact.output), json.loads(small.output)
    assert exact["quantised"] is None and small["quantised"]["bits"] == 8
    # the exact file holds float32 values, the unquantised figure is the float64 estimate
    assert small["quantised"]["valid_perplexity_unquantised"] == pytest.approx(exact["valid_perplexity"], rel=1e-6)
    change = 100 * (small["valid_perplexity"] / small["quantised"]["valid_perplexity_unquantised"] - 1)
    assert small["quantised"]["valid_perplexity_change_percent"] == pytest.approx(change) and abs(change) < 1
    assert small["bytes_per_ngram"] < exact["bytes_per_ngram"] <= 10
