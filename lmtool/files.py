"""Files lmtool writes: the checks made before any work, atomic writes, owned temporary names, a lock.

Every command runs the same two checks on its outputs before it reads or computes anything
(through :func:`lmtool.cli.options.check_paths`), so that a mistake costs nothing:

- :func:`check_distinct`: no output is the same file as an input or as another output, by
  resolved path or by inode (hard links, ``./m.npz`` vs ``m.npz``); no input lies inside an
  output directory that is replaced whole;
- :func:`check_writable`: a file can be created where each output goes (a probe file is made
  and removed, since root ignores permission bits and only trying tells a read-only mount).

A model or report file is then written by :func:`atomic_write` to a temporary file beside its
target, fsynced, and renamed over the target: a kill, a full disk or an exception leaves
either the old file or the new one, never a truncated file that looks like a model. An
``OSError`` while writing becomes one :class:`LmtoolError` line naming the path and the cause.

**Temporary names say whose they are.** Temporary files and directories are named
``PREFIX.HOST-PID.RANDOM[SUFFIX]``. A process killed by SIGKILL cannot clean up, so the next
writer of the same prefix in the same directory removes the entries whose process on this host
is gone (:func:`sweep_stale`); entries of live processes and of other hosts are left alone.
(Hosts are told apart by their names: containers that share a host name and a directory but
not their process ids would see each other's entries as stale.)
SIGTERM and Ctrl-C become exceptions in the CLI, so the writer's own cleanup runs at once.

**A lock** (:func:`directory_lock`) keeps two live processes out of one directory: an
``flock`` on a file there, which the kernel releases when its holder dies, however it dies; the
file records the holder's host and PID so that a refusal can name it, and a leftover file
whose lock nobody holds is recognisably stale and simply taken over.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import math
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import numpy as np

from lmtool.errors import LmtoolError, UsageError

#: suffix of atomic_write's temporary files: ``.NAME.HOST-PID.RANDOM.tmp``
TEMPORARY_SUFFIX = ".tmp"

log = logging.getLogger(__name__)


# ----- owned temporary names ------------------------------------------------------------------
def _host() -> str:
    """This machine's name reduced to letters and digits (it goes inside file names)."""
    return re.sub(r"[^A-Za-z0-9]", "", _hostname())[:32] or "host"


def _hostname() -> str:
    # shutil and tempfile are imported where used, and socket only where os.uname is missing
    # (Windows): together they cost about 10 ms of every process's start (a fit needs none)
    if hasattr(os, "uname"):
        return os.uname().nodename  # what gethostname() returns on POSIX
    import socket

    return socket.gethostname()


def owner_tag() -> str:
    """``HOST-PID`` of this process: the owner part of every temporary name lmtool makes."""
    return f"{_host()}-{os.getpid()}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (one of another user counts as alive)."""
    if pid <= 0:
        return True  # not a process id lmtool wrote: never treat it as gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(directory: str | os.PathLike, prefix: str, suffix: str = "") -> list[str]:
    """Remove the entries of ``directory`` named ``PREFIX.HOST-PID.RANDOM[SUFFIX]`` (see the module
    docstring) whose owner was a process of this host that no longer runs; returns their paths.

    ``prefix`` ends before the dot of the owner tag. Unreadable directories are left alone.
    """
    pattern = re.compile(re.escape(prefix) + r"\.([A-Za-z0-9]*)-(\d+)\.[A-Za-z0-9_]+" + re.escape(suffix))
    host, removed = _host(), []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or match[1] != host or int(match[2]) == os.getpid() or process_alive(int(match[2])):
            continue
        if entry.is_dir(follow_symlinks=False):
            import shutil

            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                continue
        removed.append(entry.path)
    return removed


