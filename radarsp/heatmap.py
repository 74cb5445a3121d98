"""CSI -> range-angle and range-Doppler power maps (the OFDM radar periodogram).

The CSI of a monostatic OFDM radar is already the received over the transmitted symbol, so the
periodogram needs no matched filter (Sturm & Wiesbeck, "Waveform design and signal processing
aspects for fusion of wireless communications and radar sensing", Proc. IEEE 99(7), 2011;
paper appendix E): range is an inverse DFT over subcarriers, angle a beamformer across the
array, velocity an inverse DFT over slow-time symbols. The plain-array kernels live in
:mod:`radarsp.beamform`; this module checks the CSI once, builds the exact bin-centre
coordinates and runs the kernels through :func:`xarray.apply_ufunc`, so a dask-chunked CSI
(``open_csi(path, chunks={"frame": 512})``) stays lazy and is computed chunk by chunk.

Grids
-----
range
    Bin ``m`` of an inverse DFT of length ``N_fft`` over subcarriers spaced ``Δf`` is the
    round-trip delay ``m / (N_fft Δf)``, i.e. range ``m c / (2 N_fft Δf)``: coordinates are
    these exact centres, starting at 0 m.
angle, ``beamformer="fft"``
    The zero-padded DFT of length ``Q`` across a uniform linear array of spacing ``d`` samples
    ``sin θ`` uniformly; the map is *labelled* on that grid, ``θ_q = arcsin(q λ / (Q d))``,
    not resampled, so every value is an exact DFT sample and the coordinate its exact centre
    (non-uniform in angle, finer at broadside). Bins outside the visible region
    ``|sin θ| <= 1`` or the requested span are dropped.
angle, other beamformers
    ``angle_bins`` uniform bins over ``angle_span``; the coordinates are the bin centres
    ``lo + (i + 1/2) (hi - lo) / angle_bins``.
velocity
    Bin ``l`` (``-⌊V/2⌋ <= l < ⌈V/2⌉``) of an inverse DFT of length ``V`` over symbols spaced
    ``T`` is ``v = l λ / (2 V T)``, positive for a receding target (range growing).

Power is linear and normalised so a unit-amplitude point scatterer centred on a bin has
power 1 for every window and beamformer.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Literal

import numpy as np
import xarray as xr

from radarsp import beamform, windows
from radarsp.errors import RadarspFileError
from radarsp.geometry import max_unambiguous_range, wavelength
from radarsp.memory import check_memory
from radarsp.model import (
    CARRIED_VARIABLES,
    HEATMAP,
    RADIO_ATTRS,
    SCHEMA_ATTR,
    annotate,
    attrs_for,
)

Beamformer = Literal["fft", "bartlett", "capon", "music"]
BEAMFORMERS = ("fft", "bartlett", "capon", "music")
_CSI_DIMS = ("frame", "symbol", "rx", "subcarrier")
# Relative tolerance on grid regularity (uniform subcarriers, ULA spacing, symbol period).
_GRID_RTOL = 1e-6


@dataclasses.dataclass(frozen=True)
class _Radio:
    """What the kernels need from a CSI cube, checked once by :func:`_radio`."""

    csi: xr.DataArray  # dims (frame, [symbol,] rx, subcarrier), complex64
    source: str | None
    subcarrier_spacing: float
    wavelength: float
    rx_x: np.ndarray
    rx_y: np.ndarray
    rx_z: np.ndarray

    @property
    def core_dims(self) -> list[str]:
        return [d for d in self.csi.dims if d != "frame"]

    @property
    def lazy(self) -> bool:
        return self.csi.chunks is not None

    def error(self, variable: str, problem: str) -> RadarspFileError:
        return RadarspFileError(self.source, variable, problem)


def _radio(csi: xr.DataArray | xr.Dataset) -> _Radio:
    """Validate a CSI cube (or a csi-1 dataset) and gather its radio parameters."""
    source = csi.encoding.get("source")
    attrs = dict(csi.attrs)
    if isinstance(csi, xr.Dataset):
        if "csi" not in csi:
            raise RadarspFileError(source, "csi", "expected a complex 'csi' variable")
        csi = csi["csi"]
        attrs = {**csi.attrs, **attrs}
    if not isinstance(csi, xr.DataArray):
        raise TypeError(f"expected an xarray DataArray or Dataset of CSI, got {type(csi)}")
    required = ("frame", "rx", "subcarrier")
    allowed = set(_CSI_DIMS)
    if not set(required) <= set(csi.dims) or not set(csi.dims) <= allowed:
        raise RadarspFileError(
            source, "csi", f"expected dims (frame, [symbol,] rx, subcarrier), got {csi.dims}"
        )
    for name in ("frequency", "rx_x", "rx_y", "rx_z"):
        if name not in csi.coords:
            raise RadarspFileError(source, name, "expected this coordinate on the CSI")
    if csi.dtype.kind not in "fc":
        raise RadarspFileError(source, "csi", f"expected complex values, got dtype {csi.dtype}")
    csi = csi.transpose(*[d for d in _CSI_DIMS if d in csi.dims]).astype(np.complex64, copy=False)

    frequency = np.asarray(csi["frequency"].values, dtype=float)
    steps = np.diff(frequency)
    if frequency.size < 2 or not np.allclose(steps, steps[0], rtol=_GRID_RTOL, atol=0):
        raise RadarspFileError(
            source, "frequency", "expected at least two uniformly spaced, increasing subcarriers"
        )
    spacing = float(steps[0])
    if spacing <= 0:
        raise RadarspFileError(source, "frequency", "expected increasing subcarrier frequencies")
    if "subcarrier_spacing" in attrs and not math.isclose(
        float(attrs["subcarrier_spacing"]), spacing, rel_tol=1e-6
    ):
        raise RadarspFileError(
            source,
            "frequency",
            f"spacing {spacing:g} Hz disagrees with attr subcarrier_spacing "
            f"{float(attrs['subcarrier_spacing']):g} Hz",
        )
    # The array response is evaluated at the carrier; without the attr, the band centre.
    carrier = float(attrs.get("carrier_frequency", frequency.mean()))
    return _Radio(
        csi=csi,
        source=source,
        subcarrier_spacing=spacing,
        wavelength=wavelength(carrier),
        rx_x=np.asarray(csi["rx_x"].values, dtype=float),
        rx_y=np.asarray(csi["rx_y"].values, dtype=float),
        rx_z=np.asarray(csi["rx_z"].values, dtype=float),
    )


@dataclasses.dataclass(frozen=True)
class _RangeGrid:
    n_fft: int
    n_range: int
    spacing: float

    @property
    def centres(self) -> np.ndarray:
        return np.arange(self.n_range) * self.spacing


def _range_grid(radio: _Radio, range_bins: int | None, max_range: float | None) -> _RangeGrid:
    """Choose the inverse-DFT length and the kept bins.

    ``range_bins`` alone: that many bins, zero-padding when it exceeds the subcarrier count;
    ``max_range`` alone: the bins up to it on the unpadded grid; both: a DFT long enough
    (rounded up to a fast length) that ``range_bins`` bins reach no further than ``max_range``.
    """
    import scipy.fft

    n_subcarrier = radio.csi.sizes["subcarrier"]
    unambiguous = max_unambiguous_range(radio.subcarrier_spacing)
    if range_bins is not None and range_bins < 1:
        raise ValueError(f"range_bins must be a positive integer, got {range_bins}")
    if max_range is not None and not 0 < max_range:
        raise ValueError(f"max_range must be positive (m), got {max_range}")
    if range_bins is None:
        n_fft = n_subcarrier
        spacing = unambiguous / n_fft
        n_range = n_fft if max_range is None else int(math.floor(max_range / spacing)) + 1
    elif max_range is None:
        n_fft = max(n_subcarrier, range_bins)
        n_range = range_bins
    else:
        n_fft = max(n_subcarrier, scipy.fft.next_fast_len(
            math.ceil(range_bins * unambiguous / max_range - 1e-9)))
        n_range = range_bins
    n_range = min(n_range, n_fft)
    return _RangeGrid(n_fft=n_fft, n_range=n_range, spacing=unambiguous / n_fft)


def _check_span(angle_span) -> tuple[float, float]:
    low, high = (float(a) for a in angle_span)
    if not -math.pi / 2 - 1e-12 <= low < high <= math.pi / 2 + 1e-12:
        raise ValueError(
            f"angle_span must satisfy -pi/2 <= low < high <= pi/2 (rad), got {angle_span}"
        )
    return low, high


@functools.cache
def _blas_controller():
    """threadpoolctl's handle on the loaded BLAS libraries (the scan costs milliseconds)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _run(radio: _Radio, kernel, out_dims: list[str], out_sizes: dict[str, int], **kwargs):
    """Apply a ``(frame, symbol, rx, subcarrier)`` kernel lazily or eagerly via apply_ufunc."""
    csi = radio.csi
    core = radio.core_dims
    if radio.lazy:
        csi = csi.chunk({d: -1 for d in core})
    # Eager calls thread the FFTs; dask already runs one chunk per thread.
    workers = 1 if radio.lazy else -1
    has_symbol = "symbol" in core

    def frames_kernel(values):
        if not has_symbol:
            values = values[..., None, :, :]
        return kernel(values, workers=workers, **kwargs)

    apply = functools.partial(
        xr.apply_ufunc,
        frames_kernel,
        csi,
        input_core_dims=[core],
        output_core_dims=[out_dims],
        dask="parallelized",
        dask_gufunc_kwargs={
            "output_sizes": out_sizes,
            # Without meta dask probes the dtype by casting complex to float (a warning).
            "meta": np.empty((0,) * (len(out_dims) + 1), dtype=np.float32),
        },
    )
    if radio.lazy:
        return apply()
    # The matrix products are tall and skinny (inner size = rx): threaded OpenBLAS made
    # Bartlett 4x slower on 2 busy cores. The limit is process-wide, so it is only set here,
    # in the caller's thread; dask computations run later (the CLI limits BLAS itself).
    with _blas_controller().limit(limits=1, user_api="blas"):
        return apply()


