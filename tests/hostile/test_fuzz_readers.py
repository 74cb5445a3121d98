"""Seeded fuzzing of the readers: truncated files, flipped bytes, hostile attrs, units and dims.

Issue 13: N >= 500 mutations of real files (a simulated CSI, as netCDF-4 and netCDF-3, its
heatmap, a clusters table, estimates) are opened, validated and read in full. Every case must
end in a correct read or a one-line refusal (``RadarspFileError`` / ``OSError``): never another
exception, never a signal. Cases run in child processes (``fuzz_worker.py``), so a crash in
the HDF5 / netCDF C libraries fails the test with the case that caused it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import xarray as xr
from conftest import ENV, invoke

import radarsp

SEED = 20261203
CASES = 500
BATCHES = 4
WORKER = Path(__file__).with_name("fuzz_worker.py")


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    steps = (("simulate", "-n", 4, "--subcarriers", 16, "--array", 4, "--image-size", "8x8",
              "-o", folder / "csi.nc"),
             ("heatmap", folder / "csi.nc", "-o", folder / "heatmap.nc", "--angle-bins", 8),
             ("cfar", folder / "heatmap.nc", "-o", folder / "det.nc", "--pfa", 0.1,
              "--guard", "1,1", "--train", "2,2"),
             ("cluster", folder / "det.nc", "-o", folder / "clusters.nc"),
             ("match", folder / "clusters.nc", "--truth", folder / "heatmap.nc", "-o",
              folder / "estimates.nc"))
    for step in steps:
        done = invoke(*step)
        assert done.status == 0, (step, done.stderr)
    stored = xr.open_dataset(folder / "csi.nc", engine="h5netcdf", decode_times=False).load()
    stored = stored.drop_encoding()
    stored = stored.assign_coords(frame=stored["frame"].astype("int32"),
                                  sequence=stored["sequence"].astype("int32"))
    stored = stored.drop_vars("image")  # netCDF-3 has no unsigned bytes: camera left out
    stored.to_netcdf(folder / "csi3.nc", format="NETCDF3_64BIT", engine="netcdf4")
    return folder


def run_batch(folder: Path, first: int, count: int) -> tuple[list[dict], str | None]:
    done = subprocess.run([sys.executable, str(WORKER), str(folder), str(SEED), str(first),
                           str(count)], capture_output=True, text=True, env=ENV, timeout=600)
    outcomes = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0:
        started = [line for line in done.stdout.splitlines() if line.startswith("start")]
        last = started[-1] if started else "before the first case"
        return outcomes, (f"worker exited with {done.returncode} at {last} (seed {SEED}): "
                          f"{done.stderr[-500:]}")
    return outcomes, None


def test_no_mutated_file_gives_a_traceback_or_a_signal(bases):
    size = CASES // BATCHES
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda b: run_batch(bases, b * size, size), range(BATCHES)))
    crashes = [crash for _, crash in results if crash]
    outcomes = [o for batch, _ in results for o in batch]
    assert not crashes, crashes
    assert len(outcomes) == CASES
    unexpected = [o for o in outcomes if o["outcome"] == "unexpected"]
    assert not unexpected, unexpected[:10]
    counts = Counter(o["outcome"] for o in outcomes)
    # the mutations must bite: most are refused, and some still read (untouched bytes)
    assert counts["refused"] >= CASES // 3, counts
    assert counts["ok"] > 0, counts


def test_the_netcdf3_base_reads_like_the_netcdf4_one(bases):
    a, b = radarsp.open_csi(bases / "csi.nc"), radarsp.open_csi(bases / "csi3.nc")
    xr.testing.assert_equal(a["csi"].load(), b["csi"].load())
