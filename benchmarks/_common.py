"""What every benchmark script shares: its reproduce command and where its fragment goes."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def reproduce_command(script: str, argv=None) -> str:
    """``.venv/bin/python benchmarks/<script> <the arguments given>``, run from the repo root."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join([".venv/bin/python", f"benchmarks/{script}", *map(shlex.quote, args)])


def fragment_path(name: str, *, quick: bool = False, out=None) -> Path:
    """Where a run writes its fragment: ``out`` if given, else ``results/<name>.md``.

    A ``--quick`` smoke run writes ``results/<name>-quick.md`` (git-ignored), so it never
    replaces the fragment ``RESULTS.md`` is built from.
    """
    if out is not None:
        return Path(out)
    return RESULTS / (f"{name}-quick.md" if quick else f"{name}.md")


def write_fragment(text: str, path: Path) -> Path:
    """Write ``text`` to ``path`` (temp file, then rename) and return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
    return path
