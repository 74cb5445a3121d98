"""Ray-traced paired radio-visual scenes with NVIDIA Sionna RT (``radarsp[raytrace]``).

The open stand-in for the paper's MaxRay data: the layout of a scenario (ground, buildings,
parked cars that change between sequences, one target car driving through in 15-frame
sequences) comes from :func:`radarsp.simulate.scene.make_scene` with the same seed, and is
built as a Sionna RT scene: a ground plane, box buildings and Sionna's low-poly car mesh for
every car, with ITU materials that scatter diffusely. The monostatic radar of the csi-1
contract (a transmitter and a receive array at the same place, looking along +y) gets its CSI
from Sionna's :class:`~sionna.rt.PathSolver` (specular + diffuse reflection up to
``max_depth`` bounces, ``samples`` rays per source) and ``Paths.cfr``; Doppler, when
``symbols`` asks for it, from the cars' velocities. The camera image is rendered from the
*same* scene by Mitsuba with the contract's pinhole geometry
(:class:`radarsp.simulate.camera.Camera`, attrs in ``image``), ``target_box`` is the
projection of the target's mesh, and the truth is the target's footprint centre.

Measured on this project's machine (2 cores, CPU, LLVM backend): see ``--help`` of
``radarsp simulate`` and ``benchmarks/RESULTS.md``. Dr.Jit's CPU backend needs LLVM >= 16 (on
Debian 12 ``apt-get install libllvm19``; the Makefile does it); with a CUDA GPU,
``device="cuda"`` uses Dr.Jit's CUDA variant.

Units: m, rad, Hz, s. Frame geometry follows the point-scatterer engine: radar at the origin
at ``radar_height``, boresight +y, angle positive towards +x.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from radarsp.geometry import cartesian_to_polar, max_unambiguous_range
from radarsp.model import CSI, SCHEMA_ATTR, annotate
from radarsp.simulate.camera import Camera
from radarsp.simulate.channel import add_noise, subcarrier_frequencies, ula_positions
from radarsp.simulate.scene import BUILDING, make_scene

SPEED_OF_LIGHT = 299_792_458.0
#: Rays per source and bounces: the defaults and their measured trade-off (2 cores, CPU).
DEFAULT_SAMPLES = 100_000
DEFAULT_MAX_DEPTH = 2
#: Antenna element pattern of the radar (Sionna's name): 3GPP TR 38.901, 65 deg beams.
ELEMENT_PATTERN = "tr38901"
#: Reference echo for ``snr_db``: a 10 m^2 scatterer at 10 m, isotropic elements.
REFERENCE_RCS, REFERENCE_RANGE = 10.0, 10.0
#: Where inactive objects (empty parking slots) wait: far below the ground.
_PARKED_AWAY = -1000.0
#: Sionna's low-poly car mesh spans this (length, width, height) in m, centred in x and y.
_CAR_MESH_SIZE = (4.40, 1.80, 1.50)


def require_sionna(device: str = "cpu"):
    """Import Sionna RT with the Mitsuba variant for ``device``, or say how to install it."""
    try:
        import mitsuba as mi
        import sionna.rt as rt
    except ImportError as err:
        raise ImportError("the ray-tracing engine needs Sionna RT: pip install "
                          "'radarsp[raytrace]' (and, on Debian 12, apt-get install "
                          "libllvm19 for Dr.Jit's CPU backend)") from err
    variant = {"cpu": "llvm_ad_mono_polarized", "cuda": "cuda_ad_mono_polarized"}.get(device)
    if variant is None:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if mi.variant() != variant:
        if variant not in mi.variants():
            raise ValueError(f"device {device!r}: Mitsuba has no variant {variant!r} here")
        mi.set_variant(variant)
    return rt, mi


def reference_power(carrier: float) -> float:
    """Echo power of the ``snr_db`` reference: ``lambda^2 sigma / ((4 pi)^3 r^4)``.

    Examples
    --------
    >>> f"{reference_power(28e9):.3e}"  # a 10 m^2 scatterer at 10 m, 28 GHz
    '5.777e-11'
    """
    wavelength = SPEED_OF_LIGHT / carrier
    return wavelength**2 * REFERENCE_RCS / ((4 * np.pi) ** 3 * REFERENCE_RANGE**4)


def _write_ply(path: Path, vertices, faces) -> None:
    lines = ["ply", "format ascii 1.0", f"element vertex {len(vertices)}",
             "property float x", "property float y", "property float z",
             f"element face {len(faces)}", "property list uchar int vertex_indices",
             "end_header"]
    lines += [" ".join(f"{v:.6g}" for v in vertex) for vertex in vertices]
    lines += ["3 " + " ".join(map(str, face)) for face in faces]
    path.write_text("\n".join(lines) + "\n")


def _unit_box(path: Path) -> None:
    """A 1 x 1 x 1 m box, centred in x and y, from z = 0 to 1 (scaled per building)."""
    v = [(x, y, z) for z in (0.0, 1.0) for x, y in
         ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5))]
    f = [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4), (1, 2, 6),
         (1, 6, 5), (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7)]
    _write_ply(path, v, f)


def _ground(path: Path, half: float) -> None:
    """The ground plane, a square of side ``2 half`` m around the radar."""
    _write_ply(path, [(-half, -half, 0.0), (half, -half, 0.0), (half, half, 0.0),
                      (-half, half, 0.0)], [(0, 1, 2), (0, 2, 3)])


def _numpy(value) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def paths_to_csi(paths, frequencies, *, symbol_time=None, rx: int = 0,
                 tx: int = 0) -> np.ndarray:
    """Monostatic CSI from Sionna ``Paths``: ``sum_p a_p exp(j 2 pi f_D,p t - j 2 pi f tau_p)``.

    The same sum as ``Paths.cfr`` (whose baseband coefficients are ``a exp(-j 2 pi f_c tau)``),
    in float64 with the paths in a fixed order (by delay, then gain), so the same paths give
    bit-identical CSI however Dr.Jit's threads ordered them.

    Parameters
    ----------
    paths : sionna.rt.Paths
        From a ``PathSolver`` with ``synthetic_array=True`` (per-path delays) or without.
    frequencies : array_like, shape (K,)
        Subcarrier frequencies, Hz (absolute: carrier included, as the csi-1 ``frequency``).
    symbol_time : array_like, shape (S,), optional
        Slow-time instants, s: adds Doppler (the paths' ``doppler``, from object velocities).
    rx, tx : int
        Which receiver and transmitter (the radar's); their first transmit antenna.

    Returns
    -------
    ndarray of complex128, shape (R, K), or (S, R, K) with ``symbol_time``
    """
    re, im = paths.a
    a = (_numpy(re) + 1j * _numpy(im))[rx, :, tx, 0]  # (rx_ant, paths)
    tau = _numpy(paths.tau)
    tau = tau[rx, tx] if tau.ndim == 3 else tau[rx, :, tx, 0]  # (paths,) or (rx_ant, paths)
    valid = _numpy(paths.valid)
    valid = valid[rx, tx] if valid.ndim == 3 else valid[rx, :, tx, 0]
    doppler = _numpy(paths.doppler) if symbol_time is not None else None
    if doppler is not None:
        doppler = doppler[rx, tx] if doppler.ndim == 3 else doppler[rx, :, tx, 0]
    if tau.ndim == 1 and valid.ndim == 2:  # per-antenna flags of shared paths
        valid = valid.any(0)
    if tau.ndim == 2:  # per-antenna paths (synthetic_array=False): one sum per antenna
        rows = [_sum(a[i:i + 1], tau[i], valid[i], frequencies, symbol_time,
                     None if doppler is None else doppler[i]) for i in range(len(a))]
        return np.concatenate(rows, axis=-2)
    return _sum(a, tau, valid, frequencies, symbol_time, doppler)


def _sum(a, tau, valid, frequencies, symbol_time, doppler) -> np.ndarray:
    keep = np.flatnonzero(valid & (np.abs(a) > 0).any(0))
    gain = (np.abs(a[:, keep]) ** 2).sum(0)
    keep = keep[np.lexsort((gain, tau[keep]))]
    a, tau = a[:, keep].astype(np.complex128), tau[keep].astype(np.float64)
    f = np.asarray(frequencies, dtype=np.float64)
    phase = np.exp(-2j * np.pi * tau[:, None] * f[None, :])  # (paths, K)
    if symbol_time is None:
        return a @ phase
    shift = np.exp(2j * np.pi * np.asarray(symbol_time, float)[:, None]
                   * doppler[keep].astype(np.float64)[None, :])  # (S, paths)
    return np.stack([(a * s) @ phase for s in shift])


class RaytracedWorld:
    """A Sionna RT scene with one object per box slot of a :class:`Scene`, moved per frame."""

    def __init__(self, scene, *, carrier: float, rx_positions: np.ndarray, radar_height: float,
                 device: str = "cpu"):
        rt, mi = require_sionna(device)
        self.rt, self.mi, self.layout = rt, mi, scene
        self._tmp = tempfile.TemporaryDirectory(prefix="radarsp-raytrace-")
        folder = Path(self._tmp.name)
        _unit_box(folder / "box.ply")
        _ground(folder / "ground.ply", 200.0)
        car_mesh = os.path.join(os.path.dirname(rt.__file__), "scenes", "low_poly_car.ply")
        self.scene = rt.load_scene(merge_shapes=False)
        self.scene.frequency = carrier
        materials = {
            "ground": rt.ITURadioMaterial("radarsp-ground", "concrete", thickness=0.3,
                                          scattering_coefficient=0.3, color=(0.35, 0.35, 0.33)),
            "building": rt.ITURadioMaterial("radarsp-building", "brick", thickness=0.3,
                                            scattering_coefficient=0.4, color=(0.6, 0.5, 0.4)),
        }
        objects = [rt.SceneObject(fname=str(folder / "ground.ply"), name="ground",
                                  radio_material=materials["ground"])]
        self.slots = []
        for slot, kind in enumerate(scene.box_kind):
            colour = tuple(float(c) / 255 for c in scene.box_colour[0, slot])
            if kind == BUILDING:
                material, mesh = materials["building"], str(folder / "box.ply")
            else:  # metal car bodies, each painted its own colour for the camera
                material = rt.ITURadioMaterial(f"radarsp-car-{slot}", "metal", thickness=0.01,
                                               scattering_coefficient=0.3, color=colour)
                mesh = car_mesh
            obj = rt.SceneObject(fname=mesh, name=f"slot{slot}", radio_material=material)
            objects.append(obj)
            self.slots.append(obj)
        self.scene.edit(add=objects)
        self.radar = np.array([0.0, 0.0, radar_height])
        array = rt.PlanarArray(num_rows=1, num_cols=1, pattern=ELEMENT_PATTERN,
                               polarization="V")
        self.scene.tx_array = array
        receive = rt.PlanarArray(num_rows=1, num_cols=len(rx_positions),
                                 pattern=ELEMENT_PATTERN, polarization="V")
        # the radar's local frame: x boresight (world +y), y = world -x, z up
        wavelength = SPEED_OF_LIGHT / carrier
        local = np.stack([rx_positions[:, 1], -rx_positions[:, 0], rx_positions[:, 2]])
        receive.normalized_positions = mi.Point3f(*(local / wavelength))
        self.scene.rx_array = receive
        yaw = [np.pi / 2, 0.0, 0.0]
        self.scene.add(rt.Transmitter("radar-tx", position=self.radar.tolist(), orientation=yaw))
        self.scene.add(rt.Receiver("radar-rx", position=self.radar.tolist(), orientation=yaw))
        self.solver = rt.PathSolver()

    def place(self, frame: int, velocity: np.ndarray | None = None) -> None:
        """Move every slot's object to its box in ``frame`` (inactive ones out of sight)."""
        mi, s = self.mi, self.layout
        for slot, obj in enumerate(self.slots):
            if not s.box_active[frame, slot]:
                obj.position = mi.Point3f(0.0, 0.0, _PARKED_AWAY)
                continue
            size = (s.box_length[frame, slot], s.box_width[frame, slot],
                    s.box_height[frame, slot])
            if s.box_kind[slot] != BUILDING:
                size = tuple(a / b for a, b in zip(size, _CAR_MESH_SIZE, strict=True))
            obj.scaling = mi.Vector3f(*map(float, size))
            obj.orientation = mi.Point3f(float(s.box_heading[frame, slot]), 0.0, 0.0)
            obj.position = mi.Point3f(float(s.box_x[frame, slot]), float(s.box_y[frame, slot]),
                                      0.0)
            if velocity is not None:
                obj.velocity = mi.Vector3f(*(map(float, velocity[slot])), 0.0)

    def csi(self, frequencies: np.ndarray, *, samples: int, max_depth: int, seed: int,
            symbol_period: float | None = None, symbols: int | None = None) -> np.ndarray:
        """CSI of the current placement: (rx, subcarrier) or (symbol, rx, subcarrier)."""
        paths = self.solver(self.scene, max_depth=max_depth, los=False,
                            specular_reflection=True, diffuse_reflection=True,
                            refraction=False, samples_per_src=int(samples),
                            synthetic_array=True, seed=int(seed))
        symbol_time = None if not symbols else np.arange(int(symbols)) * symbol_period
        return paths_to_csi(paths, frequencies, symbol_time=symbol_time)

    def render(self, camera: Camera, *, samples: int = 16) -> np.ndarray:
        """The camera image (rows, cols, rgb) of uint8 of the current placement."""
        mi = self.mi
        axes = camera.axes()
        origin = np.array([0.0, 0.0, camera.height])
        sensor = mi.ScalarTransform4f().look_at(origin=origin.tolist(),
                                                target=(origin + axes[2]).tolist(),
                                                up=(-axes[1]).tolist())
        rows, cols = camera.image_size
        bitmap = self.scene.render(camera=sensor, resolution=(cols, rows),
                                   fov=float(np.rad2deg(camera.horizontal_fov)),
                                   num_samples=int(samples), return_bitmap=True,
                                   show_devices=False)
        rgb = bitmap.convert(mi.Bitmap.PixelFormat.RGB, mi.Struct.Type.UInt8, srgb_gamma=True)
        return np.array(rgb, dtype=np.uint8).reshape(rows, cols, 3)

    def target_box(self, camera: Camera) -> np.ndarray:
        """``(col0, row0, col1, row1)`` of the target's mesh projected into ``camera``."""
        mesh = self.slots[0].mi_mesh
        vertices = np.array(self.mi.traverse(mesh)["vertex_positions"]).reshape(-1, 3)
        col, row, depth = camera.project(vertices)
        ok = depth > 0.1
        rows, cols = camera.image_size
        if not ok.any():
            return np.array([0, 0, 0, 0], dtype=np.int16)
        box = np.array([col[ok].min(), row[ok].min(), col[ok].max(), row[ok].max()])
        return np.clip(np.round(box), 0, [cols - 1, rows - 1, cols - 1, rows - 1]).astype(
            np.int16)

    def close(self) -> None:
        self._tmp.cleanup()


def simulate_raytrace(
    scenario: str = "parking-lot",
    *,
    frames: int = 15,
    seed: int = 0,
    start: int = 0,
    rx_positions=None,
    n_subcarriers: int = 256,
    carrier: float = 28e9,
    bandwidth: float = 800e6,
    snr_db: float = 10.0,
    symbols: int | None = None,
    symbol_period: float = 1e-4,
    sequence_length: int = 15,
    frame_interval: float = 0.1,
    image_size: tuple[int, int] | None = (64, 64),
    camera: Camera | None = None,
    radar_height: float = 1.2,
    samples: int = DEFAULT_SAMPLES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    render_samples: int = 16,
    device: str = "cpu",
    progress=None,
    dtype=np.complex64,
    layout=None,
) -> xr.Dataset:
    """Ray-trace paired radio-visual frames as a ``csi-1`` dataset (see the module docstring).

    Parameters are those of :func:`radarsp.simulate.simulate` (same meaning, same defaults),
    plus ``samples`` (rays per source; fewer is faster and noisier: below ~3e5 the odd frame
    has a diffuse floor-bounce outlier), ``max_depth`` (bounces), ``render_samples`` (camera
    rays per pixel) and ``device`` (``"cpu"``: Dr.Jit's LLVM backend, the tested path;
    ``"cuda"``: a CUDA GPU). ``progress``, a callable, is called with the number of frames
    done after each frame. ``layout``, a :class:`radarsp.simulate.scene.Scene` of whole
    sequences starting at ``start``'s, is traced instead of the scenario's (own scenes, tests).

    The same arguments give the same file: the layout and noise depend only on ``seed`` and
    the sequence, the path solver's sampling on ``seed`` and the frame.
    """
    from radarsp.simulate import canonical_scenario, paired_dataset

    scenario = canonical_scenario(scenario)
    if frames < 1 or start < 0:
        raise ValueError(f"frames must be positive and start non-negative, got {frames}, {start}")
    rx = ula_positions(16, carrier=carrier) if rx_positions is None else np.asarray(
        rx_positions, dtype=float)
    if rx.ndim != 2 or rx.shape[1] != 3:
        raise ValueError(f"rx_positions must have shape (R, 3), got {rx.shape}")
    camera = camera or (Camera(image_size=tuple(image_size)) if image_size else None)
    first = start // sequence_length
    sequences = np.arange(first, -(-(start + frames) // sequence_length))
    offset = start - first * sequence_length
    if layout is None:
        layout = make_scene(scenario, sequences, seed=seed, sequence_length=sequence_length,
                            frame_interval=frame_interval)
    elif layout.n_frames != len(sequences) * sequence_length:
        raise ValueError(f"layout: expected {len(sequences) * sequence_length} frames (whole "
                         f"sequences), got {layout.n_frames}")
    frequency = subcarrier_frequencies(carrier, bandwidth, n_subcarriers)
    world = RaytracedWorld(layout, carrier=carrier, rx_positions=rx, radar_height=radar_height,
                           device=device)
    n = layout.n_frames
    shape = (n,) + ((int(symbols),) if symbols else ()) + (len(rx), n_subcarriers)
    csi = np.zeros(shape, dtype=dtype)
    rows, cols = camera.image_size if camera else (0, 0)
    image = np.zeros((n, rows, cols, 3), dtype=np.uint8) if camera else None
    box = np.zeros((n, 4), dtype=np.int16) if camera else None
    velocity = np.zeros((n, len(layout.box_kind), 2))
    velocity[:, 0] = layout.target_velocity
    wanted = range(offset, offset + frames)
    try:
        for done, i in enumerate(wanted, 1):
            world.place(i, velocity[i] if symbols else None)
            csi[i] = world.csi(frequency, samples=samples, max_depth=max_depth,
                               seed=(seed * 1_000_003 + start + i - offset) % 2**31,
                               symbol_period=symbol_period, symbols=symbols)
            if camera is not None:
                image[i] = world.render(camera, samples=render_samples)
                box[i] = world.target_box(camera)
            if progress is not None:
                progress(done)
    finally:
        world.close()
    noise = reference_power(carrier) / 10 ** (snr_db / 10)
    add_noise(csi, noise, seed=seed, sequences=sequences, sequence_length=sequence_length)
    spacing = bandwidth / n_subcarriers
    return paired_dataset(
        layout, slice(offset, offset + frames), csi, start=start, frequency=frequency, rx=rx,
        symbol_time=None if not symbols else np.arange(int(symbols)) * symbol_period,
        camera=camera, image=image, box=box,
        attrs={"carrier_frequency": float(carrier), "bandwidth": float(bandwidth),
               "subcarrier_spacing": float(spacing), "scenario": scenario, "seed": int(seed),
               "engine": "raytrace (Sionna RT)", "raytrace_samples": int(samples),
               "raytrace_max_depth": int(max_depth),
               "element_pattern": "3GPP TR 38.901 (Sionna tr38901), vertical polarisation",
               "sequence_length": int(sequence_length), "frame_interval": float(frame_interval),
               "snr_db": float(snr_db), "noise_power": float(noise), "weather": "clear",
               "multipath": 1, "radar_height": float(radar_height)})


def csi_from_sionna(cfr, *, frequency, rx_positions, bandwidth: float | None = None,
                    symbol_time=None, frame=None, sequence=None, truth_xy=None, image=None,
                    target_box=None, camera_attrs: dict | None = None,
                    attrs: dict | None = None, source: str | None = None) -> xr.Dataset:
    """A csi-1 dataset from Sionna RT channel frequency responses (your own scenes, any GPU).

    Parameters
    ----------
    cfr : array_like of complex, or a sionna.rt.Paths
        ``Paths.cfr(...)`` output of F frames: shape (frame, rx, subcarrier), (frame, symbol,
        rx, subcarrier), or Sionna's own layout with a leading frame axis, (frame, num_rx,
        num_rx_ant, num_tx, num_tx_ant, num_time_steps, num_freq) (the radar is receiver 0,
        transmitter 0, antenna 0). A ``Paths`` object is one frame, summed by
        :func:`paths_to_csi` at ``frequency``.
    frequency : array_like, shape (K,)
        Subcarrier frequencies, Hz, absolute (carrier + the offsets given to ``cfr``: Sionna's
        baseband coefficients carry the carrier phase).
    rx_positions : array_like, shape (R, 3)
        Receive element positions, m, in radarsp's frame (x lateral, y boresight, z up):
        rotate Sionna's ``rx_array.positions(wavelength)`` by the receiver's orientation.
    bandwidth : float, optional
        Hz; default ``K`` times the subcarrier spacing.
    symbol_time : array_like, shape (S,), optional
        Slow-time instants of the ``num_time_steps`` axis, s.
    frame, sequence : array_like, shape (F,), optional
        Frame labels (default 0..F-1) and sequence ids (default one sequence).
    truth_xy : array_like, shape (F, 2), optional
        Target footprint centres, m: adds the contract's truth variables.
    image, target_box, camera_attrs : optional
        Camera frames (F, rows, cols, 3) uint8, boxes (F, 4) and the pinhole attrs of the
        ``image`` variable (see ``docs/contract.md``).
    attrs : dict, optional
        More global attrs (``carrier_frequency`` defaults to the band's centre).
    source : str, optional
        Named in errors (the input file).

    Returns
    -------
    xarray.Dataset
        csi-1, validated by :func:`radarsp.io.save` when written.
    """
    from radarsp.errors import RadarspFileError

    def refuse(name, expected):
        raise RadarspFileError(source, name, expected)

    frequency = np.asarray(frequency, dtype=np.float64)
    if frequency.ndim != 1 or len(frequency) < 2 or not (np.isfinite(frequency).all()
                                                         and (frequency > 0).all()):
        refuse("frequency", "expected absolute subcarrier frequencies in Hz, shape (K,), "
               "all positive")
    rx = np.asarray(rx_positions, dtype=np.float64)
    if rx.ndim != 2 or rx.shape[1] != 3 or not np.isfinite(rx).all():
        refuse("rx_positions", f"expected finite positions in m, shape (R, 3), got {rx.shape}")
    if hasattr(cfr, "tau") and hasattr(cfr, "a"):  # a sionna.rt.Paths: one frame
        cfr = paths_to_csi(cfr, frequency, symbol_time=symbol_time)[None]
    cfr = np.asarray(cfr)
    if cfr.ndim == 7:
        cfr = np.moveaxis(cfr[:, 0, :, 0, 0], 2, 1)  # (frame, time, rx_ant, freq)
        if symbol_time is None:
            cfr = cfr[:, 0]
    if cfr.dtype.kind != "c" or cfr.ndim not in (3, 4):
        refuse("cfr", f"expected complex (frame, [symbol,] rx, subcarrier), got {cfr.dtype} "
               f"{cfr.shape}")
    if cfr.shape[-1] != len(frequency) or cfr.shape[-2] != len(rx):
        refuse("cfr", f"expected {len(rx)} rx (rx_positions) x {len(frequency)} subcarriers "
               f"(frequency) in its last two dims, got {cfr.shape}")
    if (cfr.ndim == 4) != (symbol_time is not None):
        refuse("symbol_time", "expected one slow-time instant per symbol of a 4-D cfr, and "
               "none for a 3-D one")
    if not np.isfinite(cfr.view(cfr.real.dtype)).all():
        refuse("cfr", "expected finite values")
    n = cfr.shape[0]
    spacing = float(np.median(np.diff(frequency)))
    data = {"csi": (("frame", "rx", "subcarrier") if cfr.ndim == 3 else
                    ("frame", "symbol", "rx", "subcarrier"), cfr.astype(np.complex64))}
    if truth_xy is not None:
        xy = np.asarray(truth_xy, dtype=np.float64).reshape(n, 2)
        target_range, target_angle = cartesian_to_polar(xy[:, 0], xy[:, 1])
        data.update(target_x=("frame", xy[:, 0]), target_y=("frame", xy[:, 1]),
                    target_range=("frame", target_range), target_angle=("frame", target_angle))
    if image is not None:
        data["image"] = (("frame", "image_row", "image_col", "rgb"), np.asarray(image, np.uint8))
    if target_box is not None:
        data["target_box"] = (("frame", "box"), np.asarray(target_box))
    coords = {"frame": ("frame", np.arange(n) if frame is None else np.asarray(frame)),
              "sequence": ("frame", np.zeros(n, np.int64) if sequence is None
                           else np.asarray(sequence)),
              "frequency": ("subcarrier", frequency), "rx_x": ("rx", rx[:, 0]),
              "rx_y": ("rx", rx[:, 1]), "rx_z": ("rx", rx[:, 2])}
    if symbol_time is not None:
        coords["symbol_time"] = ("symbol", np.asarray(symbol_time, dtype=np.float64))
    ds = xr.Dataset(data, coords=coords, attrs={
        "carrier_frequency": float(frequency.mean()),
        "bandwidth": float(bandwidth or spacing * len(frequency)),
        "subcarrier_spacing": spacing, SCHEMA_ATTR: CSI,
        "generator": "Sionna RT (radarsp convert sionna)",
        "max_range": float(max_unambiguous_range(spacing)), **(attrs or {})})
    if image is not None and camera_attrs:
        ds["image"].attrs.update(camera_attrs)
    return annotate(ds)
