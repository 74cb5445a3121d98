"""radarsp-learn training on hostile input: NaN power, a diverging loss, invalid settings, a
resume on changed data, and progress output into a log."""

from __future__ import annotations

import fcntl
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest
from learn_world import copy_run, edit_config, strict_records, train_args, write_scenes

from tests.hostile.conftest import ENV, assert_refused, invoke, run_cli, stray_files


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A data file and finished one-epoch runs on it: supervised (``run``) and ``mcl``."""
    root = tmp_path_factory.mktemp("learn-training")
    data = write_scenes(root / "heat.nc")
    for objective, name in (("supervised", "run"), ("mcl", "mcl")):
        result = invoke(*train_args(objective, data, root / name), program="radarsp-learn")
        assert result.status == 0, result.stderr
    return root, data


def _poison(value):
    def edit(ds):
        ds["power"] = ds["power"].astype(np.float64)  # 1e39 fits, as another writer's file
        ds["power"].values[5, 3, 3] = value
    return edit


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e39])  # 1e39 is inf in float32
@pytest.mark.parametrize("cache", ["true", "false"])
def test_non_finite_power_is_refused_before_training(tmp_path, value, cache):
    data = write_scenes(tmp_path / "bad.nc", edit=_poison(value))
    run = tmp_path / "run"
    result = invoke(*train_args("supervised", data, run, "--set", f"cache={cache}"),
                    program="radarsp-learn")
    assert_refused(result, str(data), "'power'", "frame 5", outputs=(run,))


@pytest.mark.parametrize("command", ["selflabel", "predict"])
def test_non_finite_power_is_refused_by_selflabel_and_predict(world, tmp_path, command):
    root, _ = world
    data = write_scenes(tmp_path / "bad.nc", edit=_poison(np.nan))
    out = tmp_path / "out.nc"
    run = root / ("mcl" if command == "selflabel" else "run")
    result = invoke("-q", command, run, data, "-o", out, program="radarsp-learn")
    assert_refused(result, str(data), "'power'", "frame 5", outputs=(out,))


def test_diverging_loss_stops_with_status_1_and_valid_metrics(world, tmp_path):
    """A run whose learning rate was hand-edited to 1e30 diverges in epoch 2: status 1, one
    line naming the epoch and the learning rate; metrics.jsonl and last.pt stay epoch 1's."""
    root, data = world
    run = copy_run(root / "run", tmp_path / "run")
    edit_config(run, lambda meta: meta["config"].update(lr=1e30))
    last = (run / "last.pt").read_bytes()
    result = run_cli("train", "--resume", "--epochs", "3", data, "-o", run,
                     program="radarsp-learn")
    assert_refused(result, "diverged", "epoch 2", "lr 1e+30")
    assert [r["epoch"] for r in strict_records(run / "metrics.jsonl")] == [1]
    assert (run / "last.pt").read_bytes() == last


def test_divergence_in_the_first_epoch_leaves_no_run(world, tmp_path):
    _, data = world
    run = tmp_path / "run"
    result = invoke(*train_args("mcl", data, run, "--lr", "1e30"), program="radarsp-learn")
    assert_refused(result, "diverged", "epoch 1", "lr 1e+30", outputs=(run,))


def test_optimiser_overflow_is_divergence_not_a_traceback(world, tmp_path):
    _, data = world
    result = invoke(*train_args("supervised", data, tmp_path / "run", "--lr", "1e38"),
                    program="radarsp-learn")
    assert_refused(result, "diverged", "lr 1e+38", outputs=(tmp_path / "run",))


