"""Every corpus spec kind on tiny fixtures made here, and the exact id layout they produce."""

import bz2
import gzip
import lzma
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmtool.errors import DataError, UsageError
from lmtool.text import EOS_ID, encode_corpus, load_corpus
from lmtool.text.streaming import stream_train

TEXT = "the cat sat\nthe dog sat\na cat ran\n"


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(TEXT)
    return path


def write_splits(directory, train=TEXT, valid="the cat ran\n", test="a dog sat <unk>\n"):
    directory.mkdir(exist_ok=True)
    for name, text in (("train", train), ("valid", valid), ("test", test)):
        if text is not None:
            (directory / f"{name}.txt").write_text(text)
    return directory


def test_line_units_layout_hand_checked(tmp_path):
    corpus = load_corpus(str(write_splits(tmp_path / "d")))
    vocab = corpus.vocabulary
    # train counts: the 2, cat 2, sat 2, a 1, dog 1, ran 1, </s> 3
    # ids: 3 cat, 4 sat, 5 the (ties at 2 by string), 6 a, 7 dog, 8 ran
    assert vocab.tokens == ["<unk>", "<s>", "</s>", "cat", "sat", "the", "a", "dog", "ran"]
    train = corpus.splits["train"]
    assert train.ids.tolist() == [5, 3, 4, 2, 5, 7, 4, 2, 6, 3, 8, 2]
    assert train.starts.tolist() == [0, 4, 8, 12]
    assert train.ids.dtype == np.int32 and train.starts.dtype == np.int64
    assert (train.n_segments, train.n_tokens, train.n_chars, train.n_unk) == (3, 12, len(TEXT), 0)
    # "a dog sat <unk>": the literal <unk> is id 0
    assert corpus.splits["test"].ids.tolist() == [6, 7, 4, 0, EOS_ID]
    assert corpus.split_types == {"train": 6, "valid": 3, "test": 4}


def test_stream_units_one_segment_no_eos_and_char_newlines(small):
    corpus = load_corpus(str(small), tokenizer="char", unit="stream", split_fractions="1")
    train = corpus.splits["train"]
    assert train.starts.tolist() == [0, len(TEXT)]
    assert "".join(corpus.vocabulary.decode(train.ids)) == TEXT
    assert EOS_ID not in train.ids


