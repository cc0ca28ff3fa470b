"""Perplexity of any mix of models on the same tokens, written once over :class:`lmtool.lm.LanguageModel`.

Token accounting (the lmtool convention; ``--explain`` prints :data:`CONVENTION`): every id of
the evaluated split is predicted exactly once, ``</s>`` included, ``<s>`` never, and ``<unk>``
is scored like any other token with the probability the model gives it. That is KenLM's
"perplexity including OOVs". SRILM's ``ppl`` leaves OOVs out (and keeps ``</s>``), its ``ppl1``
leaves out OOVs and ``</s>``; both are offered as extra columns (``variants=True``), computed
from the very same per-token log-probabilities by masking, never by rescoring.

Each model scores the corpus encoded with its own tokenizer and vocabulary; models are grouped
by fingerprint so that each encoding is done once. Token-level figures (bits per token,
perplexity) compare only rows of one group; bits per character of the original text compares
all rows.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from lmtool.errors import DataError, UsageError
from lmtool.lm import LN2, perplexity
from lmtool.text import EOS_ID, UNK_ID, encode_corpus

log = logging.getLogger(__name__)

CONVENTION = """\
Token accounting (identical for n-gram and recurrent models, and for every row of one table):
  * every token of the evaluated split is predicted exactly once, in order;
  * </s> (end of sentence, line units only) is predicted and counted; <s> is only context;
  * out-of-vocabulary words are mapped to <unk> and scored with the probability the model
    gives <unk>, like any other token (KenLM's "perplexity including OOVs");
  * perplexity = exp(-(1/N) * sum of natural-log probabilities over the N tokens)
    = 2 ** (cross-entropy in bits per token);
  * bits/char = -(sum of log2 probabilities) / characters of the original split text
    (newlines included); it compares models whose tokenizers or vocabularies differ.
Variants (--variants), from the same per-token probabilities:
  * srilm_ppl   SRILM `ngram -ppl` "ppl": OOV tokens left out, </s> counted;
                equals KenLM's "perplexity excluding OOVs";
  * srilm_ppl1  SRILM "ppl1": OOV tokens and </s> left out (words only);
  * kenlm_ppl   KenLM "perplexity including OOVs": the same figure as the main column.
Regimes: an n-gram, and a neural n-gram (whose window is padded with <s> as the n-gram's
context is), restarts from <s> at every sentence (per-sentence); a recurrent model either
carries its hidden state from one sentence into the next (carried: context an n-gram never sees)
or restarts at each sentence (reset: --reset-per-sentence, equal terms). Stream units (one
segment, no </s>) have no sentence boundaries (stream).
Token-level columns compare only rows with the same vocab group (tokenizer + vocabulary
fingerprint); a vocabulary of 10 words has a low perplexity for free. bits/char compares all.
"""

#: the table columns, in order, with their headers.
COLUMNS = {
    "model": "model", "kind": "kind", "regime": "regime", "vocab": "vocab", "tokens": "tokens",
    "sentences": "sentences", "oovs": "OOVs", "oov_rate": "OOV%", "bits_per_token": "bits/token",
    "perplexity": "perplexity", "bits_per_char": "bits/char",
}
VARIANT_COLUMNS = {"srilm_ppl": "srilm ppl", "srilm_ppl1": "srilm ppl1", "kenlm_ppl": "kenlm ppl"}


@dataclass
class Scored:
    """One model's per-token natural-log probabilities over one encoded split."""

    name: str
    kind: str
    regime: str
    group: int  # index of the model's fingerprint group
    ids: np.ndarray  # the scored ids (shared by the group)
    starts: np.ndarray  # segment start offsets, len(ids) appended (EncodedSplit.starts)
    n_chars: int
    log_probs: np.ndarray  # float64, one per id
    normalised: bool = True
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, name: str, model, split, log_probs: np.ndarray, *, unit: str, reset_per_sentence: bool,
           group: int = 0) -> "Scored":
        """``model``'s per-token ``log_probs`` over the encoded ``split`` of a corpus in ``unit``."""
        return cls(name, model.kind, regime(model, unit, reset_per_sentence), group, split.ids, split.starts,
                   split.n_chars, np.asarray(log_probs, dtype=np.float64), bool(model.normalised))


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: table rows, warnings, and per-token scores per group."""

    rows: list[dict]
    warnings: list[str]
    scored: list[Scored]
    groups: list[dict]  # per group: fingerprint, tokens (token strings of the ids), models


def group_label(index: int) -> str:
    """The vocab column's name of fingerprint group ``index``: A, B, ..., Z, A2, ..."""
    letter = chr(ord("A") + index % 26)
    return letter if index < 26 else f"{letter}{index // 26 + 1}"


