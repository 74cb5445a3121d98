"""The whole study end to end on a tiny configuration, resuming, refusing, and its CLI."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.learn_reproduce import command
from radarsp_learn.reproduce import PRESETS, Study, StudyExistsError, reproduce

ROOT = Path(__file__).resolve().parents[2]
TEST = dataclasses.replace(
    PRESETS["tiny"], name="test", label_counts=(30,), paddings=(0, 1), feature_dims=(4,),
    estimated_masks=(("background", ("mcl",)),),
    train={"grid_shape": (16, 16), "image_shape": (16, 16), "radio_widths": (8,),
           "vision_widths": (8,), "feature_dim": 4, "projector_hidden": 16, "embed_dim": 8,
           "batch_size": 16, "localiser_width": 4, "localiser_dilations": (1,)})


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    from radarsp.heatmap import heatmap_dataset
    from radarsp.io import save
    from radarsp.simulate import simulate

    path = tmp_path_factory.mktemp("data") / "scenes.nc"
    save(heatmap_dataset(simulate("parking-lot", frames=75, seed=9)), path)
    return path


def test_study_end_to_end_resumes_and_refuses(data_file, tmp_path):
    """One test (not several sharing a fixture), so parallel workers run the study once."""
    from radarsp.io import open_estimates, open_heatmap

    root = tmp_path / "report"
    report = reproduce(TEST, root, data=data_file)

    # the report has the paper's tables and figures
    text = report.read_text()
    for heading in ("Table 4", "Table 5", "Table 6", "Table 7", "Fig. 5", "Fig. 6", "Fig. 7",
                    "Fig. 8"):
        assert f"## {heading}" in text
    for method in ("Supervised", "MCL", "SCL", "CL", "CFAR (genie-aided)",
                   "RODNet-style student", "MCL^B"):
        assert f"| {method} |" in text
    for figure in ("fig5_cdf", "fig6_labels", "fig7_padding", "fig8_dims"):
        assert (root / "figures" / f"{figure}.png").stat().st_size > 1000
        assert f"figures/{figure}.png" in text

    # the data were split by sequence into disjoint training and validation files
    train = open_heatmap(root / "data" / "train.nc")
    val = open_heatmap(root / "data" / "val.nc")
    assert not set(train["sequence"].values) & set(val["sequence"].values)

    # label-free methods report no labels; the supervised baseline reports its labels
    for name in ("mcl", "scl", "cl", "rodnet", "mcl-background"):
        assert int(open_estimates(root / "estimates" / f"{name}.nc").attrs["labels_used"]) == 0
    assert int(open_estimates(root / "estimates" / "supervised.nc").attrs["labels_used"]) > 0

    # self-labels are named after their backbone, so `predict` names the localisers right
    for name in ("mcl", "scl", "cl"):
        labels = open_estimates(root / "labels" / f"{name}-train.nc")
        assert labels.attrs["method"] == f"{name}-selflabel"
        meta = json.loads((root / "runs" / f"{name}-localiser" / "config.json").read_text())
        assert meta["labels_method"] == f"{name}-selflabel"
        assert Path(meta["config"]["labels"]).is_absolute()

    # a rerun skips every finished stage
    timings = (root / "timings.json").read_text()
    stamp = (root / "estimates" / "mcl.nc").stat().st_mtime_ns
    reproduce(TEST, root, data=data_file)
    assert (root / "timings.json").read_text() == timings
    assert (root / "estimates" / "mcl.nc").stat().st_mtime_ns == stamp

    # another configuration is refused; force clears only the study's own artefacts
    other = dataclasses.replace(TEST, seed=1)
    with pytest.raises(StudyExistsError, match="another configuration"):
        Study(other, root, data=data_file).claim(force=False)
    (root / "unrelated.txt").write_text("kept")
    Study(other, root, data=data_file).claim(force=True)
    assert not (root / "runs").exists() and (root / "unrelated.txt").exists()
    assert json.loads((root / "study.json").read_text())["config"]["seed"] == 1


def test_cli_help_and_refusal(tmp_path):
    runner = CliRunner()
    result = runner.invoke(command, ["--help"])
    assert result.exit_code == 0 and "--config [small|medium|paper]" in result.output
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    result = runner.invoke(command, ["-o", str(occupied)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {occupied}: directory is not empty and holds no study; pass --force to use it"]
    result = runner.invoke(command, ["-o", str(tmp_path / "x"), "--config", "huge"])
    assert result.exit_code == 2


def test_cli_subprocess_bad_data_file(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("not netCDF")
    result = subprocess.run(
        [sys.executable, "-m", "cli.learn_reproduce", "--data", str(bad), "-o",
         str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and str(bad) in lines[0]
