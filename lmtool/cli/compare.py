"""``lmtool compare``: the Markov ladder on one corpus (n-grams by order, neural n-grams, an RNN), a report."""

from __future__ import annotations

from pathlib import Path

import click

from lmtool.cli.options import check_paths, corpus_kwargs, corpus_options, json_option, print_json
from lmtool.errors import UsageError
from lmtool.neural.config import CELLS, check_placement, parse_duration


def parse_orders(text: str, flag: str = "--orders") -> list[int]:
    """``"1-5"`` or ``"1,2,3,5"`` as a list of orders (``flag`` names the option in errors)."""
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-", 1))
            return list(range(low, high + 1))
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{flag} takes a range like 1-5 or a list like 1,2,3,5, got {text!r}") from None


@click.command("compare", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--corpus", "spec", metavar="SPEC", default=None,
              help="Corpus (see `lmtool corpus -h`); default: an embedded generated corpus with long-range structure.")
@corpus_options
@click.option("--orders", default="1-5", show_default=True, help="N-gram orders: a range (1-5) or a list (1,3,5).")
@click.option("--methods", default="modified-kneser-ney", show_default=True,
              help="Comma-separated smoothing methods (e.g. modified-kneser-ney,witten-bell,katz).")
@click.option("--nnlm-orders", default="3,5", show_default=True,
              help="Orders of the feed-forward neural n-grams (Bengio et al. 2003): a list or a range.")
@click.option("--nnlm-time", default="15s", show_default=True,
              help="Training budget of each neural n-gram (0 = none); they take the RNN's --emb, --hidden, --lr.")
@click.option("--rnn-time", default="90s", show_default=True, help="RNN training budget (90, 90s, 5m; 0 = no RNN).")
@click.option("--cell", type=click.Choice(CELLS), default="lstm", show_default=True)
@click.option("--emb", type=int, default=32, show_default=True, help="RNN embedding size.")
@click.option("--hidden", type=int, default=128, show_default=True, help="RNN hidden size.")
@click.option("--layers", type=int, default=1, show_default=True, help="RNN layers.")
@click.option("--dropout", type=float, default=0.0, show_default=True, help="RNN dropout (all three places).")
@click.option("--lr", type=float, default=3e-3, show_default=True, help="Adam learning rate of the RNN.")
@click.option("--bptt", type=int, default=50, show_default=True, help="RNN truncated-BPTT window.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="RNN batch rows.")
@click.option("--rnn-seed", type=int, default=0, show_default=True, help="Seed of the RNN's initialisation and data order.")
@click.option("--threads", type=int, default=None, help="Torch CPU threads (default: torch's choice).")
@click.option("--reset-per-sentence", is_flag=True,
              help="Score the RNN restarting at every sentence, on equal terms with n-grams (default: carried).")
@click.option("-o", "--output", default="compare-report", show_default=True, type=click.Path(file_okay=False),
              help="Report folder: report.html, results.json, the plots (PNG), the neural models.")
@json_option
def compare(spec, orders, methods, nnlm_orders, nnlm_time, rnn_time, cell, emb, hidden, layers, dropout, lr, bptt, batch_size, rnn_seed,
            threads, reset_per_sentence, output, as_json, **options) -> None:
    """The Markov ladder on one corpus: n-grams by order, neural n-grams, an RNN; the test table and a report.

    The n-gram best on valid is mixed with the best neural n-gram, with the RNN and with both
    (EM weights on valid) as more rows. The neural n-gram makes the n-gram's Markov assumption
    but learns its smoothing: the table separates the price of counting from the price of the
    Markov assumption. With no --corpus the embedded generated corpus is used (its true entropy
    rate is the floor of the plot); the whole run takes about two and a half minutes on 2 cores.

    Example: lmtool compare   (or: lmtool compare --corpus ptb:data/ptb --orders 2-5 --rnn-time 10m)
    """
    from lmtool.compare import REPORT_FILES, CompareOptions, compare as run_compare
    from lmtool.evaluate import COLUMNS, render_table

    check_placement("cpu", threads)
    check_paths({"-o": [Path(output) / name for name in REPORT_FILES]}, corpus=spec, directories={"-o": output})
    settings = CompareOptions(orders=parse_orders(orders), methods=[m.strip() for m in methods.split(",") if m.strip()],
                              nnlm_orders=parse_orders(nnlm_orders, "--nnlm-orders"),
                              nnlm_time=parse_duration(nnlm_time, "--nnlm-time"),
                              rnn_time=parse_duration(rnn_time, "--rnn-time"), cell=cell, emb=emb, hidden=hidden,
                              layers=layers, dropout=dropout, lr=lr, bptt=bptt, batch_size=batch_size, seed=rnn_seed,
                              reset_per_sentence=reset_per_sentence)
    say = (lambda message: None) if as_json else (lambda message: click.echo(f"compare: {message}", err=True))
    results = run_compare(spec, output, settings, corpus_kwargs(options), on_stage=say, threads=threads)
    if as_json:
        print_json(results)
        return
    click.echo(render_table(results["rows"], {**COLUMNS, "valid_perplexity": "valid ppl"}))
    corpus = results["corpus"]
    if corpus["floor_perplexity"] is not None:
        click.echo(f"true entropy rate of {corpus['spec']}: {corpus['entropy_rate_bits']:.4f} bits/symbol "
                   f"= perplexity floor {corpus['floor_perplexity']:.3f}")
    if results["notes"]:
        click.echo(f"note: {len(results['notes'])} estimator warnings (e.g. {results['notes'][0]}); "
                   "all in results.json", err=True)
    click.echo(f"report: {output}/report.html (and results.json, the plots) ({results['seconds']:.0f}s)")
