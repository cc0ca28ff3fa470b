"""Text generation written once over :class:`lmtool.lm.LanguageModel`'s ``start`` / ``next_log_probs`` / ``advance``.

Each step takes the model's natural-log distribution over the whole vocabulary (an n-gram's
smoothed distribution with its backoff, or an RNN's softmax with its state carried), reshapes
it (temperature, top-k, top-p), and draws one id with a seeded :class:`numpy.random.Generator`,
so the same seed gives the same text. Temperature 0 is greedy decoding (the arg max).

After ``</s>`` a new sentence begins; what that means is the model's business (``advance``: an
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
    """The distribution to draw from: ``p ** (1/T)`` renormalised, cut to the top k and the top-p nucleus.

    ``temperature`` must be positive here (0 is greedy, handled by the caller). The nucleus is
    the smallest set of most probable tokens whose probability reaches ``top_p`` (Holtzman et
    al. 2020), computed after temperature and top-k.
    """
    scaled = np.asarray(log_probs, dtype=np.float64) / temperature
    if top_k:
        k = min(top_k, scaled.size)
        cutoff = np.partition(scaled, -k)[-k]
        scaled = np.where(scaled >= cutoff, scaled, -np.inf)
    probs = np.exp(scaled - np.max(scaled))
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        before = np.cumsum(probs[order]) - probs[order]  # mass of the tokens ranked above each
        keep = np.zeros(probs.size, dtype=bool)
        keep[order[before < top_p]] = True
        probs = np.where(keep, probs, 0.0)
        probs /= probs.sum()
    return probs


def draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    """One id from ``probs`` by inverting its cumulative sum at a uniform draw."""
    cumulative = np.cumsum(probs)
    return int(min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"), probs.size - 1))


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
    """``num`` continuations of ``prompt``, each at most ``max_tokens`` tokens long.

    A sample ends early at ``</s>`` when ``until_eos`` is set, or once its generated text
    contains ``stop`` (the text is cut before it). The same ``seed`` gives the same samples.
    """
    check_options(max_tokens, num, temperature, top_k, top_p, stop, seed)
    rng = np.random.default_rng(seed)
    prompt_tokens, prompt_ids = encode_prompt(model, prompt)
    eos_id = model.vocabulary.id(EOS)
    start = model.start(prompt_ids)
    window = len(stop) + 2 if stop else 0  # enough trailing tokens to hold the stop string
    samples = []
    for _ in range(num):
        state, result = start, Sample("")
        for _ in range(max_tokens):
            log_probs = model.next_log_probs(state)
            if temperature == 0:
                token_id = int(np.argmax(log_probs))
            else:
                token_id = draw(shaped_probs(log_probs, temperature, top_k, top_p), rng)
            result.tokens.append(model.vocabulary.token(token_id))
            result.probs.append(float(np.exp(log_probs[token_id])))
            if token_id == eos_id and until_eos:
                result.ended_by = "eos"
                break
            if stop and stop in detokenize(model.tokenizer, result.tokens[-window:]):
                result.ended_by = "stop"
                break
            state = model.advance(state, token_id)
        result.text = finish_text(model.tokenizer, prompt_tokens, result, stop)
        samples.append(result)
    return samples


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
