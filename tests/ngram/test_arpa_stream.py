"""The streaming ARPA converter (lmtool.ngram.arpa.stream) writes the general path's file byte for
byte, takes the general path for every file not in KenLM's shape, and refuses defects with the
general path's messages."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from lmtool.errors import ModelFileError
from lmtool.ngram import fit_ngram, read_arpa, save_ngram, stored_model, write_arpa
from lmtool.ngram.arpa import SPECIALS, convert_arpa
from lmtool.ngram.arpa.stream import stream_layout

from .helpers import random_sentences, split_of, vocabulary
from .test_arpa_validation import DEFECTS
from .test_arpa_variants import CANON

REPO = Path(__file__).resolve().parents[2]


def in_suffix_order(text: str) -> str:
    """``text`` (an ARPA file) with each section's lines sorted as KenLM lists them: by last word,
    then the one before, ..., words ranked as lmtool numbers them (specials, then the unigrams in
    file order)."""
    head, body = text.split("\\1-grams:\n", 1)
    unigrams = body.split("\n\n", 1)[0].splitlines()
    words = [line.split()[1] for line in unigrams if line.strip()]
    rank = {w: i for i, w in enumerate(list(SPECIALS) + [w for w in words if w not in SPECIALS])}
    out, k = [], 0
    for chunk in ("\\1-grams:\n" + body).split("\n\n"):
        lines = chunk.splitlines()
        if lines and lines[0].endswith("-grams:"):
            k = int(lines[0][1:].split("-")[0])
            entries = sorted(lines[1:], key=lambda line: [rank[w] for w in line.split()[1 : k + 1]][::-1])
            lines = lines[:1] + (entries if k > 1 else lines[1:])
        out.append("\n".join(lines))
    return head + "\n\n".join(out)


def general_bytes(path: Path, tmp_path: Path) -> bytes:
    """The file the general path writes of the ARPA file ``path``."""
    target = tmp_path / "general" / path.name
    target.parent.mkdir(exist_ok=True)
    save_ngram(stored_model(read_arpa(path)), target)
    return target.read_bytes()


def converted_bytes(path: Path, tmp_path: Path) -> bytes:
    target = tmp_path / "converted" / path.name
    target.parent.mkdir(exist_ok=True)
    convert_arpa(path, target)
    return target.read_bytes()


def fitted_arpa(tmp_path: Path, order: int, name: str = "m.arpa") -> Path:
    """A small model's ARPA file, as lmtool writes it (n-grams in lexicographic order)."""
    rng = np.random.default_rng(order)
    model = fit_ngram(split_of(random_sentences(rng, 300, 14)), order, vocabulary=vocabulary(11),
                      discount_fallback=True)
    path = tmp_path / name
    write_arpa(model, path)
    return path


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_suffix_ordered_file_streams_to_the_general_paths_bytes(tmp_path, order):
    lexicographic = fitted_arpa(tmp_path, order)
    kenlm_shape = tmp_path / "kenlm" / "m.arpa"  # the same name: the header records it
    kenlm_shape.parent.mkdir()
    kenlm_shape.write_text(in_suffix_order(lexicographic.read_text()))
    assert stream_layout(kenlm_shape) is not None
    expected = general_bytes(lexicographic, tmp_path)
    assert converted_bytes(kenlm_shape, tmp_path) == expected
    # lmtool's own lexicographic listing is not in suffix order above the bigrams: the general path
    assert (stream_layout(lexicographic) is None) == (order >= 2)
    assert converted_bytes(lexicographic, tmp_path) == expected


def golden_files() -> list[str]:
    return ["abc3000.chars.o7.arpa", "ptb-valid.o2.arpa", "ptb-valid.o3.arpa", "ptb-valid.o4.arpa",
            "ptb-valid.o4.prune011.arpa", "ptb-valid.o5.arpa", "tiny40.o3.fallback.arpa"]


@pytest.mark.parametrize("name", golden_files())
def test_lmplz_files_stream_to_the_general_paths_bytes(golden_kenlm, tmp_path, name):
    path = golden_kenlm / name
    assert stream_layout(path) is not None  # lmplz lists every section in suffix order
    assert converted_bytes(path, tmp_path) == general_bytes(path, tmp_path)


