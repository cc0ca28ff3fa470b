"""``lmtool sample``: generate text from an n-gram or recurrent model file."""

from __future__ import annotations

import click

from lmtool.cli.options import check_paths, json_option, print_json

ESCAPES = {"\\n": "\n", "\\t": "\t"}


def unescape(text: str | None) -> str | None:
    r"""``\n`` and ``\t`` typed on the command line as the characters (``--stop '\n\n'``)."""
    if text is None:
        return None
    for escape, char in ESCAPES.items():
        text = text.replace(escape, char)
    return text


@click.command("sample", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model")
@click.option("--prompt", default="", help="Text to continue (tokenized by the model's tokenizer; \\n = newline).")
@click.option("--max-tokens", type=int, default=100, show_default=True, help="Most tokens generated per sample.")
@click.option("--num", type=int, default=1, show_default=True, help="Number of samples.")
@click.option("--temperature", type=float, default=1.0, show_default=True,
              help="Sharpen (<1) or flatten (>1) the distribution; 0 = greedy (most probable token).")
@click.option("--top-k", type=int, default=0, show_default=True, help="Draw only from the k most probable tokens (0 = off).")
@click.option("--top-p", type=float, default=1.0, show_default=True,
              help="Draw only from the smallest set of tokens holding this probability (1 = off).")
@click.option("--seed", type=int, default=None, help="Random seed: the same seed gives the same text.")
@click.option("--stop", default=None, help="End a sample when this string appears (\\n = newline; e.g. '\\n\\n').")
@click.option("--until-eos", is_flag=True, help="End a sample at the first </s> (end of sentence).")
@click.option("--abc-midi", type=click.Path(file_okay=False), default=None,
              help="Check the sampled ABC tunes with abc2midi and write one .mid per valid tune to this folder.")
@json_option
def sample(model, prompt, max_tokens, num, temperature, top_k, top_p, seed, stop, until_eos, abc_midi, as_json) -> None:
    """Generate text from MODEL (n-gram .lmt or .npz, ARPA or RNN file).

    Output is detokenised text, samples separated by a blank line; --json adds each token and
    its probability under the model. OOV prompt words are read as <unk> (with a warning).

    Example: lmtool sample abc.rnn --prompt 'X:' --stop '\\n\\n' --num 20 --seed 1 --abc-midi tunes/
    """
    from lmtool.models import load_model
    from lmtool.sampling import check_options
    from lmtool.sampling import sample as generate

    stop = unescape(stop)
    check_options(max_tokens, num, temperature, top_k, top_p, stop, seed)  # before a slow model load
    check_paths({}, {"MODEL": model}, directories={"--abc-midi": abc_midi})
    loaded = load_model(model)
    samples = generate(loaded, unescape(prompt), max_tokens=max_tokens, num=num, temperature=temperature,
                       top_k=top_k, top_p=top_p, seed=seed, stop=stop, until_eos=until_eos)
    abc = None
    if abc_midi is not None:
        from lmtool.abc_notation import check_tunes, split_tunes, summary

        abc = summary(check_tunes([t for s in samples for t in split_tunes(s.text)], abc_midi))
    if as_json:
        payload = {"model": model, "options": {"prompt": prompt, "max_tokens": max_tokens, "num": num,
                                               "temperature": temperature, "top_k": top_k, "top_p": top_p,
                                               "seed": seed, "stop": stop, "until_eos": until_eos},
                   "samples": [s.to_json() for s in samples]}
        if abc is not None:
            payload["abc"] = abc
        print_json(payload)
        return
    click.echo("\n\n".join(s.text for s in samples))
    if abc is not None:
        click.echo(f"abc2midi: {abc['valid']} of {abc['tunes']} tunes valid ({abc['valid_fraction']:.0%}); "
                   f"{len(abc['midi_files'])} MIDI files in {abc_midi}", err=True)
