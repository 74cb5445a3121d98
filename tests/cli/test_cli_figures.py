"""`radarsp plot` / `radarsp evaluate --plot`: refused figure formats and missing truth fail at
once, in one line with status 1, before any work or output."""

from __future__ import annotations

import pytest

from tests.cli import test_cli_statistical as statistical

# the fixture of scenes, detections and a heatmap in tmp_path, and the CliRunner helper
files = statistical.files
run = statistical.run


def one_line_error(out) -> str:
    assert out.exit_code == 1, out.output
    assert out.stderr.startswith("Error: ") and out.stderr.strip().count("\n") == 0
    return out.stderr


@pytest.fixture
def estimates(files):
    """estimates-1 of the strongest cluster, made without --truth: it carries no truth."""
    assert run("cluster", files / "detections.nc", "-o", files / "clusters.nc").exit_code == 0
    out = run("match", files / "clusters.nc", "--strategy", "strongest",
              "-o", files / "strongest.nc")
    assert out.exit_code == 0, out.output
    return files / "strongest.nc"


def test_plot_refuses_an_unknown_figure_format_before_any_work(files):
    out = run("plot", files / "heatmap.nc", "--frame", "0", "-o", files / "fig.xyz")
    message = one_line_error(out)
    assert "fig.xyz: figure format 'xyz' not supported; use one of png, pdf, svg" in message
    assert not (files / "fig.xyz").exists()
    # checked first: a file that is no heatmap is not even opened
    (files / "not-netcdf.nc").write_text("not netCDF")
    out = run("plot", files / "not-netcdf.nc", "--frame", "0", "-o", files / "fig.xyz")
    assert "figure format 'xyz'" in one_line_error(out)
    # the format follows the extension, case-insensitively
    out = run("plot", files / "heatmap.nc", "--frame", "0", "-o", files / "fig.SVG")
    assert out.exit_code == 0, out.output
    assert b"<svg" in (files / "fig.SVG").read_bytes()[:500]


def test_evaluate_plot_refuses_an_unknown_figure_format_before_any_work(files, estimates):
    out = run("evaluate", estimates, "--truth", files / "scenes.nc", "--plot",
              files / "cdf.xyz")
    assert "cdf.xyz: figure format 'xyz' not supported" in one_line_error(out)
    assert out.stdout == ""  # no table printed: nothing was evaluated
    assert not (files / "cdf.xyz").exists()
    out = run("evaluate", estimates, "--truth", files / "scenes.nc", "--plot",
              files / "cdf.pdf", "--n-boot", "0")
    assert out.exit_code == 0, out.output
    assert (files / "cdf.pdf").read_bytes()[:4] == b"%PDF"


def test_evaluate_without_truth_names_the_missing_variable_and_truth_option(files, estimates):
    out = run("evaluate", estimates, "--plot", files / "cdf.png")
    message = one_line_error(out)
    assert "strongest.nc" in message and "'target_x'" in message
    assert "missing" in message and "--truth FILE" in message
    assert "expected dims" not in message
    assert out.stdout == "" and not (files / "cdf.png").exists()
    # with --truth the same file evaluates
    out = run("evaluate", estimates, "--truth", files / "scenes.nc", "--n-boot", "0")
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[0].split()[:5] == ["method", "labels", "camera", "frames",
                                                      "50th"]
