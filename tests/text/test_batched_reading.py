"""The fast ways of reading line units give exactly what the line-by-line ways give.

Whole lines are read and decoded a block at a time (``readers._BlockLines``) and the word
tokenizer splits a batch of lines at once (``encoding.intern_lines``); each is checked here
against the line-by-line way it replaces, on random text with every hard case: blank lines,
CRLF, no final newline, NUL bytes, bad and truncated UTF-8, lines longer than the limit,
non-ASCII whitespace, a literal ``</s>``.
"""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmtool.errors import DataError
from lmtool.text import encoding, readers
from lmtool.text.encoding import Interner, intern_lines
from lmtool.text.tokenizers import WordTokenizer

PIECES = [b"a", b"bc", b" ", b"\t", b"\n", b"\r\n", b"\xc3\xa9", b"\xe2\x80\x83", b"\xc2\x85", b"\0", b"\xff",
          b"\xe2\x82", b"</s>", b"\x1f", b"word "]


def outcome(lines_of):
    """The lines a reader yields, or the message of the DataError it raises."""
    try:
        return list(lines_of())
    except DataError as error:
        return str(error)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=60), block=st.integers(1, 12), longest=st.integers(4, 24),
       errors=st.sampled_from(["strict", "replace"]), offset=st.sampled_from([0, 1000]))
def test_block_reader_gives_the_lines_and_errors_of_the_line_reader(pieces, block, longest, errors, offset):
    data = b"".join(pieces)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(readers, "BLOCK_BYTES", block)
        patch.setattr(readers, "MAX_LINE_BYTES", longest)
        patch.setattr(readers, "BINARY_PROBE_BYTES", 0)  # NULs reach the readers, not the probe
        expected = outcome(lambda: readers._PieceLines("f", errors, offset, whole_lines=True).lines(io.BytesIO(data)))
        got = outcome(lambda: readers.decode_lines(io.BufferedReader(io.BytesIO(data)), "f", errors, offset=offset))
    assert got == expected


def test_block_reader_reports_the_first_error_in_the_text(tmp_path):
    # bad UTF-8 on line 2 comes before the NUL on line 3; a NUL and bad UTF-8 on one line: the NUL
    path = tmp_path / "t.txt"
    path.write_bytes(b"x" * 9000 + b"\nok\xff\nnul\0\n")
    with pytest.raises(DataError, match=r"invalid UTF-8 at byte 9003 \(line 2\)"):
        list(readers.read_lines(str(path)))
    path.write_bytes(b"x" * 9000 + b"\nok\xffnul\0\n")
    with pytest.raises(DataError, match="NUL byte at byte 9007"):
        list(readers.read_lines(str(path)))


class LineByLineWords(WordTokenizer):
    """The word tokenizer, kept to the line-by-line way of interning."""

    splits_on_whitespace = False


LINES = ["the cat sat\n", "\n", "  \r\n", "a  dog\r\n", "é\u2003x\x85y\n", "</s> end </s>\n", "nul\0 here\n",
         "last", "the the\n", "\u00a0\n"]


@settings(max_examples=200, deadline=None)
@given(labeled=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(LINES)), max_size=40),
       batch=st.integers(1, 6), unit=st.sampled_from(["line", "stream"]))
def test_batched_word_interning_equals_line_by_line(labeled, batch, unit):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(encoding, "BATCH_LINES", batch)
        fast, slow = Interner(), Interner()
        got = intern_lines(labeled, 3, WordTokenizer(), unit, fast)
    expected = intern_lines(labeled, 3, LineByLineWords(), unit, slow)
    assert fast.types == slow.types
    for ours, theirs in zip(got, expected):
        assert np.array_equal(np.frombuffer(ours.ids, np.int32), np.frombuffer(theirs.ids, np.int32))
        assert list(ours.starts) == list(theirs.starts) and ours.n_chars == theirs.n_chars
