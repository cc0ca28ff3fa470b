"""The ``lmtool`` command group: logging flags, lazy subcommands, and error-to-exit-code mapping."""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import os
import signal
import sys
import threading
import traceback
from contextlib import contextmanager, suppress
from typing import Callable, Iterator, NoReturn

# numpy's OpenBLAS starts a pool of threads when numpy is imported, whose spin-waiting burns about
# 0.1 s of CPU in every command (on 2 cores, some of it the command's). No lmtool command does BLAS
# work in numpy (torch has its own MKL threads), so one thread, unless the user asked otherwise.
# Set before anything imports numpy: this module is where every command starts.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click  # noqa: E402

from lmtool import __version__  # noqa: E402
from lmtool.errors import LmtoolError  # noqa: E402

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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C, so that every cleanup (temporary files,
    run directories, the checkpoint lock) runs before the process ends."""


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in this process (a forked worker
    still dies as SIGTERM kills it). Signals can be set only in the main thread: elsewhere this
    does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def terminate(signum: int, frame) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def usage_line(error: click.UsageError) -> str:
    """A click usage error as one line: the message, then where the help is."""
    where = f" (see '{error.ctx.command_path} -h')" if error.ctx is not None else ""
    return f"Error: {error.format_message()}{where}"


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        """click's main, but a usage error is one line (click prints usage, a hint and the error:
        three lines, of which only the last says anything)."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as error:
            click.echo(usage_line(error), err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        release_collector()
        return command

    def invoke(self, ctx: click.Context):
        """Run the subcommand; a domain error becomes one line on stderr and its exit code.

        An ``OSError`` that reaches here (a file that vanished or a device that failed mid-run)
        is one line too, exit 1: it names a file and a cause the user can act on. SIGTERM is
        handled like Ctrl-C while the command runs (exit 143 rather than 130).
        """
        try:
            with sigterm_raises():
                return super().invoke(ctx)
        except LmtoolError as error:
            raise CommandError(str(error), error.exit_code) from None
        except Terminated:
            raise CommandError("terminated", 143) from None
        except KeyboardInterrupt:
            raise CommandError("interrupted", 130) from None
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise CommandError(f"{where}{error.strerror or error}", 1) from None

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
    4 bad model file, 130 interrupted (143 on SIGTERM).

    Example: lmtool compare   (the embedded demo: n-grams vs an LSTM in a few minutes)
    """
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)


def exit_status(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives: 0 for None, an int as it is, otherwise 1 after
    printing ``code`` to stderr."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


def leave_as_job_worker(run: Callable[[], object]) -> NoReturn:
    """Run ``run`` (the CLI, which ends in ``sys.exit``), then end this ``torchrun`` worker with the
    status it gave, without finalizing the interpreter.

    Why: DistributedDataParallel keeps the gloo process group alive in C++ after
    ``destroy_process_group`` (seen with torch 2.13), so gloo's worker threads outlive the
    program. One of them may still be freeing a finished collective (the last ``broadcast`` or
    ``all_gather`` of :mod:`lmtool.neural.distributed`, held by the closing barrier) whose tensor
    has a Python object; freeing it takes the GIL. Once the interpreter is finalizing, Python ends such a
    thread with ``pthread_exit``, and that unwinding through a C++ destructor calls
    ``std::terminate``: "terminate called without an active exception", SIGABRT, a rank that
    finished its work fails the job. So the worker leaves as a forked ``multiprocessing`` child
    does: the exit handlers run (logging is flushed), stdout and stderr are flushed, then
    ``os._exit``. Nothing is lost: the training files and the checkpoint lock are closed before
    the CLI returns, the exit status is the one ``sys.exit`` gave, and an error the CLI does not
    map to a status still prints its traceback and exits 1.
    """
    try:
        run()
        code = 0
    except SystemExit as done:
        code = exit_status(done.code)
    except Exception:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed or broken stream: the status still counts
            stream.flush()
    os._exit(code)


#: whether main() holds the cyclic collector back while the command's modules are imported
_collector_held = False


def release_collector() -> None:
    """Once the command is imported: freeze what the imports made (later collections skip it)
    and let the collector run again, if main() held it back."""
    global _collector_held
    if _collector_held:
        _collector_held = False
        gc.freeze()
        gc.enable()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lmtool`` console script and ``python -m lmtool``; a worker of a
    ``torchrun`` job (``WORLD_SIZE`` above 1) leaves by :func:`leave_as_job_worker`.

    Importing numpy and a command makes some 30,000 objects the cyclic collector tracks, which
    live as long as the process; it would walk them again and again while they are made (18
    million instructions, 3-4 ms of every start: what ``query`` spends scoring 10,000 words). So
    it is held back until the command is imported, which then freezes them out of its way
    (:meth:`LazyGroup.get_command`).
    """
    global _collector_held
    _collector_held = gc.isenabled()
    gc.disable()
    world = os.environ.get("WORLD_SIZE", "1").strip()
    if world.isdigit() and int(world) > 1:
        leave_as_job_worker(lambda: cli.main(args=argv, prog_name="lmtool"))
    cli.main(args=argv, prog_name="lmtool")
