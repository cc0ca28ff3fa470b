"""``lmtool query``: score lines of text with an n-gram model as KenLM's ``query`` does, for pipelines."""

from __future__ import annotations

import contextlib
import io
import os
import sys

import click

from lmtool.allocator import hold_freed_memory
from lmtool.cli.options import json_option, print_json
from lmtool.errors import DataError, LmtoolError, ModelFileError


@click.command("query", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model")
@click.argument("text", type=click.Path(dir_okay=False, allow_dash=True), default="-")
@click.option("--level", type=click.Choice(["word", "sentence", "summary"]), default="word", show_default=True,
              help="word: every token and each line's total; sentence: the totals; summary: the closing lines only.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Score blocks of text on this many threads at once (numpy releases the interpreter lock; "
                   "the output is the same, in order).")
@json_option
def query(model: str, text: str, level: str, threads: int, as_json: bool) -> None:
    """Score each line of TEXT (default: standard input) with the n-gram MODEL, streaming.

    Prints, per input line, `word=id n log10p` for every token and `</s>` (id 0: out of
    vocabulary; n: the n-gram length used), then `Total: log10p OOV: k`; and at the end the
    perplexity with and without OOVs, as KenLM's query does. An empty line scores `</s>`
    alone. With --json only the summary is printed, as JSON.

    Example: lmtool query brown5.lmt < test.txt > scores.txt
    """
    from lmtool.models import load_model
    from lmtool.ngram.query import query as run_query

    hold_freed_memory()  # a block's arrays come and go: their pages stay mapped (lmtool.allocator)

    loaded = load_model(model)
    if loaded.kind != "ngram":
        raise ModelFileError(f"{model} is a {loaded.kind} model, not an n-gram model: query scores n-gram models "
                             f"(lmtool eval scores every kind)")
    sink = getattr(sys.stdout, "buffer", sys.stdout)  # click's test runner gives a text wrapper with a buffer
    try:
        source = open(text, "rb") if text != "-" else contextlib.nullcontext(getattr(sys.stdin, "buffer", sys.stdin))
    except OSError as error:
        raise DataError(f"{text}: cannot read the text ({error.strerror})") from None
    try:
        with source as stream:
            summary = run_query(loaded, stream, io.BytesIO() if as_json else sink, level="summary" if as_json else level,
                                name="standard input" if text == "-" else text, threads=threads)
            sink.flush()
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as a pipeline stage does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    except OSError as error:
        raise LmtoolError(f"cannot read {text} or write the output: {error.strerror}") from None
    if as_json:
        print_json({"model": model, "text": text, "lines": summary.lines, "tokens": summary.tokens,
                    "oovs": summary.oovs, "log10": summary.log10, **summary.perplexities()})