def test_line_units_skip_blank_lines_but_count_their_chars(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("a b\n\n  \nc\n")
    train = load_corpus(str(path), split_fractions="1").splits["train"]
    # chars: "a b\n" 4 + "\n" 1 + "  \n" 3 + "c\n" 2 = 10
    assert train.n_segments == 2 and train.n_chars == 10


@pytest.mark.parametrize("suffix,opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_compressed_files_match_plain(tmp_path, small, suffix, opener):
    path = tmp_path / f"small.txt{suffix}"
    with opener(path, "wt") as handle:
        handle.write(TEXT)
    plain, compressed = load_corpus(str(small), split_fractions="1"), load_corpus(str(path), split_fractions="1")
    assert plain.splits == compressed.splits and plain.fingerprint == compressed.fingerprint


def test_compression_is_told_by_content_not_name(tmp_path, small):
    misnamed = tmp_path / "really-xz.txt"
    misnamed.write_bytes(lzma.compress(TEXT.encode()))
    assert load_corpus(str(misnamed), split_fractions="1").splits == load_corpus(str(small), split_fractions="1").splits
    empty = tmp_path / "empty.bz2"
    empty.write_bytes(bz2.compress(b""))
    with pytest.raises(DataError, match="split is empty"):
        load_corpus(str(empty))
    # plain text that merely starts like a bzip2 header is read as text
    lookalike = tmp_path / "bzh.txt"
    lookalike.write_text("BZh9 is a bzip2 header\n")
    assert load_corpus(str(lookalike), split_fractions="1").vocabulary.tokens[3] == "BZh9"


def test_glob_and_directory_concatenate_files_in_name_order(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "b.txt").write_text("b b\n")
    (folder / "a.txt").write_text("a\n")
    for spec in (str(folder / "*.txt"), str(folder)):
        train = load_corpus(spec, split_fractions="1").splits["train"]
        corpus_tokens = load_corpus(spec, split_fractions="1").vocabulary
        assert corpus_tokens.decode(train.ids) == ["a", "</s>", "b", "b", "</s>"]


def test_ptb_prefix_and_missing_train(tmp_path):
    directory = write_splits(tmp_path / "ptb")
    assert set(load_corpus(f"ptb:{directory}").splits) == {"train", "valid", "test"}
    only_eval = write_splits(tmp_path / "eval-only", train=None)
    with pytest.raises(DataError, match="no train.txt"):
        load_corpus(str(only_eval))
    with pytest.raises(DataError, match="no train.txt"):
        load_corpus(f"ptb:{only_eval}")


def test_split_directory_without_valid_has_train_only(tmp_path):
    corpus = load_corpus(str(write_splits(tmp_path / "d", valid=None, test=None)))
    assert list(corpus.splits) == ["train"]


def test_fraction_split_is_exact_deterministic_and_seeded(tmp_path):
    path = tmp_path / "numbers.txt"
    path.write_text("".join(f"{i}\n" for i in range(100)))

    def lines(corpus, split):
        # char tokens: every digit occurs in train, so each sentence decodes back to its number
        return [int("".join(corpus.vocabulary.decode(segment[:-1]))) for segment in corpus.splits[split].segments()]

    def load(seed):
        return load_corpus(str(path), tokenizer="char", seed=seed)

    first = load(1)
    assert [first.splits[s].n_segments for s in ("train", "valid", "test")] == [80, 10, 10]
    assert lines(first, "valid") == lines(load(1), "valid")
    assert lines(first, "valid") != lines(load(2), "valid")
    assert lines(first, "valid") == sorted(lines(first, "valid"))  # each split keeps corpus order
    every = sorted(n for split in ("train", "valid", "test") for n in lines(first, split))
    assert every == list(range(100))  # every line used exactly once


def test_stream_fraction_split_is_contiguous(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"{i}\n" for i in range(10)))
    corpus = load_corpus(str(path), tokenizer="char", unit="stream", split_fractions="0.8,0,0.2")
    assert list(corpus.splits) == ["train", "test"]
    decode = lambda s: "".join(corpus.vocabulary.decode(corpus.splits[s].ids))  # noqa: E731
    assert decode("train") == "0\n1\n2\n3\n4\n5\n6\n7\n"
    # "8\n9\n": the digits 8 and 9 never occur in train, so they are <unk> (id 0)
    newline = corpus.vocabulary.id("\n")
    assert corpus.splits["test"].ids.tolist() == [0, newline, 0, newline]
    assert corpus.splits["test"].n_chars == 4


@pytest.mark.parametrize("unit", ["line", "stream"])
def test_a_train_only_split_reads_the_text_once_and_keeps_every_line(tmp_path, monkeypatch, unit):
    # with one split every line is train's: no first pass to count lines (or characters) for
    # the cut, and the corpus is the one the labelled path gives
    from lmtool.text import splits
    from lmtool.text.sources import Source

    path = tmp_path / "lines.txt"
    path.write_text("b a\n\nc a b\na\n")
    reads = []

    def text():
        reads.append(1)
        return iter(path.read_text().splitlines(keepends=True))

    names, labeled = splits.labeled_lines(Source("lines", text=text), (1.0, 0.0, 0.0), 0, shuffle=unit == "line")
    assert names == ["train"] and list(labeled()) == [(0, line) for line in path.read_text().splitlines(keepends=True)]
    assert len(reads) == 1
    assert load_corpus(str(path), split_fractions="1", unit=unit).splits["train"].n_chars == len(path.read_text())


def test_vocabulary_from_train_only_so_valid_words_are_oov(tmp_path):
    corpus = load_corpus(str(write_splits(tmp_path / "d", valid="zebra cat\n")))
    assert corpus.splits["valid"].ids.tolist() == [0, corpus.vocabulary.id("cat"), EOS_ID]
    assert "zebra" not in corpus.vocabulary.tokens


def test_bpe_corpus_round_trips_text(tmp_path):
    path = tmp_path / "t.txt"
    text = "the cat sat on the mat. naïve café!\n" * 20
    path.write_text(text)
    corpus = load_corpus(str(path), tokenizer="bpe", bpe_vocab_size=280, unit="stream", split_fractions="1")
    tokens = corpus.vocabulary.decode(corpus.splits["train"].ids)
    assert corpus.tokenizer.detokenize(tokens) == text


def test_encode_corpus_reproduces_load_corpus(tmp_path):
    directory = write_splits(tmp_path / "d")
    corpus = load_corpus(str(directory), min_count=2)
    again = encode_corpus(str(directory), corpus.tokenizer, corpus.vocabulary, unit="line")
    assert again.splits == corpus.splits and again.fingerprint == corpus.fingerprint
    with pytest.raises(UsageError, match="min-count"):
        encode_corpus(str(directory), corpus.tokenizer, corpus.vocabulary, min_count=3)


def test_fingerprint_changes_with_tokenizer_vocabulary_and_unit(small):
    base = load_corpus(str(small), split_fractions="1")
    assert base.fingerprint == load_corpus(str(small), split_fractions="1").fingerprint
    assert base.fingerprint != load_corpus(str(small), split_fractions="1", min_count=2).fingerprint
    assert base.fingerprint != load_corpus(str(small), split_fractions="1", unit="stream").fingerprint
    assert base.fingerprint != load_corpus(str(small), split_fractions="1", tokenizer="treebank").fingerprint
    assert len(base.fingerprint) == 16


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "split is empty"),
        (b"   \n\n", "split is empty"),
        (b"ok\n\x00\x01binary", "looks binary"),
        (b"fine\ncaf\xe9\n", r"invalid UTF-8 at byte 8 \(line 2\)"),
        (b"fine\n\xe2\x82", r"invalid UTF-8 at byte 5 \(truncated"),
    ],
)
def test_bad_files_are_data_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_corpus(str(path), split_fractions="1")


