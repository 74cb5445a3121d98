"""Hostile option values and machines: sizes that cannot fit in memory, seeds beyond 64 bits,
angle spans out of range, all-NaN ADC cubes, and kernels on a machine where numba's cache
cannot be written. Each is refused before any work in one line, or works.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import radarsp
from radarsp.memory import MemoryLimitError, memory_limit
from tests.conftest import make_csi
from tests.hostile.conftest import ENV, ROOT, assert_refused, invoke, run_cli, stray_files

FMCW = ("--slope", "6e13", "--sample-rate", "2e6", "--carrier", "7.7e10", "--chirp-period",
        "1e-4")


@pytest.fixture(scope="module")
def csi_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "csi.nc"
    radarsp.save(make_csi(frames=4, rx=4, subcarriers=16, symbols=4), path)
    return path


# --- memory ---------------------------------------------------------------------------------

@pytest.mark.parametrize("options,words", [
    (("--image-size", "100000x100000"), ("TiB", "lower --image-size")),
    (("--symbols", "100000"), ("x 100000 symbols", "--sequence-length", "--symbols")),
    (("--subcarriers", "100000000"), ("100000000 subcarriers", "lower --symbols")),
    (("--sequence-length", "1000000000"), ("lower --sequence-length",)),
    (("--frames", "200000", "--block", "100000", "--image-size", "512"),
     ("frames at once", "lower --block")),
])
def test_simulate_sizes_that_cannot_fit_are_refused_before_any_work(tmp_path, options, words):
    out = tmp_path / "scenes.nc"
    line = assert_refused(invoke("simulate", *options, "-o", out), "needs", "of memory",
                          *words, outputs=[out])
    assert "this process can have at most" in line
    assert stray_files(tmp_path) == []


@pytest.mark.parametrize("options", [
    ("--angle-bins", "100000000"),
    ("--range-bins", "1000000000"),
    ("--doppler", "--velocity-bins", "1000000000"),
    ("--beamformer", "capon", "--angle-bins", "100000000"),
])
def test_heatmap_sizes_that_cannot_fit_are_refused_before_any_work(csi_file, tmp_path, options):
    out = tmp_path / "heat.nc"
    assert_refused(invoke("heatmap", csi_file, "-o", out, "--window", "none", *options),
                   str(csi_file), "needs", "of memory", "--angle-bins", outputs=[out])


def test_pipeline_and_fmcw_sizes_that_cannot_fit_are_refused(csi_file, tmp_path):
    run_dir = tmp_path / "run"
    assert_refused(invoke("pipeline", csi_file, "-o", run_dir, "--window", "none",
                          "--angle-bins", "100000000"), "needs", "of memory",
                   outputs=[run_dir])
    adc = tmp_path / "adc.npy"
    np.save(adc, np.ones((2, 8, 4, 32), dtype=np.complex64))
    out = tmp_path / "heat.nc"
    assert_refused(invoke("convert", "fmcw", adc, *FMCW, "--angle-bins", "100000000", "-o",
                          out), str(adc), "needs", "of memory", "--angle-bins", outputs=[out])


def test_cfar_chunks_that_cannot_fit_name_chunk_frames(csi_file, tmp_path):
    import xarray as xr

    from cli.cfar import check_cfar_memory

    frames = 2 * memory_limit() // (1000 * 1000 * 24) + 2
    power = xr.DataArray(np.broadcast_to(np.float32(1), (frames, 1000, 1000)),
                         dims=("frame", "range", "angle"))
    with pytest.raises(MemoryLimitError, match="lower --chunk-frames"):
        check_cfar_memory(power, frames, "big.nc")
    check_cfar_memory(power, 1, "big.nc")  # one frame at a time fits


@pytest.mark.parametrize("sizes", [{"image_size": (192, 192)},
                                   {"image_size": None, "symbols": 32}])
def test_the_simulation_estimate_covers_what_simulate_allocates(sizes):
    """The estimate is not below the peak of the arrays simulate allocates, nor far above."""
    import tracemalloc

    from radarsp.simulate import simulate, simulation_memory

    simulate(frames=15, image_size=(8, 8), n_subcarriers=16)  # kernels compiled
    tracemalloc.start()
    try:
        simulate(frames=150, n_subcarriers=256, **sizes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    need = sum(simulation_memory(150, n_rx=16, n_subcarriers=256, **sizes).values())
    assert peak <= need <= 1.5 * peak + 16 * 2**20, (peak, need)


def test_a_size_limit_of_the_process_is_the_limit(tmp_path):
    """Under ``ulimit -v`` the refusal quotes that limit, not the machine's memory."""
    if memory_limit() < 12 * 2**30:
        pytest.skip("this machine allows less than the 12 GiB limit the test sets")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, 12 * 2**30))

    out = tmp_path / "scenes.nc"
    result = run_cli("simulate", "--image-size", "4096", "-o", out, preexec_fn=limit)
    assert_refused(result, "this process can have at most 12 GiB", outputs=[out])


# --- seeds, angle spans, NaN cubes ----------------------------------------------------------

