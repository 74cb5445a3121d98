"""Every example in the docstrings of the core package runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import radarsp

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(radarsp.__path__, prefix="radarsp.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
