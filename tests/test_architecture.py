"""The import rules of STYLE.md: imports flow one way, and torch is imported only under lmtool/neural."""

import ast
import json
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "lmtool"

# layer -> lmtool subpackages/modules it must never import. The analyses sit above evaluation and
# below compare: they use the LanguageModel API and lmtool.ngram, and reach torch only through
# lmtool.neural (which never imports them back).
FORBIDDEN = {
    "errors": ["lmtool"],
    "lazy": ["lmtool"],
    "allocator": ["lmtool"],
    "files": ["lmtool.text", "lmtool.lm", "lmtool.ngram", "lmtool.neural", "lmtool.evaluate", "lmtool.sampling",
              "lmtool.analysis", "lmtool.cli"],
    "limits": ["lmtool.files", "lmtool.text", "lmtool.lm", "lmtool.ngram", "lmtool.neural", "lmtool.evaluate",
               "lmtool.sampling", "lmtool.analysis", "lmtool.cli"],
    "text": ["lmtool.ngram", "lmtool.neural", "lmtool.evaluate", "lmtool.sampling", "lmtool.analysis", "lmtool.cli"],
    "lm": ["lmtool.ngram", "lmtool.neural", "lmtool.evaluate", "lmtool.sampling", "lmtool.analysis", "lmtool.cli"],
    "ngram": ["lmtool.neural", "lmtool.evaluate", "lmtool.sampling", "lmtool.analysis", "lmtool.cli", "torch"],
    "neural": ["lmtool.ngram", "lmtool.evaluate", "lmtool.sampling", "lmtool.analysis", "lmtool.cli"],
    "evaluate": ["lmtool.analysis", "lmtool.cli", "torch"],
    "sampling": ["lmtool.analysis", "lmtool.cli", "torch"],
    "analysis": ["lmtool.compare", "lmtool.cli", "torch"],
    "compare": ["lmtool.cli", "torch"],
    "cli": ["torch"],
}


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (inside functions too), absolute imports only."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_imports_flow_one_way():
    violations = []
    for layer, forbidden in FORBIDDEN.items():
        files = [PACKAGE / f"{layer}.py"] if (PACKAGE / f"{layer}.py").exists() else list((PACKAGE / layer).rglob("*.py"))
        for path in files:
            for name in imported_modules(path):
                if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                    violations.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert violations == []


def test_torch_is_imported_only_under_neural():
    outside = [path for path in PACKAGE.rglob("*.py") if "neural" not in path.relative_to(PACKAGE).parts]
    assert len(outside) > 20  # the walk sees the package
    importers = [str(path.relative_to(PACKAGE.parent)) for path in outside
                 if any(name == "torch" or name.startswith("torch.") for name in imported_modules(path))]
    assert importers == []


def test_the_rule_sees_lazy_imports(tmp_path):
    # the check must catch an import inside a function, which a top-level scan would miss
    path = tmp_path / "lazy.py"
    path.write_text("def f():\n    import torch.nn\n    from torch import optim\n")
    assert imported_modules(path) == {"torch.nn", "torch"}


