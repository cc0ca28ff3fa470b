"""Model files: the compact format (bit-identical scores, round trips, clear refusals, atomic writes)."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lmtool.errors import ModelFileError
from lmtool.ngram import fit_ngram, load_ngram, read_arpa, save_ngram, stored_model
from lmtool.ngram.container import MAGIC, PREFIX
from lmtool.ngram.fit import METHODS
from lmtool.ngram.tables import score_stream

from .helpers import random_sentences, split_of, vocabulary

PARAMS = {"modified-kneser-ney": {"discount_fallback": True}}


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(8)
    train, test = split_of(random_sentences(rng, 200, 12)), split_of(random_sentences(rng, 30, 12))
    return fit_ngram(train, 3, vocabulary=vocabulary(9), discount_fallback=True), test


def header_of(path) -> dict:
    data = path.read_bytes()
    _, length, _ = PREFIX.unpack(data[: PREFIX.size])
    return json.loads(data[PREFIX.size : PREFIX.size + length])


@pytest.mark.parametrize("order", [1, 2, 4])
@pytest.mark.parametrize("method", list(METHODS))
def test_compact_scores_are_bit_identical_to_the_same_values_in_memory(tmp_path, method, order):
    rng = np.random.default_rng(order)
    train, test = split_of(random_sentences(rng, 150, 10)), split_of(random_sentences(rng, 40, 10) + [[0, 1, 9]])
    model = fit_ngram(train, order, method, vocabulary=vocabulary(7), **PARAMS.get(method, {}))
    save_ngram(model, tmp_path / "m.lmt")
    mapped = load_ngram(tmp_path / "m.lmt")
    in_memory = stored_model(model)  # the same n-grams, values rounded to float32
    np.testing.assert_array_equal(mapped.score(test), in_memory.score(test))
    np.testing.assert_array_equal(score_stream(mapped.lookup, test.ids, test.starts)[1],
                                  score_stream(model.tables, test.ids, test.starts)[1])  # same n-gram lengths
    # float32 rounding moves a per-token log-probability by at most a few float32 steps
    np.testing.assert_allclose(mapped.score(test), model.score(test), rtol=1e-6, atol=1e-6)
    decoded = mapped.tables
    for k in range(order):
        np.testing.assert_array_equal(decoded.ngrams[k], model.tables.ngrams[k])
        np.testing.assert_array_equal(decoded.log10_probs[k], in_memory.tables.log10_probs[k])
        if k < order - 1:
            np.testing.assert_array_equal(decoded.log10_backoffs[k], in_memory.tables.log10_backoffs[k])
    assert mapped.logprob(5, [1, 4]) == in_memory.logprob(5, [1, 4])


def test_orders_longer_than_every_sentence_and_the_order_limit(tmp_path):
    # orders 5 to 12 hold no n-gram (the sentences are 2 words): their empty tables store and
    # score as in memory; an order above MAX_ORDER is refused before any work
    from lmtool.errors import UsageError
    from lmtool.ngram.counting import MAX_ORDER
    from lmtool.text import load_corpus

    (tmp_path / "t.txt").write_text("a b\nb a\na a\n" * 5)
    corpus = load_corpus(str(tmp_path / "t.txt"), split_fractions="1,0,0")
    model = fit_ngram(corpus, 12, "witten-bell")
    assert model.tables.n_listed()[4:] == [0] * 8  # <s> a b </s> is the longest
    save_ngram(model, tmp_path / "m.lmt")
    split = corpus.splits["train"]
    np.testing.assert_array_equal(load_ngram(tmp_path / "m.lmt").score(split), stored_model(model).score(split))
    with pytest.raises(UsageError, match=f"above lmtool's limit of {MAX_ORDER}"):
        fit_ngram(corpus, MAX_ORDER + 1, "witten-bell")


@pytest.mark.parametrize("method", ["modified-kneser-ney", "witten-bell", "katz"])
def test_quantised_stays_within_its_tolerance(tmp_path, method):
    rng = np.random.default_rng(3)
    train, test = split_of(random_sentences(rng, 400, 30)), split_of(random_sentences(rng, 80, 30))
    model = fit_ngram(train, 3, method, vocabulary=vocabulary(27), **PARAMS.get(method, {}))
    save_ngram(model, tmp_path / "q.lmt", quantise=8)
    quantised = load_ngram(tmp_path / "q.lmt")
    # bit-identical to the dequantised values in memory; perplexity within 1% (README's tolerance)
    np.testing.assert_array_equal(quantised.score(test), stored_model(model, 8).score(test))
    assert quantised.perplexity(test) == pytest.approx(model.perplexity(test), rel=0.01)
    assert quantised.perplexity(test) != model.perplexity(test)  # 8 bits do lose something here
    assert header_of(tmp_path / "q.lmt")["tables"]["quantised"] == 8
    # unigrams stay exact
    np.testing.assert_array_equal(quantised.tables.log10_probs[0], stored_model(model).tables.log10_probs[0])


def test_round_trip_and_header(tmp_path, fitted):
    model, test = fitted
    path = tmp_path / "m.lmt"
    save_ngram(model, path)
    assert path.read_bytes().startswith(MAGIC)
    again = load_ngram(path)
    np.testing.assert_array_equal(again.score(test), stored_model(model).score(test))
    assert again.fingerprint == model.fingerprint and again.vocabulary == model.vocabulary
    assert again.describe() == model.describe()
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind
    header = header_of(path)
    assert header["format"] == "lmtool-ngram-compact" and header["format_version"] == 1
    assert header["order"] == 3 and header["method"] == "modified-kneser-ney" and len(header["discounts"]) == 3
    assert header["fingerprint"] == model.fingerprint and header["tokenizer"]["kind"] == "word"
    assert header["training"]["tokens"] == model.training["tokens"] and header["ngrams"] == model.tables.n_listed()
    assert header["file_bytes"] == path.stat().st_size
    assert header["tables"]["suffix_closed"] is True  # as every Kneser-Ney model is
    # saving the loaded model again writes the same bytes
    save_ngram(again, tmp_path / "again.lmt")
    assert (tmp_path / "again.lmt").read_bytes() == path.read_bytes()


def test_info_reads_the_header_only(tmp_path, fitted):
    model, test = fitted
    path = tmp_path / "m.lmt"
    save_ngram(model, path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # inside the last arrays
    path.write_bytes(bytes(data))
    damaged = load_ngram(path)
    assert damaged.describe() == model.describe()  # what info prints needs no array
    with pytest.raises(ModelFileError, match="fails its checksum"):
        damaged.score(test)


def test_arpa_model_survives_compact_round_trip(tmp_path, golden_kenlm):
    model = read_arpa(golden_kenlm / "tiny40.o3.fallback.arpa")
    save_ngram(model, tmp_path / "m.lmt")
    again = load_ngram(tmp_path / "m.lmt")
    assert again.describe()["source"] == "arpa:tiny40.o3.fallback.arpa"
    split = split_of([[5, 6, 7], [8, 9]])
    np.testing.assert_array_equal(again.score(split), stored_model(model).score(split))
    # KenLM prints float32 values: the file holds exactly the value each printed number rounds to
    np.testing.assert_allclose(again.score(split), model.score(split), rtol=1e-7)


def test_unlisted_contexts_survive(tmp_path):
    arpa = tmp_path / "pruned.arpa"  # SRILM-style: "a b c" listed without its prefix "a b"
    arpa.write_text("\\data\\\nngram 1=5\nngram 2=1\nngram 3=1\n\n\\1-grams:\n-1\t<unk>\n-99\t<s>\t-0.5\n"
                    "-0.5\t</s>\n-0.6\ta\t-0.2\n-0.7\tb\t-0.1\n\n\\2-grams:\n-0.3\t<s> a\t-0.1\n\n"
                    "\\3-grams:\n-0.2\ta b </s>\n\n\\end\\\n")
    model = read_arpa(arpa)
    save_ngram(model, tmp_path / "m.lmt")
    again = load_ngram(tmp_path / "m.lmt")
    assert again.describe()["ngrams"] == [5, 1, 1]
    assert header_of(tmp_path / "m.lmt")["tables"]["suffix_closed"] is False  # "b </s>" is not listed
    for k in range(3):
        np.testing.assert_array_equal(again.tables.listed[k], model.tables.listed[k])
    split = split_of([[3, 4], [4, 3, 4]])
    np.testing.assert_array_equal(again.score(split), stored_model(model).score(split))


def test_released_vocabulary_pages_are_read_again(tmp_path, fitted):
    model, _ = fitted
    save_ngram(model, tmp_path / "m.lmt")
    vocabulary = load_ngram(tmp_path / "m.lmt").vocabulary
    offsets, data = vocabulary.token_bytes()
    vocabulary.release_token_bytes()  # the scorer's index is built: the pages go, the arrays stay readable
    again = vocabulary.token_bytes()
    assert np.array_equal(offsets, again[0]) and data == again[1] and vocabulary.tokens == model.vocabulary.tokens


def test_truncated_files(tmp_path, fitted):
    model, _ = fitted
    path = tmp_path / "m.lmt"
    save_ngram(model, path)
    data = path.read_bytes()
    for cut in (4, 20, 100, len(data) // 2, len(data) - 1):
        (tmp_path / "cut.lmt").write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="corrupt or truncated|bad magic"):
            load_ngram(tmp_path / "cut.lmt")
    (tmp_path / "long.lmt").write_bytes(data + b"\0")
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        load_ngram(tmp_path / "long.lmt")


def test_flipped_bytes_are_caught(tmp_path, fitted):
    model, test = fitted
    path = tmp_path / "m.lmt"
    save_ngram(model, path)
    data = path.read_bytes()
    start = -(-(PREFIX.size + struct.unpack("<Q", data[8:16])[0]) // 64) * 64
    rng = np.random.default_rng(0)
    positions = list(rng.integers(PREFIX.size, start - 64, 5)) + list(rng.integers(start, len(data), 20))
    for position in positions:
        flipped = bytearray(data)
        flipped[position] ^= 1 << int(rng.integers(8))
        (tmp_path / "bad.lmt").write_bytes(bytes(flipped))
        try:
            scores = load_ngram(tmp_path / "bad.lmt").score(test)
        except ModelFileError as error:
            assert "bad.lmt" in str(error) and ("checksum" in str(error) or "header" in str(error))
        else:  # a flip in the alignment padding between arrays changes nothing anyone reads
            np.testing.assert_array_equal(scores, stored_model(model).score(test))


@pytest.mark.parametrize("name, change, defect", [
    ("1.pointers", lambda p: p[::-1].copy(), "sorted bucket starts"),  # not monotone
    ("1.pointers", lambda p: np.append(p[:-1], p[-1] + 1).astype(p.dtype), "sorted bucket starts"),  # a row too many
    ("1.prob", lambda v: np.where(np.arange(len(v)) == 1, np.nan, v).astype(v.dtype), "NaN or \\+inf"),
    ("1.prob", lambda v: np.where(np.arange(len(v)) == 0, np.inf, v).astype(v.dtype), "NaN or \\+inf"),
])
def test_defects_a_checksum_misses_are_caught(tmp_path, fitted, monkeypatch, name, change, defect):
    from lmtool.ngram import storage

    model, test = fitted
    real = storage.layout

    def defective(*args, **kwargs):  # the file is written, checksums and all, with one array changed
        entry, arrays = real(*args, **kwargs)
        arrays[name] = change(arrays[name])
        return entry, arrays

    monkeypatch.setattr(storage, "layout", defective)
    save_ngram(model, tmp_path / "bad.lmt")
    with pytest.raises(ModelFileError, match=defect):
        load_ngram(tmp_path / "bad.lmt").score(test)


def test_foreign_and_newer_files(tmp_path, fitted, monkeypatch):
    from lmtool.ngram import storage

    model, _ = fitted
    with monkeypatch.context() as patch:
        patch.setattr(storage, "FORMAT_VERSION", 2)
        save_ngram(model, tmp_path / "newer.lmt")
        patch.setattr(storage, "FORMAT", "something-else")
        save_ngram(model, tmp_path / "other.lmt")
    with pytest.raises(ModelFileError, match="format version 2; this lmtool reads version 1: upgrade lmtool"):
        load_ngram(tmp_path / "newer.lmt")
    with pytest.raises(ModelFileError, match="a something-else file, not an lmtool n-gram model"):
        load_ngram(tmp_path / "other.lmt")
    (tmp_path / "text.lmt").write_text("hello\n")
    with pytest.raises(ModelFileError, match="not an lmtool n-gram model file"):
        load_ngram(tmp_path / "text.lmt")
    with pytest.raises(ModelFileError, match="cannot open"):
        load_ngram(tmp_path / "missing.lmt")


KILLED_WRITER = """
import sys, time
import lmtool.ngram.storage as storage
from lmtool.ngram import load_ngram
real = storage.write_container

