"""ABC tunes checked by the tool musicians use: ``abc2midi`` (Debian package ``abcmidi``).

A tune starts at a line beginning ``X:`` and ends at a blank line (or the end of the text). A
tune is *valid* when ``abc2midi`` writes a MIDI file for it and reports no ``Error`` (it exits
with status 0 even then, so its messages are what tells; warnings such as uneven bar lengths
are allowed, as players allow them).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lmtool.errors import LmtoolError
from lmtool.files import atomic_write, temporary_directory

INSTALL_HINT = "install it with `apt-get install abcmidi` (Debian/Ubuntu) or `brew install abcmidi` (macOS)"
TIMEOUT_S = 20


@dataclass
class TuneCheck:
    """What ``abc2midi`` said about one tune."""

    index: int
    valid: bool
    errors: list[str] = field(default_factory=list)
    midi: str | None = None  # the written .mid file (valid tunes, when an output folder was given)


def split_tunes(text: str) -> list[str]:
    """The tunes of ``text``: from each ``X:`` line up to the next blank line; text outside tunes is dropped."""
    tunes, current = [], None
    for line in text.splitlines():
        if current is None:
            if line.startswith("X:"):
                current = [line]
        elif line.strip():
            current.append(line)
        else:
            tunes.append("\n".join(current) + "\n")
            current = None
    if current is not None:
        tunes.append("\n".join(current) + "\n")
    return tunes


def abc2midi_path() -> str:
    """The ``abc2midi`` executable, or an error that says how to install it."""
    path = shutil.which("abc2midi")
    if path is None:
        raise LmtoolError(f"abc2midi is not on the PATH: {INSTALL_HINT}")
    return path


def check_tunes(tunes: list[str], out_dir: str | Path | None = None) -> list[TuneCheck]:
    """Run ``abc2midi`` on each tune; with ``out_dir``, keep ``tune_NNN.mid`` for every valid one."""
    program = abc2midi_path()
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    checks = []
    with temporary_directory("lmtool-abc") as work:
        for index, tune in enumerate(tunes):
            source, midi = Path(work) / f"tune_{index:03d}.abc", Path(work) / f"tune_{index:03d}.mid"
            source.write_text(tune, encoding="utf-8")
            try:
                done = subprocess.run([program, str(source), "-o", str(midi)], capture_output=True, text=True,
                                      errors="replace", timeout=TIMEOUT_S)
                messages = (done.stdout + done.stderr).splitlines()
            except subprocess.TimeoutExpired:
                messages = [f"Error: abc2midi took more than {TIMEOUT_S}s"]
            errors = [line.strip() for line in messages if line.lstrip().startswith("Error")]
            check = TuneCheck(index, not errors and midi.is_file() and midi.stat().st_size > 0, errors)
            if check.valid and out_dir is not None:
                check.midi = str(Path(out_dir) / midi.name)
                atomic_write(check.midi, lambda out, midi=midi: out.write(midi.read_bytes()))
            checks.append(check)
    return checks


def summary(checks: list[TuneCheck]) -> dict:
    """Counts for reports: tunes, valid tunes, their fraction, and the MIDI files written."""
    valid = sum(check.valid for check in checks)
    return {"tunes": len(checks), "valid": valid, "valid_fraction": valid / len(checks) if checks else 0.0,
            "midi_files": [check.midi for check in checks if check.midi]}
