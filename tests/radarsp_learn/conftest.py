"""Fixtures of the radarsp_learn tests: a tiny hand-made paired radio-visual dataset."""

from __future__ import annotations

import pytest
import xarray as xr
from learn_scenes import make_scenes


@pytest.fixture(scope="session")
def scenes() -> xr.Dataset:
    return make_scenes()


@pytest.fixture(scope="session")
def scenes_file(tmp_path_factory) -> str:
    from radarsp.io import save

    path = tmp_path_factory.mktemp("scenes") / "heatmap.nc"
    save(make_scenes(), path, schema="heatmap-1")
    return str(path)


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_worker():
    """Tests run two workers on two cores: one torch thread each avoids oversubscription."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
