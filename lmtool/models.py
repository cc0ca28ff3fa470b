"""Open any model file lmtool can score with, telling the kind from the file's content, not its name.

=================  ===========================================================  =====================
kind               how it is recognised                                         loaded by
=================  ===========================================================  =====================
ARPA (text)        a ``\\data\\`` line near the top (plain or gzip-compressed)     ``lmtool.ngram.read_arpa``
n-gram compact     magic bytes ``\\x89LMTNG\\r\\n`` (``fit-ngram``'s ``.lmt``)   ``lmtool.ngram.load_ngram``
n-gram ``.npz``    a zip archive (numpy's ``np.savez``), format "lmtool-ngram"  ``lmtool.ngram.load_ngram``
RNN safetensors    8-byte header length then a JSON header, format "lmtool-rnn"  ``lmtool.neural.load_rnn``
neural n-gram      the same, format "lmtool-nnlm"                               ``lmtool.neural.load_nnlm``
=================  ===========================================================  =====================

The family modules are imported only when a file of their kind is opened, so scoring an
n-gram never imports torch. Anything else raises :class:`~lmtool.errors.ModelFileError`.
"""

from __future__ import annotations

import gzip
import importlib
import json
import struct
from pathlib import Path

from lmtool.errors import DataError, ModelFileError, UsageError

COMPACT_MAGIC = b"\x89LMTNG\r\n"  # lmtool.ngram.container.MAGIC, kept here so recognising a file imports no numpy

PEEK = 1 << 16  # bytes read to recognise a file


#: the "format" in an lmtool safetensors header -> the kind of model it holds
NEURAL_FORMATS = {"lmtool-rnn": "rnn", "lmtool-nnlm": "nnlm"}


def model_kind(path: str | Path) -> str:
    """``"arpa"``, ``"ngram"``, ``"rnn"`` or ``"nnlm"``: what the file at ``path`` holds, judged from its first bytes."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file: check the path")
    if not path.is_file():
        raise ModelFileError(f"{path}: is a directory, not a model file (give an .npz, .arpa or .safetensors file)")
    with open(path, "rb") as handle:
        head = handle.read(PEEK)
    if not head:
        raise ModelFileError(f"{path}: empty file: not a model; fit or train it again")
    if head.startswith((COMPACT_MAGIC, b"PK\x03\x04", b"PK\x05\x06")):
        if head.startswith(b"PK") and is_torch_checkpoint(path):
            raise ModelFileError(f"{path}: a PyTorch checkpoint (such as train-rnn's resume.pt), not a model file: give "
                                 "the model train-rnn wrote (-o), or last.safetensors in its checkpoint directory")
        return "ngram"
    if is_safetensors(head):
        return NEURAL_FORMATS.get(neural_format(path), "rnn")  # an unknown header: the RNN loader names the damage
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(PEEK)
        except (OSError, EOFError) as error:
            raise ModelFileError(f"{path}: damaged gzip file ({error})") from None
    if any(line.strip() == b"\\data\\" for line in head.splitlines()):
        return "arpa"
    raise ModelFileError(f"{path}: not a model file lmtool knows (expected an lmtool .npz n-gram, an ARPA file "
                         "or an lmtool neural .safetensors file)")


def is_safetensors(head: bytes) -> bool:
    """Whether ``head`` starts like a safetensors file: little-endian u64 header size, then ``{``."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (size,) = struct.unpack("<Q", head[:8])
    return 2 <= size < 100_000_000


def is_torch_checkpoint(path: Path) -> bool:
    """Whether the zip archive at ``path`` is a ``torch.save`` file (it holds a ``data.pkl``) rather than an ``.npz``."""
    import zipfile  # only zip archives get here

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False  # a damaged archive: the n-gram loader says what is wrong with it


def neural_format(path: Path) -> str | None:
    """The "format" entry of an lmtool safetensors header, if it can be read cheaply (else None)."""
    with open(path, "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        try:
            header = json.loads(handle.read(size))
            return json.loads(header["__metadata__"]["lmtool"]).get("format")
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


LOADERS = {
    "arpa": ("lmtool.ngram", "read_arpa"),
    "ngram": ("lmtool.ngram", "load_ngram"),
    "rnn": ("lmtool.neural", "load_rnn"),
    "nnlm": ("lmtool.neural", "load_nnlm"),
}


def load_model(path: str | Path):
    """The :class:`lmtool.lm.LanguageModel` stored at ``path`` (ARPA, n-gram ``.lmt``/``.npz``, RNN or neural n-gram
    safetensors)."""
    kind = model_kind(path)
    if kind == "rnn" and neural_format(Path(path)) not in (None, "lmtool-rnn"):
        raise ModelFileError(f"{path}: a safetensors file, but not an lmtool neural model: train one with "
                             "`lmtool train-rnn` or `lmtool train-nnlm`")
    module, name = LOADERS[kind]
    try:
        return getattr(importlib.import_module(module), name)(path)
    except (DataError, UsageError) as error:  # metadata the loader could not use: a bad model file
        raise ModelFileError(f"{path}: broken model metadata ({error})") from None
