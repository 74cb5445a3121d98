"""The examples in the docstrings of radarsp_learn's core modules run and are right."""

import doctest
import importlib

import pytest

MODULES = ["grid", "data", "models", "localiser", "selflabel", "train", "objectives.mcl"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"radarsp_learn.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
