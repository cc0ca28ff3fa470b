"""Matplotlib without a display: the one place lmtool picks its backend, and writes its figures."""

from __future__ import annotations

from pathlib import Path

from lmtool.files import atomic_write


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (PNG files, no window, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> None:
    """Write a matplotlib figure as a PNG atomically: a failed or killed write leaves no empty or
    partial file (and a full disk is one line naming the file)."""
    atomic_write(path, lambda out: fig.savefig(out, format="png", dpi=100))