def regime(model, unit: str, reset_per_sentence: bool) -> str:
    """How sentence boundaries were treated for ``model``'s row (see :data:`CONVENTION`)."""
    if unit == "stream":
        return "stream"
    if model.kind != "rnn":
        return "per-sentence"
    return "reset" if reset_per_sentence else "carried"


def table_row(s: Scored, variants: bool = False) -> dict:
    """The table figures of one scored model (see :data:`COLUMNS`)."""
    n = int(s.ids.size)
    oovs = int(np.count_nonzero(s.ids == UNK_ID))
    bits, ppl = perplexity(s.log_probs)
    total_bits = -float(np.sum(s.log_probs)) / LN2
    row = {
        "model": s.name, "kind": s.kind, "regime": s.regime, "vocab": group_label(s.group),
        "tokens": n, "sentences": int(s.starts.size - 1), "oovs": oovs, "oov_rate": oovs / n if n else math.nan,
        "bits_per_token": bits, "perplexity": ppl,
        "bits_per_char": total_bits / s.n_chars if s.n_chars else math.nan,
    }
    if variants:
        known = s.ids != UNK_ID
        row["srilm_ppl"] = perplexity(s.log_probs[known])[1]
        row["srilm_ppl1"] = perplexity(s.log_probs[known & (s.ids != EOS_ID)])[1]
        row["kenlm_ppl"] = ppl
    notes = list(s.notes)
    if not s.normalised:
        notes.insert(0, "not normalised: scores are not probabilities, perplexity is not meaningful")
    row["notes"] = "; ".join(notes)
    return row


def logsumexp(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """``log(sum(exp(a)))`` along ``axis``, stable, -inf where every entry is -inf."""
    top = np.max(a, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(safe, axis=axis) + np.log(np.sum(np.exp(a - safe), axis=axis))


def em_weights(log_probs: np.ndarray, iterations: int = 500, tolerance: float = 1e-7) -> np.ndarray:
    """Linear-interpolation weights maximising the likelihood of held-out tokens, by EM.

    ``log_probs`` is (M models, N tokens) of natural-log probabilities. E step: each token's
    posterior over models, ``w_m p_m(t) / sum_k w_k p_k(t)``; M step: the weights become the
    mean posteriors. Each iteration cannot lower the held-out likelihood (Jelinek-Mercer).
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    usable = np.isfinite(logsumexp(log_probs))  # tokens no model gives any probability say nothing
    log_probs = log_probs[:, usable]
    weights = np.full(log_probs.shape[0], 1.0 / log_probs.shape[0])
    if log_probs.shape[1] == 0:
        return weights
    for _ in range(iterations):
        with np.errstate(divide="ignore"):
            joint = np.log(weights)[:, None] + log_probs  # (M, N)
        posterior = np.exp(joint - logsumexp(joint)[None, :])
        new = posterior.mean(axis=1)
        done = np.max(np.abs(new - weights)) < tolerance
        weights = new
        if done:
            break
    return weights


def mix(log_probs: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Per-token natural-log probability of the linear mixture ``sum_m w_m p_m`` ((M, N) -> (N,))."""
    with np.errstate(divide="ignore"):
        return logsumexp(np.log(np.asarray(weights, dtype=np.float64))[:, None] + log_probs)


def parse_weights(text: str | None, count: int) -> np.ndarray | None:
    """``"0.3,0.7"`` as mixture weights for ``count`` models; they must be >= 0 and sum to 1."""
    if text is None:
        return None
    try:
        weights = np.array([float(part) for part in text.split(",")])
    except ValueError:
        raise UsageError(f"--weights takes numbers like 0.5,0.5, got {text!r}") from None
    if weights.size != count:
        raise UsageError(f"--weights gives {weights.size} weights for {count} models: give one per model, in order")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)) or abs(weights.sum() - 1) > 1e-6:
        raise UsageError(f"--weights must be non-negative and sum to 1, got {text!r}")
    return weights


