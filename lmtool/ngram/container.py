"""The binary container of compact models: a fixed prefix, a JSON header, then aligned arrays, each with a CRC-32.

Layout (little-endian)::

    bytes 0-7     magic b"\\x89LMTNG\\r\\n" (the high byte and CRLF catch transfers in text mode)
    bytes 8-15    u64 length H of the header
    bytes 16-19   u32 CRC-32 of the header
    bytes 20-23   zero
    bytes 24..    the header: UTF-8 JSON, H bytes; its "sections" entry maps each array's name to
                  {"offset", "dtype", "count", "crc32"}, offsets counted from the data start
    data start    24 + H rounded up to a multiple of 64; each array starts on a 64-byte boundary

The header also records the whole file's size, so a truncated or extended file is refused
before anything else is read. The file is memory-mapped: opening it reads the prefix and the
header only, and each array is checked against its CRC-32 the first time it is asked for
(zlib's CRC runs at several GB/s, so a 100 MB model costs about 25 ms, paid only by the arrays
a command uses). ``lmtool info`` reads the header alone.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import zlib
from pathlib import Path
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable

import numpy as np

from lmtool.errors import ModelFileError

MAGIC = b"\x89LMTNG\r\n"
PREFIX = struct.Struct("<8sQI4x")
ALIGN = 64


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass
class ArrayStream:
    """An array written in pieces that are never all in memory at once (a model assembled from
    the part files of a cluster's workers): its numpy type, its length, and ``pieces()``, which
    yields its contents in order as arrays of that type, anew each time it is called (the writer
    reads the pieces twice: once for the checksum, which the header before them holds, once to
    write them)."""

    dtype: np.dtype
    count: int
    pieces: Callable[[], Iterable[np.ndarray]]


class Spill:
    """Arrays parked in an unnamed temporary file (gone when closed, or when the process dies)
    until :func:`write_container` copies them to the model file: a writer that lays a model out
    part by part need not hold the parts laid out so far."""

    #: bytes of one piece read back
    PIECE_BYTES = 1 << 20

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        import tempfile  # only writers spill (with shutil, bz2 and lzma: 4 ms of a scorer's start)

        self.directory = directory
        self.file = tempfile.TemporaryFile(dir=directory)

    def put(self, array: np.ndarray) -> ArrayStream:
        """Park ``array``; the stream that reads it back, a piece at a time."""
        array = np.ascontiguousarray(array)
        offset = self.file.seek(0, os.SEEK_END)
        self.file.write(memoryview(array).cast("B"))
        dtype, count = array.dtype, array.size
        return ArrayStream(dtype, count, lambda: self._pieces(offset, dtype, count))

    def _pieces(self, offset: int, dtype: np.dtype, count: int) -> Iterable[np.ndarray]:
        step = max(1, self.PIECE_BYTES // dtype.itemsize)
        for first in range(0, count, step):
            piece = np.empty(min(step, count - first), dtype=dtype)
            self.file.seek(offset + first * dtype.itemsize)
            self.file.readinto(memoryview(piece).cast("B"))
            yield piece

    def __enter__(self) -> "Spill":
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


def _pieces(array) -> Iterable[np.ndarray]:
    return array.pieces() if isinstance(array, ArrayStream) else [np.ascontiguousarray(array)]


def _described(array) -> tuple[str, int, int]:
    """(dtype string, element count, CRC-32) of an array or an :class:`ArrayStream`, checking
    that a stream's pieces hold exactly its count of its type."""
    if not isinstance(array, ArrayStream):
        data = np.ascontiguousarray(array)
        return data.dtype.str, int(data.size), zlib.crc32(memoryview(data).cast("B"))
    crc, count = 0, 0
    for piece in array.pieces():
        if piece.dtype != array.dtype:
            raise ValueError(f"a piece of type {piece.dtype} in a stream of {array.dtype}")
        crc, count = zlib.crc32(memoryview(np.ascontiguousarray(piece)).cast("B"), crc), count + piece.size
    if count != array.count:
        raise ValueError(f"a stream of {array.count:,} elements gave {count:,}")
    return np.dtype(array.dtype).str, count, crc


def write_container(out: BinaryIO, header: dict, arrays: dict[str, np.ndarray | ArrayStream]) -> None:
    """Write ``header`` (a JSON-ready dict, given a "sections" and a "file_bytes" entry here)
    and ``arrays`` (numpy arrays, or :class:`ArrayStream` pieces) to the binary file ``out``."""
    sections, offset = {}, 0
    for name, array in arrays.items():
        dtype, count, crc = _described(array)
        sections[name] = {"offset": offset, "dtype": dtype, "count": count, "crc32": crc}
        offset = _aligned(offset + count * np.dtype(dtype).itemsize)
    header = {**header, "sections": sections, "file_bytes": 0}
    # the file size is part of the header, whose length depends on it: iterate to the fixed point
    while True:
        text = json.dumps(header, separators=(",", ":")).encode("utf-8")
        total = _aligned(PREFIX.size + len(text)) + offset
        if header["file_bytes"] == total:
            break
        header["file_bytes"] = total
    out.write(PREFIX.pack(MAGIC, len(text), zlib.crc32(text)))
    out.write(text)
    position = PREFIX.size + len(text)
    for name, array in arrays.items():
        start = _aligned(PREFIX.size + len(text)) + sections[name]["offset"]
        out.write(b"\0" * (start - position))
        position = start
        for piece in _pieces(array):
            piece = np.ascontiguousarray(piece)
            out.write(memoryview(piece).cast("B"))
            position += piece.nbytes
    out.write(b"\0" * (total - position))


def is_container(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts with the compact model magic (or is a
    beginning of it: a file cut that short is a truncated model, and is reported so)."""
    return head.startswith(MAGIC) or (0 < len(head) < len(MAGIC) and MAGIC.startswith(head))


def read_header(path: Path) -> tuple[dict, int]:
    """The header of the container at ``path`` and its data start, checked against its CRC and
    the file's size; :class:`ModelFileError` naming the defect otherwise."""
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(PREFIX.size)
            if not is_container(prefix):
                raise ModelFileError(f"{path}: not an lmtool compact model file (bad magic bytes)")
            if len(prefix) < PREFIX.size:
                raise ModelFileError(f"{path}: corrupt or truncated model file: {len(prefix)} bytes")
            _, length, crc = PREFIX.unpack(prefix)
            size = os.fstat(handle.fileno()).st_size
            if PREFIX.size + length > size:
                raise ModelFileError(f"{path}: corrupt or truncated model file: the header claims {length:,} "
                                     f"bytes, the file has {size:,}")
            text = handle.read(length)
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read model file: {error.strerror}") from None
    if zlib.crc32(text) != crc:
        raise ModelFileError(f"{path}: corrupt file: the header fails its checksum")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ModelFileError(f"{path}: corrupt file: the header is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("sections"), dict):
        raise ModelFileError(f"{path}: corrupt file: the header has no section table")
    if header.get("file_bytes") != size:
        raise ModelFileError(f"{path}: corrupt or truncated model file: {size:,} bytes, the header says "
                             f"{header.get('file_bytes')}")
    return header, _aligned(PREFIX.size + length)


class Container:
    """An open container: its header, and its arrays mapped (and CRC-checked) on first use."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.header, self._start = read_header(self.path)
        self._map: mmap.mmap | None = None
        self._arrays: dict[str, np.ndarray] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.header["sections"]

    def array(self, name: str, dtype: str, check: Callable[[np.ndarray], str | None] | None = None) -> np.ndarray:
        """The read-only array ``name`` of numpy type ``dtype``; its CRC (and ``check``, which
        returns a defect or None) is verified once, the first time it is read."""
        if name in self._arrays:
            return self._arrays[name]
        entry = self.header["sections"].get(name)
        if not isinstance(entry, dict):
            raise ModelFileError(f"{self.path}: corrupt file: the section {name!r} is missing")
        try:
            dtype = np.dtype(dtype)
            offset, count = self._start + int(entry["offset"]), int(entry["count"])
            if entry["dtype"] != dtype.str or offset < self._start or count < 0 or offset + count * dtype.itemsize > self.header["file_bytes"]:
                raise ValueError("wrong type or outside the file")
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{self.path}: corrupt file: the section {name!r} is described wrongly") from None
        if self._map is None:
            with open(self.path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        data = memoryview(self._map)[offset : offset + count * dtype.itemsize]
        if zlib.crc32(data) != entry.get("crc32"):
            raise ModelFileError(f"{self.path}: corrupt file: the section {name!r} fails its checksum")
        array = np.frombuffer(data, dtype=dtype, count=count)
        defect = check(array) if check is not None else None
        if defect:
            raise ModelFileError(f"{self.path}: invalid model: {name} {defect}")
        self._arrays[name] = array
        return array

    def release(self, *names: str) -> None:
        """Let go of the pages this process has mapped of the arrays ``names`` (the whole pages
        inside each): the arrays stay readable, a later read maps their pages again from the page
        cache. For arrays read once, such as the vocabulary a scorer indexes (0.25 MiB of
        ``lmtool query``'s peak for Brown's 14,116 words). Where mmap has no madvise, nothing happens."""
        if self._map is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        for name in names:
            entry = self.header["sections"][name]
            start = self._start + int(entry["offset"])
            end = start + int(entry["count"]) * np.dtype(entry["dtype"]).itemsize
            first, last = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE, end // mmap.PAGESIZE * mmap.PAGESIZE
            if last > first:
                self._map.madvise(mmap.MADV_DONTNEED, first, last - first)
