"""Reading the ``.npz`` model files of lmtool 0.x (before the compact format), validated on load.

Layout (``np.load(path, allow_pickle=False)`` opens it)::

    metadata            uint8 array: UTF-8 JSON {"format": "lmtool-ngram", "format_version": 1,
                        order, method, normalised, parameters, discounts, unit, tokenizer,
                        vocabulary {tokens, counts}, fingerprint, training, source, ngrams}
    ngrams_K            (m_K, K+1) integer ids, K = 1..order-1 (the unigram rows are 0..V-1)
    log10_probs_K       (m_K,) float, K = 0..order-1
    log10_backoffs_K    (m_K,) float
    listed_K            (m_K,) bool, only for models read from ARPA files with unlisted contexts

Such a file is read into memory whole (it is a zip archive, so it cannot be mapped). Every
invariant scoring relies on is checked first, so a damaged or hand-edited file is refused with
:class:`ModelFileError` naming the file and the defect rather than giving wrong numbers: an
order of at least 1, arrays of numbers (no strings, no pickles), consistent shapes, ids in
range, rows sorted and unique with every prefix listed, no NaN or +inf values, and n-gram
counts that agree with the metadata. ``lmtool fit-ngram --from-model old.npz -o new.lmt``
converts one to the compact format. :func:`write_npz` still writes the layout, for the tests
that check old files keep loading and for the benchmark's size comparison.
"""

from __future__ import annotations

import json
import pathlib
import zipfile

import numpy as np

from lmtool.errors import LmtoolError, ModelFileError
from lmtool.files import atomic_write
from lmtool.ngram.model import NgramModel
from lmtool.ngram.tables import BackoffTables
from lmtool.text import Vocabulary, tokenizer_from_json

FORMAT = "lmtool-ngram"
FORMAT_VERSION = 1


def read_npz(path: pathlib.Path) -> NgramModel:
    """The model in the ``.npz`` file at ``path``, or :class:`ModelFileError` naming its defect."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            metadata = _metadata(path, archive)
            order = metadata.get("order")
            if not isinstance(order, int) or isinstance(order, bool) or order < 1:
                raise ModelFileError(f"{path}: invalid model: order {order!r} (an n-gram model has order 1 or more)")
            vocabulary = Vocabulary.from_json(metadata["vocabulary"])
            arrays = {name: _member(path, archive, name) for name in _names(order, "listed_0" in archive.files)}
            tokenizer = tokenizer_from_json(metadata["tokenizer"])
            method, normalised = str(metadata["method"]), bool(metadata["normalised"])
    except LmtoolError as error:
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(f"{path}: invalid model metadata: {error}") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, TypeError, AttributeError) as error:
        raise ModelFileError(f"{path}: corrupt or truncated n-gram model file ({type(error).__name__}: {error})") from None
    tables = _tables(path, order, len(vocabulary), arrays)
    if metadata.get("ngrams") is not None and metadata["ngrams"] != tables.n_listed():
        raise ModelFileError(f"{path}: invalid model: the metadata counts {metadata['ngrams']} n-grams per order, "
                             f"the arrays hold {tables.n_listed()}")
    return NgramModel(tables, tokenizer, vocabulary, unit=metadata.get("unit", "line"), method=method,
                      normalised=normalised, parameters=metadata.get("parameters") or {},
                      discounts=metadata.get("discounts"), training=metadata.get("training") or {},
                      source=metadata.get("source", "fit"))


def write_npz(model: NgramModel, path: str | pathlib.Path) -> None:
    """Write ``model`` in the ``.npz`` layout above (what lmtool 0.x's ``save_ngram`` wrote)."""
    tables = model.tables
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": "ngram", "order": tables.order,
                "method": model.method, "normalised": model.normalised, "parameters": model.parameters,
                "discounts": model.discounts, "unit": model.unit, "tokenizer": model.tokenizer.to_json(),
                "vocabulary": model.vocabulary.to_json(), "fingerprint": model.fingerprint,
                "training": model.training, "source": model.source, "ngrams": tables.n_listed()}
    arrays = {"metadata": np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)}
    for k in range(tables.order):
        if k:
            arrays[f"ngrams_{k}"] = tables.ngrams[k]
        arrays[f"log10_probs_{k}"] = tables.log10_probs[k]
        arrays[f"log10_backoffs_{k}"] = tables.log10_backoffs[k]
        if tables.listed is not None:
            arrays[f"listed_{k}"] = tables.listed[k]
    atomic_write(path, lambda out: np.savez(out, **arrays))


