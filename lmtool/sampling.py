"""Text generation written once over :class:`lmtool.lm.LanguageModel`'s batched stepping protocol.

All ``num`` samples step in lockstep, one row each: every step asks the model for the
natural-log distributions of all unfinished rows at once (one batched forward of an RNN, one
vectorised n-gram lookup), reshapes them (temperature, top-k, top-p) and draws one id per row,
all vectorised over rows. Temperature 0 is greedy decoding (the arg max).

Random draws: step t takes ``rng.random(num)`` from one seeded :class:`numpy.random.Generator`
(finished samples' entries included) and sample i draws with entry i, by inverting its
cumulative distribution. Sample i's text therefore depends on the seed, the options and i only,
never on when the other samples stop; the same seed gives the same samples. (Earlier versions
drew the samples one after another from one stream of draws: with ``num`` > 1 a seed now gives
other samples than it gave them; a single sample is the same, up to float rounding in an RNN's
reported probabilities.)

A sample that ends (``</s>`` with ``until_eos``, its stop string) drops out of the batch. More
samples than :data:`BLOCK_ENTRIES` allows in one (rows, V) array step as several blocks, each
its own model call, all on the same draws: the samples do not depend on the blocks. After
``</s>`` a new sentence begins; what that means is the model's business (``advance_rows``: an
n-gram restarts from ``<s>``, as it was estimated; an RNN carries its state on).
``</s>`` becomes a line break in the output text; the rest is ``tokenizer.detokenize``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from lmtool.errors import UsageError
from lmtool.text import EOS, UNK

log = logging.getLogger(__name__)

MAX_TOKENS_LIMIT = 1_000_000
MAX_NUM = 100_000
MAX_SEED = 2**63 - 1
#: rows x vocabulary entries per model call: more samples than fit step in several blocks (memory stays bounded)
BLOCK_ENTRIES = 1 << 22


@dataclass
class Sample:
    """One generated text: the prompt and its continuation, and each generated token's probability."""

    text: str  # detokenised prompt + continuation (without the stop string)
    tokens: list[str] = field(default_factory=list)  # generated tokens only
    probs: list[float] = field(default_factory=list)  # the model's (untempered) probability of each
    ended_by: str = "max-tokens"  # "max-tokens", "eos" or "stop"

    def to_json(self) -> dict:
        return {"text": self.text, "ended_by": self.ended_by,
                "tokens": [{"token": t, "prob": p} for t, p in zip(self.tokens, self.probs)]}


def check_options(max_tokens: int, num: int, temperature: float, top_k: int | None, top_p: float,
                  stop: str | None, seed: int | None = None) -> None:
    """Raise :class:`UsageError` for a value that has no meaning, naming the valid range."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed must be between 0 and 2**63 - 1 (same seed, same text), got {seed}")
    if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise UsageError(f"--max-tokens must be between 1 and {MAX_TOKENS_LIMIT:,}, got {max_tokens}")
    if not 1 <= num <= MAX_NUM:
        raise UsageError(f"--num must be between 1 and {MAX_NUM:,}, got {num}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise UsageError(f"--temperature must be 0 (greedy) or positive, got {temperature}")
    if top_k is not None and top_k < 0:
        raise UsageError(f"--top-k must be positive (0 = off), got {top_k}")
    if not (0 < top_p <= 1):
        raise UsageError(f"--top-p must be in (0, 1] (1 = off), got {top_p}")
    if stop is not None and stop == "":
        raise UsageError("--stop needs a non-empty string (for a blank line: --stop $'\\n\\n')")


def shaped_probs(log_probs: np.ndarray, temperature: float, top_k: int | None = None,
                 top_p: float = 1.0) -> np.ndarray:
    """The distributions to draw from: ``p ** (1/T)`` renormalised, cut to the top k and the top-p nucleus.

    ``log_probs`` is (V,) or (rows, V); every row is shaped on its own, all rows at once.
    ``temperature`` must be positive here (0 is greedy, handled by the caller). The nucleus is
    the smallest set of most probable tokens whose probability reaches ``top_p`` (Holtzman et
    al. 2020), computed after temperature and top-k; of tokens tied at its edge, the lower ids
    come first.
    """
    probs = np.divide(log_probs, temperature, dtype=np.float64)  # one fresh V-wide array per row, worked in place
    if top_k:
        k = min(top_k, probs.shape[-1])
        cutoff = np.partition(probs, -k, axis=-1)[..., -k, None]  # each row's k-th largest
        probs[probs < cutoff] = -np.inf
    probs -= np.max(probs, axis=-1, keepdims=True)
    np.exp(probs, out=probs)
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p < 1.0:
        order = np.argsort(-probs, axis=-1, kind="stable")
        ranked = np.take_along_axis(probs, order, axis=-1)
        keep = np.empty(probs.shape, dtype=bool)
        np.put_along_axis(keep, order, np.cumsum(ranked, axis=-1) - ranked < top_p, axis=-1)  # mass ranked above
        probs = np.where(keep, probs, 0.0)
        probs /= probs.sum(axis=-1, keepdims=True)
    return probs


def draw(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One id per row of ``probs`` (rows, V): row r's cumulative sum inverted at ``uniforms[r]`` in [0, 1).

    The id is the number of cumulative entries at or below ``u * total`` (``searchsorted``'s
    right side), so a zero-probability id is never drawn; the last id bounds it against rounding.
    """
    cumulative = np.cumsum(probs, axis=-1)
    below = cumulative <= (np.asarray(uniforms) * cumulative[:, -1])[:, None]
    return np.minimum(np.count_nonzero(below, axis=-1), probs.shape[-1] - 1)


