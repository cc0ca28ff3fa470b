"""The cluster fit's pieces that need no cluster: parts of files, the shuffle's hashing, row lookups,
the stream overlap, and the options a cluster refuses (lmtool.ngram.cluster)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the cluster fit needs Dask: pip install 'lmtool[dask]'")

from lmtool.errors import DataError, UsageError  # noqa: E402
from lmtool.ngram import count_ngrams  # noqa: E402
from lmtool.ngram.cluster.counting import bucket_of, count_part, deal, overlaps  # noqa: E402
from lmtool.ngram.cluster.fit import cluster_corpus_options  # noqa: E402
from lmtool.ngram.cluster.inputs import Interned, input_files, part_lines, plan_parts  # noqa: E402
from lmtool.ngram.cluster.suffix import rows_in  # noqa: E402
from lmtool.text import BOS_ID, Vocabulary  # noqa: E402
from lmtool.text.readers import read_lines  # noqa: E402


def lines_of_parts(path: str, part_bytes: int, whole_lines: bool = True) -> list[str]:
    return [line for part in plan_parts([path], part_bytes) for line in part_lines(part, "strict", whole_lines)]


@pytest.mark.parametrize("part_bytes", [1, 2, 3, 7, 16, 1000])
@pytest.mark.parametrize("text", ["ab\ncd\n\n\nefg h\n", "no newline at the end\nx", "\n\n\n", "é ü\r\n€ x\n日本語\n"])
def test_parts_give_the_lines_of_the_file_in_order(tmp_path, text, part_bytes):
    # every line exactly once, whatever the cut: a part owns the lines that start in its bytes,
    # and cuts inside multi-byte characters or CRLF pairs do not matter
    path = tmp_path / "text.txt"
    path.write_bytes(text.encode())
    assert lines_of_parts(str(path), part_bytes) == list(read_lines(str(path)))


def test_a_compressed_file_is_one_part(tmp_path):
    path = tmp_path / "text.gz"
    path.write_bytes(gzip.compress(b"one two\nthree\n" * 50))
    parts = plan_parts([str(path)], 16)
    assert len(parts) == 1 and parts[0].end is None
    assert list(part_lines(parts[0], "strict", True)) == list(read_lines(str(path)))


def test_a_part_names_its_file_and_the_byte_of_bad_utf8(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine line\n" * 10 + b"bad \xff byte\n")
    with pytest.raises(DataError, match=r"bad\.txt: invalid UTF-8 at byte 104 "):
        lines_of_parts(str(path), 32)
    path.write_bytes(b"fine line\n" * 10 + b"nul \0 byte\n")
    with pytest.raises(DataError, match=r"bad\.txt looks binary \(NUL byte at byte 104\)"):
        lines_of_parts(str(path), 32)


def test_empty_input_files_and_specs_that_name_no_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.txt is empty"):
        plan_parts([str(empty)], 100)
    with pytest.raises(DataError, match="no files match"):
        input_files(str(tmp_path / "*.none"))
    for spec in ("brown-bengio2003", "gen:markov", "-"):
        with pytest.raises(UsageError, match="--cluster reads text files"):
            input_files(spec)
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "vocab.json").write_text("{}")
    with pytest.raises(UsageError, match="is a prepared corpus"):
        input_files(str(prepared))


def test_input_files_follow_the_text_layer(tmp_path):
    for name in ("b.txt", "a.txt", ".hidden"):
        (tmp_path / name).write_text("x\n")
    assert input_files(str(tmp_path)) == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    assert input_files(str(tmp_path / "*.txt")) == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    (tmp_path / "train.txt").write_text("y\n")  # a split directory: its train split only
    assert input_files(str(tmp_path)) == [str(tmp_path / "train.txt")]
    assert input_files(f"ptb:{tmp_path}") == [str(tmp_path / "train.txt")]
    assert input_files(f"file://{tmp_path}/a.txt") == [f"file://{tmp_path}/a.txt"]


def test_rows_in_finds_every_query():
    rng = np.random.default_rng(0)
    table = np.unique(rng.integers(0, 5, (200, 3)), axis=0).astype(np.int32)
    queries = table[rng.integers(0, len(table), 500)]
    found = rows_in(table, queries)
    assert np.array_equal(table[found], queries)


def test_bucket_of_spreads_rows_and_deal_keeps_their_order():
    rows = np.arange(10_000, dtype=np.int32)[:, None]
    bucket = bucket_of(rows, 4)
    assert np.array_equal(bucket, bucket_of(rows, 4)) and set(bucket.tolist()) == {0, 1, 2, 3}
    assert np.bincount(bucket).min() > 2_000  # consecutive ids spread evenly (2,500 each on average)
    pieces = deal(bucket, 4, [rows[:, 0]])
    assert all(np.all(np.diff(piece[0]) > 0) for piece in pieces)  # still sorted
    assert sorted(np.concatenate([piece[0] for piece in pieces]).tolist()) == rows[:, 0].tolist()


def test_stream_overlaps_reach_back_over_short_parts():
    vocabulary = Vocabulary(["<unk>", "<s>", "</s>", "a", "b", "c"], [0] * 6)
    tails = [["a"], [], ["b", "c"], ["c"]]  # tails of parts of 1, 0, 5 and 1 tokens, order 3
    got = overlaps(tails, vocabulary, 3, "stream")
    assert got[0] is None
    assert [o.tolist() for o in got[1:]] == [[BOS_ID, 3], [BOS_ID, 3], [4, 5]]
    assert overlaps(tails, vocabulary, 3, "line") == [None] * 4


def test_stream_parts_count_each_ngram_once():
    # count_part with the overlaps of stream units counts each n-gram in the part where it ends,
    # also when parts are shorter than the overlap or empty
    from lmtool.ngram.external.merge import combine

    tokens = ["<unk>", "<s>", "</s>"] + [f"w{i}" for i in range(6)]
    vocabulary = Vocabulary(tokens, [0] * len(tokens))
    ids = np.random.default_rng(1).integers(3, 9, 300).astype(np.int32)
    whole = count_ngrams(ids, np.array([0, 300]), 4, len(tokens))
    cuts = [0, 2, 3, 3, 150, 300]  # parts of 2, 1, 0, 147 and 150 tokens
    parts = [Interned(ids[a:b], np.array([0, b - a]), tokens) for a, b in zip(cuts, cuts[1:])]
    tails = [tokens_of(part.ids[-3:], tokens) for part in parts]
    counted = [count_part(part, vocabulary, 4, overlap, 1) for part, overlap in zip(parts, overlaps(tails, vocabulary, 4, "stream"))]
    assert sum(c[0].segments for c in counted) == 1 and sum(c[0].tokens for c in counted) == 300
    for k in range(4):
        rows, counts = combine([c[1][k][0] for c in counted], [c[1][k][1] for c in counted])
        assert np.array_equal(rows, whole.ngrams[k]) and np.array_equal(counts, whole.counts[k])


def tokens_of(ids: np.ndarray, tokens: list[str]) -> list[str]:
    return [tokens[i] for i in ids.tolist()]


@pytest.mark.parametrize("options, message", [
    (dict(tokenizer="bpe"), "--tokenizer bpe"),
    (dict(split_fractions="0.8,0.1,0.1"), "drop --split-fractions"),
    (dict(unit="word"), "--unit must be one of"),
])
def test_corpus_options_a_cluster_refuses(options, message):
    with pytest.raises(UsageError, match=message):
        cluster_corpus_options(options)
    assert cluster_corpus_options(dict(split_fractions="1", tokenizer="char"))["tokenizer"].kind == "char"
