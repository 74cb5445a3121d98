"""Races and kills: two writers to one output, a writer that appears mid-write, kill -9 and
SIGTERM in the middle of a write, a killed pipeline.

Without --force exactly one of two racing writers succeeds and the other is refused in one
line; with --force the last writer wins and the output is always complete. A killed writer's
partial output is visibly named and removed by the next write to the same output.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest

import radarsp
from radarsp.io.atomic import PARTIAL
from tests.conftest import make_csi
from tests.hostile.conftest import ENV, Result, assert_refused, invoke, stray_files

SMALL = ("--frames", "30", "--image-size", "16", "--subcarriers", "64", "--array", "4")
# long enough to be caught mid-write: simulated and written in 40 blocks of 1500 frames, ~5 s
# of writing after the partial appears (6,000 frames finished within the signal's latency on
# an idle machine)
LONG = ("--frames", "60000", "--image-size", "none", "--subcarriers", "64", "--array", "4")


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 300) -> Result:
    stdout, stderr = process.communicate(timeout=timeout)
    return Result(process.returncode, stdout, stderr)


def wait_for_partial(folder: Path, process: subprocess.Popen, timeout: float = 240) -> Path:
    """The partial output a running writer has made in ``folder`` (polled; a hang guard)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        partials = [p for p in folder.iterdir() if PARTIAL in p.name]
        if partials:
            return partials[0]
        assert process.poll() is None, finish(process)
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the writer made no partial output")


def simulated(path) -> int:
    """Frames of the complete csi-1 file (or store) at ``path``."""
    ds = radarsp.open_csi(path)
    assert np.isfinite(ds["csi"].values).all()  # every value readable: the file is whole
    return ds.sizes["frame"]


@pytest.mark.parametrize("name", ["scenes.nc", "scenes.zarr"])
def test_of_two_writers_started_together_exactly_one_succeeds(tmp_path, name):
    out = tmp_path / name
    writers = [start("simulate", *SMALL, "--seed", seed, "-o", out) for seed in (1, 2)]
    results = [finish(w) for w in writers]
    statuses = sorted(r.status for r in results)
    assert statuses == [0, 1], results
    loser = next(r for r in results if r.status == 1)
    assert_refused(loser, str(out), "--force")
    winner = writers[[r.status for r in results].index(0)]
    assert simulated(out) == 30
    seed = radarsp.open_csi(out).attrs["seed"]
    assert str(seed) == winner.args[winner.args.index("--seed") + 1]
    assert stray_files(tmp_path) == [name]


@pytest.mark.parametrize("name", ["scenes.nc", "scenes.zarr"])
def test_with_force_both_racing_writers_succeed_and_the_output_is_whole(tmp_path, name):
    out = tmp_path / name
    assert finish(start("simulate", *SMALL, "--seed", "9", "-o", out)).status == 0
    writers = [start("simulate", *SMALL, "--seed", seed, "-o", out, "--force")
               for seed in (1, 2)]
    results = [finish(w) for w in writers]
    assert [r.status for r in results] == [0, 0], results
    assert simulated(out) == 30 and radarsp.open_csi(out).attrs["seed"] in (1, 2)
    assert stray_files(tmp_path) == [name]


def _intruding(target: Path, content):
    """A dask-backed csi-1 dataset whose computation writes ``target`` first: another
    writer finishing between the early check and the final rename."""
    ds = make_csi(frames=4, rx=4, subcarriers=16)

    def intrude(block):
        writing = any(PARTIAL in entry for entry in os.listdir(target.parent))
        if writing and not os.path.lexists(target):
            content(target)
        return block

    csi = ds["csi"].data
    ds["csi"] = ds["csi"].copy(data=da.from_array(csi, chunks=-1).map_blocks(intrude))
    return ds


def _file(target: Path):
    target.write_bytes(b"the other writer's output")


def _store(target: Path):
    target.mkdir()
    (target / ".zgroup").write_text('{"zarr_format": 2}')


@pytest.mark.parametrize("name,content", [("s.nc", _file), ("s.zarr", _store)])
def test_an_output_that_appears_during_the_write_is_not_replaced(tmp_path, name, content):
    target = tmp_path / name
    with dask.config.set(scheduler="synchronous"), pytest.raises(
            FileExistsError, match="appeared while this command was writing it"):
        radarsp.save(_intruding(target, content), target)
    assert stray_files(tmp_path) == [name]
    if name.endswith(".nc"):
        assert target.read_bytes() == b"the other writer's output"
    else:
        assert sorted(os.listdir(target)) == [".zgroup"]
    # with force the last writer wins
    target_tmp = tmp_path / f"again-{name}"
    with dask.config.set(scheduler="synchronous"):
        radarsp.save(_intruding(target_tmp, content), target_tmp, force=True)
    assert radarsp.open_csi(target_tmp).sizes["frame"] == 4
    assert stray_files(tmp_path) == sorted([name, f"again-{name}"])


def test_a_writer_appearing_mid_write_on_the_command_line_is_refused(tmp_path):
    out = tmp_path / "scenes.nc"
    writer = start("simulate", *LONG, "-o", out)
    wait_for_partial(tmp_path, writer)
    out.write_bytes(b"the other writer's output")
    result = finish(writer)
    assert_refused(result, str(out), "appeared while this command was writing it")
    assert out.read_bytes() == b"the other writer's output"
    assert stray_files(tmp_path) == ["scenes.nc"]


