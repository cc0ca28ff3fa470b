"""Every command has help text ending in an example, a summary in `lmtool --help`, and a place in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lmtool.cli.main import COMMANDS, SUMMARIES, cli

README = Path(__file__).resolve().parents[2] / "README.md"


def invocations(name: str) -> list[list[str]]:
    """``[name]``, and ``[name, sub]`` for each subcommand of a group such as ``corpus``."""
    command = cli.get_command(click.Context(cli), name)
    if isinstance(command, click.Group):
        return [[name]] + [[name, sub] for sub in command.commands]
    return [[name]]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_with_an_example(name):
    for invocation in invocations(name):
        result = CliRunner().invoke(cli, [*invocation, "-h"])
        assert result.exit_code == 0, (invocation, result.output)
        example = f"Example: lmtool {' '.join(invocation)}"
        assert example in result.output, f"`lmtool {' '.join(invocation)} -h` gives no example ({example} ...)"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_is_summarised_and_documented(name):
    assert SUMMARIES.get(name), f"{name} has no summary for `lmtool --help`"
    assert f"`lmtool {name}" in README.read_text(encoding="utf-8"), f"README.md does not document `lmtool {name}`"