def test_the_empty_golden_file_is_refused_alike(golden_kenlm, tmp_path):
    # tiny40.o3.arpa is the empty output of the lmplz run that needed --discount_fallback
    path = golden_kenlm / "tiny40.o3.arpa"
    with pytest.raises(ModelFileError) as general:
        read_arpa(path)
    with pytest.raises(ModelFileError) as streamed:
        convert_arpa(path, tmp_path / "m.lmt")
    assert str(streamed.value) == str(general.value)


def canon_in_suffix_order() -> str:
    return in_suffix_order(CANON)


def test_gzip_compressed_file_streams(tmp_path):
    import gzip

    plain, packed = tmp_path / "plain" / "m.arpa", tmp_path / "packed" / "m.arpa"  # one name: the header records it
    plain.parent.mkdir(), packed.parent.mkdir()
    plain.write_text(canon_in_suffix_order())
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert stream_layout(packed) is not None
    assert converted_bytes(packed, tmp_path) == general_bytes(plain, tmp_path)


FALLBACKS = {
    "prefix not listed (SRILM pruning)": canon_in_suffix_order().replace("-0.2\ta b\t-0.05\n", "").replace(
        "ngram 2=4", "ngram 2=3"),
    "not in suffix order": CANON,
    "no <unk>": canon_in_suffix_order().replace("-1.0\t<unk>\t0\n", "").replace("ngram 1=5", "ngram 1=4"),
}


def test_canon_in_suffix_order_streams(tmp_path):
    path = tmp_path / "canon.arpa"
    path.write_text(canon_in_suffix_order())
    assert stream_layout(path) is not None
    assert converted_bytes(path, tmp_path) == general_bytes(path, tmp_path)


def test_a_suffix_not_listed_streams_and_clears_suffix_closed(tmp_path):
    # "b a" is the suffix of the trigram "a b a" and the prefix of nothing: SRILM pruning can do this
    path = tmp_path / "m.arpa"
    path.write_text(canon_in_suffix_order().replace("-0.25\tb a\t-0.1\n", "").replace("ngram 2=4", "ngram 2=3"))
    laid = stream_layout(path)
    assert laid is not None and laid.entry["suffix_closed"] is False
    assert converted_bytes(path, tmp_path) == general_bytes(path, tmp_path)


def test_ids_too_wide_to_pack_below_the_highest_order_take_the_general_path(tmp_path, monkeypatch):
    # 32 bits a word: a bigram's packed ids need 64, which order 3 would search among; (the
    # highest order is never packed whole: ptb-valid.o5.arpa, 5 x 13 bits, streams)
    from lmtool.ngram.arpa import stream

    path = tmp_path / "m.arpa"
    path.write_text(canon_in_suffix_order())
    monkeypatch.setattr(stream, "word_bits", lambda vocab: 32)
    assert stream_layout(path) is None
    assert converted_bytes(path, tmp_path) == general_bytes(path, tmp_path)


@pytest.mark.parametrize("name", list(FALLBACKS))
def test_files_not_in_shape_take_the_general_path(tmp_path, name):
    path = tmp_path / "odd.arpa"
    path.write_text(FALLBACKS[name])
    assert stream_layout(path) is None
    assert converted_bytes(path, tmp_path) == general_bytes(path, tmp_path)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_prefixes_resolved_a_few_at_a_time_give_the_same_file_and_fallbacks(tmp_path, monkeypatch, chunk):
    # a section's prefixes are found once it is complete, KEYS_CHUNK at a time: suffix order,
    # a prefix not listed and an n-gram listed twice must be caught across the chunks' edges
    from lmtool.ngram.arpa import stream

    monkeypatch.setattr(stream, "KEYS_CHUNK", chunk)
    path = tmp_path / "canon.arpa"
    path.write_text(canon_in_suffix_order())
    assert converted_bytes(path, tmp_path) == general_bytes(path, tmp_path)
    for name, text in FALLBACKS.items():
        path.write_text(text)
        assert stream_layout(path) is None, name
    path.write_text(in_suffix_order(DEFECTS["duplicate trigram"][0]))
    assert stream_layout(path) is None


def _reorderable(text: str) -> bool:
    """Whether a defective file still has sections :func:`in_suffix_order` can reorder."""
    try:
        in_suffix_order(text)
    except (ValueError, KeyError, IndexError):
        return False
    return True


