"""radarsp.io.cruw: CRUW / ROD2021 range-azimuth maps, annotations and images -> heatmap-1."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from matplotlib import image as mpimg

from radarsp.errors import RadarspFileError
from radarsp.io import open_heatmap, save
from radarsp.io.cruw import (
    cruw_angle_grid,
    cruw_range_grid,
    find_annotations,
    open_cruw,
    read_annotations,
)
from radarsp.io.schema import validate

FRAMES = (0, 1, 2)
CHIRPS = (0, 64)


def write_sequence(root, *, frames=FRAMES, chirps=CHIRPS, shape=(128, 128, 2), seed=0):
    """A CRUW sequence directory with random RA maps; returns (path, maps[frame][chirp])."""
    sequence = root / "2019_04_09_BMS1000"
    folder = sequence / "RADAR_RA_H"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    maps = {}
    for frame in frames:
        for chirp in chirps:
            maps[frame, chirp] = rng.standard_normal(shape).astype(np.float32)
            np.save(folder / f"{frame:06d}_{chirp:04d}.npy", maps[frame, chirp])
    return sequence, maps


ANNOTATIONS = """\
0 5.0 0.1 pedestrian
0 7.5 -0.2 car
2 12.25 0.4 car

2 3.0 -0.5 cyclist
"""


def test_range_grid_is_confmap2ra_with_0p2131_m_bins():
    grid = cruw_range_grid()
    # confmap2ra: bins 3..130 of a 134-point FFT at f_s = 4 MHz, slope 21.0017 MHz/µs
    step = 4e6 / 134 * 299_792_458.0 / (2 * 21.0017e12)
    np.testing.assert_allclose(grid, (np.arange(128) + 3) * step)
    assert step == pytest.approx(0.2131, abs=5e-5)
    assert grid.shape == (128,)


def test_angle_grid_is_uniform_in_sine_over_plus_minus_90_degrees():
    grid = cruw_angle_grid()
    assert grid.shape == (128,)
    assert grid[0] == pytest.approx(-math.pi / 2) and grid[-1] == pytest.approx(math.pi / 2)
    assert (np.diff(grid) > 0).all()
    np.testing.assert_allclose(np.diff(np.sin(grid)), 2 / 127, rtol=1e-9)


def test_power_is_chirp_averaged_magnitude_squared(tmp_path):
    sequence, maps = write_sequence(tmp_path)
    heat = open_cruw(sequence)
    validate(heat, "heatmap-1")
    assert heat.power.dims == ("frame", "range", "angle")
    assert heat.power.dtype == np.float32
    np.testing.assert_array_equal(heat.frame, FRAMES)
    for i, frame in enumerate(FRAMES):
        expected = np.mean([maps[frame, c][..., 0] ** 2 + maps[frame, c][..., 1] ** 2
                            for c in CHIRPS], axis=0)
        np.testing.assert_allclose(heat.power[i], expected, rtol=1e-6)
    np.testing.assert_allclose(heat.range, cruw_range_grid())
    np.testing.assert_allclose(heat.angle, cruw_angle_grid())
    assert "target_range" not in heat and "image" not in heat


def test_chirp_selection_averages_only_the_chirps_given(tmp_path):
    sequence, maps = write_sequence(tmp_path)
    heat = open_cruw(sequence, chirps=[64])
    np.testing.assert_allclose(heat.power[1], maps[1, 64][..., 0] ** 2 + maps[1, 64][..., 1] ** 2,
                               rtol=1e-6)


def test_a_peak_stays_at_its_range_and_angle_bin(tmp_path):
    sequence, _ = write_sequence(tmp_path, frames=(0,), chirps=(0,))
    ra_map = np.zeros((128, 128, 2), np.float32)
    ra_map[40, 90] = (3.0, 4.0)
    np.save(sequence / "RADAR_RA_H" / "000000_0000.npy", ra_map)
    heat = open_cruw(sequence)
    peak = heat.power.isel(frame=0).argmax(...)
    assert (int(peak["range"]), int(peak["angle"])) == (40, 90)
    assert float(heat.power.max()) == pytest.approx(25.0)
    assert float(heat.range[40]) == pytest.approx(43 * 0.21306, rel=1e-4)
    assert float(heat.angle[90]) == pytest.approx(math.asin(-1 + 2 * 90 / 127))


def test_truth_is_the_first_object_per_frame_with_optional_class_filter(tmp_path):
    sequence, _ = write_sequence(tmp_path)
    (sequence / f"{sequence.name}.txt").write_text(ANNOTATIONS)
    heat = open_cruw(sequence)
    np.testing.assert_allclose(heat.target_range, [5.0, np.nan, 12.25])
    np.testing.assert_allclose(heat.target_angle, [0.1, np.nan, 0.4])
    np.testing.assert_allclose(heat.target_x, heat.target_range * np.sin(heat.target_angle))
    np.testing.assert_allclose(heat.target_y, heat.target_range * np.cos(heat.target_angle))
    cars = open_cruw(sequence, classes=["car"])
    np.testing.assert_allclose(cars.target_range, [7.5, np.nan, 12.25])
    cyclists = open_cruw(sequence, classes=["cyclist", "pedestrian"])
    np.testing.assert_allclose(cyclists.target_range, [5.0, np.nan, 3.0])


def test_rod2021_layout_annotations_are_found(tmp_path):
    split = tmp_path / "ROD2021" / "sequences" / "train"
    split.mkdir(parents=True)
    sequence, _ = write_sequence(split)
    labels = tmp_path / "ROD2021" / "annotations" / "train"
    labels.mkdir(parents=True)
    (labels / f"{sequence.name}.txt").write_text(ANNOTATIONS)
    assert find_annotations(sequence) == labels / f"{sequence.name}.txt"
    assert float(open_cruw(sequence).target_range[2]) == 12.25


def test_read_annotations_reports_the_bad_line(tmp_path):
    path = tmp_path / "seq.txt"
    path.write_text("0 5.0 0.1 car\n1 five 0.2 car\n")
    with pytest.raises(RadarspFileError, match=r"seq\.txt: line 2: expected 'frame range"):
        read_annotations(path)
    path.write_text("0 5.0 0.1 car\n")
    assert read_annotations(path) == [(0, 5.0, 0.1, "car")]


def _rgb(frame, rows=6, cols=8):
    return ((np.arange(rows * cols * 3).reshape(rows, cols, 3) * 5 + frame * 40) % 256).astype(
        np.uint8
    )


def test_png_images_are_attached_as_uint8_rgb(tmp_path):
    sequence, _ = write_sequence(tmp_path)
    (sequence / "IMAGES_0").mkdir()
    for frame in FRAMES:
        mpimg.imsave(sequence / "IMAGES_0" / f"{frame:06d}.png", _rgb(frame))
    heat = open_cruw(sequence)
    assert heat.image.dims == ("frame", "image_row", "image_col", "rgb")
    assert heat.image.dtype == np.uint8
    for i, frame in enumerate(FRAMES):
        np.testing.assert_array_equal(heat.image[i], _rgb(frame))
    strided = open_cruw(sequence, image_stride=2)
    np.testing.assert_array_equal(strided.image[1], _rgb(1)[::2, ::2])
    assert "image" not in open_cruw(sequence, images=False)


def test_jpeg_images_decode(tmp_path):
    pytest.importorskip("PIL", reason="JPEG decoding needs Pillow")
    sequence, _ = write_sequence(tmp_path, frames=(0,))
    (sequence / "IMAGES_0").mkdir()
    flat = np.full((6, 8, 3), 120, np.uint8)
    mpimg.imsave(sequence / "IMAGES_0" / "000000.jpg", flat)
    heat = open_cruw(sequence)
    assert heat.image.shape == (1, 6, 8, 3)
    assert abs(heat.image.astype(int) - 120).max() <= 3  # JPEG is lossy


def test_images_missing_for_a_frame_are_skipped_with_a_warning(tmp_path, caplog):
    sequence, _ = write_sequence(tmp_path)
    (sequence / "IMAGES_0").mkdir()
    mpimg.imsave(sequence / "IMAGES_0" / "000000.png", _rgb(0))
    with caplog.at_level(logging.WARNING, logger="radarsp.io.cruw"):
        heat = open_cruw(sequence)
    assert "image" not in heat
    assert "no image for 2 of 3 frames" in caplog.text


def test_saved_file_opens_as_the_same_heatmap(tmp_path):
    sequence, _ = write_sequence(tmp_path)
    (sequence / f"{sequence.name}.txt").write_text(ANNOTATIONS)
    (sequence / "IMAGES_0").mkdir()
    for frame in FRAMES:
        mpimg.imsave(sequence / "IMAGES_0" / f"{frame:06d}.png", _rgb(frame))
    heat = open_cruw(sequence)
    with open_heatmap(save(heat, tmp_path / "cruw.nc")) as back:
        np.testing.assert_array_equal(back.power, heat.power)
        np.testing.assert_array_equal(back.image, heat.image)
        np.testing.assert_allclose(back.target_x, heat.target_x)
        np.testing.assert_allclose(back.angle, heat.angle)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda seq: (seq / "RADAR_RA_H" / "000001_0064.npy").unlink(),
         r"frame 1: no RA map for chirp\(s\) \[64\]"),
        (lambda seq: np.save(seq / "RADAR_RA_H" / "000002_0000.npy", np.zeros((128, 128))),
         r"000002_0000\.npy: expected a float array \(range, angle, 2 real/imag\)"),
        (lambda seq: np.save(seq / "RADAR_RA_H" / "000002_0000.npy", np.zeros((64, 128, 2))),
         r"expected shape \(128, 128, 2\) like the other maps"),
        (lambda seq: (seq / "RADAR_RA_H" / "000002_0000.npy").write_text("not numpy"),
         r"000002_0000\.npy: not a readable \.npy array"),
    ],
)
def test_broken_sequences_raise_one_line_naming_the_file(tmp_path, damage, message):
    sequence, _ = write_sequence(tmp_path)
    damage(sequence)
    with pytest.raises(RadarspFileError, match=message) as info:
        open_cruw(sequence)
    assert "\n" not in str(info.value)


def test_directory_without_radar_maps(tmp_path):
    with pytest.raises(RadarspFileError, match="expected a folder RADAR_RA_H/"):
        open_cruw(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_cruw(tmp_path / "missing")


def test_relative_sequence_path_finds_its_annotations(tmp_path, monkeypatch):
    sequence, _ = write_sequence(tmp_path)
    (sequence / f"{sequence.name}.txt").write_text(ANNOTATIONS)
    monkeypatch.chdir(sequence)
    assert float(open_cruw(".").target_range[0]) == 5.0
