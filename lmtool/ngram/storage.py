"""Model files: the compact ``.lmt`` format (written by default), the older ``.npz`` (read) and ARPA.

The compact file is a :mod:`~lmtool.ngram.container` whose header holds the model's JSON
metadata (what ``lmtool info`` prints, read without touching the arrays) and whose arrays are
the vocabulary and the n-gram tables of :mod:`lmtool.ngram.compact`::

    header              {"format": "lmtool-ngram-compact", "format_version": 1, "kind": "ngram",
                        order, method, normalised, parameters, discounts, unit, tokenizer,
                        fingerprint, training, source, ngrams, vocabulary_size,
                        "tables": {orders, quantised, ...}, sections, file_bytes}
    vocabulary.offsets  (V+1,) int64 byte offsets of the tokens in vocabulary.bytes
    vocabulary.bytes    (n,) uint8: the tokens' UTF-8 bytes, concatenated
    vocabulary.counts   (V,) int64 training counts
    k.*                 the tables (see lmtool.ngram.compact)

Files are recognised by their first bytes, never by their names. Every write is atomic: a
killed process leaves the previous file as it was.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

import numpy as np

from lmtool.errors import DataError, ModelFileError, UsageError
from lmtool.files import atomic_write
from lmtool.ngram.compact import CompactTables, layout, stored_tables
from lmtool.ngram.container import ArrayStream, Container, is_container, write_container
from lmtool.ngram.model import NgramModel
from lmtool.text import Vocabulary, tokenizer_from_json

FORMAT = "lmtool-ngram-compact"
FORMAT_VERSION = 1


def save_ngram(model: NgramModel, path: str | os.PathLike, *, quantise: int | None = None) -> None:
    """Write ``model`` as a compact lmtool n-gram file at ``path`` (atomically). ``quantise``
    (e.g. 8) stores the probabilities and backoffs above the unigrams in that many bits."""
    if quantise is not None and not 2 <= quantise <= 16:
        raise UsageError(f"--quantise takes 2 to 16 bits, got {quantise}")
    write_compact(model, *layout(model.tables, quantise), path)


def write_compact(model, tables_entry: dict, arrays: dict[str, np.ndarray | ArrayStream],
                  path: str | os.PathLike) -> None:
    """Write the compact file of ``model`` (which need only answer ``describe()`` and hold a
    vocabulary) whose tables :func:`~lmtool.ngram.compact.layout` laid out as ``tables_entry``
    and ``arrays``, atomically."""
    header, vocabulary = model_header(model, tables_entry), vocabulary_arrays(model.vocabulary)
    atomic_write(path, lambda out: write_container(out, header, {**vocabulary, **arrays}))


@dataclass
class TablesOutline:
    """What is known of tables that were never built whole: enough for a model's ``describe()``
    (a cluster's workers and the streaming ARPA converter write tables no process holds)."""

    order: int
    vocab_size: int
    ngrams: list[int]

    def n_listed(self) -> list[int]:
        return list(self.ngrams)


def model_header(model: NgramModel, tables_entry: dict) -> dict:
    """The header of ``model``'s compact file, whose tables :func:`~lmtool.ngram.compact.layout`
    described as ``tables_entry`` (``model`` need only answer ``describe()``: a cluster's
    workers write the tables of a model that is never gathered)."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, **model.describe(), "tables": tables_entry}
    header.pop("note", None)  # describe() derives it again when the file is read
    return header


def vocabulary_arrays(vocabulary: Vocabulary) -> dict[str, np.ndarray]:
    """The vocabulary's arrays of a compact file: token byte offsets, token bytes, training counts."""
    tokens = [token.encode("utf-8") for token in vocabulary.tokens]
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum([len(token) for token in tokens], out=offsets[1:])
    return {"vocabulary.offsets": offsets, "vocabulary.bytes": np.frombuffer(b"".join(tokens), dtype=np.uint8),
            "vocabulary.counts": np.asarray(vocabulary.counts, dtype=np.int64)}


def stored_model(model: NgramModel, quantise: int | None = None) -> NgramModel:
    """``model`` holding the values a compact file of it holds (float32, or quantised to
    ``quantise`` bits): what :func:`load_ngram` would give back after :func:`save_ngram`, so
    its scores and its ARPA form are those of the file."""
    return model.with_tables(stored_tables(model.tables, quantise))


def load_ngram(path: str | os.PathLike) -> NgramModel:
    """Load an n-gram model file of any kind lmtool reads: compact, ``.npz`` or ARPA (plain or
    gzip-compressed), recognised by its first bytes."""
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError as error:
        raise ModelFileError(f"cannot open model file {path}: {error.strerror}") from None
    if is_container(head):
        return load_compact(path)
    if head.lstrip().startswith(b"\\data\\") or head[:2] == b"\x1f\x8b":
        from lmtool.ngram.arpa import read_arpa  # the parser's tables load only when an ARPA file is read

        return read_arpa(path)
    if not head.startswith(b"PK"):
        hint = " (it looks like a safetensors RNN model: use lmtool.neural.load_rnn)" if head[8:9] == b"{" else ""
        raise ModelFileError(f"{path} is not an lmtool n-gram model file{hint}")
    from lmtool.ngram.legacy import read_npz  # the old format's zip reader loads only for an old file

    return read_npz(path)


def load_compact(path: str | os.PathLike) -> NgramModel:
    """The model of a compact file, memory-mapped: only the header is read now; the vocabulary
    and each order's arrays are read (and checked) when first used."""
    container = Container(path)
    header = container.header
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path} is a {header.get('format') or 'unknown'} file, not an lmtool n-gram model ({FORMAT})")
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has {FORMAT} format version {header.get('format_version')}; this lmtool reads "
                             f"version {FORMAT_VERSION}: upgrade lmtool")
    try:
        tables = CompactTables(container, header["tables"])
        vocabulary = MappedVocabulary(container, tables.vocab_size)
        return NgramModel(tables, tokenizer_from_json(header["tokenizer"]), vocabulary, unit=header["unit"],
                          method=header["method"], normalised=bool(header["normalised"]),
                          parameters=header.get("parameters") or {}, discounts=header.get("discounts"),
                          training=header.get("training") or {}, source=header.get("source", "fit"),
                          fingerprint=str(header["fingerprint"]))
    except (KeyError, TypeError, ValueError, DataError, UsageError) as error:
        raise ModelFileError(f"{path}: invalid model header ({type(error).__name__}: {error})") from None