def _annotated(power: xr.DataArray, name: str, coords: dict, attrs: dict) -> xr.DataArray:
    """Attach bin-centre coordinates with their CF attrs, a name and the processing attrs."""
    power = power.assign_coords(
        {dim: xr.Variable(dim, values, attrs_for(dim)) for dim, values in coords.items()}
    )
    power.name = name
    power.attrs = {**attrs_for(name), **attrs}
    return power


def range_angle(
    csi: xr.DataArray | xr.Dataset,
    *,
    window: str | tuple[str, str] = "hann",
    range_bins: int | None = None,
    max_range: float | None = None,
    angle_bins: int = 64,
    angle_span: tuple[float, float] = (-math.pi / 2, math.pi / 2),
    beamformer: Beamformer = "fft",
    n_sources: int | None = None,
    diagonal_loading: float = 1e-3,
    forward_backward: bool | None = None,
    subbands: int = 16,
) -> xr.DataArray:
    """Range-angle power map of every frame.

    Parameters
    ----------
    csi : xarray.DataArray or xarray.Dataset
        CSI with dims (frame, [symbol,] rx, subcarrier) and coords ``frequency`` (Hz, uniform
        spacing Δf) and ``rx_x``, ``rx_y``, ``rx_z`` (m), or a csi-1 dataset holding it. The
        ``carrier_frequency`` attr (Hz) sets the wavelength (band centre when absent).
        May be dask-backed (chunked along frame): the result is then lazy.
    window : str or (str, str)
        Taper for range (over subcarriers) and angle (over the array's x aperture): one name for
        both or a pair ``(range_window, angle_window)``; ``"none"``, ``"hann"``, ``"hamming"``,
        ``"blackman"``, ``"taylor"`` or ``"taylor-<sll dB>"``. Capon and MUSIC adapt their own
        weights and ignore the angle taper.
    range_bins : int, optional
        Number of range bins. Above the subcarrier count the inverse DFT is zero-padded to it;
        below, the first ``range_bins`` bins of the unpadded grid are kept. With
        ``max_range`` as well, the DFT is padded so the bins end at or below ``max_range``.
    max_range : float, optional
        Farthest range kept, m. Default: everything up to the unambiguous range ``c / (2 Δf)``.
    angle_bins : int
        ``fft``: the DFT length across the array (bins outside ``|sin θ| <= 1`` or
        ``angle_span`` are dropped); otherwise the number of uniform angle bins.
    angle_span : (float, float)
        Azimuth interval covered, rad, within [-π/2, π/2].
    beamformer : {"fft", "bartlett", "capon", "music"}
        ``fft``: zero-padded DFT across a uniform linear array along x, labelled on its
        ``arcsin`` grid (see the module notes). ``bartlett``: delay-and-sum with steering
        vectors from the element positions (any geometry, e.g. a planar array cut to azimuth).
        ``capon``: MVDR. ``music``: subspace method, needs ``n_sources``.
    n_sources : int, optional
        Number of sources per range cell for ``music``.
    diagonal_loading : float
        Capon loading ``δ`` relative to the mean eigenvalue ``tr R / N``.
    forward_backward : bool, optional
        Capon/MUSIC forward-backward averaging. Default: on when the array is centro-symmetric
        (each element has a mirror image through the centre), which it requires.
    subbands : int
        Capon/MUSIC: number of overlapping half-band snapshots per symbol for the spatial
        covariance of each range bin (see :func:`radarsp.beamform.spatial_covariance`).

    Returns
    -------
    xarray.DataArray
        ``power``, dims (frame, range, angle), float32 linear power; coords ``range`` (m) and
        ``angle`` (rad, increasing) are exact bin centres; frame coords are kept. With a
        ``symbol`` dim, power is averaged over symbols (Capon/MUSIC use them as snapshots).
        Processing options are recorded in ``attrs``.

    Raises
    ------
    radarsp.errors.RadarspFileError
        If the CSI does not follow csi-1, or ``fft`` is asked of a non-uniform-linear array.
    ValueError
        For invalid options.

    Notes
    -----
    Capon and MUSIC estimate the spatial covariance of each range bin from ``subbands``
    half-band range profiles per symbol (:func:`radarsp.beamform.spatial_covariance`). They
    separate sources whose snapshots decorrelate: across symbols (independent fluctuation or
    different Doppler) or across sub-bands (different delays inside one range cell). Two
    perfectly coherent sources at the same delay in a single symbol are only partly
    decorrelated by forward-backward averaging. At high SNR Capon's power at an angle between
    bins is underestimated (self-nulling); ``diagonal_loading`` trades resolution for
    robustness.

    Examples
    --------
    >>> from radarsp.model import SPEED_OF_LIGHT
    >>> f = 28e9 + 1e6 * np.arange(64)                        # 64 subcarriers, 1 MHz apart
    >>> r = 13 * SPEED_OF_LIGHT / (2 * 64 * 1e6)              # centre of range bin 13
    >>> h = np.exp(-2j * np.pi * f * 2 * r / SPEED_OF_LIGHT)[None, None, :].repeat(8, axis=1)
    >>> lam = SPEED_OF_LIGHT / 28e9
    >>> csi = xr.DataArray(h, dims=("frame", "rx", "subcarrier"), coords={
    ...     "frequency": ("subcarrier", f), "rx_x": ("rx", np.arange(8) * lam / 2),
    ...     "rx_y": ("rx", np.zeros(8)), "rx_z": ("rx", np.zeros(8))},
    ...     attrs={"carrier_frequency": 28e9})
    >>> power = range_angle(csi, angle_bins=16)             # broadside scatterer at 30.4 m
    >>> peak = power.isel(frame=0).argmax(...)
    >>> round(float(power.range[peak["range"]]), 2), float(power.angle[peak["angle"]])
    (30.45, 0.0)
    >>> round(float(power.max()), 4)                          # unit amplitude -> unit power
    1.0
    """
    radio = _radio(csi)
    range_window, angle_window = windows.window_pair(window)
    if beamformer not in BEAMFORMERS:
        raise ValueError(f"beamformer must be one of {BEAMFORMERS}, got {beamformer!r}")
    if angle_bins < 1:
        raise ValueError(f"angle_bins must be a positive integer, got {angle_bins}")
    low, high = _check_span(angle_span)
    grid = _range_grid(radio, range_bins, max_range)
    n_subcarrier = radio.csi.sizes["subcarrier"]
    attrs = {
        "beamformer": beamformer,
        "range_window": range_window,
        "range_fft_length": grid.n_fft,
    }

    if beamformer == "fft":
        power, angles = _fft(radio, grid, range_window, angle_window, angle_bins, (low, high))
        attrs.update(angle_window=angle_window, angle_fft_length=angle_bins, angle_grid="arcsin")
    else:
        angles = low + (np.arange(angle_bins) + 0.5) * (high - low) / angle_bins
        steering = beamform.steering_matrix(radio.rx_x, radio.rx_y, angles, radio.wavelength)
        sizes = {"range": grid.n_range, "angle": angle_bins}
        if beamformer == "bartlett":
            taper = beamform.column_taper(angle_window, radio.rx_x,
                                          resolution=1e-6 * radio.wavelength)
            taper = windows.normalise(taper, angle_window, "receive elements")
            power = _run(
                radio, beamform.bartlett_range_angle, ["range", "angle"], sizes,
                range_weights=windows.normalised_window(range_window, n_subcarrier,
                                                        "subcarriers"),
                beam_weights=taper[:, None] * steering.conj(),
                n_range_fft=grid.n_fft, n_range=grid.n_range,
            )
            attrs.update(angle_window=angle_window, angle_grid="uniform")
        else:
            power = _adaptive(
                radio, grid, range_window, steering, sizes, attrs, beamformer=beamformer,
                n_sources=n_sources, diagonal_loading=diagonal_loading,
                forward_backward=forward_backward, subbands=subbands,
            )
    return _annotated(power, "power", {"range": grid.centres, "angle": angles}, attrs)


