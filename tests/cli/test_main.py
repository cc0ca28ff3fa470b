"""The CLI's entry point: the cyclic collector is held back while a command is imported, then runs again."""

from __future__ import annotations

import subprocess
import sys


def run_main(before: str, check: str) -> None:
    """Run ``lmtool info --help`` through main() in a fresh interpreter, ``before`` it and the
    assertion ``check`` after it."""
    code = (
        f"import gc, sys\n{before}\n"
        "sys.argv = ['lmtool', 'info', '--help']\n"
        "from lmtool.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"{check}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_the_collector_runs_again_once_the_command_is_imported():
    # main() disables gc for the imports (they make only long-lived objects); a command that ran
    # with it still off would never collect its reference cycles
    run_main("", "assert gc.isenabled(), 'the collector is still held back'\n"
                 "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()")


def test_the_collector_stays_off_where_the_caller_turned_it_off():
    run_main("gc.disable()", "assert not gc.isenabled()")
