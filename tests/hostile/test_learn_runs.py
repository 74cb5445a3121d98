"""radarsp-learn run directories under races and kills: two writers, a reader during
training, kill -9 (no stale lock), a run killed before its first checkpoint, studies."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from learn_world import copy_run, train_args, write_scenes

from radarsp_learn.rundir import LOCK_NAME, locked
from tests.hostile.conftest import ENV, assert_refused, invoke, run_cli, stray_files


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A data file and a finished one-epoch supervised run on it."""
    root = tmp_path_factory.mktemp("learn-runs")
    data = write_scenes(root / "heat.nc")
    result = invoke(*train_args("supervised", data, root / "run"), program="radarsp-learn")
    assert result.status == 0, result.stderr
    return root, data


def _is_locked(run) -> bool:
    """Whether a process holds the run's lock (probed without taking it)."""
    try:
        fd = os.open(run / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _start(args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.learn", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _wait_for(condition, process, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _long_args(data, run):
    args = train_args("supervised", data, run, "--set", "patience=100")
    args[args.index("--epochs") + 1] = "200"
    return args


def test_second_writer_is_refused_while_a_run_trains(world, tmp_path):
    _, data = world
    run = tmp_path / "run"
    first = _start(_long_args(data, run))
    try:
        _wait_for(lambda: (run / "last.pt").exists(), first)
        config = (run / "config.json").read_text()
        second = run_cli(*train_args("mcl", data, run, "--force"), program="radarsp-learn")
        assert_refused(second, str(run), f"process {first.pid}")
        for args in (("predict", run, data, "-o", tmp_path / "est.nc"),
                     ("train", "--resume", data, "-o", run)):
            result = invoke("-q", *args, program="radarsp-learn")
            assert_refused(result, str(run), outputs=(tmp_path / "est.nc",))
        assert (run / "config.json").read_text() == config  # still the first run's alone
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()


def test_two_runs_started_together_leave_one_run(world, tmp_path):
    _, data = world
    run = tmp_path / "run"
    processes = [_start(train_args(objective, data, run)) for objective in ("supervised", "mcl")]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in processes]
    statuses = sorted(status for status, _ in results)
    assert statuses == [0, 1], results
    winner = ("supervised", "mcl")[[status for status, _ in results].index(0)]
    loser_stderr = next(err for status, err in results if status == 1)
    assert loser_stderr.count("Error") == 1 and "Traceback" not in loser_stderr
    meta = json.loads((run / "config.json").read_text())
    assert meta["config"]["objective"] == winner
    checkpoint = torch.load(run / "best.pt", weights_only=True)
    assert any(name.startswith("localiser") == (winner == "supervised")
               for name in checkpoint["objective"])


def test_reader_is_refused_while_a_writer_holds_the_run(world, tmp_path):
    root, data = world
    run = copy_run(root / "run", tmp_path / "run")
    out = tmp_path / "est.nc"
    with locked(run, exclusive=True):
        result = invoke("-q", "predict", run, data, "-o", out, program="radarsp-learn")
        assert_refused(result, str(run), "being written", outputs=(out,))
    assert invoke("-q", "predict", run, data, "-o", out, program="radarsp-learn").status == 0


def test_writer_is_refused_while_a_reader_holds_the_run(world, tmp_path):
    root, data = world
    run = copy_run(root / "run", tmp_path / "run")
    with locked(run, exclusive=False):
        result = invoke("-q", "train", "--resume", "--epochs", "2", data, "-o", run,
                        program="radarsp-learn")
        assert_refused(result, str(run), "in use")


def test_kill_9_leaves_no_stale_lock_and_resume_continues(world, tmp_path):
    _, data = world
    run = tmp_path / "run"
    args = _long_args(data, run)
    args[args.index("--epochs") + 1] = "4"
    process = _start(args)
    _wait_for(lambda: (run / "last.pt").exists(), process)
    process.send_signal(signal.SIGKILL)  # _wait_for saw it running: killed mid-run
    process.wait()
    assert not _is_locked(run)
    epochs = torch.load(run / "last.pt", weights_only=True)["state"]["epoch"]
    assert epochs < 4
    result = run_cli("-q", "train", "--resume", data, "-o", run, program="radarsp-learn")
    assert result.status == 0, result.stderr
    assert torch.load(run / "last.pt", weights_only=True)["state"]["epoch"] == 4
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] == 4


@pytest.fixture
def unfinished(world, tmp_path):
    """A run killed before its first checkpoint: its config.json and lock file, nothing else."""
    root, _ = world
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text((root / "run" / "config.json").read_text())
    (run / LOCK_NAME).write_text("12345\n")
    return run


def test_resume_starts_a_run_killed_before_its_first_checkpoint(world, unfinished):
    _, data = world
    result = run_cli("-q", "train", "--resume", data, "-o", unfinished, program="radarsp-learn")
    assert result.status == 0, result.stderr
    assert {"best.pt", "last.pt", "metrics.jsonl"} <= set(stray_files(unfinished))


def test_fresh_run_replaces_a_run_killed_before_its_first_checkpoint(world, unfinished):
    _, data = world
    result = invoke(*train_args("mcl", data, unfinished), program="radarsp-learn")
    assert result.status == 0, result.stderr
    assert json.loads((unfinished / "config.json").read_text())["config"]["objective"] == "mcl"


def test_fresh_run_never_replaces_a_foreign_config_without_force(world, tmp_path):
    _, data = world
    run = tmp_path / "project"
    run.mkdir()
    (run / "config.json").write_text('{"theme": "dark"}')
    result = invoke(*train_args("supervised", data, run), program="radarsp-learn")
    assert_refused(result, str(run / "config.json"), "--force")
    assert (run / "config.json").read_text() == '{"theme": "dark"}'


def test_resume_without_any_run_names_the_directory(world, tmp_path):
    _, data = world
    run = tmp_path / "empty"
    run.mkdir()
    result = invoke("-q", "train", "--resume", data, "-o", run, program="radarsp-learn")
    assert_refused(result, str(run), "no config.json")


def test_refused_fresh_run_leaves_no_directory(tmp_path):
    data = write_scenes(tmp_path / "heat.nc", frames=8)  # one sequence: no held-out split
    run = tmp_path / "run"
    result = invoke(*train_args("supervised", data, run), program="radarsp-learn")
    assert_refused(result, str(data), "held-out", outputs=(run,))


def test_second_study_into_one_directory_is_refused(tmp_path):
    study = tmp_path / "study"
    with locked(study, exclusive=True, what="study directory"):
        result = invoke("-q", "reproduce", "--config", "small", "-o", study,
                        program="radarsp-learn")
        assert_refused(result, str(study), "study directory", "in use")
        assert stray_files(study) == [LOCK_NAME]


@pytest.mark.parametrize("command", ["predict", "resume"])
def test_lock_file_symlink_is_never_followed(world, tmp_path, command):
    """A crafted run directory whose .lock points at another file: that file is untouched."""
    root, data = world
    run = copy_run(root / "run", tmp_path / "run")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (run / LOCK_NAME).unlink(missing_ok=True)
    (run / LOCK_NAME).symlink_to(victim)
    args = (("predict", run, data, "-o", tmp_path / "est.nc") if command == "predict"
            else ("train", "--resume", "--epochs", "2", data, "-o", run))
    result = invoke("-q", *args, program="radarsp-learn")
    assert_refused(result, LOCK_NAME, outputs=(tmp_path / "est.nc",))
    assert victim.read_text() == "precious\n"
