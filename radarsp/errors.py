"""Exceptions radarsp raises for bad input files and parameters."""

from __future__ import annotations

import os


class RadarspFileError(ValueError):
    """A file does not follow the data contract.

    The message is one line naming the file, the variable and what was expected, e.g.
    ``scenes.nc: variable 'csi': expected dims (frame, rx, subcarrier[, ri]), got (rx, frame)``.
    The command line prints it and exits with status 1.
    """

    def __init__(self, path, variable: str | None, problem: str):
        self.path = os.fspath(path) if path is not None else "<in-memory dataset>"
        self.variable = variable
        self.problem = problem
        where = f"variable '{variable}': " if variable else ""
        super().__init__(f"{self.path}: {where}{problem}")
