"""`python -m lmtool` runs the command-line interface."""

from lmtool.cli.main import main

main()
