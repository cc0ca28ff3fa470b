"""A worker of a torchrun job (``WORLD_SIZE`` above 1) leaves by ``os._exit``: its output still
arrives through a pipe, and its exit status is the one ``sys.exit`` would have given."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def lmtool(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """``python -m lmtool args`` (or ``python -c code``) as rank 1 of a 2-process job."""
    env = os.environ | {"WORLD_SIZE": "2", "RANK": "1"}
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "lmtool", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("args, status, stream, text", [
    (["--version"], 0, "stdout", "lmtool, version"),
    (["train-nnlm", "--bogus"], 2, "stderr", "No such option"),
    (["info", "/nonexistent/model"], 4, "stderr", "no such model file"),
])
def test_a_job_worker_keeps_its_output_and_exit_status(args, status, stream, text):
    result = lmtool(*args)
    assert result.returncode == status and text in getattr(result, stream), result


def test_an_unmapped_error_in_a_job_worker_prints_its_traceback_and_exits_1():
    result = lmtool(code="from lmtool.cli.main import leave_as_job_worker; leave_as_job_worker(lambda: 1 / 0)")
    assert result.returncode == 1 and "ZeroDivisionError" in result.stderr, result
