"""``load_corpus`` and ``encode_corpus``: from a corpus spec to a :class:`PreparedCorpus`.

Order of work for a text corpus: resolve the spec to a source, decide the splits, train the
tokenizer on the train split if it learns (bpe), intern every split in one pass, build the
vocabulary from the train counts only, map all splits to vocabulary ids.
"""

from __future__ import annotations

import glob
import os
from typing import Callable, Iterable, Sequence

from lmtool.errors import DataError, UsageError
from lmtool.text.encoding import UNITS, Interner, finalize, intern_lines, split_types, train_counts
from lmtool.text.prepared import PreparedCorpus, compute_fingerprint, is_prepared_directory
from lmtool.text.readers import check_encoding_errors
from lmtool.text.sources import SPLIT_NAMES, has_split_files
from lmtool.text.specs import resolve_spec
from lmtool.text.splits import DEFAULT_FRACTIONS, labeled_lines, parse_fractions
from lmtool.text.tokenizers import Tokenizer, make_tokenizer
from lmtool.text.vocabulary import Vocabulary

#: the options ``load_corpus`` takes, with their defaults (a corpus may override some, see Source.defaults)
CORPUS_OPTIONS = {
    "tokenizer": "word",
    "bpe_vocab_size": None,
    "unit": "line",
    "min_count": 1,
    "max_vocab": None,
    "split_fractions": None,
    "seed": 0,
    "encoding_errors": "strict",
}


def load_corpus(spec: str, **options) -> PreparedCorpus:
    """The corpus ``spec`` names, tokenized, with a vocabulary built from its train split.

    ``options`` (all optional; None means the default): ``tokenizer`` (a kind name or a
    :class:`Tokenizer`), ``bpe_vocab_size``, ``unit`` ("line" or "stream"), ``min_count``,
    ``max_vocab``, ``split_fractions`` (e.g. ``"0.8,0.1,0.1"``, for corpora without their own
    splits), ``seed`` (for those fraction splits), ``encoding_errors`` ("strict" or "replace").
    A directory written by ``lmtool corpus prepare`` is returned as saved; it takes no options.
    """
    given = checked_options(options)
    prepared = prepared_at(spec, given)
    if prepared is not None:
        return prepared
    spec = os.fspath(spec)
    source, opts = resolve_source(spec, given)
    names, labeled = labeled_splits(source, opts)
    tokenizer = trained_tokenizer(opts, labeled)
    interner = Interner()
    interned = intern_lines(labeled(), len(names), tokenizer, opts["unit"], interner)
    types = interner.types
    vocabulary = Vocabulary.build(train_counts(interned[0], types), opts["min_count"], opts["max_vocab"])
    return _assemble(spec, source, names, interned, types, tokenizer, vocabulary, opts["unit"])


def encode_corpus(spec: str, tokenizer: Tokenizer, vocabulary: Vocabulary, unit: str | None = None, **options) -> PreparedCorpus:
    """The corpus ``spec`` encoded with an existing model's tokenizer and vocabulary (for eval).

    A prepared directory is accepted only when it was encoded with exactly this tokenizer,
    vocabulary and unit (equal fingerprints); its token ids could not be re-encoded otherwise.
    """
    given = checked_options(options)
    for name in ("tokenizer", "bpe_vocab_size", "min_count", "max_vocab"):
        if name in given:
            raise UsageError(f"--{name.replace('_', '-')} cannot apply here: the model fixes the tokenizer and vocabulary")
    if tokenizer.needs_training:
        raise UsageError("the tokenizer is untrained: pass the model's own trained tokenizer")
    if is_prepared_directory(os.fspath(spec)):
        corpus = prepared_at(spec, given)
        wanted = compute_fingerprint(tokenizer, vocabulary, corpus.unit if unit is None else unit)
        if corpus.fingerprint != wanted:
            raise DataError(
                f"prepared corpus {spec} has fingerprint {corpus.fingerprint} but the model needs {wanted} "
                "(another tokenizer, vocabulary or unit): give the corpus's original text spec instead"
            )
        return corpus
    spec = os.fspath(spec)
    source, opts = resolve_source(spec, {**given, "tokenizer": tokenizer.kind, **({"unit": unit} if unit else {})})
    names, labeled = labeled_splits(source, opts)
    interner = Interner()
    interned = intern_lines(labeled(), len(names), tokenizer, opts["unit"], interner)
    return _assemble(spec, source, names, interned, interner.types, tokenizer, vocabulary, opts["unit"])


