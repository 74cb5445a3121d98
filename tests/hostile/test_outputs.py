"""Hostile outputs and inputs of the command line: where a command may write, what it leaves
behind, how a failed write is reported, and what it accepts as an input path.

Every refusal is one ``Error`` line with status 1 (2 for usage errors), no traceback and no
output; every accepted case writes a file the readers open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import radarsp
from tests.conftest import make_csi
from tests.hostile.conftest import ENV, assert_refused, invoke, run_cli, stray_files

HEATMAP = ("--window", "none", "--angle-bins", "8")  # tiny, valid settings for make_csi


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A csi-1 file, its heatmap and a FIFO, each in its own folder."""
    folder = tmp_path_factory.mktemp("inputs")
    radarsp.save(make_csi(frames=4, rx=4, subcarriers=16), folder / "csi.nc")
    result = invoke("heatmap", folder / "csi.nc", "-o", folder / "heat.nc", *HEATMAP)
    assert result.status == 0, result.stderr
    os.mkfifo(folder / "fifo")
    return folder


@contextlib.contextmanager
def tmpfs(folder: Path, options: str):
    """A tmpfs mounted on ``folder`` (a read-only or a tiny filesystem); the test is skipped
    where mounting is not allowed (not root, or a container without the capability)."""
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a filesystem needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


# --- where an output may go -----------------------------------------------------------------

def test_a_250_character_name_is_written_and_leaves_no_partial(inputs, tmp_path):
    name = "a" * 247 + ".nc"  # fits the 255-byte limit; a partial with its suffix would not
    result = invoke("heatmap", inputs / "csi.nc", "-o", tmp_path / name, *HEATMAP)
    assert result.status == 0, result.stderr
    assert radarsp.open_heatmap(tmp_path / name).sizes["angle"] > 0
    assert stray_files(tmp_path) == [name]


def test_a_name_too_long_for_the_filesystem_is_refused_before_any_work(inputs, tmp_path):
    name = "b" * 300 + ".nc"
    result = invoke("heatmap", inputs / "csi.nc", "-o", tmp_path / name, *HEATMAP)
    assert_refused(result, "303 bytes long", "at most 255")
    assert stray_files(tmp_path) == []


def test_an_output_inside_a_file_names_the_file(inputs, tmp_path):
    (tmp_path / "heat.nc").write_text("a file, not a directory")
    result = invoke("heatmap", inputs / "csi.nc", "-o", tmp_path / "heat.nc" / "x.nc", *HEATMAP)
    line = assert_refused(result, "heat.nc is not a directory")
    assert "File exists" not in line
    assert (tmp_path / "heat.nc").read_text() == "a file, not a directory"


def test_an_unwritable_directory_is_refused_before_any_work_naming_it(tmp_path):
    locked = tmp_path / "locked"
    if os.geteuid() == 0:  # root writes through permissions: use a read-only filesystem
        context = tmpfs(locked, "ro,size=1m")
    else:
        locked.mkdir(mode=0o555)
        context = contextlib.nullcontext(locked)
    with context:
        # 100,000 frames: were the check after the simulation, the timeout would end the test
        result = run_cli("simulate", "--frames", "100000", "-o", locked / "scenes.nc",
                         timeout=60)
        line = assert_refused(result, f"directory {locked} is not writable",
                              outputs=[locked / "scenes.nc"])
        assert "radarsp-partial" not in line and ".tmp" not in line
        assert stray_files(locked) == []


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_a_directory_fifo_or_device_is_never_replaced_even_with_force(inputs, tmp_path, kind):
    if kind == "directory":
        target = tmp_path / "out.nc"
        target.mkdir()
        words = ("exists and is a directory",)
    elif kind == "fifo":
        target = tmp_path / "out.nc"
        os.mkfifo(target)
        words = ("exists and is a FIFO",)
    else:
        target = Path(os.devnull)
        words = ("character device",)
    before = os.lstat(target).st_mode
    result = invoke("heatmap", inputs / "csi.nc", "-o", target, "--force", *HEATMAP)
    assert_refused(result, *words)
    assert os.lstat(target).st_mode == before


def test_a_dangling_symlink_is_an_existing_output(inputs, tmp_path):
    link = tmp_path / "out.nc"
    link.symlink_to(tmp_path / "nowhere.nc")
    result = invoke("heatmap", inputs / "csi.nc", "-o", link, *HEATMAP)
    assert_refused(result, "output exists", "--force")
    assert link.is_symlink()
    result = invoke("heatmap", inputs / "csi.nc", "-o", link, "--force", *HEATMAP)
    assert result.status == 0, result.stderr
    assert not link.is_symlink() and radarsp.open_heatmap(link).sizes["frame"] == 4
    assert not (tmp_path / "nowhere.nc").exists()


