"""lmtool: build, evaluate, sample and compare n-gram and recurrent language models.

Both model families consume one shared text layer (:mod:`lmtool.text`), so their
perplexities on the same corpus are computed over exactly the same token stream.
"""

__version__ = "0.1.0"
