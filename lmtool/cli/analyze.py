"""``lmtool analyze``: where memory pays: context-length curves, attribution, the colour view, gradient flow."""

from __future__ import annotations

from typing import Callable

import click

from lmtool.cli.options import check_paths, json_option, print_json, split_options

CONTEXT = {"help_option_names": ["-h", "--help"]}


def text_options(function: Callable) -> Callable:
    """The options every analysis shares: the corpus and split to read, and how RNNs treat sentences."""
    for option in reversed([
        click.option("--corpus", "spec", metavar="SPEC", required=True,
                     help="Corpus to analyse (see `lmtool corpus -h`), encoded with the models' own vocabulary."),
        click.option("--split", default="test", show_default=True, help="Split to analyse: train, valid or test."),
        split_options,
        json_option,
    ]):
        function = option(function)
    return function


#: how a recurrent model treats sentence boundaries (not for gradient-flow, whose windows run on)
reset_option = click.option("--reset-per-sentence", is_flag=True,
                            help="RNNs restart from <s> at every sentence, as n-grams do (default: state carried).")


def encode(models: dict, spec: str, split: str, split_fractions, seed, encoding_errors):
    """The corpus encoded with the one vocabulary of ``models`` (refusing several), ``split`` non-empty."""
    from lmtool.analysis.corpus import encoded_corpus

    options = {k: v for k, v in {"split_fractions": split_fractions, "seed": seed,
                                  "encoding_errors": encoding_errors}.items() if v is not None}
    return encoded_corpus(models, spec, split, options)


def load_pair(model_a: str, model_b: str) -> dict:
    """``{name: model}`` of the files A and B, in that order."""
    from lmtool.cli.eval import load_models

    return load_models([model_a, model_b])


@click.group("analyze", context_settings=CONTEXT)
def analyze() -> None:
    """Where memory pays: context-length curves, per-token attribution, a colour view, gradient flow.

    \b
    Example: lmtool analyze context-curve brown.rnn kn5.lmt --corpus brown-bengio2003 --positions 5000
    """


@analyze.command("context-curve", context_settings=CONTEXT)
@click.argument("models", nargs=-1, required=True)
@text_options
@reset_option
@click.option("--contexts", default="1,2,4,8,16,32,64,128,256", show_default=True,
              help="Context lengths K: the tokens each model may see before a target.")
@click.option("--positions", type=int, default=None,
              help="Score a random sample of this many targets (default: every eligible target).")
@click.option("--sample-seed", type=int, default=0, show_default=True, help="Seed of the --positions sample.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the curve as a PNG here.")
def context_curve_command(models, spec, split, split_fractions, seed, encoding_errors, reset_per_sentence, as_json,
                          contexts, positions, sample_seed, plot) -> None:
    """Perplexity of each MODEL when it may see only the last K tokens.

    An RNN restarts from a fresh state over exactly the K tokens before each target
    (Khandelwal et al. 2018); an n-gram of order n sees K = n - 1 (give several orders for the
    staircase). With --reset-per-sentence windows stop at the sentence start; otherwise the
    first max(K) - 1 targets are skipped so every K scores the same targets.

    \b
    Example: lmtool analyze context-curve brown.rnn kn3.lmt kn5.lmt --corpus brown-bengio2003 --plot curve.png
    """
    from lmtool.analysis.context_curve import context_curve, curve_table, describe_sample, parse_contexts
    from lmtool.analysis.context_curve import plot_context_curve
    from lmtool.evaluate import render_table

    from lmtool.cli.eval import load_models

    ks = parse_contexts(contexts)
    check_paths({"--plot": plot}, {"MODEL": models}, corpus=spec)
    loaded = load_models(list(models))
    corpus = encode(loaded, spec, split, split_fractions, seed, encoding_errors)
    curve = context_curve(loaded, corpus.splits[split], ks, reset_per_sentence=reset_per_sentence,
                          positions=positions, seed=sample_seed)
    if plot:
        floor = 2.0 ** corpus.entropy_rate_bits if corpus.entropy_rate_bits is not None else None
        plot_context_curve(curve, plot, floor=floor if corpus.tokenizer.kind == "char" else None,
                           title=f"Perplexity by context length: {spec} {split}")
    if as_json:
        print_json({"corpus": spec, "split": split, **curve.to_json()})
        return
    click.echo(render_table(*curve_table(curve)))
    click.echo(describe_sample(curve))


@analyze.command("attribution", context_settings=CONTEXT)
@click.argument("model_a")
@click.argument("model_b")
@text_options
@reset_option
@click.option("--novelty-order", type=int, default=None,
              help="Longest n-gram looked up for novelty (default: the highest n-gram order given, else 5).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the bar charts as a PNG here.")
