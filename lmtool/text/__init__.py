"""The shared text layer: tokenizers, vocabulary, corpus specs, splits and prepared corpora.

Both model families consume what this package produces, so for a given corpus and tokenizer
they score exactly the same token ids. It never imports torch (nor NLTK, until a spec or the
treebank tokenizer needs it). Named and generated corpora are registered into it
(:func:`register_corpus`, :func:`register_generator`, or an ``lmtool.corpora`` entry point; see
:mod:`lmtool.text.registry`); it never imports the packages that provide them.
"""

from lmtool.lazy import lazy_names
from lmtool.text.encoding import UNITS, EncodedSplit
from lmtool.text.tokenizers import KINDS as TOKENIZER_KINDS
from lmtool.text.tokenizers import Tokenizer, make_tokenizer, tokenizer_from_json
from lmtool.text.vocabulary import BOS, BOS_ID, EOS, EOS_ID, UNK, UNK_ID, Vocabulary

#: imported on first use: corpus reading (readers for compressed files, specs, splits, the
#: registry) costs about 5 ms and 1 MiB of every process's start, which scoring a model file
#: (``lmtool query``: a tokenizer and a vocabulary) never needs
_LAZY = {
    "CORPUS_OPTIONS": "lmtool.text.loading",
    "encode_corpus": "lmtool.text.loading",
    "input_files": "lmtool.text.loading",
    "load_corpus": "lmtool.text.loading",
    "PreparedCorpus": "lmtool.text.prepared",
    "compute_fingerprint": "lmtool.text.prepared",
    "ENCODING_ERRORS": "lmtool.text.readers",
    "register_corpus": "lmtool.text.registry",
    "register_generator": "lmtool.text.registry",
}
__getattr__ = lazy_names(__name__, _LAZY)

__all__ = [
    "BOS",
    "BOS_ID",
    "CORPUS_OPTIONS",
    "ENCODING_ERRORS",
    "EOS",
    "EOS_ID",
    "TOKENIZER_KINDS",
    "UNITS",
    "UNK",
    "UNK_ID",
    "EncodedSplit",
    "PreparedCorpus",
    "Tokenizer",
    "Vocabulary",
    "compute_fingerprint",
    "encode_corpus",
    "input_files",
    "load_corpus",
    "make_tokenizer",
    "register_corpus",
    "register_generator",
    "tokenizer_from_json",
]
