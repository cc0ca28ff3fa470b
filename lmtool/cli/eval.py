"""``lmtool eval --perplexity``: any mix of n-gram, ARPA and RNN models on the same tokens, one table."""

from __future__ import annotations

import csv
import io
import itertools
import os

import click

from lmtool.cli.options import check_paths, json_option, print_json, split_options
from lmtool.errors import UsageError
from lmtool.files import atomic_write_lines


def model_names(paths: list[str]) -> list[str]:
    """A short, unique row name per model file: its base name, with a number where two collide."""
    names = []
    for path in paths:
        name = os.path.basename(path)
        names.append(name if name not in names else f"{name}#{len(names) + 1}")
    return names


def load_models(paths: list[str]) -> dict:
    """``{row name: model}`` of the files at ``paths`` (any kind, see :func:`lmtool.models.load_model`)."""
    from lmtool.models import load_model

    return {name: load_model(path) for name, path in zip(model_names(paths), paths)}


def csv_text(rows: list[dict]) -> str:
    """The rows as CSV with a header line (every key of the first row)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@click.command("eval", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("models", nargs=-1)
@click.option("--perplexity", "measure", flag_value="perplexity", default=True,
              help="Report perplexity and cross-entropy (the measure eval computes).")
@click.option("--corpus", "spec", metavar="SPEC", help="Corpus to evaluate on; see `lmtool corpus -h`.")
@click.option("--split", default="test", show_default=True, help="Split to evaluate: train, valid or test.")
@split_options
@click.option("--reset-per-sentence", is_flag=True,
              help="RNNs restart from <s> at every sentence, on equal terms with n-grams (default: carried).")
@click.option("--variants", is_flag=True, help="Add SRILM ppl/ppl1 and KenLM perplexity columns.")
@click.option("--explain", is_flag=True, help="Print the token-accounting convention.")
@click.option("--per-token", type=click.Path(dir_okay=False), default=None,
              help="Write a TSV of every token and each model's log10 probability to this file.")
@click.option("--interpolate", is_flag=True,
              help="Add a linear mixture of the models (weights tuned by EM on the valid split).")
@click.option("--weights", default=None, metavar="W1,W2,...", help="Fixed mixture weights for --interpolate, in model order.")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print the table as CSV.")
def eval_command(models, measure, spec, split, split_fractions, seed, encoding_errors, reset_per_sentence, variants,
                 explain, per_token, interpolate, weights, as_json, as_csv) -> None:
    """Perplexity of MODEL files (n-gram .lmt or .npz, ARPA, RNN; any mix) on one corpus split.

    Every model scores the same text with its own tokenizer and vocabulary; </s> is counted,
    <s> never, OOVs score as <unk> (see --explain). bits/token and perplexity compare rows of
    one vocab group only; bits/char compares all rows.

    Example: lmtool eval --perplexity kn3.lmt lstm.safetensors --corpus ptb:data/ptb --interpolate
    """
    from lmtool.evaluate import COLUMNS, CONVENTION, VARIANT_COLUMNS, evaluate, per_token_lines, render_table

    if explain:
        click.echo(CONVENTION)
        if not models:
            return
    if not models or not spec:
        raise UsageError("give one or more MODEL files and --corpus SPEC (e.g. lmtool eval m.lmt --corpus data/)")
    if as_json and as_csv:
        raise UsageError("--json and --csv exclude each other: choose one")
    if weights and not interpolate:
        raise UsageError("--weights sets mixture weights: add --interpolate")
    check_paths({"--per-token": per_token}, {"MODEL": models}, corpus=spec)
    options = {k: v for k, v in {"split_fractions": split_fractions, "seed": seed,
                                  "encoding_errors": encoding_errors}.items() if v is not None}
    result = evaluate(load_models(list(models)), spec, split, reset_per_sentence=reset_per_sentence,
                      variants=variants, interpolate=interpolate, weights=weights, corpus_options=options)
    if per_token:
        lines = per_token_lines(result)
        first = next(lines)  # checks the models share one vocabulary before the file is created
        atomic_write_lines(per_token, itertools.chain([first], lines))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        print_json({"corpus": spec, "split": split, "rows": result.rows, "warnings": result.warnings,
                    "convention": "lmtool: </s> counted, <s> never, OOVs scored as <unk> (KenLM incl. OOVs)"})
        return
    if as_csv:
        click.echo(csv_text(result.rows), nl=False)
    else:
        click.echo(render_table(result.rows, {**COLUMNS, **(VARIANT_COLUMNS if variants else {})}))
