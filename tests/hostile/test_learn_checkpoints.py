"""radarsp-learn on hostile run directories: crafted, truncated and mismatched checkpoints,
hand-edited config.json, and a disk that fills while a checkpoint is written."""

from __future__ import annotations

import ast
import json
import os
import pickle
import resource
import signal

import pytest
import torch
from learn_world import ROOT, copy_run, edit_config, train_args, write_scenes

from tests.hostile.conftest import assert_refused, invoke, run_cli, stray_files

MARKER_NAME = "pwned"


class _Payload:
    """Unpickling this creates a marker file: proof that loading ran the file's code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A data file and finished one-epoch runs: mcl (for selflabel) and supervised (predict)."""
    root = tmp_path_factory.mktemp("learn-checkpoints")
    data = write_scenes(root / "heat.nc")
    for objective in ("mcl", "supervised"):
        result = invoke(*train_args(objective, data, root / objective), program="radarsp-learn")
        assert result.status == 0, result.stderr
    return root, data


def _command(kind: str, run, data, out) -> list[str]:
    """The command that reads ``run``: selflabel/predict read best.pt, --resume last.pt."""
    if kind == "resume":
        return ["-q", "train", "--resume", "--epochs", "2", str(data), "-o", str(run)]
    return ["-q", kind, str(run), str(data), "-o", str(out)]


CASES = [("selflabel", "mcl", "best.pt"), ("predict", "supervised", "best.pt"),
         ("resume", "supervised", "last.pt")]


@pytest.mark.parametrize("kind,source,checkpoint", CASES)
@pytest.mark.parametrize("container", ["torch", "pickle"])
def test_crafted_checkpoint_is_refused_and_never_run(world, tmp_path, kind, source,
                                                     checkpoint, container):
    root, data = world
    run = copy_run(root / source, tmp_path / "run")
    marker = tmp_path / MARKER_NAME
    payload = {"objective": _Payload(marker), "epoch": 1, "optimizer": {}, "state": {},
               "rng": {}}
    if container == "torch":
        torch.save(payload, run / checkpoint)
    else:
        (run / checkpoint).write_bytes(pickle.dumps(payload))
    out = tmp_path / "out.nc"
    runner = run_cli if container == "torch" else invoke
    result = runner(*_command(kind, run, data, out), program="radarsp-learn")
    assert_refused(result, str(run / checkpoint), "refused", outputs=(out,))
    assert not marker.exists(), "loading the checkpoint ran its code"


@pytest.mark.parametrize("kind,source,checkpoint", CASES)
@pytest.mark.parametrize("damage", ["truncated", "empty", "text"])
def test_damaged_checkpoint_is_one_line(world, tmp_path, kind, source, checkpoint, damage):
    root, data = world
    run = copy_run(root / source, tmp_path / "run")
    path = run / checkpoint
    content = path.read_bytes()
    path.write_bytes({"truncated": content[: len(content) // 2], "empty": b"",
                      "text": b"not a checkpoint\n"}[damage])
    out = tmp_path / "out.nc"
    result = invoke(*_command(kind, run, data, out), program="radarsp-learn")
    assert_refused(result, str(path), outputs=(out,))


def test_checkpoint_of_other_settings_is_refused(world, tmp_path):
    """config.json edited to another network size no longer fits best.pt."""
    root, data = world
    run = copy_run(root / "supervised", tmp_path / "run")
    edit_config(run, lambda meta: meta["config"].update(localiser_width=16))
    out = tmp_path / "out.nc"
    result = invoke(*_command("predict", run, data, out), program="radarsp-learn")
    assert_refused(result, str(run / "best.pt"), "does not fit", outputs=(out,))


def _drop(key):
    return lambda meta: meta["config"].pop(key)


def _set(key, value):
    return lambda meta: meta["config"].__setitem__(key, value)


CONFIG_EDITS = {
    "string for an int": (_set("feature_dim", "8"), "feature_dim"),
    "list for a float": (_set("lr", [0.001]), "lr"),
    "missing key": (_drop("grid_shape"), "grid_shape"),
    "unknown key": (_set("feature_dims", 8), "feature_dims"),
    "zero grid": (_set("grid_shape", [0, 0]), "grid_shape"),
    "three-axis grid": (_set("grid_shape", [16, 16, 16]), "grid_shape"),
    "bool for an int": (_set("epochs", True), "epochs"),
    "unknown loss": (_set("loss", "l1"), "loss"),
    "no labels count": (lambda meta: meta.pop("labels_used"), "labels_used"),
    "config not an object": (lambda meta: meta.__setitem__("config", [1, 2]), "config"),
}


@pytest.mark.parametrize("kind", ["selflabel", "predict", "resume"])
@pytest.mark.parametrize("edit", sorted(CONFIG_EDITS))
def test_hand_edited_config_is_one_line_naming_file_and_key(world, tmp_path, kind, edit):
    root, data = world
    run = copy_run(root / ("mcl" if kind == "selflabel" else "supervised"), tmp_path / "run")
    change, key = CONFIG_EDITS[edit]
    edit_config(run, change)
    out = tmp_path / "out.nc"
    result = invoke(*_command(kind, run, data, out), program="radarsp-learn")
    assert_refused(result, str(run / "config.json"), key, outputs=(out,))


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '{"config": {"lr": NaN}}'])
def test_config_that_is_not_a_run_config_is_one_line(world, tmp_path, text):
    root, data = world
    run = copy_run(root / "supervised", tmp_path / "run")
    (run / "config.json").write_text(text)
    out = tmp_path / "out.nc"
    result = run_cli(*_command("predict", run, data, out), program="radarsp-learn")
    assert_refused(result, str(run / "config.json"), outputs=(out,))


