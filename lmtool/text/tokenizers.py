"""Tokenizers: one small interface, four kinds, each saved to JSON and restored bit-identically.

=========  ================================================================================
word       whitespace split (the default; right for pre-tokenized corpora such as PTB)
treebank   NLTK's Treebank word tokenizer and detokenizer (rule based, no downloaded data)
char       Unicode code points; ``detokenize(tokenize(s)) == s`` exactly, newlines included
bpe        byte-level byte-pair encoding (Hugging Face ``tokenizers``) learned from the
           training split with a target vocabulary size; exact round trip for any text
=========  ================================================================================

A tokenizer turns one line (or, in stream units, one piece of the stream) into token strings;
the :class:`~lmtool.text.vocabulary.Vocabulary` turns those into ids.
"""

from __future__ import annotations

import json
from typing import Iterable

from lmtool.errors import DataError, UsageError

KINDS = ("word", "treebank", "char", "bpe")
DEFAULT_BPE_VOCAB_SIZE = 1000
#: the largest BPE vocabulary asked of Hugging Face tokenizers (whose trainer aborts the process near 10**9)
MAX_BPE_VOCAB_SIZE = 2**24


class Tokenizer:
    """Base class: ``tokenize(text) -> tokens`` and back, plus a JSON form."""

    kind = ""

    #: True while a learned tokenizer (bpe) has not yet seen its training text.
    needs_training = False

    #: True where ``tokenize(text)`` is exactly ``text.split()``: the tokens of many lines are
    #: then those of their joined text (:func:`lmtool.text.encoding.intern_lines` splits batches)
    splits_on_whitespace = False

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def detokenize(self, tokens: list[str]) -> str:
        raise NotImplementedError

    def train(self, lines: Iterable[str]) -> None:
        """Learn from the training split (only learned tokenizers do anything)."""

    def to_json(self) -> dict:
        return {"kind": self.kind}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class WordTokenizer(Tokenizer):
    """Whitespace split; detokenizing joins with single spaces."""

    kind = "word"
    splits_on_whitespace = True

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def detokenize(self, tokens: list[str]) -> str:
        return " ".join(tokens)


class TreebankTokenizer(Tokenizer):
    """NLTK's Penn-Treebank-style tokenizer (splits punctuation and clitics) and its detokenizer.

    NLTK is imported on first use: importing it costs about 0.3 s, which commands that never
    tokenize (``--help``) should not pay.
    """

    kind = "treebank"

    def __init__(self) -> None:
        self._tokenizer = None
        self._detokenizer = None

    def _load(self) -> None:
        from nltk.tokenize.treebank import TreebankWordDetokenizer, TreebankWordTokenizer

        self._tokenizer, self._detokenizer = TreebankWordTokenizer(), TreebankWordDetokenizer()

    def tokenize(self, text: str) -> list[str]:
        if self._tokenizer is None:
            self._load()
        return self._tokenizer.tokenize(text)

    def detokenize(self, tokens: list[str]) -> str:
        if self._detokenizer is None:
            self._load()
        return self._detokenizer.detokenize(tokens)


class CharTokenizer(Tokenizer):
    """One token per Unicode code point; spaces and newlines are tokens too."""

    kind = "char"

    def tokenize(self, text: str) -> list[str]:
        return list(text)

    def detokenize(self, tokens: list[str]) -> str:
        return "".join(tokens)


class BpeTokenizer(Tokenizer):
    """Byte-level BPE: text -> UTF-8 bytes -> merges learned on the training split.

    Byte level means every string is representable (no unknown characters), so
    ``detokenize(tokenize(s)) == s`` for any ``s``. The whole trained model is kept in the
    library's own JSON form (merges, vocabulary, pre-tokenizer), which is what makes the restore
    bit-identical.
    """

    kind = "bpe"

    def __init__(self, vocab_size: int = DEFAULT_BPE_VOCAB_SIZE, model: dict | None = None) -> None:
        if not 257 <= vocab_size <= MAX_BPE_VOCAB_SIZE:
            raise UsageError(f"--bpe-vocab-size must be at least 257 (256 bytes + 1 merge) and at most "
                             f"{MAX_BPE_VOCAB_SIZE:,}, got {vocab_size}")
        self.vocab_size = int(vocab_size)
        self._model_json = model
        self._tokenizer = None
        if model is not None:
            from tokenizers import Tokenizer as HfTokenizer

            try:
                self._tokenizer = HfTokenizer.from_str(json.dumps(model))
            except Exception as error:  # the library raises its own exception types
                raise DataError(f"malformed BPE tokenizer JSON: {error}") from None

    @property
    def needs_training(self) -> bool:
        return self._tokenizer is None

    def train(self, lines: Iterable[str]) -> None:
        from tokenizers import Tokenizer as HfTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        tokenizer = HfTokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=self.vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=[],
            show_progress=False,
        )
        tokenizer.train_from_iterator((line for line in lines if line), trainer=trainer)
        self._model_json = json.loads(tokenizer.to_str())
        self._tokenizer = tokenizer

    def _trained(self):
        if self._tokenizer is None:
            raise UsageError("the BPE tokenizer has not been trained: it learns from the training split first")
        return self._tokenizer

    def tokenize(self, text: str) -> list[str]:
        return self._trained().encode(text).tokens

    def detokenize(self, tokens: list[str]) -> str:
        return self._trained().decoder.decode(tokens)

    def to_json(self) -> dict:
        self._trained()
        return {"kind": self.kind, "vocab_size": self.vocab_size, "model": self._model_json}

    def __repr__(self) -> str:
        return f"BpeTokenizer(vocab_size={self.vocab_size})"


_CLASSES = {cls.kind: cls for cls in (WordTokenizer, TreebankTokenizer, CharTokenizer, BpeTokenizer)}


def make_tokenizer(kind: str, **options) -> Tokenizer:
    """A new tokenizer of ``kind`` (``word``, ``treebank``, ``char`` or ``bpe``).

    ``bpe`` takes ``vocab_size`` (default 1000) and must be trained before use (``load_corpus``
    does it on the training split). Options that do not apply to ``kind`` are ignored when None.
    """
    if kind not in _CLASSES:
        raise UsageError(f"unknown tokenizer {kind!r}: choose one of {', '.join(KINDS)}")
    given = {key: value for key, value in options.items() if value is not None}
    if kind == "bpe":
        unknown = set(given) - {"vocab_size"}
    else:
        unknown = set(given)
    if unknown:
        raise UsageError(f"tokenizer {kind!r} takes no option {', '.join(sorted(unknown))}")
    return _CLASSES[kind](**given)


def tokenizer_from_json(data: dict) -> Tokenizer:
    """The tokenizer that ``to_json`` described; ``tokenizer_from_json(t.to_json()) == t``."""
    if not isinstance(data, dict) or data.get("kind") not in _CLASSES:
        kind = data.get("kind") if isinstance(data, dict) else data
        raise DataError(f"unknown tokenizer kind {kind!r} in tokenizer JSON (expected one of {', '.join(KINDS)})")
    if data["kind"] == "bpe":
        if not isinstance(data.get("model"), dict):
            raise DataError("BPE tokenizer JSON has no trained model: prepare the corpus or train the model again")
        return BpeTokenizer(vocab_size=data.get("vocab_size", DEFAULT_BPE_VOCAB_SIZE), model=data["model"])
    return _CLASSES[data["kind"]]()
