"""Option bundles shared by several commands, so the same flag means the same thing everywhere."""

from __future__ import annotations

import os
from typing import Callable, Iterable

import click

from lmtool.files import check_distinct, check_writable, json_text
from lmtool import text  # its corpus-reading names load on first use (text.input_files, ...)
from lmtool.text import TOKENIZER_KINDS, UNITS


def json_option(function: Callable) -> Callable:
    """``--json``: print the command's figures as one JSON document on stdout instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")(function)


def print_json(payload: dict) -> None:
    """Print ``payload`` as indented JSON (the output of every ``--json`` flag); NaN and infinite
    figures (a perplexity of a zero-probability token, a missing loss) are ``null``, since JSON
    has no such numbers and strict readers reject ``NaN``/``Infinity``."""
    click.echo(json_text(payload))


Paths = dict[str, str | Iterable[str] | None]


def _pairs(paths: Paths | None) -> list[tuple[str, str]]:
    """``(option, path)`` for every path given (a value may be one path, several, or None)."""
    return [(label, str(path)) for label, value in (paths or {}).items() if value is not None
            for path in ([value] if isinstance(value, (str, os.PathLike)) else value)]


def check_paths(outputs: Paths, inputs: Paths | None = None, corpus: str | None = None,
                directories: Paths | None = None, replaced: Paths | None = None) -> None:
    """The checks every command makes on its paths before any work (:mod:`lmtool.files`).

    ``outputs`` are files to write, ``directories`` directories written into, ``replaced``
    directories replaced whole, ``inputs`` files read; each maps the option that names them to
    a path, several paths, or None (not given). The files on disk of the corpus spec ``corpus``
    count as inputs. Raises :class:`lmtool.errors.UsageError` (exit 2) when an output is the
    same file as an input or another output, an input is inside a replaced directory, or a
    destination cannot be written.
    """
    read = _pairs(inputs)
    if corpus is not None:
        read += [("--corpus", path) for path in text.input_files(corpus)]
    files, folders, wholes = _pairs(outputs), _pairs(directories), _pairs(replaced)
    check_distinct(files, read, wholes)
    for label, path in files:
        check_writable(path, label)
    for label, path in folders + wholes:
        check_writable(path, label, directory=True)


def apply_options(options: list, function: Callable) -> Callable:
    """``function`` decorated by each of ``options`` (click options or bundles), the first shown first in ``-h``."""
    for option in reversed(options):
        function = option(function)
    return function


def split_options(function: Callable) -> Callable:
    """How a corpus without its own splits is cut, and how its bytes are decoded: the corpus
    options that still apply when a model fixes tokenizer, vocabulary and unit (``eval``)."""
    return apply_options(
        [
            click.option("--split-fractions", default=None, metavar="TRAIN,VALID,TEST",
                         help="Fractions for a corpus without its own splits (default 0.8,0.1,0.1)."),
            click.option("--seed", type=int, default=None, help="Seed of the fraction split (default 0)."),
            click.option("--encoding-errors", type=click.Choice(text.ENCODING_ERRORS), default=None,
                         help="Invalid UTF-8: strict stops with an error (default); replace uses U+FFFD."),
        ],
        function,
    )


def corpus_options(function: Callable) -> Callable:
    """The options that say how a corpus spec becomes tokens (``--tokenizer``, ``--unit``, ...),
    plus :func:`split_options`.

    Every default is None, meaning "the corpus's own default" (word tokens and line units for
    text, char stream for ``gen:``, min count 4 for ``brown-bengio2003``), so that a prepared
    corpus can tell a given option from an absent one. Pass the values on with
    :func:`corpus_kwargs`.
    """
    return apply_options(
        [
            click.option("--tokenizer", type=click.Choice(TOKENIZER_KINDS), default=None,
                         help="Tokens: word (whitespace, default), treebank (NLTK rules), char, bpe (learned)."),
            click.option("--bpe-vocab-size", type=int, default=None,
                         help="Target vocabulary size of --tokenizer bpe (default 1000)."),
            click.option("--unit", type=click.Choice(UNITS), default=None,
                         help="line: each line a sentence ending in </s> (default); stream: one continuous text."),
            click.option("--min-count", type=click.IntRange(min=1), default=None,
                         help="Train-split types seen fewer times become <unk> (default 1)."),
            click.option("--max-vocab", type=click.IntRange(min=1), default=None,
                         help="Keep at most this many most frequent types besides <unk> <s> </s>."),
            split_options,
        ],
        function,
    )


def corpus_kwargs(params: dict) -> dict:
    """The ``load_corpus`` keyword arguments among a command's parsed ``params`` (None ones dropped);
    each option's parameter name is its ``load_corpus`` keyword."""
    return {name: params[name] for name in text.CORPUS_OPTIONS if params.get(name) is not None}