def score_group(models: dict, spec: str, split: str, reset_per_sentence: bool, corpus_options: dict):
    """Encode ``spec`` once with the group's tokenizer and vocabulary; return the corpus and each model's scores."""
    first = next(iter(models.values()))
    corpus = encode_corpus(spec, first.tokenizer, first.vocabulary, unit=first.unit,
                           **corpus_options)
    if split not in corpus.splits:
        raise DataError(f"corpus {spec!r} has no {split!r} split (it has {', '.join(corpus.splits)}): "
                        "choose another --split or give the corpus split fractions")
    return corpus, {name: model.score(corpus.splits[split], reset_per_sentence=reset_per_sentence)
                    for name, model in models.items()}


def group_by_fingerprint(models: dict) -> list[dict]:
    """``{name: model}`` split into groups of equal fingerprint, in the order first seen."""
    groups: dict[str, dict] = {}
    for name, model in models.items():
        groups.setdefault(model.fingerprint, {})[name] = model
    return list(groups.values())


def evaluate(models: dict, spec: str, split: str = "test", *, reset_per_sentence: bool = False,
             variants: bool = False, interpolate: bool = False, weights: str | None = None,
             corpus_options: dict | None = None) -> Evaluation:
    """Score every model of ``{name: model}`` on ``split`` of corpus ``spec`` and build the table.

    ``interpolate`` adds one mixture row per group of two or more normalised models sharing a
    fingerprint, with weights tuned by EM on the valid split or given as ``weights``.
    """
    corpus_options = corpus_options or {}
    groups = group_by_fingerprint(models)
    scored, warnings, group_info = [], [], []
    for index, group in enumerate(groups):
        corpus, scores = score_group(group, spec, split, reset_per_sentence, corpus_options)
        encoded = corpus.splits[split]
        for name, model in group.items():
            scored.append(Scored.of(name, model, encoded, scores[name], unit=corpus.unit,
                                    reset_per_sentence=reset_per_sentence, group=index))
        group_info.append({"fingerprint": next(iter(group.values())).fingerprint, "models": list(group),
                           "corpus": corpus, "tokens": corpus.vocabulary.tokens})
    if len(groups) > 1:
        warnings.append("models use different tokenizers or vocabularies (vocab column): bits/token and "
                        "perplexity compare only rows of one vocab group; bits/char compares all rows")
    if interpolate:
        scored += mixtures(models, groups, group_info, scored, split, reset_per_sentence, weights, warnings)
    rows = [table_row(s, variants) for s in scored]
    for s in scored:
        if not s.normalised:
            warnings.append(f"{s.name} is stupid backoff: its scores are not probabilities (not normalised)")
    return Evaluation(rows, warnings, scored, group_info)