# --- Zarr stores ----------------------------------------------------------------------------

def test_a_zarr_output_is_exclusive_replaced_with_force_and_readable(inputs, tmp_path):
    store = tmp_path / "heat.zarr"
    assert invoke("heatmap", inputs / "csi.nc", "-o", store, *HEATMAP).status == 0
    assert_refused(invoke("heatmap", inputs / "csi.nc", "-o", store, *HEATMAP), "exists",
                   "--force")
    before = radarsp.open_heatmap(store).sizes["angle"]
    result = invoke("heatmap", inputs / "csi.nc", "-o", store, "--force", "--window", "none",
                    "--angle-bins", "32")
    assert result.status == 0, result.stderr
    assert stray_files(tmp_path) == ["heat.zarr"]
    after = radarsp.open_heatmap(store).sizes["angle"]
    assert after > before
    # the store is an input like a netCDF file: info and cfar read the replaced one
    info = invoke("info", store)
    assert info.status == 0 and f"angle: {after} bins" in info.stdout, info.stdout
    result = invoke("cfar", store, "-o", tmp_path / "det.nc", "--guard", "1,1", "--train",
                    "2,2", "--pfa", "0.1")
    assert result.status == 0, result.stderr
    assert radarsp.open_detections(tmp_path / "det.nc").attrs["radarsp_schema"] == "detections-1"


def test_force_never_replaces_a_directory_that_is_not_a_zarr_store(inputs, tmp_path):
    folder = tmp_path / "mine.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    result = invoke("heatmap", inputs / "csi.nc", "-o", folder, "--force", *HEATMAP)
    assert_refused(result, "not a Zarr store")
    assert (folder / "notes.txt").read_text() == "keep"
    assert stray_files(tmp_path) == ["mine.zarr"]


# --- inputs ---------------------------------------------------------------------------------

RADARSP_INPUTS = [
    ("heatmap", "{bad}", "-o", "{out}"),
    ("cfar", "{bad}", "-o", "{out}"),
    ("cluster", "{bad}", "-o", "{out}"),
    ("match", "{bad}", "--strategy", "strongest", "-o", "{out}"),
    ("match", "{heat}", "--truth", "{bad}", "-o", "{out}"),
    ("match", "{heat}", "--strategy", "cross-domain", "--doppler-clusters", "{bad}", "-o",
     "{out}"),
    ("evaluate", "{bad}"),
    ("evaluate", "{heat}", "--truth", "{bad}"),
    ("info", "{bad}"),
    ("plot", "{bad}", "--frame", "0", "-o", "{out}.png"),
    ("plot", "{heat}", "--frame", "0", "--detections", "{bad}", "-o", "{out}.png"),
    ("plot", "{heat}", "--frame", "0", "--clusters", "{bad}", "-o", "{out}.png"),
    ("plot", "{heat}", "--frame", "0", "--estimates", "{bad}", "-o", "{out}.png"),
    ("pipeline", "{bad}", "-o", "{out}"),
    ("convert", "fmcw", "{bad}", "--slope", "6e13", "--sample-rate", "2e6", "--carrier",
     "7.7e10", "--chirp-period", "1e-4", "-o", "{out}"),
    ("convert", "cruw", "{dir}", "--annotations", "{bad}", "-o", "{out}"),
]
LEARN_INPUTS = [
    ("train", "{bad}", "-o", "{out}"),
    ("train", "{heat}", "--objective", "localiser", "--labels", "{bad}", "-o", "{out}"),
    ("selflabel", "{dir}", "{bad}", "-o", "{out}"),
    ("predict", "{dir}", "{bad}", "-o", "{out}"),
    ("reproduce", "--data", "{bad}", "-o", "{out}"),
]


def _arguments(template, inputs, bad, out):
    return [part.format(bad=bad, out=out, heat=inputs / "heat.nc", dir=inputs)
            for part in template]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("program,template",
                         [("radarsp", t) for t in RADARSP_INPUTS]
                         + [("radarsp-learn", t) for t in LEARN_INPUTS])
def test_every_input_refuses_a_fifo_in_one_line_without_opening_it(inputs, tmp_path, program,
                                                                    template):
    fifo = inputs / "fifo"
    out = tmp_path / "out"
    result = invoke(*_arguments(template, inputs, fifo, out), program=program)
    assert_refused(result, str(fifo), "is a FIFO", "expected a regular file", outputs=[out])
    assert stray_files(tmp_path) == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["socket", "character device", "missing", "directory"])
