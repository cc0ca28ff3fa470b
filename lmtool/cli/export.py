"""``lmtool export``: write an n-gram model file as ARPA."""

from __future__ import annotations

import click

from lmtool.cli.options import check_paths, json_option, print_json
from lmtool.errors import ModelFileError


@click.command("export", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model")
@click.option("--arpa", required=True, type=click.Path(dir_okay=False), help="ARPA file to write.")
@json_option
def export(model: str, arpa: str, as_json: bool) -> None:
    """Write the n-gram MODEL (a .lmt from fit-ngram, an older .npz, or an ARPA file) as an ARPA file.

    Every normalised method has an ARPA form; stupid backoff does not (its scores are not
    probabilities). KenLM (`build_binary`, `query`) and SRILM read the result.

    Example: lmtool export brown5.lmt --arpa brown5.arpa
    """
    from lmtool.allocator import share_one_arena
    from lmtool.models import load_model, model_kind
    from lmtool.ngram import write_arpa

    check_paths({"--arpa": arpa}, {"MODEL": model})
    if model_kind(model) == "rnn":
        raise ModelFileError(f"{model} is an RNN model file, not an lmtool n-gram model: only n-gram models have an "
                             "ARPA form (give an .npz from `lmtool fit-ngram` or an ARPA file)")
    loaded = load_model(model)
    share_one_arena()  # the ARPA writer's threads (lmtool.allocator)
    write_arpa(loaded, arpa)
    payload = {"model": model, "arpa": arpa, "order": loaded.order, "ngrams": loaded.tables.n_listed()}
    if as_json:
        print_json(payload)
    else:
        counts = ", ".join(f"{k + 1}-grams {n:,}" for k, n in enumerate(payload["ngrams"]))
        click.echo(f"wrote {arpa}: {counts}")
