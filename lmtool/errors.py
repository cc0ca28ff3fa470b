"""The errors lmtool raises for user mistakes, and the exit codes the CLI maps them to.

The library raises these; only :mod:`lmtool.cli` turns them into a one-line message on stderr
and an exit status. Anything else that escapes is a bug and keeps its traceback.

Exit codes (documented in the README):

====  ==========================================================================
0     success
1     runtime failure (``LmtoolError``): e.g. training diverged, a tool failed, a
      write failed (disk full)
2     usage error (``UsageError``): a nonsensical option value or combination, an
      output that would overwrite an input, an unwritable destination
3     input data error (``DataError``): missing, empty, binary or undecodable
      input, an unknown corpus, an empty split
4     model file error (``ModelFileError``): corrupt, truncated, wrong kind or
      incompatible model file
130   interrupted (Ctrl-C)
143   terminated (SIGTERM)
====  ==========================================================================
"""


class LmtoolError(Exception):
    """A failure the user can act on; its message is one line that names cause and fix."""

    exit_code = 1


class UsageError(LmtoolError):
    """An option value or combination that makes no sense (order 0, dropout 1.5, ...)."""

    exit_code = 2


class DataError(LmtoolError):
    """Input text that cannot be used: missing, empty, binary, undecodable, unknown corpus."""

    exit_code = 3


class ModelFileError(LmtoolError):
    """A model file that is corrupt, truncated, of the wrong kind or incompatible."""

    exit_code = 4