BAD_SETTINGS = [
    (("--set", "grid_shape=0,0"), "grid_shape"),
    (("--set", "grid_shape=32,32,32"), "grid_shape"),
    (("--set", "grid_shape=18,18"), "grid_shape"),  # not a multiple of the backbone stride
    (("--set", "feature_dim=-5"), "feature_dim"),
    (("--set", "temperature=0"), "temperature"),
    (("--set", "loss=l1"), "loss"),
    (("--set", "momentum=1.5"), "momentum"),
    (("--set", "radio_widths=12"), "radio_widths"),
    (("--set", "huber_delta=nan"), "huber_delta"),
    (("--set", "seed=-1"), "seed"),
    (("--set", "lr=0.1"), "--lr"),  # has its own option
    (("--set", "objective=scl"), "--objective"),
    (("--lr", "-1"), "--lr"),
    (("--lr", "nan"), "--lr"),
    (("--mask-padding", "inf"), "--mask-padding"),
    (("--objective", "nope"), "--objective"),
]


@pytest.mark.parametrize("args,word", BAD_SETTINGS, ids=[" ".join(a) for a, _ in BAD_SETTINGS])
def test_invalid_settings_are_usage_errors(world, tmp_path, args, word):
    _, data = world
    run = tmp_path / "run"
    result = invoke(*train_args("mcl", data, run, *args), program="radarsp-learn")
    assert_refused(result, word, status=2, outputs=(run,))


def test_invalid_setting_as_subprocess(world, tmp_path):
    _, data = world
    result = run_cli(*train_args("mcl", data, tmp_path / "run", "--set", "grid_shape=0,0"),
                     program="radarsp-learn")
    assert_refused(result, "grid_shape", status=2, outputs=(tmp_path / "run",))


def test_library_callers_get_the_same_validation():
    from radarsp_learn.train import ConfigError, TrainConfig

    for bad in (dict(feature_dim=-5), dict(grid_shape=(0, 0)), dict(lr=float("inf")),
                dict(epochs="3"), dict(objective="nope"), dict(extra=[1])):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TrainConfig(**bad)
    assert TrainConfig(lr=1).lr == 1.0 and TrainConfig(grid_shape=[32, 32]).grid_shape == (32, 32)


def _rewrite(data):
    data.unlink()
    write_scenes(data, seed=1)


def _append(data):
    with open(data, "ab") as handle:
        handle.write(b"\0" * 16)


def _touch(data):
    stat = os.stat(data)
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@pytest.mark.parametrize("change,words", [(_rewrite, ("changed",)),
                                          (_append, ("changed", "size")),
                                          (_touch, ("changed", "modified"))])
def test_resume_refuses_changed_data(world, tmp_path, change, words):
    root, _ = world
    data = tmp_path / "heat.nc"
    shutil.copy2(root / "heat.nc", data)
    run = tmp_path / "run"
    assert invoke(*train_args("supervised", data, run), program="radarsp-learn").status == 0
    change(data)
    before = sorted(stray_files(run)), (run / "last.pt").read_bytes()
    result = invoke("-q", "train", "--resume", "--epochs", "2", data, "-o", run,
                    program="radarsp-learn")
    assert_refused(result, str(data), *words)
    assert (sorted(stray_files(run)), (run / "last.pt").read_bytes()) == before


def test_resume_refuses_changed_labels(world, tmp_path):
    from radarsp.io import open_heatmap, save
    from radarsp_learn.data import estimates_dataset

    root, data = world
    ds = open_heatmap(data)
    labels = tmp_path / "labels.nc"

    def write_labels(offset):
        save(estimates_dataset(ds["frame"].values, ds["target_range"].values + offset,
                               ds["target_angle"].values, method="mcl-selflabel",
                               labels_used=0, camera_geometry="none"),
             labels, schema="estimates-1", force=True)

    write_labels(0.0)
    run = tmp_path / "run"
    result = invoke(*train_args("localiser", data, run, "--labels", labels),
                    program="radarsp-learn")
    assert result.status == 0, result.stderr
    write_labels(1.0)
    result = invoke("-q", "train", "--resume", "--epochs", "2", data, "-o", run,
                    program="radarsp-learn")
    assert_refused(result, str(labels), "labels file changed")


