"""Issue 12, item 6: exit codes and messages. Usage errors are one line (click prints three); a
directory given as a model is exit 4 (bad model file), not 2; broken model metadata is exit 4
naming the file, not 3; export of an RNN names commands, not a Python function; the README's
exit-code table matches the code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmtool.errors import DataError, LmtoolError, ModelFileError, UsageError

from .conftest import REPO, invoke, one_line_error


@pytest.mark.parametrize("args, message", [
    (["train-rnn", "--corpus", "x", "-o", "m", "--hidden", "x"],
     "Invalid value for '--hidden': 'x' is not a valid integer"),
    (["fit-ngram", "--corpus", "x", "-o", "m", "--nope"], "No such option '--nope'"),
    (["train-rnn", "--corpus", "x"], "Missing option '-o' / '--output'"),
    (["fit-ngram", "--corpus", "x", "-o", "m", "--smoothing", "magic"], "Invalid value for '--smoothing'"),
    (["no-such-command"], "No such command 'no-such-command'"),
    (["corpus", "nothing"], "No such command 'nothing'"),
])
def test_usage_errors_are_one_line(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    line = one_line_error(result)
    assert message in line and "-h')" in line  # says where the help is, on the same line


def test_the_installed_command_says_lmtool_in_its_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "lmtool", "train-rnn", "--corpus", "x", "-o", "m", "--hidden", "x"],
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("Error: Invalid value for '--hidden': 'x' is not a valid integer. "
                           "(see 'lmtool train-rnn -h')\n")


@pytest.mark.parametrize("command", [["info"], ["sample"], ["eval", "--corpus", "{corpus}"],
                                     ["export", "--arpa", "{tmp}/x.arpa"]])
def test_a_directory_given_as_a_model_is_exit_4(tmp_path, corpus_file, command):
    args = [a.format(corpus=corpus_file, tmp=tmp_path) for a in command]
    result = invoke(args[0], tmp_path, *args[1:])
    assert result.exit_code == 4 and str(tmp_path) in one_line_error(result)


def broken_vocabulary(source: Path, target: Path) -> None:
    """The n-gram model ``source`` as an lmtool 0.x ``.npz`` whose metadata holds a vocabulary
    without its reserved tokens."""
    from lmtool.ngram import load_ngram
    from lmtool.ngram.legacy import write_npz

    write_npz(load_ngram(source), target)
    with np.load(target, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(arrays["metadata"].tobytes())
    metadata["vocabulary"]["tokens"][0] = "not-unk"
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    np.savez(target, **arrays)


@pytest.mark.parametrize("command", [["info"], ["sample"], ["eval", "--corpus", "{corpus}"],
                                     ["export", "--arpa", "{tmp}/x.arpa"]])
def test_broken_model_metadata_is_exit_4_naming_the_file(tmp_path, models, corpus_file, command):
    broken_vocabulary(models["npz"], tmp_path / "broken.npz")
    args = [a.format(corpus=corpus_file, tmp=tmp_path) for a in command]
    result = invoke(args[0], tmp_path / "broken.npz", *args[1:])
    assert result.exit_code == 4
    message = one_line_error(result)
    assert message.startswith(f"Error: {tmp_path / 'broken.npz'}: ") and "vocabulary must start with" in message


def test_export_of_an_rnn_names_what_to_give_not_a_python_function(models, tmp_path):
    result = invoke("export", models["rnn"], "--arpa", tmp_path / "x.arpa")
    assert result.exit_code == 4
    message = one_line_error(result)
    assert "only n-gram models have an ARPA form" in message and "`lmtool fit-ngram`" in message
    assert "load_rnn" not in message and not (tmp_path / "x.arpa").exists()


def test_the_readme_exit_code_table_matches_the_code():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("| exit | meaning |"):]
    section = section[:section.index("\n\n")]
    table = dict(re.findall(r"^\| (\d+) \| ([^|]+) \|", section, flags=re.MULTILINE))
    meanings = {LmtoolError: "runtime failure", UsageError: "usage error", DataError: "bad input data",
                ModelFileError: "bad model file"}
    assert {table[str(cls.exit_code)].strip(): cls for cls in meanings} == {m: c for c, m in meanings.items()}
    assert set(table) == {"0", "1", "2", "3", "4", "130", "143"}
    from lmtool.cli import main

    source = Path(main.__file__).read_text()
    assert 'CommandError("interrupted", 130)' in source and 'CommandError("terminated", 143)' in source
