"""torchrun with 2 CPU processes (gloo) trains one model with DistributedDataParallel."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import radarsp  # noqa: E402
from radarsp.heatmap import heatmap_dataset  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_two_processes_train_one_model(tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun not installed beside this python")
    scenes = radarsp.simulate("parking-lot", frames=60, seed=4, image_size=(16, 16),
                              sequence_length=10)
    data = radarsp.save(heatmap_dataset(scenes), tmp_path / "heat.nc")
    out = tmp_path / "ranks"
    out.mkdir()
    worker = Path(__file__).with_name("ddp_worker.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[2]))
    result = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(_free_port()), str(worker), str(data), str(tmp_path / "run"),
         str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(out / f"rank{k}.pt", weights_only=True) for k in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["params"], "training did not wrap its model in DistributedDataParallel"
    for a, b in zip(ranks[0]["params"], ranks[1]["params"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (tmp_path / "run" / "config.json").exists()


@pytest.mark.parametrize("fails", [False, True])
def test_process_group_barrier_only_on_normal_exit(monkeypatch, fails):
    """A rank that raises must not wait in a barrier the other ranks may never reach."""
    import torch.distributed as dist

    from radarsp_learn.distributed import process_group

    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda **_: calls.append("init"))
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append("destroy"))
    with pytest.raises(RuntimeError) if fails else contextlib.nullcontext():
        with process_group("cpu") as (rank, world):
            assert (rank, world) == (1, 2)
            if fails:
                raise RuntimeError("rank 1 failed")
    assert calls == (["init", "destroy"] if fails else ["init", "barrier", "destroy"])
