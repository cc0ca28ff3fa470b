"""``nltk:NAME``: any NLTK corpus reader with ``sents()`` (or ``words()``), one sentence a line.

NLTK is imported only here and only when such a spec is used (importing it takes ~0.3 s).
Sentences are read once and kept as lines: NLTK corpora are small, and reading them through
NLTK's readers is slow enough that one pass matters.
"""

from __future__ import annotations

import functools
import re

from lmtool.errors import DataError
from lmtool.text.sources import Source


def how_to_get(name: str) -> str:
    return (
        f"NLTK corpus {name!r} is not installed: run python -m nltk.downloader {name} "
        f"(or nltk.download({name!r}) in Python), or set NLTK_DATA to a folder holding corpora/{name}"
    )


def nltk_reader(name: str):
    """NLTK's corpus reader called ``name``, loaded (so missing data fails here, clearly)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise DataError(f"nltk:{name}: expected an NLTK corpus name such as nltk:brown, nltk:treebank, nltk:gutenberg")
    import nltk.corpus

    reader = getattr(nltk.corpus, name, None)
    try:
        if reader is None or not (hasattr(reader, "sents") or hasattr(reader, "words")):
            raise DataError(f"nltk:{name} is not an NLTK corpus with sentences or words (try brown, treebank, gutenberg)")
        reader.fileids()  # a lazy loader finds its data on first attribute access; fail now if it is absent
    except LookupError:
        raise DataError(how_to_get(name)) from None
    return reader


@functools.lru_cache(maxsize=4)
def nltk_lines(name: str) -> tuple[str, ...]:
    """The corpus as lines: each sentence's words joined by spaces (case and punctuation kept).

    A corpus without sentences contributes each file's words as one line.
    """
    reader = nltk_reader(name)
    try:
        if hasattr(reader, "sents"):
            return tuple(" ".join(sentence) + "\n" for sentence in reader.sents())
        return tuple(" ".join(reader.words(fileid)) + "\n" for fileid in reader.fileids())
    except LookupError:
        raise DataError(how_to_get(name)) from None


def nltk_source(name: str) -> Source:
    """The NLTK corpus ``name`` as one text, split by fraction later."""
    nltk_reader(name)
    return Source(f"nltk:{name}", text=lambda: iter(nltk_lines(name)))