@pytest.mark.parametrize("name, shape", [(name, "as listed") for name in DEFECTS] +
                         [(name, "suffix order") for name in DEFECTS if _reorderable(DEFECTS[name][0])])
def test_defects_are_refused_with_the_general_paths_message(tmp_path, name, shape):
    text = DEFECTS[name][0]
    path = tmp_path / "bad.arpa"
    path.write_text(in_suffix_order(text) if shape == "suffix order" else text)
    target = tmp_path / "m.lmt"
    target.write_bytes(b"previous")
    with pytest.raises(ModelFileError) as general:
        read_arpa(path)
    with pytest.raises(ModelFileError) as streamed:
        convert_arpa(path, target)
    assert str(streamed.value) == str(general.value)
    assert target.read_bytes() == b"previous"


def test_every_truncation_is_refused_alike(tmp_path):
    data = canon_in_suffix_order().encode()
    path = tmp_path / "cut.arpa"
    for cut in range(len(data) - len(b"\\end\\\n")):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError) as general:
            read_arpa(path)
        with pytest.raises(ModelFileError) as streamed:
            convert_arpa(path, tmp_path / "m.lmt")
        assert str(streamed.value) == str(general.value)
    assert not (tmp_path / "m.lmt").exists()


def test_cli_summary_is_the_same_on_either_path(tmp_path):
    lexicographic = fitted_arpa(tmp_path, 3)
    kenlm_shape = tmp_path / "kenlm" / "m.arpa"
    kenlm_shape.parent.mkdir()
    kenlm_shape.write_text(in_suffix_order(lexicographic.read_text()))
    summaries = []
    for path, out in ((lexicographic, tmp_path / "a.lmt"), (kenlm_shape, tmp_path / "b.lmt")):
        result = CliRunner().invoke(cli, ["fit-ngram", "--from-arpa", str(path), "-o", str(out), "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        del summary["seconds"], summary["peak_memory_mb"], summary["model"]
        summaries.append(summary)
    assert summaries[0] == summaries[1] and summaries[0]["ngrams"][0] == 14
    assert (tmp_path / "a.lmt").read_bytes() == (tmp_path / "b.lmt").read_bytes()


CONVERTER = """
import sys
from lmtool.ngram.arpa import convert_arpa
print("ready", flush=True)
while True:
    convert_arpa(sys.argv[1], sys.argv[2])
"""


def test_sigkill_during_conversion_leaves_the_previous_file(tmp_path):
    source = tmp_path / "m.arpa"
    source.write_text(in_suffix_order(fitted_arpa(tmp_path, 5, "lex.arpa").read_text()))
    target = tmp_path / "m.lmt"
    convert_arpa(source, target)
    expected = target.read_bytes()
    seed = random.randrange(10**6)
    draws = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for attempt in range(3):
        converter = subprocess.Popen([sys.executable, "-c", CONVERTER, str(source), str(target)], env=env,
                                     stdout=subprocess.PIPE, text=True)
        assert converter.stdout.readline() == "ready\n"
        time.sleep(draws.uniform(0.0, 0.1))
        converter.send_signal(signal.SIGKILL)
        converter.wait()
        assert target.read_bytes() == expected, f"seed {seed}, attempt {attempt}"  # the old file or the new, whole


def test_spilled_arrays_read_back_in_many_pieces(tmp_path, monkeypatch):
    from lmtool.ngram.container import Spill

    monkeypatch.setattr(Spill, "PIECE_BYTES", 24)  # arrays of several pieces, a last one shorter
    path = tmp_path / "m.arpa"
    path.write_text(in_suffix_order(fitted_arpa(tmp_path, 3, "lex.arpa").read_text()))
    assert converted_bytes(path, tmp_path) == general_bytes(path, tmp_path)


def test_conversion_into_a_new_directory(tmp_path):
    path = tmp_path / "m.arpa"
    path.write_text(canon_in_suffix_order())
    convert_arpa(path, tmp_path / "new" / "deeper" / "m.lmt")
    assert (tmp_path / "new" / "deeper" / "m.lmt").read_bytes() == general_bytes(path, tmp_path)
    assert sorted(p.name for p in (tmp_path / "new" / "deeper").iterdir()) == ["m.lmt"]  # no spill left behind
