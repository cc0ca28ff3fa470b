"""The command-line interface: the only package that imports click, prints or exits.

One module per command; :mod:`lmtool.cli.main` loads each lazily so that ``lmtool --help``
and the n-gram commands never import torch.
"""