def attribution_command(model_a, model_b, spec, split, split_fractions, seed, encoding_errors, reset_per_sentence,
                        as_json, novelty_order, plot) -> None:
    """Where MODEL_B gains on MODEL_A, in bits: per-token differences grouped four ways.

    Groups: the token's frequency in the training split, its novelty (the longest n-gram ending
    at it that occurs in training), tokens since it last occurred (the cache effect), and its
    position in the sentence. Each grouping's rows add up to the total difference.

    \b
    Example: lmtool analyze attribution kn5.lmt brown.rnn --corpus brown-bengio2003 --reset-per-sentence
    """
    from lmtool.analysis.attribution import COLUMNS, GROUP_TITLES, attribute, plot_attribution, summary_line
    from lmtool.evaluate import render_table

    check_paths({"--plot": plot}, {"MODEL_A": model_a, "MODEL_B": model_b}, corpus=spec)
    loaded = load_pair(model_a, model_b)
    corpus = encode(loaded, spec, split, split_fractions, seed, encoding_errors)
    orders = [m.context_size + 1 for m in loaded.values() if m.kind == "ngram"]
    scores = [m.score(corpus.splits[split], reset_per_sentence=reset_per_sentence) for m in loaded.values()]
    train = corpus.splits.get("train")
    result = attribute(*scores, corpus.splits[split], train if train is not None and train.n_tokens else None,
                       vocab_size=len(corpus.vocabulary), names=tuple(loaded),
                       novelty_order=novelty_order or max(orders, default=5))
    if plot:
        plot_attribution(result, plot)
    if as_json:
        print_json({"corpus": spec, "split": split, "regime": "reset" if reset_per_sentence else "carried",
                    **result.to_json()})
        return
    click.echo(summary_line(result))
    for name, rows in result.groups.items():
        click.echo(f"\nby {GROUP_TITLES[name]}:")
        click.echo(render_table([{**r, "share": f"{100 * r['share']:.1f}"} for r in rows], COLUMNS))


@analyze.command("view", context_settings=CONTEXT)
@click.argument("model_a")
@click.argument("model_b")
@text_options
@reset_option
@click.option("--lines", type=int, default=20, show_default=True, help="Show the first this many lines (segments).")
@click.option("--top", type=int, default=5, show_default=True, help="Alternatives of each model shown on hover.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
def view_command(model_a, model_b, spec, split, split_fractions, seed, encoding_errors, reset_per_sentence, as_json,
                 lines, top, output) -> None:
    """Write a self-contained HTML page shading each token by MODEL_B's gain over MODEL_A.

    Blue where B is better, orange where worse; hover a token for both probabilities and each
    model's top alternatives. Styles, script and data are inline: the file opens anywhere.

    \b
    Example: lmtool analyze view kn5.lmt brown.rnn --corpus brown-bengio2003 --lines 30 -o view.html
    """
    from lmtool.analysis.colour_view import colour_view, view_page
    from lmtool.files import atomic_write

    check_paths({"-o": output}, {"MODEL_A": model_a, "MODEL_B": model_b}, corpus=spec)
    loaded = load_pair(model_a, model_b)
    corpus = encode(loaded, spec, split, split_fractions, seed, encoding_errors)
    fragment = colour_view(loaded, corpus.splits[split], lines=lines, top=top, reset_per_sentence=reset_per_sentence)
    names = list(loaded)
    html = view_page(f"{names[1]} vs {names[0]} on {spec} ({split})", fragment)
    atomic_write(output, lambda out: out.write(html.encode("utf-8")))
    if as_json:
        print_json({"output": output, "models": names, "corpus": spec, "split": split})
    else:
        click.echo(f"view: {output}")


@analyze.command("gradient-flow", context_settings=CONTEXT)
@click.argument("model")
@text_options
@click.option("--span", type=int, default=50, show_default=True, help="Largest distance k (time steps back).")
@click.option("--positions", type=int, default=256, show_default=True, help="Windows sampled from the split.")
@click.option("--sample-seed", type=int, default=0, show_default=True, help="Seed of the window sample.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the curves as a PNG here.")
def gradient_flow_command(model, spec, split, split_fractions, seed, encoding_errors, as_json, span, positions,
                          sample_seed, plot) -> None:
    """Mean norm of d loss_t / d state_(t-k) of a recurrent MODEL, at initialisation and trained.

    Windows of --span + 1 tokens from a fresh state; the state is every layer's h (and c for an
    LSTM); windows run across sentence boundaries. A vanishing curve means the cell cannot learn
    what lies k steps back. Needs an RNN model file.

    \b
    Example: lmtool analyze gradient-flow lstm.safetensors --corpus gen:repeat:gap=20 --span 40 --plot flow.png
    """
    from lmtool.analysis.gradient_flow import gradient_flow, plot_gradient_flow, require_rnn, summary_rows
    from lmtool.evaluate import render_table

    from lmtool.models import load_model

    check_paths({"--plot": plot}, {"MODEL": model}, corpus=spec)
    rnn = load_model(model)
    require_rnn(model, rnn)  # before the corpus is read
    corpus = encode({model: rnn}, spec, split, split_fractions, seed, encoding_errors)
    flow = gradient_flow(rnn, corpus.splits[split], span=span, positions=positions, seed=sample_seed, name=model)
    if plot:
        plot_gradient_flow(flow.curves, plot, title=f"Gradient flow through time: {model} on {spec} {split}")
    if as_json:
        print_json({"model": model, "corpus": spec, "split": split, **flow.to_json()})
        return
    click.echo(render_table(*summary_rows(flow)))
    click.echo(f"mean over {flow.windows} windows of {span + 1} tokens from a fresh state")
