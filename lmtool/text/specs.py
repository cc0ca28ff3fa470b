"""Corpus specs: the one string every ``--corpus`` option accepts, resolved to a :class:`Source`.

==========================  =========================================================
``FILE``                    one text file; ``.gz``, ``.bz2``, ``.xz`` are decompressed
``-``                       standard input
``DIR``                     ``train.txt`` [``valid.txt``, ``test.txt``] if present, else all its files
``GLOB``                    all matching files in name order (``data/*.txt``, ``**`` recurses)
``ptb:DIR``                 a directory with ``train.txt`` and optionally ``valid.txt``/``test.txt``
``nltk:NAME``               an NLTK corpus reader (``brown``, ``treebank``, ``gutenberg``...)
``NAME``                    a registered corpus, e.g. ``brown-bengio2003`` (Brown split as in
                            Bengio et al. 2003)
``gen:NAME[:k=v,...]``      a registered generator of text of known entropy rate (``gen:markov``,
                            ``gen:repeat``)
==========================  =========================================================

A directory written by ``lmtool corpus prepare`` is recognised before all of these (in
:func:`lmtool.text.loading.load_corpus`). A path on disk wins over a corpus name: names are
looked up (in :mod:`lmtool.text.registry`, which the ``corpora`` package fills) only for a
spec that is no file, directory or glob pattern.
"""

from __future__ import annotations

import os
from typing import Sequence

from lmtool.errors import DataError
from lmtool.text.readers import spool_stdin
from lmtool.text.registry import generated_source, named_source
from lmtool.text.sources import (
    Source,
    directory_files,
    files_source,
    glob_source,
    has_split_files,
    split_directory_source,
)

SPEC_HELP = (
    "FILE (.gz/.bz2/.xz ok), '-' for stdin, DIR, GLOB, ptb:DIR, nltk:NAME, brown-bengio2003, "
    "gen:markov[:order=K,alphabet=A,seed=S,length=N], gen:repeat[:...], or a prepared corpus DIR"
)


def resolve_spec(spec: str, encoding_errors: str, whole_lines: bool, fractions: Sequence[float]) -> Source:
    """The :class:`Source` that ``spec`` names; :class:`DataError` when it names nothing."""
    if spec == "-":
        return files_source("-", [spool_stdin()], encoding_errors, whole_lines)
    if spec.startswith("gen:"):
        name, _, options = spec[4:].partition(":")
        return generated_source(name, options, fractions)
    if spec.startswith("nltk:"):
        from lmtool.text.nltk_corpora import nltk_source

        return nltk_source(spec[5:])
    if spec.startswith("ptb:"):
        directory = spec[4:]
        if not os.path.isdir(directory):
            raise DataError(f"{spec}: {directory} is not a directory: give ptb:DIR with DIR/train.txt")
        return split_directory_source(spec, directory, encoding_errors, whole_lines)
    if os.path.isdir(spec):
        if has_split_files(spec):
            return split_directory_source(spec, spec, encoding_errors, whole_lines)
        return files_source(spec, directory_files(spec), encoding_errors, whole_lines)
    if os.path.isfile(spec):
        return files_source(spec, [spec], encoding_errors, whole_lines)
    if any(char in spec for char in "*?["):
        return glob_source(spec, encoding_errors, whole_lines)
    named = named_source(spec)
    if named is not None:
        return named
    raise DataError(f"unknown corpus {spec!r}: no such file or directory, nor a corpus name; a spec is {SPEC_HELP}")