def _limit_file_size(limit: int):
    def apply():
        # a write past the limit fails with EFBIG instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_full_disk_while_saving_a_checkpoint(world, tmp_path):
    """Writes past 16 kB fail (as on a full disk): config.json fits, a checkpoint does not.
    One line naming the checkpoint, status 1, and no half-written file or temporary left."""
    _, data = world
    run = tmp_path / "run"
    result = run_cli(*train_args("supervised", data, run), program="radarsp-learn",
                     preexec_fn=_limit_file_size(16_384))
    line = assert_refused(result, "cannot write the checkpoint")
    assert str(run / "best.pt") in line or str(run / "last.pt") in line
    assert stray_files(run) == []  # a fresh run that never checkpointed leaves nothing


def test_resume_after_a_failed_checkpoint_write_continues(world, tmp_path):
    """A write failure in epoch 2 keeps epoch 1's files intact; --resume then finishes."""
    root, data = world
    run = copy_run(root / "supervised", tmp_path / "run")
    before = (run / "last.pt").read_bytes()
    args = ["-q", "train", "--resume", "--epochs", "2", str(data), "-o", str(run)]
    result = run_cli(*args, program="radarsp-learn", preexec_fn=_limit_file_size(16_384))
    assert_refused(result, "cannot write the checkpoint")
    assert (run / "last.pt").read_bytes() == before
    assert sorted(stray_files(run)) == [".lock", "best.pt", "config.json", "last.pt",
                                        "metrics.jsonl"]
    assert invoke(*args, program="radarsp-learn").status == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_every_torch_load_in_the_repository_refuses_pickled_code():
    """No torch.load anywhere may unpickle arbitrary objects: each passes weights_only=True."""
    calls = []
    for folder in ("radarsp", "radarsp_learn", "cli", "benchmarks", "examples", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and node.func.attr == "load" and getattr(node.func.value, "id",
                                                                 "") == "torch":
                    safe = any(k.arg == "weights_only" and getattr(k.value, "value", None)
                               is True for k in node.keywords)
                    calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", safe))
    assert any(name.startswith("radarsp_learn/rundir.py") for name, _ in calls)
    assert [name for name, safe in calls if not safe] == []


def test_checkpoints_hold_only_tensors_and_plain_values(world):
    """What training writes loads with weights_only=True, RNG states included."""
    root, _ = world
    last = torch.load(root / "supervised" / "last.pt", weights_only=True)
    assert set(last) == {"objective", "optimizer", "state", "rng"}
    assert isinstance(last["rng"]["numpy"]["keys"], torch.Tensor)
    assert json.loads((root / "supervised" / "metrics.jsonl").read_text().splitlines()[0])