class MappedVocabulary(Vocabulary):
    """The vocabulary of a compact file, read on first use: its size is known from the header,
    so ``lmtool info`` never reads the tokens."""

    def __init__(self, container: Container, size: int) -> None:  # noqa: the base is initialised on first use
        self._container, self._size = container, size

    def __len__(self) -> int:
        return self._size

    def __getattr__(self, name: str):
        # only attributes the base's __init__ sets reach here (tokens, counts, _index, ...)
        if name.startswith("__") or name in ("_container", "_size", "_arrays", "token_bytes"):
            raise AttributeError(name)
        tokens, counts = self._read()
        try:
            Vocabulary.__init__(self, tokens, counts)  # checks the reserved tokens and duplicates
        except DataError as error:
            raise ModelFileError(f"{self._container.path}: invalid model vocabulary: {error}") from None
        return getattr(self, name)

    def token_bytes(self) -> tuple[np.ndarray, bytes]:
        """The tokens as stored: offsets into one UTF-8 byte string (what the streaming scorer
        indexes, without making a Python string per token)."""
        offsets, data = self._arrays()
        return offsets, data.tobytes()

    def release_token_bytes(self) -> None:
        """Let go of the mapped pages of :meth:`token_bytes`' arrays, once indexed (they are read
        again from the file if asked for: :meth:`lmtool.ngram.container.Container.release`)."""
        self._container.release("vocabulary.offsets", "vocabulary.bytes")

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The offsets and bytes, checked against the header's size."""
        path, V = self._container.path, self._size
        offsets = self._container.array("vocabulary.offsets", "<i8")
        data = self._container.array("vocabulary.bytes", "|u1")
        if len(offsets) != V + 1 or offsets[0] != 0 or offsets[-1] != len(data) or (np.diff(offsets) < 0).any():
            raise ModelFileError(f"{path}: invalid model: the vocabulary arrays disagree with its {V:,} tokens")
        return offsets, data

    def _read(self) -> tuple[list[str], np.ndarray]:
        """The tokens and counts."""
        path = self._container.path
        offsets, data = self._arrays()
        counts = self._container.array("vocabulary.counts", "<i8")
        if len(counts) != self._size:
            raise ModelFileError(f"{path}: invalid model: the vocabulary counts disagree with its {self._size:,} tokens")
        text = data.tobytes()
        try:
            tokens = [text[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
        except UnicodeDecodeError as error:
            raise ModelFileError(f"{path}: invalid model vocabulary: {error}") from None
        return tokens, np.array(counts)
