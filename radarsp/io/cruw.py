"""Reader for CRUW / ROD2021 range-azimuth maps (the RODNet dataset) into ``heatmap-1``.

A CRUW sequence directory looks like::

    <sequence>/RADAR_RA_H/<frame:06d>_<chirp:04d>.npy   float (128 range, 128 angle, 2 real/imag)
    <sequence>/IMAGES_0/<frame:06d>.jpg                  camera frames (optional)

with the annotations of the sequence in a text file, one object per line:
``<frame> <range m> <azimuth rad> <class>`` (ROD2021 keeps it in
``<root>/annotations/<split>/<sequence>.txt`` next to ``<root>/sequences/<split>/<sequence>``).

Grids (cruw-devkit ``cruw/mapping/generate_grids.py::confmap2ra`` with the ROD2021 sensor
config ``sample_freq = 4e6``, ``sweep_slope = 21.0017e12``, ``crop_num = 3``,
``ra_min/ra_max = -90/90``):

* range: the maps are bins ``3 .. 130`` of a 134-point range FFT, so
  ``r_k = (k + 3) f_s / 134 · c / (2 S)``, ``k = 0 .. 127``: 0.21306 m bins from 0.639 m;
* angle: uniform in ``sin θ``, ``θ_j = arcsin(-1 + 2 j / 127)``, ``j = 0 .. 127``, from -90°
  to +90° inclusive. CRUW's RA-map convention ``x = r sin θ``, ``z = r cos θ`` is radarsp's
  (``x`` positive towards positive angle, boresight ahead), so no sign flip is needed.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.geometry import polar_to_cartesian
from radarsp.model import HEATMAP, SCHEMA_ATTR, SPEED_OF_LIGHT, annotate

log = logging.getLogger(__name__)

RADAR_FOLDER = "RADAR_RA_H"
IMAGE_FOLDER = "IMAGES_0"
# ROD2021 radar configuration (cruw-devkit dataset_configs/sensor_config_rod2021.json)
SAMPLE_RATE = 4e6  # Hz
SWEEP_SLOPE = 21.0017e12  # Hz/s
RANGE_CROP = 3  # range FFT bins dropped at each end
FRAME_RATE = 30.0  # frames/s

_MAP_NAME = re.compile(r"^(\d+)_(\d+)\.npy$")


def cruw_range_grid(
    n_range: int = 128,
    *,
    sample_rate: float = SAMPLE_RATE,
    sweep_slope: float = SWEEP_SLOPE,
    crop: int = RANGE_CROP,
) -> np.ndarray:
    """Range (m) of each row of a CRUW RA map, as cruw-devkit's ``confmap2ra(..., 'range')``.

    ``r_k = (k + crop) · f_s / (n_range + 2 crop) · c / (2 S)`` for ``k = 0 .. n_range-1``.

    Examples
    --------
    >>> grid = cruw_range_grid()
    >>> round(float(grid[1] - grid[0]), 4), round(float(grid[0]), 3), round(float(grid[-1]), 2)
    (0.2131, 0.639, 27.7)
    """
    fft_size = n_range + 2 * crop
    beat_frequency = (np.arange(n_range) + crop) * (sample_rate / fft_size)
    return beat_frequency * SPEED_OF_LIGHT / (2.0 * sweep_slope)


def cruw_angle_grid(n_angle: int = 128, *, min_deg: float = -90.0, max_deg: float = 90.0):
    """Azimuth (rad) of each column of a CRUW RA map, as ``confmap2ra(..., 'angle')``.

    ``θ_j = arcsin(w_j)`` with ``w`` ``n_angle`` points uniform from ``sin(min)`` to
    ``sin(max)`` inclusive: monotonically increasing, denser near ±90°.

    Examples
    --------
    >>> np.degrees(cruw_angle_grid(5)).round(1)
    array([-90., -30.,   0.,  30.,  90.])
    """
    sines = np.linspace(math.sin(math.radians(min_deg)), math.sin(math.radians(max_deg)), n_angle)
    return np.arcsin(sines)


def read_annotations(path) -> list[tuple[int, float, float, str]]:
    """Read a CRUW annotation text file: lines ``frame range(m) azimuth(rad) class``.

    Returns
    -------
    list of (frame, range, angle, class_name)
        In file order. Blank lines are skipped; any other malformed line raises
        :class:`~radarsp.errors.RadarspFileError` naming the line.
    """
    objects = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) != 4:
                raise ValueError
            objects.append((int(fields[0]), float(fields[1]), float(fields[2]), fields[3]))
        except ValueError:
            raise RadarspFileError(
                path,
                None,
                f"line {number}: expected 'frame range(m) azimuth(rad) class', "
                f"got {line.strip()!r}",
            ) from None
    return objects


def find_annotations(sequence: Path) -> Path | None:
    """The annotation file of a sequence directory, if one is where CRUW puts it.

    Looks for ``<sequence>/<name>.txt``, ``<sequence>.txt`` beside it, and the ROD2021
    layout ``<root>/annotations/<split>/<name>.txt`` for ``<root>/sequences/<split>/<name>``.
    """
    sequence = Path(sequence).resolve()
    name = sequence.name
    candidates = [sequence / f"{name}.txt", sequence.with_name(f"{name}.txt")]
    if len(sequence.parents) >= 2:
        split, root = sequence.parent, sequence.parents[1]
        candidates.append(root.parent / "annotations" / split.name / f"{name}.txt")
    return next((c for c in candidates if c.is_file()), None)


def _radar_files(sequence: Path, chirps) -> tuple[list[int], list[int], dict]:
    """Map ``(frame, chirp) -> path`` and check every frame has the same chirps."""
    folder = sequence / RADAR_FOLDER
    if not folder.is_dir():
        raise RadarspFileError(sequence, None, f"expected a folder {RADAR_FOLDER}/ of RA maps")
    files = {}
    by_frame = defaultdict(set)
    for path in folder.iterdir():
        match = _MAP_NAME.match(path.name)
        if match:
            frame, chirp = int(match[1]), int(match[2])
            files[frame, chirp] = path
            by_frame[frame].add(chirp)
    if not files:
        raise RadarspFileError(folder, None, "expected RA maps named <frame>_<chirp>.npy")
    frames = sorted(by_frame)
    wanted = sorted(by_frame[frames[0]]) if chirps is None else sorted(int(c) for c in chirps)
    for frame in frames:
        missing = set(wanted) - by_frame[frame]
        if missing:
            raise RadarspFileError(
                folder,
                None,
                f"frame {frame}: no RA map for chirp(s) {sorted(missing)}; "
                f"expected chirps {wanted} in every frame",
            )
    return frames, wanted, files


def _load_map(path: Path, shape: tuple[int, ...] | None) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise RadarspFileError(path, None, f"not a readable .npy array ({err})") from None
    if data.ndim != 3 or data.shape[-1] != 2 or data.dtype.kind != "f":
        raise RadarspFileError(
            path,
            None,
            f"expected a float array (range, angle, 2 real/imag), got {data.dtype} {data.shape}",
        )
    if shape is not None and data.shape != shape:
        raise RadarspFileError(
            path, None, f"expected shape {shape} like the other maps, got {data.shape}"
        )
    return data


def _truth(frames, objects, classes) -> dict[str, np.ndarray]:
    """Per-frame target: the first annotated object of the frame (in ``classes``, if given)."""
    wanted = None if classes is None else set(classes)
    rng = np.full(len(frames), np.nan)
    ang = np.full(len(frames), np.nan)
    row = {frame: i for i, frame in enumerate(frames)}
    for frame, obj_range, obj_angle, name in objects:
        i = row.get(frame)
        if i is None or not np.isnan(rng[i]) or (wanted is not None and name not in wanted):
            continue
        rng[i], ang[i] = obj_range, obj_angle
    x, y = polar_to_cartesian(rng, ang)
    return {"target_range": rng, "target_angle": ang, "target_x": x, "target_y": y}


def _decode_image(path: Path, stride: int) -> np.ndarray:
    """Decode one camera frame to uint8 RGB (rows, cols, 3), keeping every ``stride``-th pixel."""
    from matplotlib import image as mpimg

    pixels = mpimg.imread(path)
    if pixels.dtype.kind == "f":  # PNGs decode to floats in [0, 1]
        pixels = np.round(np.clip(pixels, 0.0, 1.0) * 255.0)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return np.ascontiguousarray(pixels[::stride, ::stride, :3], dtype=np.uint8)


def _images(sequence: Path, frames, stride: int) -> np.ndarray | None:
    """Camera frames for every radar frame, or None (with a log line) when not all decode."""
    folder = sequence / IMAGE_FOLDER
    if not folder.is_dir():
        return None
    found = {}
    for path in folder.iterdir():
        if path.suffix.lower() in (".jpg", ".jpeg", ".png") and path.stem.isdigit():
            found[int(path.stem)] = path
    missing = [f for f in frames if f not in found]
    if missing:
        log.warning(
            "%s: no image for %d of %d frames (first: %d); images not attached",
            folder,
            len(missing),
            len(frames),
            missing[0],
        )
        return None
    try:
        images = [_decode_image(found[frame], stride) for frame in frames]
    except Exception as err:  # noqa: BLE001 - a missing JPEG codec or a corrupt file: skip images
        log.warning("%s: cannot decode camera frames (%s); images not attached", folder, err)
        return None
    if len({image.shape for image in images}) != 1:
        log.warning("%s: camera frames differ in size; images not attached", folder)
        return None
    return np.stack(images)


def open_cruw(
    sequence,
    *,
    annotations=None,
    chirps=None,
    classes=None,
    images: bool = True,
    image_stride: int = 1,
    frame_rate: float = FRAME_RATE,
    sample_rate: float = SAMPLE_RATE,
    sweep_slope: float = SWEEP_SLOPE,
    range_crop: int = RANGE_CROP,
    progress: bool = False,
) -> xr.Dataset:
    """Read one CRUW sequence (range-azimuth maps, annotations, camera) as ``heatmap-1``.

    Parameters
    ----------
    sequence : path-like
        Sequence directory holding ``RADAR_RA_H/`` (and optionally ``IMAGES_0/``).
    annotations : path-like, optional
        Annotation text file (``frame range(m) azimuth(rad) class`` per line); found with
        :func:`find_annotations` when omitted. Without one, no truth is attached.
    chirps : sequence of int, optional
        Chirp ids to average (ROD2021 stores 0, 64, 128, 192); all of the first frame's when
        omitted. Every frame must have them.
    classes : sequence of str, optional
        Object classes (e.g. ``["car"]``) eligible as the frame's target; any when omitted.
        The target of a frame is the first eligible object in file order (``NaN`` if none).
    images : bool
        Attach ``IMAGES_0/<frame>.jpg|png`` as ``image`` when every frame has one and they
        decode (JPEG needs Pillow, which matplotlib installs); otherwise skipped with a log line.
    image_stride : int
        Keep every ``image_stride``-th pixel row and column (ROD2021 frames are 864 x 1440:
        3.7 MB each at stride 1).
    frame_rate : float
        Frames per second, for the ``time`` coordinate (s).
    sample_rate, sweep_slope, range_crop
        Radar configuration behind the range grid (:func:`cruw_range_grid`); ROD2021 defaults.
    progress : bool
        Show a progress bar over frames on stderr (when it is a terminal).

    Returns
    -------
    xarray.Dataset
        ``power`` (frame, range, angle), float32: ``|z|^2`` of the complex maps averaged
        over the chirps; ``frame`` is the CRUW frame id; ``range``/``angle`` per
        :func:`cruw_range_grid`/:func:`cruw_angle_grid`; ``target_*`` and ``image`` when
        available.

    Raises
    ------
    RadarspFileError
        A missing ``RADAR_RA_H/``, a frame without one of the chirps, a map that is not a
        float (range, angle, 2) array, or a malformed annotation line.

    Examples
    --------
    >>> import tempfile
    >>> seq = Path(tempfile.mkdtemp()) / "2019_04_09_BMS1000"
    >>> (seq / RADAR_FOLDER).mkdir(parents=True)
    >>> np.save(seq / RADAR_FOLDER / "000000_0000.npy", np.ones((128, 128, 2), np.float32))
    >>> _ = (seq / "2019_04_09_BMS1000.txt").write_text("0 5.0 0.1 car\\n")
    >>> heat = open_cruw(seq)
    >>> heat.power.shape, float(heat.power.max()), float(heat.target_range[0])
    ((1, 128, 128), 2.0, 5.0)
    """
    sequence = Path(sequence).resolve()
    if not sequence.is_dir():
        raise FileNotFoundError(f"{sequence}: no such directory")
    if image_stride < 1:
        raise ValueError(f"image_stride: expected a positive integer, got {image_stride}")
    frames, chirp_ids, files = _radar_files(sequence, chirps)

    shape = None
    power = None
    rows = enumerate(frames)
    if progress:
        import sys

        from tqdm.auto import tqdm

        rows = tqdm(
            rows, total=len(frames), file=sys.stderr, unit="frame", desc="reading", disable=None
        )  # None: no bar when stderr is not a terminal
    for i, frame in rows:
        for chirp in chirp_ids:
            data = _load_map(files[frame, chirp], shape)
            if power is None:
                shape = data.shape
                power = np.zeros((len(frames),) + shape[:2], dtype=np.float32)
            power[i] += data[..., 0] ** 2 + data[..., 1] ** 2
    power /= len(chirp_ids)

    heat = xr.Dataset(
        {"power": (("frame", "range", "angle"), power)},
        coords={
            "frame": np.asarray(frames),
            "range": cruw_range_grid(
                shape[0], sample_rate=sample_rate, sweep_slope=sweep_slope, crop=range_crop
            ),
            "angle": cruw_angle_grid(shape[1]),
            "time": ("frame", np.asarray(frames) / frame_rate),
        },
        attrs={
            SCHEMA_ATTR: HEATMAP,
            "source": f"CRUW sequence {sequence.name} ({RADAR_FOLDER}, chirps {chirp_ids})",
            "chirps": np.asarray(chirp_ids),
        },
    )
    annotation_file = Path(annotations) if annotations is not None else find_annotations(sequence)
    if annotation_file is not None:
        objects = read_annotations(annotation_file)
        for name, values in _truth(frames, objects, classes).items():
            heat[name] = ("frame", values)
        heat.attrs["truth"] = f"first object per frame in {annotation_file.name}" + (
            "" if classes is None else f" of class {', '.join(classes)}"
        )
    if images:
        pixels = _images(sequence, frames, image_stride)
        if pixels is not None:
            heat["image"] = (("frame", "image_row", "image_col", "rgb"), pixels)
            heat["image"].attrs["source"] = f"{IMAGE_FOLDER}/, every {image_stride} pixel(s)"
    return annotate(heat)
