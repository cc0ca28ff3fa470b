"""The shared text layer: tokenizers, vocabulary, corpus specs, splits and prepared corpora.

Both model families consume what this package produces, so for a given corpus and tokenizer
they score exactly the same token ids. It never imports torch (nor NLTK, until a spec or the
treebank tokenizer needs it). Named and generated corpora are registered into it
(:func:`register_corpus`, :func:`register_generator`, or an ``lmtool.corpora`` entry point; see
:mod:`lmtool.text.registry`); it never imports the packages that provide them.
"""

from lmtool.text.encoding import UNITS, EncodedSplit
from lmtool.text.loading import CORPUS_OPTIONS, encode_corpus, input_files, load_corpus
from lmtool.text.prepared import PreparedCorpus, compute_fingerprint
from lmtool.text.readers import ENCODING_ERRORS
from lmtool.text.registry import register_corpus, register_generator
from lmtool.text.tokenizers import KINDS as TOKENIZER_KINDS
from lmtool.text.tokenizers import Tokenizer, make_tokenizer, tokenizer_from_json
from lmtool.text.vocabulary import BOS, BOS_ID, EOS, EOS_ID, UNK, UNK_ID, Vocabulary

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