def test_encoding_errors_replace_decodes_bad_bytes(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9 au lait\n")
    corpus = load_corpus(str(path), split_fractions="1", encoding_errors="replace")
    assert "caf\ufffd" in corpus.vocabulary.tokens


def test_overlong_lines_fail_in_line_units_and_stream_in_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr("lmtool.text.readers.MAX_LINE_BYTES", 8)
    path = tmp_path / "long.txt"
    path.write_text("abcdefghijklmnop\n")
    with pytest.raises(DataError, match="longer than"):
        load_corpus(str(path), split_fractions="1")
    corpus = load_corpus(str(path), split_fractions="1", tokenizer="char", unit="stream")
    assert "".join(corpus.vocabulary.decode(corpus.splits["train"].ids)) == "abcdefghijklmnop\n"


def test_unknown_and_missing_specs(tmp_path):
    with pytest.raises(DataError, match="unknown corpus 'nope.txt'"):
        load_corpus("nope.txt")
    with pytest.raises(DataError, match="no files match"):
        load_corpus(str(tmp_path / "*.none"))
    with pytest.raises(DataError, match="no such file or directory"):
        load_corpus(str(tmp_path / "gone.txt.gz"))


def test_truncated_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(gzip.compress(TEXT.encode() * 100)[:40])
    with pytest.raises(DataError, match="cannot read"):
        load_corpus(str(path))


def test_option_errors(small, tmp_path):
    with pytest.raises(UsageError, match="sum to 1"):
        load_corpus(str(small), split_fractions="0.5,0.1")
    with pytest.raises(UsageError, match="--unit"):
        load_corpus(str(small), unit="paragraph")
    with pytest.raises(UsageError, match="own train/valid/test"):
        load_corpus(str(write_splits(tmp_path / "d")), split_fractions="1")
    with pytest.raises(UsageError, match="only to --tokenizer bpe"):
        load_corpus(str(small), tokenizer="char", bpe_vocab_size=500)
    with pytest.raises(UsageError, match="only to --tokenizer bpe"):  # the streaming path checks the same
        stream_train(str(small), tokenizer="char", bpe_vocab_size=500)
    with pytest.raises(TypeError):
        load_corpus(str(small), tokeniser="char")
    assert os.path.exists(small)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1))
def test_char_stream_corpus_reproduces_any_file_exactly(tmp_path, text):
    # reader + splitter + interner + vocabulary together lose nothing, whatever the line endings
    path = tmp_path / "any.txt"
    path.write_bytes(text.encode("utf-8"))
    corpus = load_corpus(str(path), tokenizer="char", unit="stream", split_fractions="1")
    assert "".join(corpus.vocabulary.decode(corpus.splits["train"].ids)) == text
    assert corpus.splits["train"].n_chars == len(text)


def test_files_are_read_lazily_not_whole(tmp_path):
    # 13 MB of text read a block of lines at a time: the reader's memory peak stays far below the file size
    import tracemalloc

    from lmtool.text.readers import read_lines

    path = tmp_path / "big.txt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("the quick brown fox jumps over the lazy dog\n" * 300_000)
    tracemalloc.start()
    count = sum(1 for _ in read_lines(str(path)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 300_000 and peak < 1_300_000
