"""``report.html``: the results of ``lmtool compare`` as one self-contained page.

Everything is read from the results dictionary (what ``results.json`` holds) and the report
folder's PNG files, which are inlined as data: URIs (:mod:`lmtool.analysis.html`): the test
table, the plots, the context-length curve, the attribution tables and the colour view of the
first test lines. Sections whose figures are absent (no RNN trained, say) are left out.
"""

from __future__ import annotations

from pathlib import Path

from lmtool.analysis import colour_view
from lmtool.analysis.attribution import COLUMNS as ATTRIBUTION_COLUMNS
from lmtool.analysis.attribution import GROUP_TITLES, Attribution, summary_line
from lmtool.analysis.context_curve import ContextCurve, curve_table, describe_sample
from lmtool.analysis.html import escape, image, page, table
from lmtool.files import atomic_write

ROW_COLUMNS = {"model": "model", "kind": "kind", "regime": "regime", "tokens": "tokens",
               "bits_per_token": "bits/token", "perplexity": "perplexity", "bits_per_char": "bits/char",
               "valid_perplexity": "valid ppl", "notes": "notes"}


def percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def corpus_section(results: dict) -> str:
    corpus = results["corpus"]
    sizes = ", ".join(f"{name} {count:,}" for name, count in corpus["tokens"].items())
    floor = ""
    if corpus.get("floor_perplexity") is not None:
        floor = (f" True entropy rate {corpus['entropy_rate_bits']:.4f} bits/symbol: perplexity floor "
                 f"{corpus['floor_perplexity']:.3f}.")
    return (f"<p>Corpus <code>{escape(corpus['spec'])}</code>: {escape(corpus['tokenizer'])} tokens, "
            f"{escape(corpus['unit'])} units, vocabulary {corpus['vocab_size']:,}; tokens per split: {escape(sizes)}."
            f"{escape(floor)} Run time {results.get('seconds', 0):.0f} s.</p>")


def results_section(results: dict) -> str:
    parts = ["<h2>Test results</h2>", table(results["rows"], ROW_COLUMNS)]
    mixture = results.get("mixture")
    if mixture:
        weights = ", ".join(f"{n} {w:.3f}" for n, w in zip(mixture["models"], mixture["weights"]))
        parts.append(f'<p class="note">Mixture weights (EM on valid): {escape(weights)}.</p>')
    parts.append('<p class="note">Token accounting: every test token predicted once, &lt;/s&gt; counted, '
                 "&lt;s&gt; never, OOVs scored as &lt;unk&gt; (see <code>lmtool eval --explain</code>).</p>")
    return "\n".join(parts)


def curve_section(curve: dict, out_dir: Path) -> str:
    rows, columns = curve_table(ContextCurve(**curve))
    parts = ["<h2>Perplexity by context length</h2>",
             '<p class="note">Each model may see only the last K tokens (Khandelwal et al. 2018: a fresh state '
             "over exactly the K preceding tokens); an n-gram of order n sees K = n - 1. "
             f"{escape(describe_sample(ContextCurve(**curve)))}.</p>",
             table(rows, columns)]
    if (out_dir / "context_curve.png").is_file():
        parts.append(image(out_dir / "context_curve.png", "perplexity by context length"))
    return "\n".join(parts)


def attribution_section(result: dict, out_dir: Path) -> str:
    attribution = Attribution(**result)
    parts = ["<h2>Where the gain comes from: per-token attribution</h2>",
             f"<p>{escape(summary_line(attribution))}. Group A is {escape(attribution.model_a)}, "
             f"B is {escape(attribution.model_b)}; bits gained are B's (negative: A is better there).</p>"]
    if (out_dir / "attribution.png").is_file():
        parts.append(image(out_dir / "attribution.png", "bits gained by group"))
    for name, rows in attribution.groups.items():
        parts.append(f"<h3>By {escape(GROUP_TITLES.get(name, name))}</h3>")
        parts.append(table(rows, ATTRIBUTION_COLUMNS, {"share": percent}))
    return "\n".join(parts)


def render_report(results: dict, out_dir: Path, images: list[tuple[str, str]], view: str | None) -> str:
    """The page for ``results`` (see :func:`write_report`)."""
    title = f"lmtool compare: {results['corpus']['spec']}"
    body = [f"<h1>{escape(title)}</h1>", corpus_section(results), results_section(results)]
    figures = [f"<figure>{image(out_dir / name, caption)}<figcaption>{escape(caption)}</figcaption></figure>"
               for name, caption in images if (out_dir / name).is_file()]
    if figures:
        body.append(f'<div class="figures">{"".join(figures)}</div>')
    if results.get("context_curve"):
        body.append(curve_section(results["context_curve"], out_dir))
    if results.get("attribution"):
        body.append(attribution_section(results["attribution"], out_dir))
    if view:
        body.append(f"<h2>Colour view: the first test lines</h2>\n{view}\n<script>{colour_view.SCRIPT}</script>")
    if results.get("notes"):
        notes = "".join(f"<li>{escape(n)}</li>" for n in results["notes"])
        body.append(f'<h2>Notes</h2><ul class="note">{notes}</ul>')
    return page(title, "\n".join(body), colour_view.STYLE)


def write_report(results: dict, out_dir: str | Path, *, images: list[tuple[str, str]] = (),
                 view: str | None = None) -> Path:
    """Write ``out_dir/report.html`` for the compare ``results``; return its path.

    ``images`` are ``(file name in out_dir, caption)`` pairs shown side by side after the table;
    ``context_curve.png`` and ``attribution.png`` join their sections; ``view`` is a colour view
    fragment (:func:`lmtool.analysis.colour_view.colour_view`).
    """
    out_dir = Path(out_dir)
    html = render_report(results, out_dir, list(images), view)
    path = out_dir / "report.html"
    atomic_write(path, lambda out: out.write(html.encode("utf-8")))
    return path
