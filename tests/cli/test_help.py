"""Every command has help text ending in an example, a summary in `lmtool --help`, and a place in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lmtool.cli.main import COMMANDS, SUMMARIES, cli

README = Path(__file__).resolve().parents[2] / "README.md"


def leaf_invocations(name: str) -> list[list[str]]:
    """``[name]`` for a plain command; ``[name, sub]`` for each subcommand of a group such as ``corpus``."""
    command = cli.get_command(click.Context(cli), name)
    if isinstance(command, click.Group):
        return [[name, sub] for sub in command.commands]
    return [[name]]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_with_an_example(name):
    for invocation in leaf_invocations(name):
        result = CliRunner().invoke(cli, [*invocation, "-h"])
        assert result.exit_code == 0, (invocation, result.output)
        assert "Example" in result.output, f"`lmtool {' '.join(invocation)} -h` gives no example"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_is_summarised_and_documented(name):
    assert SUMMARIES.get(name), f"{name} has no summary for `lmtool --help`"
    assert f"`lmtool {name}" in README.read_text(encoding="utf-8"), f"README.md does not document `lmtool {name}`"
