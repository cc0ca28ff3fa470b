"""The CLI's entry point: the cyclic collector is held back while a command is imported, then runs again."""

from __future__ import annotations

import subprocess
import sys


def test_the_collector_runs_again_once_the_command_is_imported():
    # main() disables gc for the imports (they make only long-lived objects); a command that ran
    # with it still off would never collect its reference cycles
    code = (
        "import gc, sys\n"
        "sys.argv = ['lmtool', 'info', '--help']\n"
        "from lmtool.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert gc.isenabled(), 'the collector is still held back'\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_collector_stays_off_where_the_caller_turned_it_off():
    code = (
        "import gc, sys\n"
        "gc.disable()\n"
        "sys.argv = ['lmtool', 'info', '--help']\n"
        "from lmtool.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert not gc.isenabled()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