def test_a_seed_beyond_64_bits_is_a_usage_error_before_simulating(tmp_path):
    out = tmp_path / "s.nc"
    assert_refused(invoke("simulate", "--seed", str(2**64), "-o", out), "--seed",
                   "18446744073709551615", status=2, outputs=[out])
    assert_refused(invoke("simulate", "--seed", "-1", "-o", out), "--seed", status=2,
                   outputs=[out])
    result = invoke("simulate", "--seed", str(2**64 - 1), "--frames", "2", "--image-size",
                    "none", "--subcarriers", "16", "--array", "2", "-o", out)
    assert result.status == 0, result.stderr
    assert int(radarsp.open_csi(out).attrs["seed"]) == 2**64 - 1
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64 - 1\]"):
        radarsp.simulate(frames=1, seed=2**64)


@pytest.mark.parametrize("span,words", [
    ("10,5", ("-90 <= LOW < HIGH <= 90 degrees", "'10,5'")),
    ("-100,5", ("-90 <= LOW < HIGH <= 90 degrees",)),
    ("nan,5", ("-90 <= LOW < HIGH <= 90 degrees",)),
    ("5,5", ("-90 <= LOW < HIGH <= 90 degrees",)),
    ("one,two", ("LOW,HIGH in degrees",)),
    ("1,1.1", ("1..1.1 degrees", "--angle-bins")),
])
def test_angle_span_errors_speak_degrees_and_the_option_name(csi_file, tmp_path, span, words):
    out = tmp_path / "heat.nc"
    line = assert_refused(invoke("heatmap", csi_file, "-o", out, "--window", "none",
                                 "--angle-span", span), "--angle-span", *words, status=2,
                          outputs=[out])
    assert "rad" not in line and "angle_span" not in line and "pi" not in line


@pytest.mark.parametrize("fill", ["all-nan", "one-inf"])
def test_an_adc_cube_with_non_finite_samples_is_refused(tmp_path, fill):
    cube = np.ones((2, 8, 4, 32), dtype=np.complex64)
    if fill == "all-nan":
        cube[:] = np.nan
    else:
        cube[1, 2, 3, 4] = np.inf
    adc = tmp_path / "adc.npy"
    np.save(adc, cube)
    for target in ("heatmap", "csi"):
        out = tmp_path / f"{target}.nc"
        bad = cube.size if fill == "all-nan" else 1
        assert_refused(invoke("convert", "fmcw", adc, *FMCW, "--to", target, "-o", out),
                       str(adc), f"{bad} of {cube.size} samples are NaN or infinite",
                       outputs=[out])


# --- numba's cache ----------------------------------------------------------------------------

def _unwritable_copy(tmp_path: Path) -> Path:
    """The packages copied where no ``__pycache__`` can be made (a file of that name sits in
    every package directory): an installed, read-only package, even for root."""
    site = tmp_path / "site"
    for package in ("radarsp", "cli"):
        shutil.copytree(ROOT / package, site / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [site, *(p for p in site.rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("")
    return site


def _homeless_env(tmp_path: Path, site: Path, tmp: Path) -> dict:
    (tmp_path / "home-is-a-file").write_text("")
    env = {**ENV, "PYTHONPATH": f"{site}{os.pathsep}{ENV['PYTHONPATH']}",
           "HOME": str(tmp_path / "home-is-a-file" / "home"), "TMPDIR": str(tmp)}
    for name in ("XDG_CACHE_HOME", "NUMBA_CACHE_DIR"):
        env.pop(name, None)
    return env


def test_kernels_run_without_a_writable_home_or_package_directory(tmp_path):
    site = _unwritable_copy(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _homeless_env(tmp_path, site, tmp)
    radarsp.save(make_csi(frames=3, rx=4, subcarriers=16), tmp_path / "csi.nc")
    command = [sys.executable, "-m", "cli.main", "heatmap", str(tmp_path / "csi.nc"), "-o",
               str(tmp_path / "heat.nc"), "--window", "none"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert radarsp.open_heatmap(tmp_path / "heat.nc").sizes["frame"] == 3
    # the copy was used, and its kernels were cached in a private directory
    cache = tmp / f"radarsp-numba-cache-{os.geteuid()}"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert any(p.suffix == ".nbi" for p in cache.rglob("*")), list(cache.rglob("*"))


KERNEL = '''
from radarsp._numba import njit

@njit(cache=True)
def triangle(n):
    total = 0
    for k in range(n + 1):
        total += k
    return total
'''


@pytest.mark.parametrize("private", ["usable", "not a directory", "writable by others"])
def test_a_kernel_falls_back_to_a_private_cache_then_to_none(tmp_path, private):
    site = _unwritable_copy(tmp_path)
    (site / "kernel.py").write_text(KERNEL)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cache = tmp / f"radarsp-numba-cache-{os.geteuid()}"
    if private == "not a directory":
        cache.write_text("")
    elif private == "writable by others":  # another user could plant pickles in it
        cache.mkdir()
        cache.chmod(0o777)
    env = _homeless_env(tmp_path, site, tmp)
    done = subprocess.run([sys.executable, "-c", "import kernel; print(kernel.triangle(100))"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=site)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5050" and done.stderr == ""
    cached = list(tmp.rglob("*.nbi"))
    # only a directory of this user's, closed to others, may hold numba's pickles
    assert bool(cached) == (private == "usable"), cached
