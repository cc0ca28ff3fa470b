"""A tokenized corpus in memory, and its directory form written by ``lmtool corpus prepare``.

Directory layout (all JSON or ``.npy``; nothing is pickled)::

    manifest.json       format, version, source spec, unit, fingerprint, entropy rate, per-split counts
    tokenizer.json      the tokenizer's to_json()
    vocab.json          {"tokens": [...], "counts": [...]}
    <split>.npy         int32 token ids of the split (train, valid, test)
    <split>.starts.npy  int64 segment starts, len(ids) at the end

The directory is built beside the target under a temporary name and renamed into place,
manifest written last: a directory without a manifest is an interrupted write and is rejected.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field

import numpy as np

from lmtool.errors import DataError, UsageError
from lmtool.files import owned_name, write_error, write_npy
from lmtool.text.encoding import UNITS, EncodedSplit
from lmtool.text.sources import SPLIT_NAMES
from lmtool.text.tokenizers import Tokenizer, tokenizer_from_json
from lmtool.text.vocabulary import Vocabulary

FORMAT = "lmtool-corpus"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def compute_fingerprint(tokenizer: Tokenizer, vocabulary: Vocabulary, unit: str) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of tokenizer config, vocabulary tokens and unit.

    Two models (or a model and a corpus) with equal fingerprints see the same ids for the same
    text, so their perplexities are comparable token for token.
    """
    canonical = json.dumps(
        {"tokenizer": tokenizer.to_json(), "vocabulary": vocabulary.tokens, "unit": unit},
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
    )
    import hashlib  # here: it maps OpenSSL's libcrypto, 3.5 MB of every process that never fingerprints

    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]


@dataclass
class PreparedCorpus:
    """A corpus tokenized and encoded: what ``fit-ngram``, ``train-rnn`` and ``eval`` consume.

    ``splits`` always has ``"train"`` and has ``"valid"``/``"test"`` when the corpus does.
    ``split_types`` counts the distinct text tokens of each split before OOV mapping (for
    ``corpus info``). ``entropy_rate_bits`` is the true entropy rate (bits per symbol) of a
    generated corpus, else None.
    """

    source: str
    unit: str
    tokenizer: Tokenizer
    vocabulary: Vocabulary
    splits: dict[str, EncodedSplit]
    entropy_rate_bits: float | None = None
    split_types: dict[str, int] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return compute_fingerprint(self.tokenizer, self.vocabulary, self.unit)

    def manifest(self) -> dict:
        """The manifest.json content: provenance and per-split counts."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "source": self.source,
            "unit": self.unit,
            "tokenizer": self.tokenizer.kind,
            "vocab_size": len(self.vocabulary),
            "fingerprint": self.fingerprint,
            "entropy_rate_bits": self.entropy_rate_bits,
            "splits": {
                name: {
                    "segments": split.n_segments,
                    "tokens": split.n_tokens,
                    "unk": split.n_unk,
                    "chars": split.n_chars,
                    "types": self.split_types.get(name),
                }
                for name, split in self.splits.items()
            },
        }

    def save(self, directory: str | os.PathLike) -> None:
        """Write the corpus to ``directory`` atomically (replacing an earlier prepared corpus there).

        The files are written in a staging directory beside it (named for this process, see
        :mod:`lmtool.files`) that is renamed into place; an ``OSError`` becomes one
        :class:`LmtoolError` line and leaves no staging directory behind.
        """
        target = os.path.abspath(os.fspath(directory))
        check_target(target)
        parent = os.path.dirname(target)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as error:
            raise write_error(target, error) from None
        staging = owned_name(f".{os.path.basename(target)}.tmp", parent=parent)
        try:
            os.mkdir(staging)
            for name, split in self.splits.items():
                _write_array(os.path.join(staging, f"{name}.npy"), split.ids.astype(np.int32, copy=False))
                _write_array(os.path.join(staging, f"{name}.starts.npy"), split.starts.astype(np.int64, copy=False))
            _write_json(os.path.join(staging, "tokenizer.json"), self.tokenizer.to_json())
            _write_json(os.path.join(staging, "vocab.json"), self.vocabulary.to_json())
            _write_json(os.path.join(staging, MANIFEST), self.manifest())
            _install(staging, target)
        except BaseException as error:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, OSError):
                raise write_error(target, error) from None
            raise

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "PreparedCorpus":
        """The corpus :meth:`save` wrote, checked against its manifest (counts, ids, fingerprint)."""
        directory = os.fspath(directory)
        manifest = _read_json(directory, MANIFEST, missing=(
            f"{directory} is not a complete prepared corpus (no {MANIFEST}; an interrupted "
            "`lmtool corpus prepare`?): prepare it again"
        ))
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"{directory}/{MANIFEST} is not a {FORMAT} version {FORMAT_VERSION} manifest: prepare the corpus again"
            )
        tokenizer = tokenizer_from_json(_read_json(directory, "tokenizer.json"))
        vocabulary = Vocabulary.from_json(_read_json(directory, "vocab.json"))
        if manifest.get("unit") not in UNITS or not set(manifest.get("splits", {})) <= set(SPLIT_NAMES):
            raise DataError(f"{directory}/{MANIFEST} is malformed (unit or split names): prepare the corpus again")
        splits = {}
        for name, counts in manifest["splits"].items():
            split = EncodedSplit(
                ids=_read_array(directory, f"{name}.npy", np.int32),
                starts=_read_array(directory, f"{name}.starts.npy", np.int64),
                n_chars=int(counts["chars"]),
            )
            _check_split(directory, name, split, counts, len(vocabulary))
            splits[name] = split
        corpus = cls(
            source=manifest["source"],
            unit=manifest["unit"],
            tokenizer=tokenizer,
            vocabulary=vocabulary,
            splits=splits,
            entropy_rate_bits=manifest.get("entropy_rate_bits"),
            split_types={name: c["types"] for name, c in manifest["splits"].items() if c.get("types") is not None},
        )
        if corpus.fingerprint != manifest.get("fingerprint"):
            raise DataError(f"{directory}: tokenizer/vocabulary do not match the manifest's fingerprint: prepare it again")
        return corpus


def is_prepared_directory(path: str) -> bool:
    """Whether ``path`` is (or was meant to be) a prepared corpus: it holds lmtool's corpus files."""
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, name)) for name in (MANIFEST, "tokenizer.json", "vocab.json", "train.npy")
    )


