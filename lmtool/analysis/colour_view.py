"""The colour view: a text with each token shaded by how much better or worse model B predicts it than A.

Blue where B gives the token more probability than A, orange where less, the deeper the more
bits (full colour at :data:`FULL_BITS`). Hovering a token shows both probabilities and each
model's most likely alternatives there (GLTR, Gehrmann et al. 2019, shades one model's ranks;
this shades the difference of two). The view is an HTML fragment with its data and script
inline (:mod:`lmtool.analysis.html`), placed in ``report.html`` or in a page of its own.

The probabilities are the models' ordinary scores (:meth:`lmtool.lm.LanguageModel.score`, the
figures of the tables); the alternatives come from
:meth:`~lmtool.lm.LanguageModel.top_predictions`, which every model family answers. The view
shows the first lines of a split (:data:`MAX_TOKENS` at most): it is for reading.
"""

from __future__ import annotations

import numpy as np

from lmtool.analysis.html import escape, json_script, page
from lmtool.errors import UsageError
from lmtool.lm import LN2
from lmtool.text import EOS_ID

FULL_BITS = 4.0  # a gain or loss of this many bits gets the full colour
MAX_TOKENS = 3000  # the most tokens a view shows
BETTER, WORSE = (31, 119, 180), (230, 120, 20)  # B better (blue), B worse (orange)

STYLE = """
.lmview { position: relative; }
.lmview-text { font-size: 15px; line-height: 1.9; overflow-wrap: anywhere; }
.lmview-text span[data-i] { border-radius: 3px; padding: 1px 0; cursor: default; }
.lmview-text .eos { color: #888; font-size: 11px; }
.lmview-legend span { padding: 1px 6px; border-radius: 3px; margin-right: 0.5em; }
.lmview-tip { display: none; position: absolute; z-index: 10; background: #fff; border: 1px solid #bbb;
              box-shadow: 0 2px 6px rgba(0,0,0,.2); padding: 6px 8px; font-size: 12px; line-height: 1.35;
              white-space: nowrap; }
.lmview-tip table { margin: 2px 0; font-size: 12px; }
"""

SCRIPT = """
(function () {
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function pct(p) { return p >= 0.001 ? (100 * p).toFixed(2) + "%" : p.toExponential(2); }
  function alts(list) { return list.map(function (a) { return esc(a[0]) + " " + pct(a[1]); }).join("<br>"); }
  document.querySelectorAll(".lmview").forEach(function (view) {
    var data = JSON.parse(view.querySelector("script.lmview-data").textContent);
    var names = data.names, tip = view.querySelector(".lmview-tip");
    view.addEventListener("mouseover", function (event) {
      var span = event.target.closest("span[data-i]");
      if (!span) { tip.style.display = "none"; return; }
      var t = data.tokens[+span.dataset.i];
      var gain = t[3] === null ? (t[1] > 0 ? "-" : "+") + "\u221e"  // null: a model gave probability 0
                               : (t[3] >= 0 ? "+" : "") + t[3].toFixed(2);
      tip.innerHTML = "<b>" + esc(t[0]) + "</b>: " + gain + " bits for " +
        esc(names[1]) + "<table><tr><th>" + esc(names[0]) + "</th><th>" + esc(names[1]) + "</th></tr><tr><td>" +
        pct(t[1]) + "</td><td>" + pct(t[2]) + "</td></tr><tr><td>" + alts(t[4]) + "</td><td>" + alts(t[5]) +
        "</td></tr></table>";
      tip.style.left = span.offsetLeft + "px";
      tip.style.top = (span.offsetTop + span.offsetHeight + 4) + "px";
      tip.style.display = "block";
    });
    view.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  });
})();
"""


def first_segments(split, lines: int, max_tokens: int = MAX_TOKENS) -> int:
    """How many tokens the first ``lines`` segments of ``split`` hold, at most ``max_tokens``."""
    if lines < 1:
        raise UsageError(f"--lines must be at least 1, got {lines}")
    starts = np.asarray(split.starts, dtype=np.int64)
    return int(min(starts[min(lines, len(starts) - 1)], max_tokens))


