"""The corpus registry: names and gen: generators registered into the text layer, and their
discovery through the ``lmtool.corpora`` entry point (lazily, once, never for a path)."""

import os
import subprocess
import sys
import textwrap

import pytest

from lmtool.errors import DataError
from lmtool.text import load_corpus, register_corpus, register_generator
from lmtool.text import registry
from lmtool.text.sources import Source
from tests.conftest import CORPORA_ENTRY_POINT, REPO, installed_corpora_entry_point


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry as it is (entry points already read), restored after the test."""
    registry.discover()
    monkeypatch.setattr(registry, "_corpora", dict(registry._corpora))
    monkeypatch.setattr(registry, "_generators", dict(registry._generators))


def two_lines() -> Source:
    return Source("two-lines", text=lambda: iter(["a b a\n", "b c\n"]))


def test_a_registered_name_is_a_corpus_spec(fresh_registry):
    register_corpus("two-lines", two_lines)
    corpus = load_corpus("two-lines", split_fractions="1")
    # a b a </s> b c </s>: 7 tokens; a 2, b 2, </s> 2, c 1 -> ids a 3, b 4, c 5
    assert corpus.source == "two-lines"
    assert corpus.splits["train"].ids.tolist() == [3, 4, 3, 2, 4, 5, 2]


def test_a_registered_generator_gets_its_options_and_fractions(fresh_registry):
    seen = []

    def alternate(options, fractions):
        seen.append((options, tuple(fractions)))
        text = "ab" * int(options["n"])
        return Source(f"gen:alternate:n={options['n']}", splits={"train": lambda: iter((text,))},
                      entropy_rate_bits=0.0, defaults={"tokenizer": "char", "unit": "stream"}, cut_by_fractions=True)

    register_generator("alternate", alternate)
    corpus = load_corpus("gen:alternate:n=3, tag = x", split_fractions="1")
    assert seen == [({"n": "3", "tag": "x"}, (1.0,))]
    assert corpus.entropy_rate_bits == 0.0 and corpus.splits["train"].n_tokens == 6


def test_a_path_on_disk_wins_over_a_name(fresh_registry, tmp_path, monkeypatch):
    register_corpus("two-lines", two_lines)
    (tmp_path / "two-lines").write_text("x y\n")
    monkeypatch.chdir(tmp_path)
    assert load_corpus("two-lines", split_fractions="1").vocabulary.tokens[3:] == ["x", "y"]


def test_registration_checks_names_and_refuses_a_second_factory(fresh_registry):
    for bad in ("", "gen:x", "two words"):
        with pytest.raises(ValueError, match="bad corpus name"):
            register_corpus(bad, two_lines)
    with pytest.raises(TypeError, match="callable"):
        register_generator("broken", "corpora.markov:source")
    register_corpus("two-lines", two_lines)
    register_corpus("two-lines", two_lines)  # the same factory again: a registration may run twice
    with pytest.raises(ValueError, match="registered twice"):
        register_corpus("two-lines", lambda: two_lines())


def test_unknown_generator_lists_the_registered_ones():
    with pytest.raises(DataError, match=r"unknown generated corpus gen:brackets: choose one of .*gen:markov, gen:repeat"):
        load_corpus("gen:brackets")


def fake_distribution(site, name: str, entry_point: str, module_source: str) -> None:
    """An installed distribution ``name`` in the folder ``site``: its module and a dist-info
    declaring ``entry_point`` in the lmtool.corpora group (what pip writes for a package)."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n{entry_point}\n")


def run_python(code: str, site=None) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (nothing imported, no conftest), with ``site`` on its path."""
    path = os.pathsep.join(str(p) for p in (REPO, site, os.environ.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, "PYTHONPATH": path},
                          capture_output=True, text=True)


def test_a_package_registers_through_its_entry_point_lazily_and_once(tmp_path):
    site = tmp_path / "site"
    fake_distribution(site, "fakecorpora", "fake = fakecorpora:register", """
        from lmtool.text import register_corpus
        from lmtool.text.sources import Source

        CALLS = []

        def register():
            CALLS.append(1)
            register_corpus("fake-corpus", lambda: Source("fake-corpus", text=lambda: iter(["p q p\\n"])))
        """)
    (tmp_path / "plain.txt").write_text("a b\n")
    result = run_python(f"""
        import sys
        from lmtool.errors import DataError
        from lmtool.text import load_corpus
        load_corpus({str(tmp_path / "plain.txt")!r}, split_fractions="1")
        load_corpus({str(tmp_path / "pl*.txt")!r}, split_fractions="1")
        assert "fakecorpora" not in sys.modules, "a path or glob spec read the entry points"
        first = load_corpus("fake-corpus", split_fractions="1")
        load_corpus("fake-corpus", split_fractions="1")
        try:
            load_corpus("no-such-corpus")
        except DataError:
            pass  # an unknown name after discovery: entry points are not read again
        import fakecorpora
        assert fakecorpora.CALLS == [1], fakecorpora.CALLS
        print(first.splits["train"].n_tokens)
        """, site)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4"]  # p q p </s>


def test_a_broken_package_is_named_in_one_error(tmp_path):
    site = tmp_path / "site"
    fake_distribution(site, "brokencorpora", "broken = brokencorpora:register", """
        def register():
            raise RuntimeError("no data here")
        """)
    result = run_python("""
        from lmtool.errors import LmtoolError
        from lmtool.text import load_corpus
        try:
            load_corpus("some-name")
        except LmtoolError as error:
            print(error)
        """, site)
    assert result.returncode == 0, result.stderr
    assert "'brokencorpora:register'" in result.stdout and "RuntimeError: no data here" in result.stdout


def test_lmtools_own_corpora_need_nothing_imported(tmp_path):
    """load_corpus("gen:repeat") in a fresh interpreter: found through the installed entry point."""
    if not installed_corpora_entry_point():
        tomllib = pytest.importorskip("tomllib")
        declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
        assert declared[registry.ENTRY_POINT_GROUP] == {"corpora": CORPORA_ENTRY_POINT}
        pytest.skip("the installed lmtool metadata predates its lmtool.corpora entry point: run pip install -e . again")
    result = run_python("""
        from lmtool.text import load_corpus
        print(load_corpus("gen:repeat:keys=2,fillers=2,gap=2,length=400").entropy_rate_bits)
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.75"]  # (log2 2 + 2 log2 2) / 4
