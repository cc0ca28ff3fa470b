"""Model files: the native ``.npz`` (arrays + JSON metadata) and ARPA, both written atomically.

Native layout (``np.load(path, allow_pickle=False)`` opens it)::

    metadata            uint8 array: UTF-8 JSON {"format": "lmtool-ngram", "format_version": 1,
                        order, method, normalised, parameters, discounts, unit, tokenizer,
                        vocabulary {tokens, counts}, fingerprint, training, source, ngrams}
    ngrams_K            (m_K, K+1) int32, K = 1..order-1 (the unigram rows are 0..V-1)
    log10_probs_K       (m_K,) float64, K = 0..order-1
    log10_backoffs_K    (m_K,) float64
    listed_K            (m_K,) bool, only for models read from ARPA files with unlisted contexts
"""

from __future__ import annotations

import json
import os
import pathlib
import zipfile

import numpy as np

from lmtool.errors import ModelFileError, UsageError
from lmtool.files import atomic_write
from lmtool.ngram.arpa import format_arpa, read_arpa_tables
from lmtool.ngram.model import NgramModel
from lmtool.ngram.tables import BackoffTables
from lmtool.text import Vocabulary, make_tokenizer, tokenizer_from_json

FORMAT = "lmtool-ngram"
FORMAT_VERSION = 1


def save_ngram(model: NgramModel, path: str | os.PathLike) -> None:
    """Write ``model`` as a native lmtool n-gram file at ``path``."""
    tables = model.tables
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "ngram",
        "order": tables.order,
        "method": model.method,
        "normalised": model.normalised,
        "parameters": model.parameters,
        "discounts": model.discounts,
        "unit": model.unit,
        "tokenizer": model.tokenizer.to_json(),
        "vocabulary": model.vocabulary.to_json(),
        "fingerprint": model.fingerprint,
        "training": model.training,
        "source": model.source,
        "ngrams": tables.n_listed(),
    }
    arrays = {"metadata": np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)}
    for k in range(tables.order):
        if k:
            arrays[f"ngrams_{k}"] = tables.ngrams[k]
        arrays[f"log10_probs_{k}"] = tables.log10_probs[k]
        arrays[f"log10_backoffs_{k}"] = tables.log10_backoffs[k]
        if tables.listed is not None:
            arrays[f"listed_{k}"] = tables.listed[k]
    atomic_write(path, lambda out: np.savez(out, **arrays))


def _read_metadata(path: pathlib.Path, archive) -> dict:
    if "metadata" not in archive.files:
        raise ModelFileError(f"{path} is a .npz file but not an lmtool n-gram model (no metadata)")
    try:
        metadata = json.loads(archive["metadata"].tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError(f"{path}: the metadata is not valid JSON (corrupted file?)") from None
    kind = metadata.get("format") if isinstance(metadata, dict) else None
    if kind != FORMAT:
        raise ModelFileError(f"{path} is a {kind or 'unknown'} file, not an lmtool n-gram model ({FORMAT})")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has {FORMAT} format version {metadata.get('format_version')}; this lmtool reads "
            f"version {FORMAT_VERSION}: upgrade lmtool or re-fit the model")
    return metadata


def load_ngram(path: str | os.PathLike) -> NgramModel:
    """Load a native model file (or an ARPA file, recognised by its ``\\data\\`` header)."""
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError as error:
        raise ModelFileError(f"cannot open model file {path}: {error.strerror}") from None
    if head.lstrip().startswith(b"\\data\\") or head[:2] == b"\x1f\x8b":
        return read_arpa(path)
    if not head.startswith(b"PK"):
        hint = " (it looks like a safetensors RNN model: use lmtool.neural.load_rnn)" if head[8:9] == b"{" else ""
        raise ModelFileError(f"{path} is not an lmtool n-gram model file{hint}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            metadata = _read_metadata(path, archive)
            order = int(metadata["order"])
            vocabulary = Vocabulary.from_json(metadata["vocabulary"])
            V = len(vocabulary)
            has_listed = "listed_0" in archive.files
            ngrams = [np.arange(V, dtype=np.int32)[:, None]] + [archive[f"ngrams_{k}"] for k in range(1, order)]
            probs = [archive[f"log10_probs_{k}"] for k in range(order)]
            backoffs = [archive[f"log10_backoffs_{k}"] for k in range(order)]
            listed = [archive[f"listed_{k}"] for k in range(order)] if has_listed else None
            tokenizer = tokenizer_from_json(metadata["tokenizer"])
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, TypeError) as error:
        raise ModelFileError(f"{path}: corrupt or truncated n-gram model file ({type(error).__name__}: {error})") from None
    for k in range(order):
        m = len(ngrams[k])
        shapes_ok = ngrams[k].shape == (m, k + 1) and probs[k].shape == (m,) and backoffs[k].shape == (m,)
        if not shapes_ok or (listed is not None and listed[k].shape != (m,)) or ngrams[k].size and ngrams[k].max() >= V:
            raise ModelFileError(f"{path}: the order-{k + 1} arrays are inconsistent (corrupted file?)")
    tables = BackoffTables(order=order, vocab_size=V, ngrams=ngrams, log10_probs=probs,
                           log10_backoffs=backoffs, listed=listed)
    try:
        tables.keys  # builds the lookup keys; fails on rows whose prefix is missing
    except ValueError as error:
        raise ModelFileError(f"{path}: {error} (corrupted file?)") from None
    return NgramModel(tables, tokenizer, vocabulary, unit=metadata.get("unit", "line"), method=metadata["method"],
                      normalised=bool(metadata["normalised"]), parameters=metadata.get("parameters") or {},
                      discounts=metadata.get("discounts"), training=metadata.get("training") or {},
                      source=metadata.get("source", "fit"))


def read_arpa(path: str | os.PathLike) -> NgramModel:
    """An NgramModel from a KenLM/SRILM ARPA file: word tokenizer, the ARPA's vocabulary."""
    tokens, tables = read_arpa_tables(path)
    vocabulary = Vocabulary(tokens, np.zeros(len(tokens), dtype=np.int64))
    return NgramModel(tables, make_tokenizer("word"), vocabulary, unit="line", method="arpa",
                      normalised=True, source=f"arpa:{pathlib.Path(path).name}")


def write_arpa(model: NgramModel, path: str | os.PathLike) -> None:
    """Write ``model`` as an ARPA file, atomically; stupid backoff has no ARPA form."""
    if not model.normalised:
        raise UsageError(f"{model.method} is not a normalised model, so it has no ARPA form: export a normalised method")
    text = format_arpa(model.vocabulary.tokens, model.tables)
    atomic_write(path, lambda out: out.write(text.encode("utf-8")))