def detokenize(tokenizer, tokens: list[str]) -> str:
    """Tokens as text: ``</s>`` ends a line, each line is ``tokenizer.detokenize`` of its tokens."""
    lines, current = [], []
    for token in tokens:
        if token == EOS:
            lines.append(current)
            current = []
        else:
            current.append(token)
    return "\n".join(tokenizer.detokenize(line) for line in [*lines, current])


def encode_prompt(model, prompt: str) -> tuple[list[str], list[int]]:
    """The prompt's tokens and ids; out-of-vocabulary tokens become ``<unk>`` with a warning."""
    tokens = model.tokenizer.tokenize(prompt) if prompt else []
    ids = [int(i) for i in model.vocabulary.encode(tokens)]
    unknown = sorted({t for t, i in zip(tokens, ids) if i == 0 and t != UNK})
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        log.warning("prompt tokens not in the model's vocabulary, read as <unk>: %s", shown)
    return tokens, ids


def sample(model, prompt: str = "", *, max_tokens: int = 100, num: int = 1, temperature: float = 1.0,
           top_k: int | None = None, top_p: float = 1.0, seed: int | None = None, stop: str | None = None,
           until_eos: bool = False) -> list[Sample]:
    """``num`` continuations of ``prompt``, each at most ``max_tokens`` tokens long, drawn in lockstep.

    A sample ends early at ``</s>`` when ``until_eos`` is set, or once its generated text
    contains ``stop`` (the text is cut before it). The same ``seed`` gives the same samples (see
    the module docstring for how the draws are shared out).
    """
    check_options(max_tokens, num, temperature, top_k, top_p, stop, seed)
    prompt_tokens, prompt_ids = encode_prompt(model, prompt)
    run = Lockstep(model, Drawing(temperature, top_k, top_p, np.random.default_rng(seed), num), stop, until_eos)
    run.run(prompt_ids, max_tokens)
    samples = []
    for row, (ids, probs) in enumerate(run.per_sample()):
        result = Sample("", [model.vocabulary.token(int(i)) for i in ids], probs.tolist(), run.ended_by[row])
        result.text = finish_text(model.tokenizer, prompt_tokens, result, stop)
        samples.append(result)
    return samples


@dataclass(frozen=True)
class Drawing:
    """How a step picks every row's id: the shaping, and one uniform per sample from the seeded generator."""

    temperature: float
    top_k: int | None
    top_p: float
    rng: np.random.Generator
    num: int

    def uniforms(self) -> np.ndarray | None:
        """This step's draws, one per sample, finished samples' included (greedy decoding draws none)."""
        return self.rng.random(self.num) if self.temperature else None

    def choose(self, log_probs: np.ndarray, uniforms: np.ndarray | None) -> np.ndarray:
        """Each row's id from its distribution (rows, V) and its uniform (rows,)."""
        if self.temperature == 0:
            return np.argmax(log_probs, axis=1)
        return draw(shaped_probs(log_probs, self.temperature, self.top_k, self.top_p), uniforms)


