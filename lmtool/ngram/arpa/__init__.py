"""ARPA files: read any KenLM or SRILM backoff model, write every normalised lmtool model, in bulk.

Format (log10 values)::

    \\data\\
    ngram 1=3
    ngram 2=2

    \\1-grams:
    -1.2\\t<s>\\t-0.3          prob, words, optional backoff (tabs or spaces)
    ...
    \\end\\

Reading accepts what real files contain: text before ``\\data\\``, blank lines anywhere, any
mix of spaces and tabs, Windows line ends, ``ngram 1= 5``, ``-99`` (SRILM) or ``0`` (KenLM)
as the ``<s>`` probability, a missing backoff meaning 0, ``.gz`` compression, empty sections,
and SRILM pruned files that list an n-gram whose prefix is not listed (see
:mod:`~lmtool.ngram.arpa.build`). Files without ``<unk>`` get an unlisted ``<unk>`` of log10
-99. Anything inconsistent raises :class:`~lmtool.errors.ModelFileError` naming the file, the
line and the defect (:mod:`~lmtool.ngram.arpa.read` lists them).

Modules: :mod:`~lmtool.ngram.arpa.read` (blocks of lines to entries), :mod:`~lmtool.ngram.arpa.fields`
(fields and word lookup of a block), :mod:`~lmtool.ngram.arpa.numbers` (numbers to and from
text), :mod:`~lmtool.ngram.arpa.build` (entries to tables), :mod:`~lmtool.ngram.arpa.stream`
(entries of a file in KenLM's shape straight to a compact model file's arrays, for
:func:`convert_arpa`), :mod:`~lmtool.ngram.arpa.write` (tables to text).
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from lmtool.allocator import release_freed_memory
from lmtool.errors import UsageError
from lmtool.files import atomic_write, write_error
from lmtool.lazy import lazy_names
from lmtool.ngram.arpa.write import write_arpa_tables
from lmtool.ngram.container import Spill
from lmtool.ngram.model import NgramModel
from lmtool.ngram.storage import TablesOutline, save_ngram, stored_model, write_compact
from lmtool.ngram.tables import BackoffTables
from lmtool.text import Vocabulary, make_tokenizer

#: the parser (and the converter's layout) load on first use: writing an ARPA file, as a fit
#: does, needs neither (about 10 ms of the process's start, with tempfile)
__getattr__ = lazy_names(__name__, {"SPECIALS": "lmtool.ngram.arpa.read"})

__all__ = ["SPECIALS", "convert_arpa", "read_arpa", "read_arpa_tables", "write_arpa", "write_arpa_tables"]


def read_arpa_tables(path: str | os.PathLike) -> tuple[list[str], BackoffTables]:
    """Parse an ARPA file into its vocabulary (ids 0-2 are <unk> <s> </s>) and backoff tables."""
    from lmtool.ngram.arpa.build import build_tables, repeat_check
    from lmtool.ngram.arpa.read import read_arpa_sections

    reader = read_arpa_sections(path)
    grams, probs, backoffs, lines = zip(*(section.take_arrays() for section in reader.sections))
    check = repeat_check(reader.path, reader.tokens, list(lines))
    return reader.tokens, build_tables(list(grams), list(probs), list(backoffs), len(reader.tokens), check)


def read_arpa(path: str | os.PathLike) -> NgramModel:
    """An NgramModel from a KenLM/SRILM ARPA file: word tokenizer, the ARPA's vocabulary."""
    return _arpa_model(*read_arpa_tables(path), path)


def convert_arpa(path: str | os.PathLike, output: str | os.PathLike) -> NgramModel:
    """Write the compact model file of the ARPA file ``path`` at ``output`` (atomically), the file
    ``save_ngram(stored_model(read_arpa(path)), output)`` writes; returns the model as far as
    its ``describe()`` goes. A file in KenLM's shape is laid out as it is read
    (:mod:`~lmtool.ngram.arpa.stream`: a third of the memory); any other is read again whole."""
    from lmtool.ngram.arpa.stream import stream_layout

    try:  # the orders laid out wait on disk, beside the file (an error there is one writing it)
        directory = pathlib.Path(output).parent
        directory.mkdir(parents=True, exist_ok=True)
        with Spill(directory) as spill:
            laid = stream_layout(path, spill)
            release_freed_memory()  # what the layout freed goes back before the file is written
            if laid is not None:
                model = _arpa_model(laid.tokens, TablesOutline(len(laid.ngrams), len(laid.tokens), laid.ngrams), path)
                write_compact(model, laid.entry, laid.arrays, output)
                return model
    except OSError as error:
        raise write_error(output, error) from None
    model = stored_model(read_arpa(path))
    save_ngram(model, output)
    return model


def _arpa_model(tokens: list[str], tables, path: str | os.PathLike) -> NgramModel:
    """The model of an ARPA file's ``tables`` (or their outline): word tokenizer, the file's tokens."""
    vocabulary = Vocabulary(tokens, np.zeros(len(tokens), dtype=np.int64))
    return NgramModel(tables, make_tokenizer("word"), vocabulary, unit="line", method="arpa",
                      normalised=True, source=f"arpa:{pathlib.Path(path).name}")


def write_arpa(model: NgramModel, path: str | os.PathLike) -> None:
    """Write ``model`` as an ARPA file, atomically and streamed; stupid backoff has no ARPA form."""
    if not model.normalised:
        raise UsageError(f"{model.method} is not a normalised model, so it has no ARPA form: export a normalised method")
    atomic_write(path, lambda out: write_arpa_tables(model.vocabulary.tokens, model.tables, out))
