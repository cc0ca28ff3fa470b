"""Named corpora and ``gen:`` generators: a registry that corpus packages fill and specs read.

The text layer defines the spec syntax (a bare name, ``gen:NAME[:key=value,...]``) but owns no
corpus: the top-level ``corpora`` package registers lmtool's own (``brown-bengio2003``,
``gen:markov``, ``gen:repeat``), and any other installed package can add more. Two ways in:

- call :func:`register_corpus` / :func:`register_generator` (from Python, for this process);
- declare an entry point in the group ``lmtool.corpora`` whose value is a function of no
  arguments that makes those calls. lmtool's own ``pyproject.toml`` says::

      [project.entry-points."lmtool.corpora"]
      corpora = "corpora:register"

The entry points are read once per process and only when a spec names a corpus that is not
registered yet (a path or glob never triggers it): reading installed metadata costs tens of
milliseconds, and it is why ``load_corpus("gen:repeat")`` works with nothing else imported
while the text layer never imports ``corpora``.
"""

from __future__ import annotations

from typing import Callable, Sequence

from lmtool.errors import DataError, LmtoolError, UsageError
from lmtool.text.sources import Source

ENTRY_POINT_GROUP = "lmtool.corpora"

#: a named corpus: () -> Source
CorpusFactory = Callable[[], Source]
#: a generator: (options as {key: value} strings, split fractions) -> Source
GeneratorFactory = Callable[[dict[str, str], Sequence[float]], Source]

_corpora: dict[str, CorpusFactory] = {}
_generators: dict[str, GeneratorFactory] = {}
_discovered = False


def register_corpus(name: str, factory: CorpusFactory) -> None:
    """Make the spec ``name`` mean the corpus ``factory()`` returns.

    A name holds no ``:`` or whitespace; registering the same factory again does nothing (a
    registration function may run twice), another factory under a taken name is a ValueError.
    """
    _register(_corpora, "corpus", name, factory)


def register_generator(name: str, factory: GeneratorFactory) -> None:
    """Make the spec ``gen:name[:key=value,...]`` mean ``factory(options, fractions)``.

    ``options`` is the ``key=value`` list as a dict of strings (the generator checks them);
    ``fractions`` are the train/valid/test fractions the generated text is to be cut by.
    """
    _register(_generators, "generator", name, factory)


def named_source(name: str) -> Source | None:
    """The registered corpus ``name``, or None when no corpus has that name."""
    factory = _lookup(_corpora, name)
    return factory() if factory else None


def generated_source(name: str, options: str, fractions: Sequence[float]) -> Source:
    """The generated corpus ``gen:name:options``, cut into splits by ``fractions``."""
    factory = _lookup(_generators, name)
    if factory is None:
        if not _generators:
            raise DataError(
                f"unknown generated corpus gen:{name}: no generator is registered (lmtool's own register "
                f"through the {ENTRY_POINT_GROUP} entry point: reinstall lmtool, e.g. pip install -e .)"
            )
        choices = ", ".join("gen:" + known for known in sorted(_generators))
        raise DataError(f"unknown generated corpus gen:{name}: choose one of {choices}")
    return factory(parse_options(name, options), fractions)


def parse_options(name: str, text: str) -> dict[str, str]:
    """``"order=2,seed=3"`` as ``{"order": "2", "seed": "3"}``."""
    options = {}
    for item in filter(None, text.split(",")):
        key, equals, value = item.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise UsageError(f"gen:{name}: bad option {item!r}: write key=value pairs separated by commas")
        options[key.strip()] = value.strip()
    return options


def discover() -> None:
    """Run every registration function of the ``lmtool.corpora`` entry-point group, once per process."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    from importlib.metadata import entry_points  # imported here: tens of ms that a path spec never pays

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()()
        except Exception as error:  # a broken third-party package: name it rather than crash unexplained
            raise LmtoolError(
                f"corpus package {entry.value!r} (entry point {entry.name!r} in {ENTRY_POINT_GROUP}) "
                f"failed to register its corpora: {type(error).__name__}: {error}"
            ) from error


def _lookup(table: dict, name: str):
    if name not in table:
        discover()
    return table.get(name)


def _register(table: dict, what: str, name: str, factory: Callable) -> None:
    """Programming errors of the registering code are ValueError/TypeError (discover names the package)."""
    if not isinstance(name, str) or not name or ":" in name or any(char.isspace() for char in name):
        raise ValueError(f"bad {what} name {name!r}: a name is non-empty, without ':' or whitespace")
    if not callable(factory):
        raise TypeError(f"{what} {name!r}: the factory must be callable, got {factory!r}")
    known = table.get(name)
    if known is not None and known != factory:
        raise ValueError(f"{what} {name!r} is registered twice ({_qualified(known)} and {_qualified(factory)})")
    table[name] = factory


def _qualified(factory: Callable) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', repr(factory))}"
