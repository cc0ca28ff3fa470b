"""``split_block`` against a reference split (runs of bytes above 0x20 per line), on blocks that
take the one-separator path and blocks that must fall back to the general one."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lmtool.ngram.arpa.fields import PADDING, split_block

_FIELD = re.compile(rb"[\x21-\xff]+")


def reference(text: bytes) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]], int]:
    """Every field's (start, length), and per non-blank line (first field, count, line index)."""
    spans, lines, offset = [], [], 0
    for index, line in enumerate(text.split(b"\n")[:-1]):
        found = [(offset + m.start(), m.end() - m.start()) for m in _FIELD.finditer(line)]
        if found:
            lines.append((len(spans), len(found), index))
        spans += found
        offset += len(line) + 1
    return spans, lines, text.count(b"\n")


def random_block(rng: np.random.Generator, clean: bool) -> bytes:
    """Lines of 1-7 fields (some lines alike in count, as in a section); a clean block has one
    tab or space between fields, a dirty one also runs of blanks, CRs, blank lines, NULs, ..."""
    alphabet = [b"a", b"Z", b"0", b"-", b".", b"\\", b"\xc3\xa9", b"\x7f", b"<s>"]
    blanks = [b" ", b"\t"] if clean else [b" ", b"\t", b"  ", b"\t ", b"\r", b"\x00", b"\x0b", b"\x1f"]
    common = int(rng.integers(1, 8))
    out = []
    for _ in range(int(rng.integers(1, 60))):
        n = common if rng.random() < 0.7 else int(rng.integers(1 if clean else 0, 8))
        fields = [b"".join(rng.choice(alphabet, int(rng.integers(1, 12)))) for _ in range(n)]
        line = b"".join(f + rng.choice(blanks) for f in fields[:-1]) + (fields[-1] if fields else b"")
        if not clean and rng.random() < 0.2:
            line = rng.choice(blanks) + line + rng.choice([b"", b"\r", b" "])
        out.append(line + b"\n")
    return b"".join(out)


def check(text: bytes) -> np.ndarray:
    block = split_block(np.frombuffer(text + bytes(PADDING), dtype=np.uint8))
    spans, lines, n_lines = reference(text)
    starts, lengths = block.spans(np.arange(len(spans)))
    assert list(zip(starts.tolist(), lengths.tolist())) == spans
    assert list(zip(block.first.tolist(), block.count.tolist(), block.line.tolist())) == lines
    assert block.n_lines == n_lines
    assert [block.text(f) for f in range(len(spans))] == [text[s : s + n] for s, n in spans]
    return block


def one_array(block) -> bool:
    """Whether the block took the one-separator path (its bounds are neighbours in one array;
    the general path's are every other element of one)."""
    return block.before.strides == (8,) and block.before.base is block.ends.base


@pytest.mark.parametrize("seed", range(40))
def test_split_block_matches_the_reference_on_random_blocks(seed):
    rng = np.random.default_rng(seed)
    assert one_array(check(random_block(rng, clean=True)))
    check(random_block(rng, clean=False))


@pytest.mark.parametrize("text", [b"a b\n\nc d\n", b"a  b\n", b"a b \n", b" a b\n", b"a\tb\r\n", b"a\x00\x00b\n",
                                  b"a\n\n", b"a\x01\x02\n"])
def test_split_block_falls_back_where_a_field_is_not_followed_by_one_separator(text):
    assert not one_array(check(text))


@pytest.mark.parametrize("text", [b"a\n", b"a b\tc\n", b"x\x01y\n", b"-1.5\tw\n-2\tv\t-0.5\n", b"a b\nc\nd e f\n",
                                  b"a b c\nd\ne f\n"])  # the last two: counts differ, the stride must not be taken
def test_split_block_takes_one_array_for_single_separators(text):
    assert one_array(check(text))


@pytest.mark.parametrize("text", [b"", b"\n", b" \n\t\n", b"\r\n\n"])
def test_split_block_of_blank_lines_has_no_fields(text):
    assert len(check(text).first) == 0
