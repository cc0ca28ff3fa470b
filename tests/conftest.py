"""Fixtures and helpers shared by the whole suite: the ``../shared`` data folder (skipping
without it), lmtool's corpora registered, and small model files that tests of several commands need."""

from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("LMTOOL_SHARED", REPO.parent / "shared"))
#: the entry point by which lmtool's own corpora register (pyproject.toml)
CORPORA_ENTRY_POINT = "corpora:register"


def installed_corpora_entry_point() -> bool:
    """Whether the installed lmtool metadata declares :data:`CORPORA_ENTRY_POINT` (an editable
    install made before pyproject.toml did, does not until ``pip install -e .`` runs again)."""
    from importlib.metadata import entry_points

    from lmtool.text.registry import ENTRY_POINT_GROUP

    return any(entry.value == CORPORA_ENTRY_POINT for entry in entry_points(group=ENTRY_POINT_GROUP))


@pytest.fixture(scope="session", autouse=True)
def lmtool_corpora() -> None:
    """lmtool's corpora (gen:markov, gen:repeat, brown-bengio2003), registered directly when the
    installed metadata cannot announce them: the suite tests the code, not the install.
    tests/text/test_registry.py tests discovery through entry points on its own."""
    if not installed_corpora_entry_point():
        import corpora

        corpora.register()


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


# An ARPA bigram written by hand: unigrams <unk> .1, </s> .2, a .3, b .25, c .15 (sum 1);
# bigrams <s> a .6, a b .5, b </s> .4; backoff weights make each context sum to 1:
# bow(<s>) = (1 - .6) / (1 - .3) = .571429, bow(a) = .5 / .75, bow(b) = .6 / .8.
ARPA = """\\data\\
ngram 1=6
ngram 2=3

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.243038
-0.698970\t</s>\t0
-0.522879\ta\t-0.176091
-0.602060\tb\t-0.124939
-0.823909\tc\t0

\\2-grams:
-0.221849\t<s> a
-0.301030\ta b
-0.397940\tb </s>

\\end\\
"""


def save_rnn(path, prepared) -> None:
    """An untrained one-layer LSTM (4 units) over ``prepared``'s vocabulary, saved as an RNN model
    file at ``path``: a real file of that kind for tests of the commands that read one (skips
    without torch)."""
    pytest.importorskip("torch")
    from lmtool.neural import RnnConfig, RnnNetwork
    from lmtool.neural.checkpoint import save_model_file

    net = RnnNetwork(RnnConfig(vocab_size=len(prepared.vocabulary), emb_size=4, hidden_size=4, layers=1))
    meta = {"unit": prepared.unit, "tokenizer": prepared.tokenizer.to_json(),
            "vocabulary": prepared.vocabulary.to_json(), "fingerprint": prepared.fingerprint}
    save_model_file(path, net, meta)


def save_nnlm(path, prepared) -> None:
    """An untrained neural trigram (context 2, 4 units) over ``prepared``'s vocabulary, saved as a neural n-gram
    model file at ``path`` (skips without torch)."""
    pytest.importorskip("torch")
    from lmtool.neural import NnlmConfig, NnlmNetwork
    from lmtool.neural.checkpoint import save_model_file

    net = NnlmNetwork(NnlmConfig(vocab_size=len(prepared.vocabulary), context=2, emb_size=4, hidden_size=4))
    meta = {"unit": prepared.unit, "tokenizer": prepared.tokenizer.to_json(),
            "vocabulary": prepared.vocabulary.to_json(), "fingerprint": prepared.fingerprint}
    save_model_file(path, net, meta)
