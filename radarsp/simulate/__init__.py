"""Synthetic paired radio-visual scenes in the ``csi-1`` format.

The paper's MaxRay data are not public, so radarsp synthesises its own scenes faithful to
its section 3: a monostatic OFDM radar (28 GHz, 800 MHz, 16-element half-wavelength ULA by
default) and a pinhole camera above it watch one target car drive along a lane among parked
cars, buildings and ground clutter. The pieces:

* :mod:`~radarsp.simulate.scene` draws the geometry of the three presets;
* :mod:`~radarsp.simulate.scatter` turns it into visible scattering centres the way a ray
  tracer would (self-occlusion, occlusion, glints, corners, optional multipath);
* :mod:`~radarsp.simulate.channel` synthesises the CSI and adds noise;
* :mod:`~radarsp.simulate.camera` renders the images and the target's bounding box.

Only numpy and xarray are imported here; the numba kernels load on first use.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import xarray as xr

from radarsp._callable import make_callable
from radarsp.geometry import cartesian_to_polar, max_unambiguous_range
from radarsp.model import CSI, SCHEMA_ATTR, annotate
from radarsp.simulate.camera import RENDER_CHUNK, Camera, render
from radarsp.simulate.channel import (
    add_noise,
    noise_power,
    planar_positions,
    point_scatterer_csi,
    steering_vector,
    subcarrier_frequencies,
    synthesise,
    ula_positions,
)
from radarsp.simulate.scatter import scatterers
from radarsp.simulate.scene import SCENARIOS, WEATHERS, Scene, canonical_scenario, make_scene

__all__ = [
    "MAX_SEED",
    "SCENARIOS",
    "Camera",
    "check_simulation_memory",
    "planar_positions",
    "point_scatterer_csi",
    "simulate",
    "simulation_memory",
    "steering_vector",
    "subcarrier_frequencies",
    "ula_positions",
]

DEFAULT_SUBCARRIERS = 256
#: largest seed: it is written as a uint64 attribute
MAX_SEED = 2**64 - 1
_MAX_WORKERS = 4
# Extra noise of wet or foggy weather, dB (a wet radome, scattering from the air).
WEATHER_NOISE_DB = {"clear": 0.0, "rain": 3.0, "fog": 1.0}


def _generator() -> str:
    try:
        return f"radarsp.simulate {version('radarsp')}"
    except PackageNotFoundError:
        return "radarsp.simulate"


def simulate(
    scenario: str = "parking-lot",
    *,
    frames: int = 150,
    seed: int = 0,
    start: int = 0,
    rx_positions=None,
    n_subcarriers: int | None = None,
    carrier: float = 28e9,
    bandwidth: float = 800e6,
    snr_db: float = 10.0,
    symbols: int | None = None,
    symbol_period: float = 1e-4,
    sequence_length: int = 15,
    frame_interval: float = 0.1,
    image_size: tuple[int, int] | None = (64, 64),
    camera: Camera | None = None,
    weather: str | None = None,
    multipath: bool = False,
    radar_height: float = 1.2,
    dtype=np.complex64,
    workers: int | None = None,
) -> xr.Dataset:
    """Synthesise paired radio-visual frames as a ``csi-1`` dataset.

    Parameters
    ----------
    scenario : {"parking-lot", "suburban", "street-canyon"}
        Preset (underscores accepted); see :func:`radarsp.simulate.scene.make_scene`.
    frames : int
        Number of frames.
    seed : int
        Seed. The same seed gives bit-identical data; a frame depends only on the seed and
        its sequence, so ``start`` can generate a long run in blocks.
    start : int
        Index of the first frame (blocks of a long run: ``start=0, N, 2N, ...``).
    rx_positions : array_like, shape (R, 3), optional
        Receive element positions, m; default a 16-element half-wavelength ULA along x
        (:func:`ula_positions`). Any geometry works, e.g. :func:`planar_positions`.
    n_subcarriers : int, optional
        Default 256: spacing ``Δf = B / N = 3.125 MHz``, range resolution
        ``c / 2B = 0.1874 m`` and maximum range ``c / 2Δf = 47.97 m`` for 800 MHz.
    carrier, bandwidth : float
        Hz; the paper's Table 3: 28 GHz and 800 MHz.
    snr_db : float
        Per-sample SNR of a 10 m^2 scatterer at 10 m, dB (noise is the same for all
        frames; weather adds some).
    symbols : int, optional
        Slow-time OFDM symbols per frame, adding a ``symbol`` dimension with the target's
        Doppler; ``symbol_period`` (s) apart.
    symbol_period : float
        Slow-time sampling interval, s (1e-4 s: unambiguous to ±26.8 m/s at 28 GHz).
    sequence_length : int
        Consecutive frames per sequence (the paper's 15); the ``sequence`` coordinate.
    frame_interval : float
        Time between frames, s.
    image_size : (int, int) or None
        Camera image (rows, cols); None skips the camera (``image``, ``target_box``).
    camera : Camera, optional
        Full camera geometry (overrides ``image_size``).
    weather : {None, "clear", "rain", "fog"}
        Rain and fog attenuate (6 and 0.4 dB/km one way), add noise (3 and 1 dB), rain
        adds drops as clutter, and both change the images.
    multipath : bool
        Add ground-bounce (and street-canyon facade-bounce) ghost paths.
    radar_height : float
        Height of the array above ground, m.
    dtype : numpy complex dtype
        Of ``csi``.
    workers : int, optional
        Threads computing the CSI (whole sequences each); default one per core, at most 4.
        The result does not depend on it.

    Returns
    -------
    xarray.Dataset
        ``csi`` (frame, [symbol,] rx, subcarrier); coordinates ``frequency``, ``rx_x``,
        ``rx_y``, ``rx_z``, ``time``, ``frame``, ``sequence`` (and ``symbol_time``); truth
        ``target_range``, ``target_angle``, ``target_x``, ``target_y`` (centre of the target
        car's footprint) and ``target_velocity`` (radial, positive receding); ``image``
        (frame, image_row, image_col, rgb) and ``target_box`` (frame, box); radio attrs.

    Examples
    --------
    >>> ds = simulate("parking-lot", frames=30, seed=1)
    >>> dict(ds["csi"].sizes)
    {'frame': 30, 'rx': 16, 'subcarrier': 256}
    >>> round(float(ds.attrs["subcarrier_spacing"]) / 1e6, 3)
    3.125
    """
    scenario = canonical_scenario(scenario)
    if frames < 1 or start < 0:
        raise ValueError(f"frames must be positive and start non-negative, got {frames}, {start}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**64 - 1] (it is stored as a uint64 "
                         f"attribute), got {seed}")
    if weather not in (None,) + WEATHERS:
        raise ValueError(f"unknown weather {weather!r}; expected one of {', '.join(WEATHERS)}")
    n_subcarriers = int(n_subcarriers or DEFAULT_SUBCARRIERS)
    rx = ula_positions(16, carrier=carrier) if rx_positions is None else np.asarray(
        rx_positions, dtype=float)
    if rx.ndim != 2 or rx.shape[1] != 3:
        raise ValueError(f"rx_positions must have shape (R, 3), got {rx.shape}")
    camera = camera or (Camera(image_size=tuple(image_size)) if image_size else None)
    check_simulation_memory(frames, n_rx=len(rx), n_subcarriers=n_subcarriers,
                            symbols=symbols, sequence_length=sequence_length,
                            image_size=camera.image_size if camera else None,
                            itemsize=np.dtype(dtype).itemsize)
    first_sequence = start // sequence_length
    last_sequence = -(-(start + frames) // sequence_length)
    sequences = np.arange(first_sequence, last_sequence)
    keep = slice(start - first_sequence * sequence_length,
                 start - first_sequence * sequence_length + frames)
    scene = make_scene(scenario, sequences, seed=seed, sequence_length=sequence_length,
                       frame_interval=frame_interval, weather=weather)
    frequency = subcarrier_frequencies(carrier, bandwidth, n_subcarriers)
    symbol_time = None if not symbols else np.arange(int(symbols)) * symbol_period
    power = noise_power(snr_db) * 10 ** (
        np.array([WEATHER_NOISE_DB[w] for w in WEATHERS])[scene.weather] / 10)

    shape = (scene.n_frames,) + ((len(symbol_time),) if symbol_time is not None else ()) + (
        len(rx), n_subcarriers)
    csi = np.empty(shape, dtype=dtype)

    def radio(part: slice) -> None:
        """Noisy CSI of the whole sequences in ``part`` (one worker thread's share)."""
        sub = scene.select(part)
        paths = scatterers(sub, radar_height=radar_height, multipath=multipath)
        csi[part] = synthesise(paths.path_range, paths.direction, paths.amplitude,
                               frequency=frequency, rx_positions=rx, carrier=carrier,
                               radial_velocity=paths.radial_velocity, symbol_time=symbol_time,
                               dtype=dtype)
        add_noise(csi[part], power[part], seed=seed, sequences=np.unique(sub.sequence),
                  sequence_length=sequence_length)

    # Whole sequences per thread: every frame is computed the same way whatever the split,
    # and the numba kernels release the GIL.
    workers = workers or min(os.cpu_count() or 1, _MAX_WORKERS)
    bounds = np.linspace(0, len(sequences), min(workers, len(sequences)) + 1).round().astype(int)
    parts = [slice(a * sequence_length, b * sequence_length)
             for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(radio, parts))

    image = box = None
    if camera is not None:
        image, box = render(scene, camera, seed=seed)
    return paired_dataset(
        scene, keep, csi, start=start, frequency=frequency, rx=rx, symbol_time=symbol_time,
        camera=camera, image=image, box=box,
        attrs={"carrier_frequency": float(carrier), "bandwidth": float(bandwidth),
               "subcarrier_spacing": float(bandwidth / n_subcarriers), "scenario": scenario,
               "seed": int(seed), "sequence_length": int(sequence_length),
               "frame_interval": float(frame_interval), "snr_db": float(snr_db),
               "noise_power": float(noise_power(snr_db)), "weather": weather or "clear",
               "multipath": int(bool(multipath)), "radar_height": float(radar_height)})


def paired_dataset(scene: Scene, keep: slice, csi: np.ndarray, *, start: int,
                   frequency: np.ndarray, rx: np.ndarray, symbol_time, camera, image, box,
                   attrs: dict) -> xr.Dataset:
    """The csi-1 dataset of frames ``keep`` of ``scene`` (every engine writes it this way).

    ``csi`` (and ``image``, ``box`` when ``camera`` is given) hold whole sequences; ``keep``
    selects the frames asked for, the first of which is frame ``start``. Truth is the target
    slot's footprint centre. ``attrs`` (radio and engine attrs) gain the schema, generator
    and maximum range.
    """
    csi = csi[keep]
    frames = csi.shape[0]
    dims = ("frame", "rx", "subcarrier") if symbol_time is None else (
        "frame", "symbol", "rx", "subcarrier")
    target_x, target_y = scene.box_x[keep, 0], scene.box_y[keep, 0]
    target_range, target_angle = cartesian_to_polar(target_x, target_y)
    velocity = scene.target_velocity[keep]
    radial = (velocity[:, 0] * target_x + velocity[:, 1] * target_y) / target_range
    coords = {
        "frame": ("frame", np.arange(start, start + frames, dtype=np.int64)),
        "time": ("frame", scene.time[keep]),
        "sequence": ("frame", scene.sequence[keep]),
        "frequency": ("subcarrier", frequency),
        "rx_x": ("rx", rx[:, 0]),
        "rx_y": ("rx", rx[:, 1]),
        "rx_z": ("rx", rx[:, 2]),
    }
    if symbol_time is not None:
        coords["symbol_time"] = ("symbol", symbol_time)
    data = {
        "csi": (dims, csi),
        "target_range": ("frame", target_range),
        "target_angle": ("frame", target_angle),
        "target_x": ("frame", target_x),
        "target_y": ("frame", target_y),
        "target_velocity": ("frame", radial),
    }
    if camera is not None:
        data["image"] = (("frame", "image_row", "image_col", "rgb"), image[keep])
        data["target_box"] = (("frame", "box"), box[keep])
    ds = xr.Dataset(data, coords=coords, attrs={
        SCHEMA_ATTR: CSI, "generator": _generator(), **attrs,
        "max_range": float(max_unambiguous_range(attrs["subcarrier_spacing"])),
    })
    if camera is not None:
        ds["image"].attrs.update(camera.attrs())
        ds["target_box"].attrs["convention"] = (
            "(col0, row0, col1, row1): inclusive pixel indices of the target's projected box")
    return annotate(ds)


def simulation_memory(frames: int, *, n_rx: int, n_subcarriers: int, symbols: int | None = None,
                      sequence_length: int = 15, image_size: tuple[int, int] | None = None,
                      itemsize: int = 8) -> dict[str, int]:
    """Peak bytes :func:`simulate` needs for ``frames`` frames, by part.

    Parameters
    ----------
    frames : int
        Frames simulated at once (whole sequences are simulated, so up to
        ``sequence_length - 1`` more at each end).
    n_rx, n_subcarriers : int
        Receive elements and subcarriers.
    symbols : int, optional
        Slow-time symbols per frame.
    sequence_length : int
        Frames per sequence.
    image_size : (int, int), optional
        Camera image rows and columns; None for no camera.
    itemsize : int
        Bytes per complex CSI sample (8 for complex64).

    Returns
    -------
    dict
        ``{"csi": bytes, "images": bytes}``: the CSI twice (the synthesis buffer and the
        trimmed result) and, with a camera, the uint8 images plus three float64 copies of a
        128-frame rendering chunk (300 frames of 256 x 256: 645 MiB allocated at the peak,
        655 MiB estimated; ``benchmarks/bench_memory.py``).

    Examples
    --------
    >>> need = simulation_memory(150, n_rx=16, n_subcarriers=256, image_size=(64, 64))
    >>> need["csi"] // 2**20, need["images"] // 2**20
    (10, 37)
    """
    sequences = -(-frames // sequence_length) + 1
    simulated = min(frames + 2 * (sequence_length - 1), sequences * sequence_length)
    samples = (symbols or 1) * n_rx * n_subcarriers
    need = {"csi": 2 * simulated * samples * itemsize, "images": 0}
    if symbols:
        need["csi"] += simulated * n_rx * n_subcarriers * itemsize  # one symbol's buffer
    if image_size is not None:
        pixels = 3 * int(image_size[0]) * int(image_size[1])
        need["images"] = simulated * pixels + 3 * min(simulated, RENDER_CHUNK) * pixels * 8
    return need


def check_simulation_memory(frames: int, **sizes) -> None:
    """Raise :class:`~radarsp.memory.MemoryLimitError` before simulating ``frames`` frames
    when :func:`simulation_memory` exceeds what this process can have."""
    from radarsp.memory import check_memory, format_bytes

    need = simulation_memory(frames, **sizes)
    parts = ", ".join(f"{name} {format_bytes(size)}" for name, size in need.items() if size)
    image = sizes.get("image_size")
    check_memory(sum(need.values()), (
        f"simulating {frames} frames at once ({sizes['n_rx']} rx x {sizes['n_subcarriers']} "
        f"subcarriers" + (f" x {sizes['symbols']} symbols" if sizes.get("symbols") else "")
        + (f", {image[0]}x{image[1]} images" if image else "") + f"; {parts})"))


make_callable(__name__)  # radarsp.simulate(...) calls simulate(); see radarsp/_callable.py