def mixtures(models, groups, group_info, scored, split, reset_per_sentence, weights, warnings) -> list[Scored]:
    """One mixture row per group with two or more normalised models (see :func:`evaluate`)."""
    mixable = [(index, [n for n, m in group.items() if m.normalised]) for index, group in enumerate(groups)]
    mixable = [(index, names) for index, names in mixable if len(names) >= 2]
    if not mixable:
        raise UsageError("--interpolate needs at least two normalised models with the same tokenizer and "
                         "vocabulary (the same fingerprint): give more models")
    if weights is not None and len(mixable) > 1:
        raise UsageError("--weights is ambiguous with several vocab groups to mix: evaluate one group at a time")
    out = []
    for index, names in mixable:
        given = parse_weights(weights, len(names))
        if given is None:
            corpus = group_info[index]["corpus"]
            if "valid" not in corpus.splits:
                raise DataError("--interpolate tunes its weights on the valid split, and this corpus has none: "
                                "give --weights w1,w2,... or a corpus with a valid split")
            if split == "valid":
                warnings.append("mixture weights were tuned on the evaluated split (valid): the mixture row is optimistic")
            valid = corpus.splits["valid"]
            valid_lp = np.stack([models[n].score(valid, reset_per_sentence=reset_per_sentence)
                                 for n in names])
            given = em_weights(valid_lp)
        members = [s for s in scored if s.name in names and s.group == index]
        name = "mixture" if len(mixable) == 1 else f"mixture-{group_label(index)}"
        out.append(mixture(name, members, given, "given" if weights else "tuned by EM on valid"))
    return out


def mixture(name: str, members: Sequence[Scored], weights: Sequence[float], how: str) -> Scored:
    """The linear mixture of ``members`` (rows of one vocab group: the same ids) as one more row.

    Its regime joins the members' regimes; its note gives each member's weight and ``how`` the
    weights were chosen (e.g. "tuned by EM on valid", see :func:`em_weights`).
    """
    first = members[0]
    if any(s.group != first.group or not np.array_equal(s.ids, first.ids) for s in members[1:]):
        raise UsageError(f"cannot mix {', '.join(s.name for s in members)}: they score different tokens (different "
                         "tokenizers or vocabularies); mix only models of one vocab group")
    mixed = mix(np.stack([s.log_probs for s in members]), weights)
    shown = ", ".join(f"{s.name}={w:.3f}" for s, w in zip(members, weights))
    regimes = "+".join(sorted({s.regime for s in members}))
    return Scored(name, "mixture", regimes, first.group, first.ids, first.starts, first.n_chars, mixed, True,
                  [f"weights {shown} ({how})"])


def per_token_lines(evaluation: Evaluation) -> Iterator[str]:
    """The ``--per-token`` TSV lines: position, segment, token, then each row's log10 probability.

    Like KenLM's ``query`` and SRILM's ``-debug 2``, probabilities are log10; the header says so.
    Rows of one vocab group score the same tokens, so the file needs a single group. Tabs,
    newlines and backslashes inside tokens (character models) are written as ``\\t``, ``\\n``, ``\\\\``.
    """
    if len(evaluation.groups) > 1:
        raise UsageError("--per-token needs models with one tokenizer and vocabulary (same fingerprint): "
                         "write one file per group of models")
    scored = evaluation.scored
    ids = scored[0].ids
    escaped = [t.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
               for t in evaluation.groups[0]["tokens"]]
    tokens = np.asarray(escaped, dtype=object)[ids]
    segment = np.repeat(np.arange(scored[0].starts.size - 1), np.diff(scored[0].starts))
    columns = np.stack([s.log_probs / math.log(10.0) for s in scored], axis=1)  # (N, M)
    header = "\t".join(["position", "segment", "token"] + [f"{s.name} log10p" for s in scored])
    yield header
    for i, (g, tok, values) in enumerate(zip(segment.tolist(), tokens.tolist(), columns.tolist())):
        yield "\t".join([str(i), str(g), tok] + [f"{v:.6f}" for v in values])


def render_table(rows: list[dict], columns: dict) -> str:
    """``rows`` as an aligned text table with the headers of ``columns`` (and a notes column if any)."""
    def fmt(key: str, value) -> str:
        if not isinstance(value, float):
            return str(value)
        if math.isnan(value):
            return "-"
        if key.endswith("_rate"):
            return f"{100 * value:.2f}"
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.3f}"

    keys = list(columns) + (["notes"] if any(r.get("notes") for r in rows) else [])
    headers = [columns.get(k, k) for k in keys]
    cells = [[fmt(k, r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(c) for c in cells)])
