"""The text every analysis reads: one corpus split, encoded once with the models' own vocabulary."""

from __future__ import annotations

from lmtool.errors import DataError, UsageError
from lmtool.text import encode_corpus


def check_one_vocabulary(models: dict) -> None:
    """Refuse models whose tokenizer, vocabulary or unit differ: they would not score the same tokens."""
    fingerprints = {name: model.fingerprint for name, model in models.items()}
    if len(set(fingerprints.values())) > 1:
        raise UsageError(f"models of different vocabularies ({', '.join(fingerprints)}): they do not score the "
                         "same tokens; give models trained with one tokenizer and vocabulary")


def encoded_corpus(models: dict, spec: str, split: str, corpus_options: dict | None = None):
    """``spec`` encoded with the (shared) tokenizer and vocabulary of ``models``; ``split`` must have tokens."""
    if not models:
        raise UsageError("give at least one model")
    check_one_vocabulary(models)
    first = next(iter(models.values()))
    corpus = encode_corpus(spec, first.tokenizer, first.vocabulary, unit=first.unit, **(corpus_options or {}))
    if split not in corpus.splits:
        raise DataError(f"corpus {spec!r} has no {split!r} split (it has {', '.join(corpus.splits)}): "
                        "choose another --split or give the corpus split fractions")
    if corpus.splits[split].n_tokens == 0:
        raise DataError(f"the {split} split of {spec!r} is empty: there is nothing to analyse")
    return corpus