def test_importing_the_cli_the_analyses_and_the_neural_config_imports_no_torch():
    code = ("import sys, pkgutil, importlib, lmtool.cli, lmtool.neural.config\n"
            "for module in pkgutil.iter_modules(lmtool.cli.__path__):\n"
            "    importlib.import_module('lmtool.cli.' + module.name)\n"
            "import lmtool.compare, lmtool.evaluate, lmtool.sampling, lmtool.models, lmtool.lm, lmtool.analysis\n"
            "for module in pkgutil.iter_modules(lmtool.analysis.__path__):\n"
            "    importlib.import_module('lmtool.analysis.' + module.name)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_text_never_imports_corpora():
    # corpora/ registers its corpora into lmtool.text.registry (an entry point); never the reverse
    offenders = [path for path in (PACKAGE / "text").rglob("*.py")
                 if any(name == "corpora" or name.startswith("corpora.") for name in imported_modules(path))]
    assert offenders == []


def test_nothing_imports_cli():
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue  # the CLI itself, and `python -m lmtool` whose one job is to run it
        assert not any(n.startswith("lmtool.cli") for n in imported_modules(path)), path


def test_help_and_ngram_commands_do_not_import_torch():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from lmtool.cli.main import cli\n"
        "for args in (['--help'], ['corpus', '--help'], ['fit-ngram', '--help'], ['export', '--help']):\n"
        "    result = CliRunner().invoke(cli, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scoring_a_model_file_imports_neither_fitting_nor_corpus_reading(tmp_path):
    # `lmtool query` starts a process per pipeline: the estimators, the ARPA parser, the corpus
    # readers (with bz2, lzma, shutil), the temporary-file writer and, on one thread, the thread
    # pool are start-up it never uses
    from lmtool.ngram import fit_ngram, save_ngram

    text = tmp_path / "train.txt"
    text.write_text("the cat sat\nthe dog sat\n")
    save_ngram(fit_ngram(str(text), 2, "witten-bell", split_fractions="1,0,0"), tmp_path / "m.lmt")
    unwanted, output = _imported_by(["query", "--level", "summary", str(tmp_path / "m.lmt"), str(text)],
                                    ("lmtool.ngram.fit", "lmtool.ngram.estimators", "lmtool.ngram.arpa",
                                     "lmtool.ngram.legacy", "lmtool.text.loading", "lmtool.text.readers"),
                                    ("tempfile", "zipfile", "lzma", "bz2", "torch", "concurrent.futures"))
    assert unwanted == []
    assert "Perplexity including OOVs" in output


def test_converting_an_arpa_file_imports_neither_fitting_nor_corpus_reading(tmp_path):
    # `lmtool fit-ngram --from-arpa` only lays an ARPA file out as a model file: the estimators,
    # the modified Kneser-Ney stages and corpus reading are memory it never uses (its --smoothing
    # choices need only the methods' registry)
    from lmtool.ngram import fit_ngram, write_arpa

    text = tmp_path / "train.txt"
    text.write_text("the cat sat\nthe dog sat\nthe cat ran\n")
    write_arpa(fit_ngram(str(text), 3, split_fractions="1,0,0", discount_fallback=True), tmp_path / "m.arpa")
    unwanted, output = _imported_by(["fit-ngram", "--from-arpa", str(tmp_path / "m.arpa"), "-o", str(tmp_path / "m.lmt")],
                                    ("lmtool.ngram.estimators.", "lmtool.ngram.modified_kneser_ney.", "lmtool.ngram.cluster",
                                     "lmtool.ngram.external", "lmtool.text.loading", "lmtool.text.specs",
                                     "lmtool.text.splits"),
                                    ("torch",), allowed=("lmtool.ngram.modified_kneser_ney.prune",))
    assert unwanted == []
    assert "arpa order 3" in output


def test_fitting_to_an_arpa_file_imports_no_arpa_parser(tmp_path):
    # `lmtool fit-ngram --arpa` writes ARPA text: the parser, the converter's layout (with
    # tempfile) and socket are start-up it never uses, measured against lmplz's whole process
    text = tmp_path / "train.txt"
    text.write_text("the cat sat\nthe dog sat\nthe cat ran\n")
    unwanted, output = _imported_by(["fit-ngram", "--corpus", str(text), "--split-fractions", "1", "--order", "2",
                                     "--smoothing", "witten-bell", "--arpa", str(tmp_path / "m.arpa")],
                                    ("lmtool.ngram.arpa.read", "lmtool.ngram.arpa.stream", "lmtool.ngram.arpa.build",
                                     "lmtool.ngram.arpa.fields"),
                                    ("tempfile", "socket", "torch"))
    assert unwanted == []
    assert (tmp_path / "m.arpa").read_text().startswith("\n\\data\\\nngram 1=")
    assert "witten-bell order 2" in output


def _imported_by(argv: list[str], prefixes: tuple[str, ...], names: tuple[str, ...],
                 allowed: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Run ``lmtool argv`` in a fresh interpreter: the modules it imported that start with one of
    ``prefixes`` or are one of ``names`` (but not ``allowed``), and what it printed."""
    code = (
        "import json, sys\n"
        f"sys.argv = ['lmtool', *{argv!r}]\n"
        "from lmtool.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert done.code in (0, None), done.code\n"
        f"print(json.dumps(sorted(name for name in sys.modules if (name.startswith({prefixes!r}) or name in {names!r})\n"
        f"                        and name not in {allowed!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    *output, found = done.stdout.rstrip("\n").split("\n")
    return json.loads(found), "\n".join(output)
