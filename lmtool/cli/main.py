"""The ``lmtool`` command group: logging flags, lazy subcommands, and error-to-exit-code mapping."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from lmtool import __version__
from lmtool.errors import LmtoolError

#: command name -> "module:attribute"; modules are imported only when the command runs.
COMMANDS = {
    "corpus": "lmtool.cli.corpus:corpus",
    "fit-ngram": "lmtool.cli.fit_ngram:fit_ngram",
    "train-rnn": "lmtool.cli.train_rnn:train_rnn",
    "train-nnlm": "lmtool.cli.train_nnlm:train_nnlm",
    "eval": "lmtool.cli.eval:eval_command",
    "query": "lmtool.cli.query:query",
    "sample": "lmtool.cli.sample:sample",
    "compare": "lmtool.cli.compare:compare",
    "analyze": "lmtool.cli.analyze:analyze",
    "export": "lmtool.cli.export:export",
    "info": "lmtool.cli.info:info",
}

#: one-line summaries shown by ``lmtool --help`` without importing the command modules.
SUMMARIES = {
    "corpus": "Inspect and prepare corpora (tokenize once, reuse everywhere).",
    "fit-ngram": "Estimate an order-n Markov model (Kneser-Ney, Katz, Witten-Bell, ...).",
    "train-rnn": "Train a recurrent LM (RNN, LSTM, GRU) by truncated BPTT.",
    "train-nnlm": "Train a feed-forward neural n-gram (Bengio et al. 2003).",
    "eval": "Perplexity of any mix of models on the same tokens.",
    "query": "Score lines of text with an n-gram model, streaming (as KenLM's query).",
    "sample": "Generate text from an n-gram or recurrent model.",
    "compare": "Fit n-grams and an RNN on one corpus and compare them.",
    "analyze": "Where memory pays: context curves, attribution, colour view, gradient flow.",
    "export": "Write an n-gram model as an ARPA file.",
    "info": "Show what a model file holds.",
}


class CommandError(click.ClickException):
    """A :class:`LmtoolError` on its way out, carrying the exit code its class defines."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def invoke(self, ctx: click.Context):
        """Run the subcommand; a domain error becomes one line on stderr and its exit code."""
        try:
            return super().invoke(ctx)
        except LmtoolError as error:
            raise CommandError(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            raise CommandError("interrupted", 130) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUMMARIES[name]) for name in COMMANDS])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lmtool")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def cli(verbose: int, quiet: bool) -> None:
    """Build, evaluate, sample and compare n-gram and recurrent language models.

    Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 bad input data,
    4 bad model file, 130 interrupted.

    Example: lmtool compare   (the embedded demo: n-grams vs an LSTM in a few minutes)
    """
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lmtool`` console script and ``python -m lmtool``."""
    cli.main(args=argv, prog_name="lmtool")