def check_target(directory: str | os.PathLike) -> None:
    """Raise :class:`UsageError` unless ``directory`` is free for :meth:`PreparedCorpus.save`: absent,
    empty, or a prepared corpus (which is replaced); any other content is never deleted."""
    target = os.fspath(directory)
    if os.path.exists(target) and not _replaceable(target):
        raise UsageError(f"{target} exists and is not a prepared corpus: choose another output directory")


def _replaceable(target: str) -> bool:
    return os.path.isdir(target) and (not os.listdir(target) or is_prepared_directory(target))


def _install(staging: str, target: str) -> None:
    """Move the finished ``staging`` directory to ``target``; an old corpus there goes only after."""
    if os.path.isdir(target) and os.listdir(target):
        old = owned_name(f".{os.path.basename(target)}.old", parent=os.path.dirname(target))
        os.mkdir(old)
        os.replace(target, os.path.join(old, "corpus"))
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
    _fsync_directory(os.path.dirname(target))


def _write_array(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        write_npy(handle, array)
        handle.flush()
        os.fsync(handle.fileno())


def _write_json(path: str, payload: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _read_json(directory: str, name: str, missing: str | None = None) -> dict:
    path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise DataError(missing or f"{path} is missing: prepare the corpus again") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path} is not valid JSON ({error}): prepare the corpus again") from None


def _read_array(directory: str, name: str, dtype: type) -> np.ndarray:
    path = os.path.join(directory, name)
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path} is missing: prepare the corpus again") from None
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path} is not a readable .npy array ({error}): prepare the corpus again") from None
    if array.dtype != dtype or array.ndim != 1:
        raise DataError(f"{path} holds {array.dtype} of shape {array.shape}, expected 1-d {np.dtype(dtype)}")
    return array


def _check_split(directory: str, name: str, split: EncodedSplit, counts: dict, vocab_size: int) -> None:
    starts = split.starts
    ok = (
        split.n_tokens == counts.get("tokens")
        and split.n_segments == counts.get("segments")
        and len(starts) >= 2
        and starts[0] == 0
        and starts[-1] == split.n_tokens
        and bool(np.all(np.diff(starts) >= 0))
        and (split.n_tokens == 0 or (int(split.ids.min()) >= 0 and int(split.ids.max()) < vocab_size))
    )
    if not ok:
        raise DataError(f"{directory}: split {name!r} does not match its manifest (truncated or edited?): prepare it again")
