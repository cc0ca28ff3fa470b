"""Defective ARPA files are refused with one line naming the file, the line and the defect (exit 4),
never read into a model that gives wrong numbers, never a traceback."""

from __future__ import annotations

import gzip
import re

import pytest
from click.testing import CliRunner

from lmtool.cli.main import cli
from lmtool.errors import ModelFileError
from lmtool.ngram import read_arpa

from .test_arpa_variants import CANON


def _edit(old: str, new: str, text: str = CANON) -> str:
    assert old in text
    return text.replace(old, new, 1)


# line numbers of CANON: 7 <unk>, 8 <s>, 9 </s>, 10 a, 11 b, 13 \2-grams:, 14-17 bigrams, 19 \3-grams:, 20-21 trigrams
DEFECTS = {
    "nan probability": (_edit("-0.4\ta", "nan\ta"), r"line 10: the value nan is not finite"),
    "inf backoff": (_edit("-0.7\tb\t-0.1", "-0.7\tb\tinf"), r"line 11: the value inf is not finite"),
    "-inf probability": (_edit("-0.1\t<s> a b", "-inf\t<s> a b"), r"line 20: the value -inf is not finite"),
    "overflowing number": (_edit("-0.5\tb </s>", "-1e999\tb </s>"), r"line 17: the value -1e999 is not finite"),
    "not a number": (_edit("-0.25\tb a", "-0.2x5\tb a"), r"line 16: not a number in '-0.2x5 b a -0.1'"),
    "comma decimal": (_edit("-0.6\t</s>", "-0,6\t</s>"), r"line 9: not a number"),
    "hex number": (_edit("-0.6\t</s>", "0x10\t</s>"), r"line 9: not a number"),
    "word as backoff": (_edit("-0.2\ta b\t-0.05", "-0.2\ta b\tc"), r"line 15: not a number"),
    "too many fields": (_edit("-0.2\ta b\t-0.05", "-0.2\ta b c\t-0.05 1"), r"line 15: a 2-gram line needs"),
    "too few fields": (_edit("-0.05\ta b a", "-0.05\ta b"), r"line 21: a 3-gram line needs"),
    "duplicate unigram": (_edit("-0.7\tb\t-0.1", "-0.7\ta\t-0.1"), r"line 11: the word 'a' is listed twice among the unigrams \(first at line 10\)"),
    "duplicate bigram": (_edit("-0.25\tb a", "-0.25\ta b"), r"line 16: the 2-gram 'a b' is listed twice \(first at line 15\)"),
    "duplicate trigram": (_edit("-0.05\ta b a", "-0.05\t<s> a b"), r"line 21: the 3-gram '<s> a b' is listed twice \(first at line 20\)"),
    "unknown word": (_edit("-0.05\ta b a", "-0.05\ta b zz"), r"line 21: a 3-gram uses a word missing from the unigrams: 'zz'"),
    "fewer entries than promised": (_edit("ngram 2=4", "ngram 2=5"), r"line 13: the \\2-grams: section has 4 entries but the header promises 5"),
    "more entries than promised": (_edit("ngram 1=5", "ngram 1=4"), r"line 6: the \\1-grams: section has 5 entries but the header promises 4"),
    "missing end": (CANON.replace("\\end\\\n", ""), r"line 22: file ends before \\end\\ \(truncated\?\)"),
    "missing section": (_edit("\\3-grams:\n-0.1\t<s> a b\n-0.05\ta b a\n\n", ""), r"line 19: the \\3-grams: section is missing before \\end\\"),
    "no data header": ("ngram 1=1\n\\1-grams:\n-1 a\n\\end\\\n", r"no \\data\\ header: not an ARPA file"),
    "no counts": ("\\data\\\n\\1-grams:\n-1 a\n\\end\\\n", r"line 2: the \\data\\ header lists no n-gram counts"),
    "order listed twice": (_edit("ngram 2=4", "ngram 2=4\nngram 2=4"), r"line 4: the header lists order 2 twice"),
    "order missing from header": (_edit("ngram 2=4\n", ""), r"the header must list orders 1..3, got \[1, 3\]"),
    "sections out of order": (_edit("\\2-grams:", "\\3-grams:"), r"line 13: unexpected section '\\\\3-grams:'"),
    "section beyond the order": (_edit("\\3-grams:", "\\4-grams:"), r"line 19: unexpected section"),
    "stray line": (_edit("-0.25\tb a\t-0.1", "\\oops"), r"line 16: unexpected line '\\\\oops'"),
    "garbage in header": (_edit("ngram 3=2", "ngram three=2"), r"line 4: expected 'ngram N=COUNT' or a section"),
}


@pytest.mark.parametrize("name", list(DEFECTS))
def test_defect_is_refused_naming_file_and_line(tmp_path, name):
    text, message = DEFECTS[name]
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=re.escape(str(path)) + ".*" + message):
        read_arpa(path)


def test_invalid_utf8_word(tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_bytes(_edit("-0.4\ta", "-0.4\t\xff").encode("latin-1"))
    with pytest.raises(ModelFileError, match=r"line 10: the word is not valid UTF-8"):
        read_arpa(path)


def test_every_truncation_is_refused(tmp_path):
    # a file cut at any byte before its \end\ line is complete: refused, never read as a model
    data = CANON.encode()
    path = tmp_path / "cut.arpa"
    for cut in range(len(data) - len(b"\\end\\\n")):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            read_arpa(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.arpa.gz"
    packed = gzip.compress(CANON.encode() * 3)
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ModelFileError, match=r"cut.arpa.gz: line \d+: unreadable .*damaged file"):
        read_arpa(path)


def test_cli_refuses_with_exit_4_and_one_line(tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_text(DEFECTS["duplicate bigram"][0])
    result = CliRunner().invoke(cli, ["fit-ngram", "--from-arpa", str(path), "-o", str(tmp_path / "m.npz")])
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output and not (tmp_path / "m.npz").exists()
    errors = [line for line in result.output.splitlines() if "bad.arpa" in line and "listed twice" in line]
    assert len(errors) == 1 and "line 16" in errors[0]
