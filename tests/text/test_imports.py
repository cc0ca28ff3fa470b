"""The text layer stays light: no torch ever, NLTK only when a spec or tokenizer needs it."""

import subprocess
import sys


def test_text_layer_imports_neither_torch_nor_nltk():
    code = (
        "import sys\n"
        "import lmtool.text, corpora, lmtool.cli.corpus\n"
        "corpora.register()  # what the lmtool.corpora entry point runs\n"
        "from lmtool.text import load_corpus\n"
        "load_corpus('gen:markov:length=100')\n"
        "bad = [m for m in ('torch', 'nltk') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