def owned_name(stem: str, suffix: str = "", parent: str | os.PathLike | None = None) -> str:
    """A fresh path ``PARENT/STEM.HOST-PID.RANDOM SUFFIX`` (``parent`` defaults to the system's
    temporary directory), after removing the entries of that pattern that killed processes left.

    Only the name: the caller creates it (``os.mkdir``, ``os.open`` with ``O_EXCL``) inside the
    block that removes it, so that a signal arriving between the two cannot leave it behind (as
    it can after :func:`tempfile.mkdtemp`, which creates before the caller's ``try``). Files and
    directories so created get the umask's permissions, not mkstemp's 0600.
    """
    if parent is None:
        import tempfile

        parent = tempfile.gettempdir()
    parent = os.fspath(parent)
    sweep_stale(parent, stem, suffix)
    # os.urandom is what secrets.token_hex reads, without importing random and its hashes (4 ms)
    return os.path.join(parent, f"{stem}.{owner_tag()}.{os.urandom(6).hex()}{suffix}")


@contextmanager
def temporary_directory(stem: str, parent: str | os.PathLike | None = None) -> Iterator[str]:
    """A fresh directory named by :func:`owned_name`, removed when the block ends (on errors, Ctrl-C
    and SIGTERM too)."""
    path = owned_name(stem, parent=parent)
    try:
        os.mkdir(path, 0o700)
        yield path
    finally:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def create_exclusive(path: str) -> int:
    """A descriptor of the new file ``path``, opened for writing; the umask decides its mode."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)


# ----- writing ----------------------------------------------------------------------------------
def write_error(path: str | os.PathLike, error: OSError) -> LmtoolError:
    """The one-line error for an ``OSError`` raised while writing ``path`` (exit 1)."""
    cause = error.strerror or str(error) or type(error).__name__
    hint = ": free some space or write elsewhere" if error.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return LmtoolError(f"cannot write {path}: {cause}{hint}")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(binary_file)`` on a temporary file beside ``path`` (its directory is created
    if missing), fsync it, then rename it over ``path``. The new file gets the umask's permissions.

    Any ``OSError`` becomes :func:`write_error`'s :class:`LmtoolError`; the temporary file is
    removed on every error and on Ctrl-C/SIGTERM, and the next write of ``path`` removes those
    that SIGKILLed writers left.
    """
    path = Path(path)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(path, error) from None
    temporary = owned_name(f".{path.name}", TEMPORARY_SUFFIX, directory)
    try:
        with os.fdopen(create_exclusive(temporary), "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_error(path, error) from None
        raise


def atomic_write_lines(path: str | os.PathLike, lines: Iterable[str]) -> None:
    """Write ``lines`` (each gets a ``\\n``) as UTF-8 text to ``path`` with :func:`atomic_write`,
    streaming: a long report never sits in memory whole, and a failure leaves no partial file."""
    def write(out: BinaryIO) -> None:
        for line in lines:
            out.write(line.encode("utf-8") + b"\n")

    atomic_write(path, write)


def write_npy(handle: BinaryIO, array: np.ndarray) -> None:
    """``array`` in ``.npy`` format (what ``np.save`` writes) to the open binary ``handle``, the data
    through the file's own ``write``: numpy's ``tofile`` reports a short write on a full disk as an
    ``OSError`` without ENOSPC, so that the error could not say the disk is full."""
    array = np.ascontiguousarray(array)
    np.lib.format.write_array_header_1_0(handle, np.lib.format.header_data_from_array_1_0(array))
    handle.write(array.data)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-inf) replaced by None, and numpy scalars and
    arrays as plain Python: JSON has no NaN or Infinity, and a reader must not choke on lmtool's output."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalars and arrays
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def json_text(payload: Any, indent: int | None = 2) -> str:
    """``payload`` as strict JSON (see :func:`json_safe`); anything else JSON lacks is written as a string."""
    return json.dumps(json_safe(payload), indent=indent, allow_nan=False, default=str)