def test_resume_with_other_data_is_refused_unless_the_same_file(world, tmp_path):
    root, data = world
    run = copy_run(root / "run", tmp_path / "run")
    other = write_scenes(tmp_path / "other.nc", seed=3)
    result = run_cli("-q", "train", "--resume", "--epochs", "2", other, "-o", run,
                     program="radarsp-learn")
    assert_refused(result, str(other), "different file")
    link = tmp_path / "link.nc"
    link.symlink_to(data)
    result = invoke("-q", "train", "--resume", "--epochs", "2", link, "-o", run,
                    program="radarsp-learn")
    assert result.status == 0, result.stderr
    assert [r["epoch"] for r in strict_records(run / "metrics.jsonl")] == [1, 2]


def test_resume_refuses_missing_data(world, tmp_path):
    root, _ = world
    data = tmp_path / "heat.nc"
    shutil.copy2(root / "heat.nc", data)
    run = tmp_path / "run"
    assert invoke(*train_args("supervised", data, run), program="radarsp-learn").status == 0
    data.rename(tmp_path / "moved.nc")
    result = invoke("-q", "train", "--resume", "--epochs", "2", tmp_path / "moved.nc",
                    "-o", run, program="radarsp-learn")
    assert_refused(result, str(data), "missing")


@pytest.mark.parametrize("args", [("--lr", "0.5"), ("--set", "feature_dim=4"),
                                  ("--objective", "scl")])
def test_resume_refuses_settings_it_would_ignore(world, tmp_path, args):
    root, data = world
    run = copy_run(root / "run", tmp_path / "run")
    result = invoke("-q", "train", "--resume", *args, data, "-o", run, program="radarsp-learn")
    assert_refused(result, args[0], "resumed run", status=2)


def test_progress_into_a_log_is_one_line_per_epoch(world, tmp_path):
    """stderr redirected to a file gets no progress bars, one summary line per epoch."""
    _, data = world
    args = [a for a in train_args("supervised", data, tmp_path / "run") if a != "-q"]
    args[args.index("--epochs") + 1] = "2"
    result = run_cli(*args, "--set", "patience=5", program="radarsp-learn")
    assert result.status == 0, result.stderr
    assert "\r" not in result.stderr and "batch/s" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == ["supervised epoch 1/2",
                                                      "supervised epoch 2/2"]
    assert all("held-out loss" in line for line in lines)


def test_progress_bars_on_a_terminal(world, tmp_path):
    _, data = world
    leader, follower = pty.openpty()
    # a terminal of 24 x 80 (a new pty has 0 columns, where tqdm draws nothing)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    args = [a for a in train_args("supervised", data, tmp_path / "run") if a != "-q"]
    process = subprocess.Popen([sys.executable, "-m", "cli.learn", *map(str, args)],
                               stdout=subprocess.DEVNULL, stderr=follower, env=ENV)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    assert b"\r" in seen and b"batch" in seen  # a tqdm bar
    assert b"supervised epoch 1/1:" in seen


def test_quiet_prints_nothing_on_stderr(world, tmp_path):
    _, data = world
    result = run_cli(*train_args("supervised", data, tmp_path / "run"), program="radarsp-learn")
    assert result.status == 0 and result.stderr == ""


def test_ddp_ranks_stop_together_on_a_nan_loss(tmp_path):
    """Rank 1 alone gets a NaN loss: both ranks stop at that step (none hangs in the next
    gradient exchange), and the fresh run leaves no directory."""
    import socket
    from pathlib import Path

    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun not installed beside this python")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = write_scenes(tmp_path / "heat.nc")
    out = tmp_path / "ranks"
    out.mkdir()
    worker = Path(__file__).with_name("ddp_diverging_worker.py")
    result = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port",
         str(port), str(worker), str(data), str(tmp_path / "run"), str(out)],
        capture_output=True, text=True, env={**ENV, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = [(out / f"rank{rank}.txt").read_text() for rank in (0, 1)]
    assert all(o.startswith("diverged after 3 steps: training diverged in epoch 1")
               for o in outcomes), outcomes
    assert not (tmp_path / "run").exists()