def _metadata(path: pathlib.Path, archive) -> dict:
    if "metadata" not in archive.files:
        raise ModelFileError(f"{path} is a .npz file but not an lmtool n-gram model (no metadata)")
    raw = _member(path, archive, "metadata")
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
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


def _names(order: int, listed: bool) -> list[str]:
    names = [f"ngrams_{k}" for k in range(1, order)]
    names += [f"log10_probs_{k}" for k in range(order)] + [f"log10_backoffs_{k}" for k in range(order)]
    return names + ([f"listed_{k}" for k in range(order)] if listed else [])


def _member(path: pathlib.Path, archive, name: str) -> np.ndarray:
    """Array ``name`` of the archive; a member that is not an ``.npy`` array (numpy hands back
    the raw bytes of, say, a pickle) or that holds text or objects is refused."""
    if name not in archive.files:
        raise ModelFileError(f"{path}: invalid model: the array {name} is missing")
    value = archive[name]
    kinds = {"metadata": "u", "ngrams": "iu", "listed": "b"}.get(name.split("_")[0], "f")
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds:
        what = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else "not a numpy array (raw bytes, e.g. a pickle)"
        raise ModelFileError(f"{path}: invalid model: the array {name} is {what}")
    return value


def _tables(path: pathlib.Path, order: int, V: int, arrays: dict) -> BackoffTables:
    """The tables of ``arrays``, every invariant of :mod:`lmtool.ngram.tables` checked."""
    listed = [arrays[f"listed_{k}"] for k in range(order)] if "listed_0" in arrays else None
    ngrams = [np.arange(V, dtype=np.int32)[:, None]]
    for k in range(order):
        grams = ngrams[0] if k == 0 else arrays[f"ngrams_{k}"]
        m = len(grams)
        probs, backoffs = arrays[f"log10_probs_{k}"], arrays[f"log10_backoffs_{k}"]
        if grams.shape != (m, k + 1) or probs.shape != (m,) or backoffs.shape != (m,) or (
                listed is not None and listed[k].shape != (m,)):
            raise ModelFileError(f"{path}: the order-{k + 1} arrays are inconsistent (corrupted file?)")
        if grams.size and (grams.min() < 0 or grams.max() >= V):
            raise ModelFileError(f"{path}: invalid model: order {k + 1} holds word ids outside 0..{V - 1}")
        for name, values in (("probabilities", probs), ("backoffs", backoffs)):
            if np.isnan(values).any() or (values == np.inf).any():
                raise ModelFileError(f"{path}: invalid model: order {k + 1} has NaN or +inf log10 {name}")
        if k:
            if not _sorted_unique(grams):
                raise ModelFileError(f"{path}: invalid model: the order-{k + 1} n-grams are not sorted and unique")
            ngrams.append(grams.astype(np.int32))
    tables = BackoffTables(order=order, vocab_size=V, ngrams=ngrams,
                           log10_probs=[arrays[f"log10_probs_{k}"].astype(np.float64) for k in range(order)],
                           log10_backoffs=[arrays[f"log10_backoffs_{k}"].astype(np.float64) for k in range(order)],
                           listed=listed)
    try:
        tables.keys  # builds the lookup keys; fails on rows whose prefix is missing
    except ValueError as error:
        raise ModelFileError(f"{path}: {error} (corrupted file?)") from None
    return tables


def _sorted_unique(grams: np.ndarray) -> bool:
    """Whether the rows of ``grams`` are strictly increasing in lexicographic order."""
    steps = np.diff(grams.astype(np.int64), axis=0)
    changed = steps != 0
    first = changed.argmax(axis=1)  # the first column where a row differs from the one before
    return bool(changed.any(axis=1).all() and (steps[np.arange(len(steps)), first] > 0).all())

