"""What this machine can hold: sizes that would exhaust memory refused up front, in one line.

An allocation of terabytes fails deep inside numpy or torch with a traceback (or swaps the
machine to a halt first). Where lmtool can tell the size before allocating (a generated
corpus, a network's weights and training state), it compares it with the machine's physical
memory and raises :class:`UsageError` naming the size it would need and what to change.
"""

from __future__ import annotations

import os

from lmtool.errors import UsageError


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_size(count: float) -> str:
    """``count`` bytes in a binary unit, e.g. ``7.3 TiB``."""
    value, unit = float(count), "bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            break
        value /= 1024
    return f"{int(count)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def check_fits(what: str, need: int, fix: str) -> None:
    """Raise :class:`UsageError` when ``what`` would need ``need`` bytes, more than physical memory."""
    available = physical_memory()
    if available is not None and need > available:
        raise UsageError(f"{what} would need about {format_size(need)} of memory, more than this machine's "
                         f"{format_size(available)}: {fix}")