def test_sockets_devices_missing_paths_and_plain_directories_are_refused(inputs, tmp_path,
                                                                        kind):
    if kind == "socket":
        path = str(tmp_path / "sock")
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        words = ("is a socket",)
    elif kind == "character device":
        path, words = "/dev/zero", ("is a character device",)
    elif kind == "missing":
        path, words = str(tmp_path / "nothing.nc"), ("no such file",)
    else:
        path, words = str(tmp_path), ("is a directory",)
    args = ["fmcw", path, "--slope", "6e13", "--sample-rate", "2e6", "--carrier", "7.7e10",
            "--chirp-period", "1e-4", "-o", tmp_path / "out.nc"]
    assert_refused(invoke("convert", *args), path, *words, outputs=[tmp_path / "out.nc"])
    if kind in ("socket", "character device", "missing"):
        assert_refused(invoke("heatmap", path, "-o", tmp_path / "h.nc"), path, *words,
                       outputs=[tmp_path / "h.nc"])


def test_learn_commands_take_a_zarr_store_to_their_reader(inputs, tmp_path, monkeypatch):
    store = tmp_path / "heat.zarr"
    assert invoke("heatmap", inputs / "csi.nc", "-o", store, *HEATMAP).status == 0
    import radarsp_learn.train

    def reader(config, data, output, **options):
        raise ValueError(f"training would read {data}")

    monkeypatch.setattr(radarsp_learn.train, "train", reader)
    result = invoke("train", store, "-o", tmp_path / "run", program="radarsp-learn")
    assert_refused(result, f"training would read {store}")


# --- failed writes --------------------------------------------------------------------------

def _file_size_limit(limit: int):
    """A ``preexec_fn`` that limits files to ``limit`` bytes: a full disk, reproducibly."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("name", ["scenes.nc", "scenes.zarr"])
def test_a_full_disk_is_one_line_naming_the_output_and_leaves_nothing(tmp_path, name):
    with tmpfs(tmp_path / "disk", "size=2m") as disk:  # a 10 MB output does not fit
        out = disk / name
        result = run_cli("simulate", "--frames", "300", "-o", out)
        assert_refused(result, str(out), "could not be written: the disk is full",
                       "nothing was written", outputs=[out])
        assert stray_files(disk) == []


def test_a_file_size_limit_is_one_line_and_keeps_the_old_output(tmp_path):
    # SIGXFSZ is left at its default (kill): the command itself turns it into an error
    out = tmp_path / "scenes.nc"
    assert run_cli("simulate", "--frames", "15", "-o", out).status == 0  # kernels cached too
    before = out.read_bytes()
    for force in ((), ("--force",)):
        target = tmp_path / "new.nc" if not force else out
        result = run_cli("simulate", "--frames", "300", "-o", target, *force,
                         preexec_fn=_file_size_limit(4 * 2**20))
        assert_refused(result, str(target), "could not be written",
                       "the file size limit (ulimit -f) of 4 MiB is reached",
                       "nothing was written")
    assert out.read_bytes() == before and stray_files(tmp_path) == ["scenes.nc"]


# --- a reader that goes away ----------------------------------------------------------------

def _closed_reader(args) -> subprocess.CompletedProcess:
    """Run ``args`` with stdout a pipe whose reader is already gone (``... | head -0``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(args, stdout=write, stderr=subprocess.PIPE, text=True, env=ENV,
                              timeout=120)
    finally:
        os.close(write)
    return done


def test_radarsp_info_into_a_closed_pipe_exits_quietly(inputs):
    done = _closed_reader([sys.executable, "-m", "cli.main", "info", str(inputs / "csi.nc")])
    assert done.stderr == "" and done.returncode == 128 + signal.SIGPIPE


def test_the_shared_wrapper_of_both_programs_exits_quietly_on_a_closed_pipe():
    from cli.learn import main as learn
    from cli.main import SUBCOMMANDS, main

    wrapped = [learn.commands[name].callback for name in learn.commands]
    wrapped += [main.get_command(None, name).callback for name in SUBCOMMANDS
                if name != "convert"]
    assert all(getattr(callback, "_guarded", False) for callback in wrapped)
    code = ("import click\n"
            "from cli.common import run_guarded\n"
            "@click.command()\n"
            "def talk():\n"
            "    for n in range(100000):\n"
            "        click.echo(f'line {n}')\n"
            "run_guarded(talk)()\n")
    done = _closed_reader([sys.executable, "-c", code])
    assert done.stderr == "" and done.returncode == 128 + signal.SIGPIPE


def test_an_unexpected_memory_error_is_one_line():
    import click
    from click.testing import CliRunner

    from cli.common import run_guarded

    @click.command()
    def allocate():
        np.empty(2**62, dtype=np.uint8)

    result = CliRunner().invoke(run_guarded(allocate), [])
    assert result.exit_code == 1 and result.stderr.startswith("Error: out of memory ("), (
        result.output)
    assert len(result.stderr.strip().splitlines()) == 1
