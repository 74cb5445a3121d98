"""Every example in the docstrings of the core package runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import radarsp

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(radarsp.__path__, prefix="radarsp.")
)


# Modules with no examples of their own: kernels, constants, errors and plumbing
# (a new module must either show its use or be listed here).
NO_EXAMPLES = {"radarsp._beamform_kernels", "radarsp._callable", "radarsp.cfar._kernels",
               "radarsp.errors", "radarsp.io", "radarsp.io.backend", "radarsp.io.schema",
               "radarsp.model", "radarsp.simulate._kernels"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert (result.attempted == 0) == (name in NO_EXAMPLES), name