def test_kill_9_leaves_a_named_partial_that_the_next_write_removes(tmp_path):
    out = tmp_path / "scenes.nc"
    writer = start("simulate", *LONG, "-o", out)
    partial = wait_for_partial(tmp_path, writer)
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=60)
    assert not out.exists()
    # visible, says what it is and whose: <output>.radarsp-partial.<host>.<pid>.<token>
    assert partial.name.startswith(f"scenes.nc.{PARTIAL}.")
    assert f".{writer.pid}." in partial.name and not partial.name.startswith(".")
    from radarsp.io.atomic import HOST

    assert re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:23] in HOST
    assert f".{HOST}." in partial.name
    # a live writer's partial is left alone ...
    other = tmp_path / f"scenes.nc.{PARTIAL}.{HOST}.{os.getpid()}.0000"
    other.write_bytes(b"")
    result = finish(start("simulate", *SMALL, "-o", out))
    assert result.status == 0, result.stderr
    # ... the dead one's is gone
    assert stray_files(tmp_path) == sorted(["scenes.nc", other.name])
    assert simulated(out) == 30


def test_sigterm_mid_write_cleans_up_and_keeps_the_old_output(tmp_path):
    out = tmp_path / "scenes.nc"
    assert finish(start("simulate", *SMALL, "-o", out)).status == 0
    before = out.read_bytes()
    writer = start("simulate", *LONG, "-o", out, "--force")
    wait_for_partial(tmp_path, writer)
    writer.send_signal(signal.SIGTERM)
    result = finish(writer)
    assert result.status == 128 + signal.SIGTERM, result
    assert "Traceback" not in result.stderr, result.stderr
    assert out.read_bytes() == before
    assert stray_files(tmp_path) == ["scenes.nc"]


# --- the pipeline's run directory -----------------------------------------------------------

FAST = ("--angle-bins", "32", "--guard", "1,1", "--train", "4,4", "--pfa", "1e-3", "--eps",
        "2", "--min-samples", "1", "--n-boot", "0")


@pytest.fixture(scope="module")
def point_csi(tmp_path_factory):
    from tests.cli.test_cli_statistical import point_target_csi

    path = tmp_path_factory.mktemp("pipeline") / "csi.nc"
    radarsp.save(point_target_csi(4), path)
    return path


def test_a_killed_pipeline_leaves_no_run_directory_and_a_rerun_needs_no_force(tmp_path,
                                                                               point_csi):
    from tests.cli.test_cli_statistical import point_target_csi

    run_dir = tmp_path / "run"
    big = tmp_path / "big.nc"  # 2,000 frames keep the pipeline busy for seconds
    radarsp.save(point_target_csi(2000), big)
    writer = start("pipeline", big, "-o", run_dir, *FAST)
    partial = wait_for_partial(tmp_path, writer)
    assert partial.is_dir() and partial.name.startswith(f"run.{PARTIAL}.")
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=60)
    assert not run_dir.exists()
    result = finish(start("pipeline", point_csi, "-o", run_dir, *FAST))
    assert result.status == 0, result.stderr
    assert (run_dir / "estimates-genie.nc").exists()
    assert stray_files(tmp_path) == ["big.nc", "run"]


def test_of_two_pipelines_into_one_run_directory_exactly_one_succeeds(tmp_path, point_csi):
    run_dir = tmp_path / "run"
    results = [finish(p) for p in [start("pipeline", point_csi, "-o", run_dir, *FAST)
                                   for _ in range(2)]]
    assert sorted(r.status for r in results) == [0, 1], results
    assert_refused(next(r for r in results if r.status), str(run_dir), "--force")
    assert sorted(os.listdir(run_dir)) == [
        "cdf.png", "clusters.nc", "detections.nc", "estimates-genie.nc",
        "estimates-strongest.nc", "heatmap.nc"]
    assert stray_files(tmp_path) == ["run"]


def test_pipeline_force_replaces_a_run_but_never_a_directory_with_other_files(tmp_path,
                                                                             point_csi):
    run_dir = tmp_path / "run"
    assert invoke("pipeline", point_csi, "-o", run_dir, *FAST).status == 0
    first = (run_dir / "heatmap.nc").stat().st_ino
    assert invoke("pipeline", point_csi, "-o", run_dir, *FAST, "--force").status == 0
    assert (run_dir / "heatmap.nc").stat().st_ino != first  # a new run, not the old files
    (run_dir / "notes.txt").write_text("mine")
    result = invoke("pipeline", point_csi, "-o", run_dir, *FAST, "--force")
    assert_refused(result, "notes.txt", "refusing to replace it")
    assert (run_dir / "notes.txt").read_text() == "mine"
    assert stray_files(tmp_path) == ["run"]



def test_a_failed_write_leaves_no_partial_while_other_chunks_are_being_written(tmp_path,
                                                                               monkeypatch):
    """One chunk fails while another thread is in the middle of writing its chunk: that
    write, which reopens the file by name, must not re-create the removed partial."""
    import threading

    from xarray.backends.netCDF4_ import NetCDF4ArrayWrapper

    writing = threading.Event()
    write = NetCDF4ArrayWrapper.__setitem__

    def slow_write(self, key, value):
        writing.set()
        time.sleep(0.5)  # the failure and the clean-up happen meanwhile
        write(self, key, value)

    def fail_once_writing(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 0:
            writing.wait(30)
            raise RuntimeError("a chunk fails")
        return block

    monkeypatch.setattr(NetCDF4ArrayWrapper, "__setitem__", slow_write)
    ds = make_csi(frames=8, rx=4, subcarriers=16)
    csi = da.from_array(ds["csi"].values, chunks=(1, -1, -1))
    ds["csi"] = ds["csi"].copy(data=csi.map_blocks(fail_once_writing, dtype=csi.dtype))
    with dask.config.set(num_workers=4), pytest.raises(RuntimeError, match="a chunk fails"):
        radarsp.save(ds, tmp_path / "s.nc")
    time.sleep(1)  # a straggling write has ended by now
    assert stray_files(tmp_path) == []
