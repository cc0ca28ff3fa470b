"""``lmtool info``: what a model file holds (any kind: n-gram .lmt or .npz, ARPA, RNN); a .lmt file is
answered from its header alone (see lmtool.ngram.storage), whatever the model's size."""

from __future__ import annotations

import json

import click

from lmtool.cli.options import json_option, print_json

#: entries too long to print in the text view (they stay in --json)
LONG = ("tokenizer",)


def text_lines(info: dict, indent: str = "") -> list[str]:
    """``key: value`` lines, nested dicts indented, long lists summarised."""
    lines = []
    for key, value in info.items():
        if key in LONG and isinstance(value, dict):
            value = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{key}:")
            lines += text_lines(value, indent + "  ")
        elif isinstance(value, list) and len(value) > 12:
            lines.append(f"{indent}{key}: [{len(value)} values: {json.dumps(value[:3])[1:-1]}, ...]")
        else:
            lines.append(f"{indent}{key}: {json.dumps(value) if isinstance(value, (list, dict)) else value}")
    return lines


@click.command("info", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model")
@json_option
def info(model: str, as_json: bool) -> None:
    """Show what MODEL holds: kind, order or architecture, vocabulary, tokenizer, training summary.

    Example: lmtool info brown5.lmt --json
    """
    from lmtool.models import load_model

    described = {"file": model, **load_model(model).describe()}
    if as_json:
        print_json(described)
    else:
        click.echo("\n".join(text_lines(described)))