def _fft(radio, grid, range_window, angle_window, angle_bins, span):
    """Zero-padded DFT across a uniform linear array; returns (lazy) power and its angles."""
    ula = beamform.uniform_linear_spacing(radio.rx_x, radio.rx_y, radio.rx_z)
    if ula is None:
        raise radio.error(
            "rx_x",
            "beamformer 'fft' needs a uniform linear array along x (equal spacing, common y "
            "and z); use beamformer='bartlett' (or capon/music) for this array geometry",
        )
    order, spacing = ula
    if angle_bins < order.size:
        raise ValueError(
            f"beamformer 'fft' needs angle_bins >= rx ({order.size}), got {angle_bins}"
        )
    sine = (np.arange(angle_bins) - angle_bins // 2) * radio.wavelength / (angle_bins * spacing)
    angles = np.arcsin(np.clip(sine, -1, 1))
    inside = (np.abs(sine) <= 1 + 1e-9) & (angles >= span[0] - 1e-12) & (angles <= span[1] + 1e-12)
    keep = np.flatnonzero(inside)
    if keep.size == 0:
        raise ValueError(f"no fft angle bin falls inside angle_span {span}")
    if not np.array_equal(order, np.arange(order.size)):
        radio = dataclasses.replace(radio, csi=radio.csi.isel(rx=order))
    # Modulating element n by exp(+j 2π n ⌊Q/2⌋ / Q) centres the DFT output (an fftshift).
    shift = np.exp(2j * np.pi * np.arange(order.size) * (angle_bins // 2) / angle_bins)
    power = _run(
        radio, beamform.fft_range_angle, ["range", "angle"],
        {"range": grid.n_range, "angle": keep.size},
        range_weights=windows.normalised_window(range_window, radio.csi.sizes["subcarrier"],
                                                "subcarriers"),
        angle_weights=windows.normalised_window(angle_window, order.size,
                                                "receive elements") * shift,
        n_range_fft=grid.n_fft, n_range=grid.n_range, n_angle_fft=angle_bins,
        angle_slice=slice(int(keep[0]), int(keep[-1]) + 1),
    )
    return power, angles[keep]


def _adaptive(radio, grid, range_window, steering, sizes, attrs, *, beamformer, n_sources,
              diagonal_loading, forward_backward, subbands) -> xr.DataArray:
    """Capon / MUSIC: sub-band covariance per range bin, then the spectrum."""
    n_rx = radio.csi.sizes["rx"]
    n_subcarrier = radio.csi.sizes["subcarrier"]
    if beamformer == "music" and (n_sources is None or not 1 <= n_sources < n_rx):
        raise ValueError(f"beamformer 'music' needs 1 <= n_sources < rx ({n_rx}), got {n_sources}")
    if not diagonal_loading >= 0:
        raise ValueError(f"diagonal_loading must be >= 0, got {diagonal_loading}")
    if subbands < 1:
        raise ValueError(f"subbands must be a positive integer, got {subbands}")
    positions = np.stack([radio.rx_x, radio.rx_y, radio.rx_z], axis=1)
    mirror = beamform.mirror_permutation(positions, tolerance=1e-6 * radio.wavelength)
    if forward_backward and mirror is None:
        raise radio.error(
            "rx_x", "forward-backward averaging needs a centro-symmetric array; "
            "pass forward_backward=False"
        )
    if forward_backward is False:
        mirror = None
    length = n_subcarrier // 2 if subbands > 1 else n_subcarrier
    # A narrow band has fewer distinct half-band positions than requested: use them all.
    subbands = min(subbands, n_subcarrier - length + 1)
    starts = np.round(np.linspace(0, n_subcarrier - length, subbands)).astype(int)
    if beamformer == "capon":
        spectrum = functools.partial(beamform.capon_spectrum, loading=diagonal_loading)
        attrs.update(diagonal_loading=diagonal_loading)
    else:
        spectrum = functools.partial(beamform.music_spectrum, n_sources=n_sources)
        attrs.update(n_sources=n_sources)
    attrs.update(subbands=subbands, subband_length=length,
                 forward_backward=int(mirror is not None), angle_grid="uniform")
    return _run(
        radio, _adaptive_kernel, ["range", "angle"], sizes, spectrum=spectrum,
        steering=steering, subband_weights=windows.normalised_window(range_window, length,
                                                                  "subcarriers per subband"),
        subband_starts=starts, n_range_fft=grid.n_fft, n_range=grid.n_range, mirror=mirror,
    )


def _adaptive_kernel(csi, *, spectrum, steering, workers, **covariance_options) -> np.ndarray:
    """Covariance of every range bin, then ``spectrum(covariance, steering)``."""
    covariance = beamform.spatial_covariance(csi, workers=workers, **covariance_options)
    return spectrum(covariance, steering)


def range_doppler(
    csi: xr.DataArray | xr.Dataset,
    *,
    window: str | tuple[str, str] = "hann",
    range_bins: int | None = None,
    max_range: float | None = None,
    velocity_bins: int | None = None,
) -> xr.DataArray:
    """Range-Doppler power map of every frame (needs a ``symbol`` dim).

    Parameters
    ----------
    csi : xarray.DataArray or xarray.Dataset
        CSI with dims (frame, symbol, rx, subcarrier) and a uniformly spaced ``symbol_time``
        coord (s), besides the coords :func:`range_angle` needs. May be dask-backed.
    window : str or (str, str)
        Taper for range and for slow time: one name or ``(range_window, doppler_window)``.
    range_bins, max_range
        As in :func:`range_angle`, so both maps share the range grid.
    velocity_bins : int, optional
        Slow-time inverse DFT length ``V`` (``>=`` symbols, zero-padded); default the number
        of symbols.

    Returns
    -------
    xarray.DataArray
        ``doppler_power``, dims (frame, range, velocity), float32, power averaged over the
        receive elements. ``velocity`` (m/s, increasing, positive receding) runs over
        ``l λ / (2 V T)`` for ``l = -⌊V/2⌋ … ⌈V/2⌉ - 1`` with symbol period ``T``: the
        unambiguous interval is ``[-λ/(4T), λ/(4T))``, faster targets wrap around.
    """
    radio = _radio(csi)
    range_window, doppler_window = windows.window_pair(window)
    if "symbol" not in radio.csi.dims:
        raise radio.error("csi", "range_doppler needs a 'symbol' dim (slow-time samples)")
    if "symbol_time" not in radio.csi.coords:
        raise radio.error("symbol_time", "range_doppler needs this coordinate (s)")
    symbol_time = np.asarray(radio.csi["symbol_time"].values, dtype=float)
    n_symbol = symbol_time.size
    steps = np.diff(symbol_time)
    if n_symbol < 2 or steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=_GRID_RTOL):
        raise radio.error("symbol_time", "expected two or more uniformly spaced, increasing times")
    period = float(steps[0])
    n_velocity = n_symbol if velocity_bins is None else int(velocity_bins)
    if n_velocity < n_symbol:
        raise ValueError(f"velocity_bins must be >= the number of symbols ({n_symbol})")
    grid = _range_grid(radio, range_bins, max_range)
    shift = np.exp(-2j * np.pi * np.arange(n_symbol) * (n_velocity // 2) / n_velocity)
    power = _run(
        radio, beamform.range_doppler, ["range", "velocity"],
        {"range": grid.n_range, "velocity": n_velocity},
        range_weights=windows.normalised_window(range_window, radio.csi.sizes["subcarrier"],
                                                "subcarriers"),
        doppler_weights=windows.normalised_window(doppler_window, n_symbol, "symbols") * shift,
        n_range_fft=grid.n_fft, n_range=grid.n_range, n_velocity_fft=n_velocity,
    )
    velocity = (np.arange(n_velocity) - n_velocity // 2) * radio.wavelength / (
        2 * n_velocity * period)
    attrs = {"range_window": range_window, "doppler_window": doppler_window,
             "range_fft_length": grid.n_fft, "velocity_fft_length": n_velocity}
    return _annotated(power, "doppler_power", {"range": grid.centres, "velocity": velocity}, attrs)


def heatmap_dataset(
    csi_ds: xr.Dataset,
    *,
    doppler: bool = False,
    window: str | tuple[str, str] = "hann",
    doppler_window: str = "hann",
    range_bins: int | None = None,
    max_range: float | None = None,
    velocity_bins: int | None = None,
    **angle_options,
) -> xr.Dataset:
    """Build a complete heatmap-1 dataset from a csi-1 dataset.

    Parameters
    ----------
    csi_ds : xarray.Dataset
        A csi-1 dataset (e.g. from :func:`radarsp.open_csi`), numpy- or dask-backed.
    doppler : bool
        Add ``doppler_power`` (frame, range, velocity) and the ``velocity`` coord; needs a
        ``symbol`` dim.
    window : str or (str, str)
        ``(range_window, angle_window)`` as in :func:`range_angle`.
    doppler_window : str
        Slow-time taper of the range-Doppler map.
    range_bins, max_range, velocity_bins
        As in :func:`range_angle` / :func:`range_doppler`; both maps share the range grid.
    **angle_options
        Passed to :func:`range_angle` (``beamformer``, ``angle_bins``, ``angle_span``, ...).

    Returns
    -------
    xarray.Dataset
        ``power`` (and ``doppler_power``), the ground-truth and camera variables of ``csi_ds``
        unchanged, its radio attrs, the processing options as attrs (``heatmap_<option>``)
        and ``radarsp_schema = "heatmap-1"``. Lazy when ``csi_ds`` is dask-backed.
    """
    check_memory(heatmap_memory(csi_ds, doppler=doppler, range_bins=range_bins,
                                max_range=max_range, velocity_bins=velocity_bins,
                                angle_bins=angle_options.get("angle_bins", 64)),
                 "computing these heatmaps")
    power = range_angle(csi_ds, window=window, range_bins=range_bins, max_range=max_range,
                        **angle_options)
    variables = {"power": power}
    options = dict(power.attrs)
    if doppler:
        range_window = windows.window_pair(window)[0]
        doppler_power = range_doppler(csi_ds, window=(range_window, doppler_window),
                                      range_bins=range_bins, max_range=max_range,
                                      velocity_bins=velocity_bins)
        variables["doppler_power"] = doppler_power
        options.update(doppler_power.attrs)
    for name in CARRIED_VARIABLES:
        if name in csi_ds.data_vars:
            variables[name] = csi_ds[name]
    out = xr.Dataset(variables)
    attrs = {k: csi_ds.attrs[k] for k in RADIO_ATTRS if k in csi_ds.attrs}
    for name in ("power", "doppler_power"):
        if name in out:
            out[name].attrs = attrs_for(name)
    attrs.update({f"heatmap_{key}": value for key, value in options.items()
                  if key not in ("units", "long_name")})
    attrs[SCHEMA_ATTR] = HEATMAP
    out.attrs = attrs
    return annotate(out)


def heatmap_memory(
    csi_ds: xr.Dataset,
    *,
    doppler: bool = False,
    range_bins: int | None = None,
    max_range: float | None = None,
    velocity_bins: int | None = None,
    angle_bins: int = 64,
) -> int:
    """Peak bytes :func:`heatmap_dataset` needs for ``csi_ds`` with these sizes.

    In memory, every frame's input and output at once; dask-backed, one frame chunk's input
    (twice: read and rechunked) and output per chunk computed at once (one per core). Either
    way plus one frame's transforms: the range profiles and the complex angle and Doppler
    spectra (twice: the DFT's output and its kept bins). Heatmaps of a 4-frame FMCW cube of
    128 chirps x 8 rx x 256 samples with 4096 angle bins allocate 2,076 MiB at the peak
    against 2,094 MiB estimated (``benchmarks/bench_memory.py``).

    Examples
    --------
    >>> from radarsp.simulate import simulate
    >>> scenes = simulate(frames=15, image_size=None)
    >>> heatmap_memory(scenes, angle_bins=100_000) // 2**20   # MiB
    1855
    """
    import os

    radio = _radio(csi_ds)
    grid = _range_grid(radio, range_bins, max_range)
    sizes = radio.csi.sizes
    symbols, rx = sizes.get("symbol", 1), sizes["rx"]
    velocity = (velocity_bins or symbols) if doppler else 0
    frame_in = 8 * symbols * rx * sizes["subcarrier"]
    frame_out = 4 * grid.n_range * (angle_bins + velocity)
    transforms = 8 * symbols * rx * grid.n_fft + 16 * grid.n_range * (
        symbols * angle_bins + rx * velocity)
    if not radio.lazy:
        return sizes["frame"] * (frame_in + frame_out) + transforms
    chunks = radio.csi.chunks[radio.csi.dims.index("frame")]
    at_once = min(len(chunks), os.cpu_count() or 1)
    return at_once * (max(chunks) * (2 * frame_in + frame_out) + transforms)


__all__ = ["BEAMFORMERS", "heatmap_dataset", "heatmap_memory", "range_angle", "range_doppler"]
