"""Names of a package imported from their modules on first use (PEP 562's module ``__getattr__``).

A package re-exports its public API, but a process that needs one corner of it (``lmtool
query`` scores a model file: no estimators, no ARPA parser, no corpus readers) should not pay
for importing the rest at its start. Imports nothing of lmtool's, so any layer may use it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def lazy_names(package: str, sources: dict[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package`` that imports each name of ``sources`` (name -> module)
    when first asked for, and keeps it in the package's namespace, so it is looked up once."""

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(sources[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