def half_then_wait(out, header, arrays):
    class Stalling:
        written = 0
        def write(self, data):
            out.write(data); Stalling.written += len(data)
            if Stalling.written > 2000:
                out.flush(); print("half written", flush=True); time.sleep(60)
    real(Stalling(), header, arrays)

storage.write_container = half_then_wait
model = load_ngram(sys.argv[1])
storage.save_ngram(model, sys.argv[2], quantise=8)
"""


def test_a_killed_write_leaves_the_previous_file(tmp_path, fitted):
    model, test = fitted
    source, target = tmp_path / "source.lmt", tmp_path / "target.lmt"
    save_ngram(model, source)
    save_ngram(model, target)
    before = target.read_bytes()
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(KILLED_WRITER))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, str(script), str(source), str(target)], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline().strip() == b"half written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert target.read_bytes() == before
    np.testing.assert_array_equal(load_ngram(target).score(test), stored_model(model).score(test))


def test_kenlm_arpa_values_survive_exactly(tmp_path, golden_kenlm):
    # KenLM prints each float32 value in its shortest form: the exported ARPA (9 digits of the
    # stored float32) must name the very same float32
    from lmtool.ngram import write_arpa

    source = golden_kenlm / "tiny40.o3.fallback.arpa"
    save_ngram(read_arpa(source), tmp_path / "m.lmt")
    write_arpa(load_ngram(tmp_path / "m.lmt"), tmp_path / "again.arpa")

    def values(path):
        lines = [line.split("\t") for line in path.read_text().splitlines() if "\t" in line]
        return {fields[1]: [fields[0]] + fields[2:] for fields in lines}

    before, after = values(source), values(tmp_path / "again.arpa")
    assert before.keys() == after.keys()
    for ngram, printed in before.items():
        exported = after[ngram] + ["0"] * (len(printed) - len(after[ngram]))  # a backoff of 0 may be left out
        assert [np.float32(x) for x in exported] == [np.float32(x) for x in printed], ngram


def test_the_model_opener_knows_the_magic(tmp_path, fitted):
    from lmtool.models import COMPACT_MAGIC, load_model, model_kind

    assert COMPACT_MAGIC == MAGIC  # written twice so that recognising a file imports no numpy
    save_ngram(fitted[0], tmp_path / "m.bin")
    assert model_kind(tmp_path / "m.bin") == "ngram" and load_model(tmp_path / "m.bin").order == 3
