"""Radar geometry: the one place polar and Cartesian coordinates and resolutions are computed.

Convention (``docs/contract.md``): the radar sits at the origin looking along +y (boresight);
azimuth ``angle`` is positive towards +x, so ``x = r sin(angle)`` and ``y = r cos(angle)``.
"""

from __future__ import annotations

import numpy as np

from radarsp.model import SPEED_OF_LIGHT


def polar_to_cartesian(range_m, angle_rad):
    """Convert radar polar coordinates to Cartesian.

    Parameters
    ----------
    range_m : array_like
        Range r in metres.
    angle_rad : array_like
        Azimuth θ in radians, positive towards +x.

    Returns
    -------
    x, y : ndarray or xarray object
        ``x = r sin θ`` (cross-range) and ``y = r cos θ`` (down-range), metres.

    Examples
    --------
    >>> x, y = polar_to_cartesian(10.0, np.pi / 2)
    >>> round(float(x), 6), round(float(y), 6)
    (10.0, 0.0)
    """
    return range_m * np.sin(angle_rad), range_m * np.cos(angle_rad)


def cartesian_to_polar(x, y):
    """Inverse of :func:`polar_to_cartesian`: ``r = hypot(x, y)``, ``θ = atan2(x, y)``.

    Examples
    --------
    >>> r, a = cartesian_to_polar(3.0, 4.0)
    >>> float(r), round(float(a), 4)
    (5.0, 0.6435)
    """
    return np.hypot(x, y), np.arctan2(x, y)


def range_resolution(bandwidth: float) -> float:
    """Range resolution ``c / (2 B)`` in metres for bandwidth ``B`` in Hz."""
    return SPEED_OF_LIGHT / (2.0 * bandwidth)


def max_unambiguous_range(subcarrier_spacing: float) -> float:
    """Maximum unambiguous (monostatic) range ``c / (2 Δf)`` in metres."""
    return SPEED_OF_LIGHT / (2.0 * subcarrier_spacing)


def wavelength(carrier_frequency: float) -> float:
    """Carrier wavelength ``c / f_c`` in metres."""
    return SPEED_OF_LIGHT / carrier_frequency


def angular_resolution(n_elements: int, spacing_wavelengths: float = 0.5) -> float:
    """Rayleigh angular resolution at broadside, radians: ``λ / (N d)`` (= 2/N for d = λ/2)."""
    return 1.0 / (n_elements * spacing_wavelengths)


def max_unambiguous_velocity(carrier_frequency: float, symbol_period: float) -> float:
    """Largest |radial velocity| resolved by slow-time sampling: ``λ / (4 T_sym)`` in m/s."""
    return wavelength(carrier_frequency) / (4.0 * symbol_period)
