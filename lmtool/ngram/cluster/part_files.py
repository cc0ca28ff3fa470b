"""The folder of part files that the workers write for a file the client assembles (stage 6 by partition).

The folder is made beside the destination, which must be on a filesystem that every worker and
the client see at the same path (a shared filesystem; a local cluster shares the machine's), and
removed when the file is written or the fit fails: a destination is written whole or not at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterable, Iterator

from lmtool.errors import LmtoolError


@contextmanager
def part_folder(destination: str, kind: str) -> Iterator[str]:
    """A fresh folder for the part files of ``destination`` (``kind`` names them: "arpa", "lmt"),
    removed on exit."""
    folder = tempfile.mkdtemp(prefix=f".lmtool-{kind}-parts-", dir=os.path.dirname(os.path.abspath(destination)))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_visible(paths: Iterable[str], option: str) -> None:
    """A one-line :class:`LmtoolError` when a part file the workers wrote is not seen here."""
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        raise LmtoolError(f"the workers wrote their parts where this machine does not see them ({missing[0]} "
                          f"is missing): {option} must be on a filesystem that every worker and this machine share")