# ----- checks before the work -------------------------------------------------------------------
def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether paths ``a`` and ``b`` name one file: the same resolved path, or (both existing) the same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def is_inside(path: str | os.PathLike, directory: str | os.PathLike) -> bool:
    """Whether ``path`` is ``directory`` or lies under it (resolved paths)."""
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def check_distinct(outputs: list[tuple[str, str]], inputs: list[tuple[str, str]],
                   replaced_directories: list[tuple[str, str]] = ()) -> None:
    """Raise :class:`UsageError` when an output file is an input or another output, or an input lies
    inside a directory that is replaced whole. Each entry is ``(what the user called it, path)``,
    e.g. ``("--arpa", "m.arpa")``."""
    for index, (label, path) in enumerate(outputs):
        for in_label, in_path in inputs:
            if same_file(path, in_path):
                raise UsageError(f"{label} {path} is the same file as {in_label} {in_path}: writing it would destroy "
                                 "the input; give another output path")
        for other_label, other in outputs[:index]:
            if same_file(path, other):
                raise UsageError(f"{other_label} {other} and {label} {path} are the same file: give each output "
                                 "its own path")
    for label, directory in replaced_directories:
        for in_label, in_path in inputs:
            if is_inside(in_path, directory):
                raise UsageError(f"{label} {directory} would be replaced, and {in_label} {in_path} is in it: "
                                 "give another output directory")


def check_writable(path: str | os.PathLike, label: str, directory: bool = False) -> None:
    """Raise :class:`UsageError` (naming ``label``, the option) unless a file, or with ``directory``
    a directory, can be made at ``path``: what exists there must be of that kind, and a probe
    file must be creatable in the nearest existing directory (missing directories are created
    by the writers later)."""
    path = Path(path)
    wanted = "a directory" if directory else "a file"
    if path.exists() and path.is_dir() != directory:
        raise UsageError(f"{label} {path} exists and is not {wanted}: give {wanted} path")
    existing = path if directory and path.is_dir() else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{label} {path}: {existing} is not a directory, so nothing can be written under it")
    probe = owned_name(f".{path.name or 'lmtool'}", TEMPORARY_SUFFIX, existing)
    try:
        try:
            os.close(create_exclusive(probe))
        finally:
            Path(probe).unlink(missing_ok=True)
    except OSError as error:
        raise UsageError(f"{label} {path}: cannot write in {existing} ({error.strerror or error}): "
                         "give a writable location") from None


# ----- a lock against two live processes ---------------------------------------------------------
@contextmanager
def directory_lock(directory: str | os.PathLike, name: str = "lock", what: str = "run") -> Iterator[Path]:
    """Hold an exclusive lock on ``directory/name`` for the block (the directory is created).

    Raises :class:`LmtoolError` naming the holder (host, PID) when a live process holds it. The
    kernel drops an ``flock`` when its process dies, so a file left by a killed process is taken
    over; the file is removed when the block ends.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(directory, error) from None
    path = directory / name
    handle = _acquire(path, what)
    try:
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(handle)


def _acquire(path: Path, what: str) -> int:
    """The descriptor of ``path`` opened and flocked by this process, with the holder's line written in it."""
    while True:
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise write_error(path, error) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle)
            os.close(handle)
            raise LmtoolError(f"another {what} ({holder}) is using {path.parent}: wait for it to end, or give "
                              "another directory") from None
        # the holder before us may have removed the file between our open and our lock: retry on the new one
        try:
            current = os.stat(path)
        except FileNotFoundError:
            os.close(handle)
            continue
        if (current.st_dev, current.st_ino) != (os.fstat(handle).st_dev, os.fstat(handle).st_ino):
            os.close(handle)
            continue
        if current.st_size:  # a holder that died without removing the file (SIGKILL, power loss)
            log.warning("%s: taking over the lock of %s, which ended without releasing it", path, _read_holder(handle))
        os.ftruncate(handle, 0)
        os.write(handle, json.dumps({"host": _hostname(), "pid": os.getpid()}).encode("utf-8") + b"\n")
        return handle


def _read_holder(handle: int) -> str:
    """``host H, pid P`` from a lock file's content, or a neutral phrase when it cannot be read."""
    try:
        holder = json.loads(os.pread(handle, 4096, 0).decode("utf-8"))
        return f"host {holder['host']}, pid {holder['pid']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that holds its lock"