def probability(log_prob: float) -> float:
    """exp(``log_prob``) to 4 significant figures (the page shows no more)."""
    return float(f"{np.exp(log_prob):.4g}")


def colour(gain_bits: float) -> str:
    """The background of a token B predicts ``gain_bits`` better (negative: worse) than A."""
    strength = min(abs(gain_bits) / FULL_BITS, 1.0) * 0.85
    r, g, b = BETTER if gain_bits >= 0 else WORSE
    return f"rgba({r},{g},{b},{strength:.2f})"


def shown(token: str, tokenizer) -> str:
    """A token as it reads in running text (byte-level BPE pieces decoded; others as they are)."""
    return tokenizer.detokenize([token]) if tokenizer.kind == "bpe" and not token.startswith("<") else token


def colour_view(models: dict, split, *, lines: int = 20, top: int = 5, reset_per_sentence: bool = True,
                log_probs: dict | None = None, max_tokens: int = MAX_TOKENS) -> str:
    """The view (an HTML fragment) of the first ``lines`` segments of ``split`` (at most ``max_tokens``
    tokens) for ``{name_a: A, name_b: B}``; a page shows it with :data:`STYLE` and :data:`SCRIPT`.

    ``log_probs`` may hold each model's scores of the whole split (as :meth:`score` gives them)
    when the caller has them already.
    """
    if len(models) != 2:
        raise UsageError(f"the colour view compares two models (A then B), got {len(models)}")
    (name_a, a), (name_b, b) = models.items()
    if top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    count = first_segments(split, lines, max_tokens)
    ids = np.asarray(split.ids, dtype=np.int64)[:count]
    scores = log_probs or {name: m.score(split, reset_per_sentence=reset_per_sentence) for name, m in models.items()}
    lp_a, lp_b = scores[name_a][:count], scores[name_b][:count]
    alts = [m.top_predictions(split, count, top, reset_per_sentence=reset_per_sentence) for m in (a, b)]
    tokens = a.vocabulary.tokens
    separator = "" if a.tokenizer.kind in ("char", "bpe") else " "
    line_ends = set((np.asarray(split.starts[1:], dtype=np.int64) - 1).tolist())
    data, spans = [], []
    for t in range(count):
        gain = float(lp_b[t] - lp_a[t]) / LN2
        text = shown(tokens[ids[t]], a.tokenizer)
        data.append([text, probability(lp_a[t]), probability(lp_b[t]), round(gain, 3)]
                    + [[[shown(tokens[i], a.tokenizer), probability(lp)] for i, lp in zip(*alt_t)]
                       for alt_t in ((alts[0][0][t], alts[0][1][t]), (alts[1][0][t], alts[1][1][t]))])
        label = "&#9166;" if ids[t] == EOS_ID else escape(text).replace("\n", "&#9166;")
        extra = ' class="eos"' if ids[t] == EOS_ID else ""
        spans.append(f'<span data-i="{t}"{extra} style="background:{colour(gain)}">{label}</span>')
        spans.append("<br>\n" if t in line_ends or (text == "\n") else separator)
    legend = (f'<p class="lmview-legend note">Each token shaded by the bits {escape(name_b)} gains over '
              f'{escape(name_a)} there: <span style="background:{colour(FULL_BITS)}">{escape(name_b)} better</span>'
              f'<span style="background:{colour(-FULL_BITS)}">{escape(name_b)} worse</span> (full colour at '
              f'{FULL_BITS:g} bits); hover a token for both probabilities and each model\'s top {top}. '
              f'{count:,} tokens shown.</p>')
    payload = {"names": [name_a, name_b], "tokens": data}
    return (f'<div class="lmview">{legend}<div class="lmview-text">{"".join(spans)}</div>'
            f'<div class="lmview-tip"></div>{json_script(payload, "lmview-data")}</div>')


def view_page(title: str, fragment: str) -> str:
    """A standalone page holding one colour view (``lmtool analyze view -o FILE``)."""
    return page(title, f"<h1>{escape(title)}</h1>\n{fragment}\n<script>{SCRIPT}</script>", STYLE)
