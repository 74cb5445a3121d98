"""Shared fixtures: small, hand-built datasets that follow the data contract."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

SHARED = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared"


def make_csi(frames=4, rx=3, subcarriers=8, *, seed=0, symbols=None) -> xr.Dataset:
    """A tiny csi-1 dataset with random complex64 CSI, truth and a camera image."""
    rng = np.random.default_rng(seed)
    shape = (frames,) + ((symbols,) if symbols else ()) + (rx, subcarriers)
    dims = ("frame",) + (("symbol",) if symbols else ()) + ("rx", "subcarrier")
    csi = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    spacing = 100e6
    coords = {
        "frame": np.arange(frames),
        "frequency": ("subcarrier", 28e9 + spacing * np.arange(subcarriers)),
        "rx_x": ("rx", 0.005 * np.arange(rx)),
        "rx_y": ("rx", np.zeros(rx)),
        "rx_z": ("rx", np.zeros(rx)),
        "time": ("frame", 0.1 * np.arange(frames)),
    }
    if symbols:
        coords["symbol_time"] = ("symbol", 1e-5 * np.arange(symbols))
    truth_range = rng.uniform(5, 30, frames)
    truth_angle = rng.uniform(-1, 1, frames)
    return xr.Dataset(
        {
            "csi": (dims, csi),
            "target_range": ("frame", truth_range),
            "target_angle": ("frame", truth_angle),
            "target_x": ("frame", truth_range * np.sin(truth_angle)),
            "target_y": ("frame", truth_range * np.cos(truth_angle)),
            "image": (("frame", "image_row", "image_col", "rgb"),
                      rng.integers(0, 255, (frames, 6, 5, 3), dtype=np.uint8)),
            "target_box": (("frame", "box"), rng.uniform(0, 5, (frames, 4))),
        },
        coords=coords,
        attrs={"carrier_frequency": 28e9, "bandwidth": spacing * subcarriers,
               "subcarrier_spacing": spacing, "scenario": "unit-test"},
    )


@pytest.fixture
def csi_ds():
    return make_csi()