class Lockstep:
    """All samples stepped together, a block of rows per model call, each row leaving when its sample ends.

    ``steps`` records every block's step as ``(rows, ids, probs)``: the sample index, token id and
    untempered probability of each row still running then; ``ended_by`` says how each sample ended.
    """

    def __init__(self, model, drawing: Drawing, stop: str | None, until_eos: bool) -> None:
        self.model, self.drawing, self.stop, self.until_eos = model, drawing, stop, until_eos
        self.eos_id = model.vocabulary.id(EOS)
        self.recent = np.full((drawing.num, len(stop) + 2 if stop else 0), -1)  # last ids: enough to hold the stop
        self.ended_by = ["max-tokens"] * drawing.num
        self.steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def run(self, prompt_ids: list[int], max_tokens: int) -> None:
        """Step every sample from ``<s>`` + ``prompt_ids`` until it ends or has ``max_tokens`` tokens."""
        num = self.drawing.num
        width = max(1, BLOCK_ENTRIES // len(self.model.vocabulary))
        blocks = [(self.model.start_rows(prompt_ids, len(rows)), rows)
                  for rows in np.split(np.arange(num), range(width, num, width))]
        for step in range(max_tokens):
            uniforms = self.drawing.uniforms()
            moved = (self.step(state, rows, uniforms, step == max_tokens - 1) for state, rows in blocks)
            blocks = [block for block in moved if block is not None]
            if not blocks:
                break

    def step(self, state, rows: np.ndarray, uniforms: np.ndarray | None, last: bool):
        """One token for every row of a block: the block's state and rows after it, or None when all have ended."""
        log_probs = self.model.next_log_probs_rows(state)  # (R, V)
        ids = self.drawing.choose(log_probs, None if uniforms is None else uniforms[rows])
        self.steps.append((rows, ids, np.exp(log_probs[np.arange(len(rows)), ids])))
        going = np.ones(len(rows), dtype=bool)
        if self.until_eos:
            going &= ids != self.eos_id
            for row in rows[~going]:
                self.ended_by[row] = "eos"
        if self.stop:
            self.recent[rows] = np.concatenate([self.recent[rows, 1:], ids[:, None]], axis=1)
            for r in np.flatnonzero(going):
                if ends_with_stop(self.model, self.recent[rows[r]], self.stop):
                    going[r], self.ended_by[rows[r]] = False, "stop"
        if last or not going.any():
            return None
        if not going.all():
            state, rows, ids = self.model.select_rows(state, going), rows[going], ids[going]
        return self.model.advance_rows(state, ids), rows

    def per_sample(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The recorded steps regrouped by sample: each sample's ids and probabilities in order."""
        rows, ids, probs = (np.concatenate(column) for column in zip(*self.steps))
        order = np.argsort(rows, kind="stable")  # by sample, steps in order within each
        bounds = np.cumsum(np.bincount(rows, minlength=self.drawing.num))[:-1]
        return list(zip(np.split(ids[order], bounds), np.split(probs[order], bounds)))


def ends_with_stop(model, recent_ids: np.ndarray, stop: str) -> bool:
    """Whether the text of a sample's last ids (-1: none yet) holds ``stop``; only the tail is detokenised."""
    return stop in detokenize(model.tokenizer, [model.vocabulary.token(int(i)) for i in recent_ids if i >= 0])


def finish_text(tokenizer, prompt_tokens: list[str], result: Sample, stop: str | None) -> str:
    """The detokenised prompt + continuation, cut before the stop string when it ended the sample."""
    text = detokenize(tokenizer, prompt_tokens + result.tokens)
    if result.ended_by == "stop":
        generated_from = len(detokenize(tokenizer, prompt_tokens)) if prompt_tokens else 0
        cut = text.find(stop, generated_from)
        if cut >= 0:
            text = text[:cut]
    elif result.ended_by == "eos" and text.endswith("\n"):
        text = text[:-1]
    return text
