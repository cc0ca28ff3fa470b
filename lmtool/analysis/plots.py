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


def finish_line_plot(fig, ax, path: str | Path, xlabel: str, ylabel: str, title: str) -> None:
    """Label a one-axes line plot (axes, title, grid, legend), write it as ``path`` and close it."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    pyplot().close(fig)
