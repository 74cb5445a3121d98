"""A tiny hand-made heatmap-1 world: a target blob in range-angle and a box in a camera image.

The target drives along a lane (fixed range band, angle sweeping across sequences); two parked
"cars" return from fixed cells. The camera sees the target as a bright rectangle whose column
follows the angle and whose row follows the range, like a base-station camera looking down.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from radarsp.geometry import polar_to_cartesian

N_RANGE, N_ANGLE, IMAGE = 48, 40, 48


def make_scenes(frames: int = 96, *, seed: int = 0, frames_per_sequence: int = 8) -> xr.Dataset:
    """A heatmap-1 dataset with camera and truth, ``frames`` long."""
    rng = np.random.default_rng(seed)
    range_m = np.linspace(1.0, 24.0, N_RANGE)
    angle = np.linspace(-1.0, 1.0, N_ANGLE)
    sequence = np.arange(frames) // frames_per_sequence
    start = rng.uniform(-0.8, 0.8, sequence.max() + 1)
    lane = rng.uniform(8.0, 18.0, sequence.max() + 1)
    step = (np.arange(frames) % frames_per_sequence) * 0.02
    target_angle = np.clip(start[sequence] + step * np.sign(-start[sequence]), -0.9, 0.9)
    target_range = lane[sequence] + rng.normal(0, 0.3, frames)
    rr, aa = np.meshgrid(range_m, angle, indexing="ij")
    power = rng.exponential(1e-3, (frames, N_RANGE, N_ANGLE))
    for r0, a0 in ((6.0, -0.5), (20.0, 0.6)):
        power += 0.3 * np.exp(-((rr - r0) ** 2) / 0.5 - ((aa - a0) ** 2) / 0.005)
    power += np.exp(-((rr[None] - target_range[:, None, None]) ** 2) / 0.5
                    - ((aa[None] - target_angle[:, None, None]) ** 2) / 0.005)
    image = rng.integers(0, 60, (frames, IMAGE, IMAGE, 3)).astype(np.uint8)
    col = (target_angle + 1.0) / 2.0 * IMAGE
    row = IMAGE - (target_range - 1.0) / 23.0 * IMAGE
    box = np.stack([col - 3, row - 2, col + 3, row + 2], axis=1).clip(0, IMAGE)
    for i, (c0, r0, c1, r1) in enumerate(box.round().astype(int)):
        image[i, r0:r1, c0:c1] = (220, 40, 40)
    x, y = polar_to_cartesian(target_range, target_angle)
    return xr.Dataset(
        {
            "power": (("frame", "range", "angle"), power.astype(np.float32)),
            "image": (("frame", "image_row", "image_col", "rgb"), image),
            "target_box": (("frame", "box"), box.astype(np.float32)),
            "target_range": ("frame", target_range),
            "target_angle": ("frame", target_angle),
            "target_x": ("frame", x),
            "target_y": ("frame", y),
        },
        coords={"frame": np.arange(frames), "sequence": ("frame", sequence),
                "range": range_m, "angle": angle},
        attrs={"radarsp_schema": "heatmap-1"},
    )
