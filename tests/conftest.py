"""Fixtures shared by the whole suite: the ``../shared`` data folder, and skipping without it."""

from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("LMTOOL_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    """``../shared`` beside the checkout (CI has it; a user's fresh clone does not: skip then)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: it holds third-party data that CI places beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def golden_kenlm(shared_dir) -> pathlib.Path:
    """KenLM reference ARPA files and query outputs (see its README)."""
    path = shared_dir / "golden" / "kenlm"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def nltk_data(shared_dir) -> pathlib.Path:
    """Point NLTK at ``../shared/nltk_data`` so its corpus readers work offline."""
    path = shared_dir / "nltk_data"
    if not (path / "corpora").is_dir():
        pytest.skip(f"{path} is absent: NLTK corpora (brown, treebank) are not available offline")
    os.environ["NLTK_DATA"] = str(path)
    import nltk

    if str(path) not in nltk.data.path:
        nltk.data.path.insert(0, str(path))
    return path