def input_files(spec: str) -> list[str]:
    """The files on disk that loading ``spec`` reads (none for standard input and for named,
    ``nltk:`` and ``gen:`` corpora), for the check that no output overwrites an input. Never
    raises: a spec that names nothing reads nothing, and loading it reports why."""
    spec = os.fspath(spec)
    if spec == "-" or spec.startswith(("gen:", "nltk:")):
        return []
    directory = spec[4:] if spec.startswith("ptb:") else spec
    if os.path.isdir(directory):
        if is_prepared_directory(directory) or not has_split_files(directory):
            return [entry.path for entry in os.scandir(directory) if entry.is_file()]
        return [path for path in (os.path.join(directory, f"{name}.txt") for name in SPLIT_NAMES)
                if os.path.isfile(path)]
    if os.path.isfile(spec):
        return [spec]
    if any(char in spec for char in "*?["):
        return [path for path in glob.glob(spec, recursive=True) if os.path.isfile(path)]
    return []


def checked_options(options: dict) -> dict:
    """The corpus options actually given (None means not given); an unknown name is a programming error."""
    unknown = set(options) - set(CORPUS_OPTIONS)
    if unknown:
        raise TypeError(f"unknown corpus option(s): {', '.join(sorted(unknown))}")
    seed = options.get("seed")
    if seed is not None and not (isinstance(seed, int) and seed >= 0):
        raise UsageError(f"--seed must be a non-negative integer, got {seed!r}")
    return {key: value for key, value in options.items() if value is not None}


def prepared_at(spec, given: dict) -> PreparedCorpus | None:
    """The prepared corpus at ``spec`` (a `corpus prepare` directory), or None when ``spec`` is not one."""
    if not is_prepared_directory(os.fspath(spec)):
        return None
    fixed = set(given) - {"seed", "encoding_errors"}
    if fixed:
        names = ", ".join(f"--{name.replace('_', '-')}" for name in sorted(fixed))
        raise UsageError(f"{spec} is a prepared corpus with its own tokenizer and vocabulary: drop {names} or prepare it again")
    return PreparedCorpus.load(spec)


def resolve_source(spec: str, given: dict):
    """Resolve ``spec`` and settle every option: given, else the corpus's default, else the global default."""
    unit = given.get("unit")
    if unit is not None and unit not in UNITS:
        raise UsageError(f"--unit must be one of {', '.join(UNITS)}, got {unit!r}")
    errors = given.get("encoding_errors", "strict")
    check_encoding_errors(errors)
    fractions = parse_fractions(given.get("split_fractions", DEFAULT_FRACTIONS))
    source = resolve_spec(spec, errors, whole_lines=unit != "stream", fractions=fractions)
    if source.splits is not None and not source.cut_by_fractions and "split_fractions" in given:
        raise UsageError(f"{spec} has its own train/valid/test splits: drop --split-fractions")
    opts = {**CORPUS_OPTIONS, **source.defaults, **given, "split_fractions": fractions}
    kind = getattr(opts["tokenizer"], "kind", opts["tokenizer"])
    if source.entropy_rate_bits is not None and (kind != "char" or opts["unit"] != "stream"):
        raise UsageError(
            f"{spec} is a generated corpus whose entropy rate is per symbol: use --tokenizer char --unit stream"
        )
    return source, opts


def trained_tokenizer(opts: dict, labeled: Callable[[], Iterable[tuple[int, str]]]) -> Tokenizer:
    """The tokenizer the settled ``opts`` ask for (a kind name, or a :class:`Tokenizer` as given),
    trained on the train lines of ``labeled()`` (split index 0) when it learns and has not yet.

    The one place a tokenizer option becomes a tokenizer, for :func:`load_corpus` and
    :func:`lmtool.text.streaming.stream_train` alike."""
    tokenizer = opts["tokenizer"]
    if not isinstance(tokenizer, Tokenizer):
        if tokenizer != "bpe" and opts["bpe_vocab_size"] is not None:
            raise UsageError(f"--bpe-vocab-size applies only to --tokenizer bpe (not {tokenizer})")
        tokenizer = make_tokenizer(tokenizer, vocab_size=opts["bpe_vocab_size"])
    if tokenizer.needs_training:
        strip = opts["unit"] == "line"
        tokenizer.train(line.rstrip("\r\n") if strip else line for index, line in labeled() if index == 0)
    return tokenizer


def labeled_splits(source, opts: dict):
    """The split names and a function yielding ``(split index, line)``; with line units, fraction
    splits are cut by shuffled sentences."""
    return labeled_lines(source, opts["split_fractions"], opts["seed"], shuffle=opts["unit"] == "line")


def _assemble(spec, source, names: Sequence[str], interned, types, tokenizer, vocabulary, unit) -> PreparedCorpus:
    lookup = vocabulary.encode(types)
    splits = {}
    for name, split in zip(names, interned):
        if len(split.ids) == 0:
            raise DataError(f"{spec}: the {name} split is empty (no tokens): give more text or other --split-fractions")
        splits[name] = finalize(split, lookup)
    return PreparedCorpus(
        source=source.name,
        unit=unit,
        tokenizer=tokenizer,
        vocabulary=vocabulary,
        splits=splits,
        entropy_rate_bits=source.entropy_rate_bits,
        split_types={name: split_types(split, len(types)) for name, split in zip(names, interned)},
    )
