"""Shared harness of the hostile-input suite: run a command as a user would, and check that
a refusal is one line with status 1, no traceback, no output left behind.

Every test here builds its own hostile input (a file another tool could write, a race, a
kill) in ``tmp_path``; none depends on wall-clock speed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
# Subprocesses import the checkout under test, whatever the working directory.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@dataclass
class Result:
    """What a command did: exit status, stdout and stderr as text."""

    status: int
    stdout: str
    stderr: str


def run_cli(*args, program: str = "radarsp", timeout: float = 120, env=None,
            **kwargs) -> Result:
    """Run ``radarsp ARGS`` (or ``radarsp-learn``) as a subprocess, as a shell user would.

    A hang fails the test after ``timeout`` seconds instead of stalling the suite.
    """
    module = {"radarsp": "cli.main", "radarsp-learn": "cli.learn"}[program]
    done = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env or ENV, **kwargs)
    return Result(done.returncode, done.stdout, done.stderr)


def invoke(*args, program: str = "radarsp") -> Result:
    """Run a command in-process through click's ``CliRunner`` (fast; no interpreter start)."""
    if program == "radarsp":
        from cli.main import main
    else:
        from cli.learn import main
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(result.exception))
        return Result(1, result.stdout, f"Traceback (CliRunner)\n{tb}")
    return Result(result.exit_code, result.stdout, result.stderr)


def stray_files(folder) -> list[str]:
    """Files a killed or refused writer left in ``folder`` (temporaries included)."""
    folder = Path(folder)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_refused(result: Result, *words: str, status: int = 1, outputs=()) -> str:
    """A refusal: exit ``status``, exactly one ``Error`` line naming each of ``words``, no
    traceback, and none of ``outputs`` written. Returns the error line."""
    assert result.status == status, (result.status, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])
    for path in outputs:
        assert not Path(path).exists(), f"{path} was written by a refused command"
    return errors[0]


@pytest.fixture
def cli():
    """The subprocess runner, as a fixture."""
    return run_cli
