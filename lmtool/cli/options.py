"""Option bundles shared by several commands, so the same flag means the same thing everywhere."""

from __future__ import annotations

import json
from typing import Callable

import click


def json_option(function: Callable) -> Callable:
    """``--json``: print the command's figures as one JSON document on stdout instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")(function)


def print_json(payload: dict) -> None:
    """Print ``payload`` as indented JSON (the output of every ``--json`` flag)."""
    click.echo(json.dumps(payload, indent=2, sort_keys=False, default=str))
