"""``lmtool export``: write an n-gram model file as ARPA."""

from __future__ import annotations

import click

from lmtool.cli.options import json_option, print_json


@click.command("export", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--arpa", required=True, type=click.Path(dir_okay=False), help="ARPA file to write.")
@json_option
def export(model: str, arpa: str, as_json: bool) -> None:
    """Write the n-gram MODEL (a .lmt from fit-ngram, an older .npz, or an ARPA file) as an ARPA file.

    Every normalised method has an ARPA form; stupid backoff does not (its scores are not
    probabilities). KenLM (`build_binary`, `query`) and SRILM read the result.

    Example: lmtool export brown5.lmt --arpa brown5.arpa
    """
    from lmtool.ngram import load_ngram, write_arpa

    loaded = load_ngram(model)
    write_arpa(loaded, arpa)
    payload = {"model": model, "arpa": arpa, "order": loaded.order, "ngrams": loaded.tables.n_listed()}
    if as_json:
        print_json(payload)
    else:
        counts = ", ".join(f"{k + 1}-grams {n:,}" for k, n in enumerate(payload["ngrams"]))
        click.echo(f"wrote {arpa}: {counts}")
