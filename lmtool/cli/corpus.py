"""``lmtool corpus info`` and ``lmtool corpus prepare``: inspect a corpus, or tokenize it once for reuse."""

from __future__ import annotations

import click

from lmtool.cli.options import check_paths, corpus_kwargs, corpus_options, json_option, print_json


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def corpus() -> None:
    """Inspect and prepare corpora (tokenize once, reuse everywhere).

    SPEC is FILE (.gz/.bz2/.xz ok), '-' for stdin, DIR, GLOB, ptb:DIR, nltk:NAME,
    brown-bengio2003, gen:markov[:order=K,alphabet=A,seed=S,length=N],
    gen:repeat[:keys=K,fillers=F,gap=G,seed=S,length=N], or a directory written by
    `lmtool corpus prepare`.

    \b
    Example: lmtool corpus info gen:markov:order=2
    """


def split_rows(prepared) -> list[dict]:
    """Per-split figures: sentences, tokens, types, OOV rate against the train vocabulary, chars."""
    rows = []
    for name, split in prepared.splits.items():
        rows.append(
            {
                "split": name,
                "sentences": split.n_segments if prepared.unit == "line" else None,
                "tokens": split.n_tokens,
                "types": prepared.split_types.get(name),
                "oov_rate": split.n_unk / split.n_tokens if split.n_tokens else 0.0,
                "chars": split.n_chars,
            }
        )
    return rows


@corpus.command()
@click.argument("spec")
@corpus_options
@json_option
def info(spec: str, as_json: bool, **options) -> None:
    """Per split: sentences, tokens, types, OOV rate against the train vocabulary, characters,
    and the true entropy rate of a generated (gen:) corpus.

    Tokens count the </s> ending each sentence in line units; types count distinct tokens of
    the split's text before OOV mapping.

    \b
    Example: lmtool corpus info ../shared/data/tinyshakespeare/input.txt --tokenizer char --unit stream
    """
    from lmtool.text import load_corpus

    prepared = load_corpus(spec, **corpus_kwargs(options))
    payload = {
        "source": prepared.source,
        "unit": prepared.unit,
        "tokenizer": prepared.tokenizer.kind,
        "vocab_size": len(prepared.vocabulary),
        "fingerprint": prepared.fingerprint,
        "entropy_rate_bits": prepared.entropy_rate_bits,
        "splits": split_rows(prepared),
    }
    if as_json:
        print_json(payload)
        return
    click.echo(
        f"{payload['source']}: {payload['tokenizer']} tokens, {payload['unit']} units, "
        f"vocabulary {payload['vocab_size']} (fingerprint {payload['fingerprint']})"
    )
    if prepared.entropy_rate_bits is not None:
        click.echo(f"true entropy rate: {prepared.entropy_rate_bits:.6f} bits/symbol")
    click.echo(f"{'split':<6} {'sentences':>10} {'tokens':>12} {'types':>9} {'oov':>8} {'chars':>13}")
    for row in payload["splits"]:
        sentences = "-" if row["sentences"] is None else f"{row['sentences']:,}"
        types = "-" if row["types"] is None else f"{row['types']:,}"
        click.echo(
            f"{row['split']:<6} {sentences:>10} {row['tokens']:>12,} {types:>9} "
            f"{row['oov_rate']:>8.2%} {row['chars']:>13,}"
        )


@corpus.command()
@click.argument("spec")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Directory to write.")
@corpus_options
@json_option
def prepare(spec: str, output: str, as_json: bool, **options) -> None:
    """Tokenize SPEC once and write a prepared corpus to DIR: tokenizer.json, vocab.json,
    <split>.npy token ids, <split>.starts.npy sentence starts and manifest.json. fit-ngram,
    train-rnn, eval and sample accept DIR as --corpus and use it unchanged.

    The directory is built under a temporary name beside DIR and renamed into place, so an
    interrupted run never leaves a directory that looks complete.

    \b
    Example: lmtool corpus prepare ptb:data/ptb -o runs/ptb-words --min-count 2
    """
    from lmtool.text import load_corpus
    from lmtool.text.prepared import check_target

    check_paths({}, corpus=spec, replaced={"-o": output})
    check_target(output)
    prepared = load_corpus(spec, **corpus_kwargs(options))
    prepared.save(output)
    manifest = prepared.manifest()
    if as_json:
        print_json({"output": output, **manifest})
        return
    counts = ", ".join(f"{name} {c['tokens']:,} tokens" for name, c in manifest["splits"].items())
    click.echo(f"wrote {output}: vocabulary {manifest['vocab_size']}, {counts} (fingerprint {manifest['fingerprint']})")
