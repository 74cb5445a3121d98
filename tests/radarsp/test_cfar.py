"""radarsp.cfar: kernels equal a loop reference, window geometry, false-alarm rate, wrappers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from cfar_naive import cfar_map
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from radarsp.cfar import NonFinitePowerError, cfar, cfar_array, detections

METHODS = ("ca", "go", "so", "os")
EDGES = ("truncate", "wrap", "skip")


def assert_same_as_naive(values, *, ndim, method, guard, train, edge, pfa, rank=None,
                         alpha=None, rtol=1e-9):
    got = cfar_array(values, ndim=ndim, method=method, guard=guard, train=train, pfa=pfa,
                     rank=rank, threshold_factor=alpha, edge=edge)
    maps = values.reshape((-1,) + values.shape[values.ndim - ndim:])
    for index, one_map in enumerate(maps):
        want = cfar_map(one_map, method=method, guard=guard, train=train, pfa=pfa, rank=rank,
                        alpha=alpha, edge=edge)
        have = [o.reshape(maps.shape)[index] for o in got]
        for name, h, w in zip(("threshold", "noise", "snr"), have[1:], want[1:], strict=True):
            np.testing.assert_allclose(h, w, rtol=rtol, atol=1e-12, err_msg=name)
        # a detection may only differ where the power ties with the threshold to rounding
        decided = ~np.isclose(one_map, want[1], rtol=10 * rtol, atol=0)
        np.testing.assert_array_equal(have[0][decided], want[0][decided], err_msg="detected")


@st.composite
def problems(draw, ndim):
    guard = tuple(draw(st.integers(0, 2)) for _ in range(ndim))
    train = tuple(draw(st.integers(0 if ndim == 2 else 1, 3)) for _ in range(ndim))
    shape = tuple(2 * (g + t) + 1 + draw(st.integers(0, 6))
                  for g, t in zip(guard, train, strict=True))
    edge = tuple(draw(st.sampled_from(EDGES)) for _ in range(ndim))
    batch = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**31 - 1))
    integers = draw(st.booleans())
    rng = np.random.default_rng(seed)
    values = (rng.integers(0, 4, (batch, *shape)) if integers
              else rng.exponential(size=(batch, *shape)))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return values.astype(dtype), guard, train, edge


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_equals_naive_reference(method, ndim, data):
    values, guard, train, edge = data.draw(problems(ndim))
    n_full = np.prod([2 * (g + t) + 1 for g, t in zip(guard, train, strict=True)]) - np.prod(
        [2 * g + 1 for g in guard])
    assume(n_full >= 2)
    rank = data.draw(st.one_of(st.none(), st.integers(1, int(n_full)))) if method == "os" else None
    alpha = data.draw(st.sampled_from([None, None, 1.0, 3.5]))
    assert_same_as_naive(values, ndim=ndim, method=method, guard=guard, train=train,
                         edge=edge, pfa=data.draw(st.sampled_from([1e-2, 1e-3])), rank=rank,
                         alpha=alpha, rtol=1e-9 if values.dtype == np.float64 else 2e-6)


def expected_window(guard, train):
    """Offsets (dr, da) of the training cells as a boolean image centred on the cell."""
    reach = [g + t for g, t in zip(guard, train, strict=True)]
    dr, da = np.meshgrid(np.arange(-reach[0], reach[0] + 1),
                         np.arange(-reach[1], reach[1] + 1), indexing="ij")
    return ~((abs(dr) <= guard[0]) & (abs(da) <= guard[1]))


@pytest.mark.parametrize("guard,train", [((1, 2), (3, 1)), ((0, 3), (2, 2)), ((2, 0), (1, 4))])
def test_impulse_lights_exactly_the_training_annulus(guard, train):
    # Zero map, one unit impulse at p: the cells whose noise estimate sees it are the cells c
    # with p - c a training offset, i.e. the window mirrored about p (it is symmetric).
    values = np.zeros((31, 29))
    p = (15, 14)
    values[p] = 1.0
    window = expected_window(guard, train)
    reach = [g + t for g, t in zip(guard, train, strict=True)]
    around = (slice(p[0] - reach[0], p[0] + reach[0] + 1),
              slice(p[1] - reach[1], p[1] + reach[1] + 1))
    for method, rank in (("ca", None), ("os", int(window.sum()))):
        _, _, noise, _ = cfar_array(values, method=method, guard=guard, train=train, rank=rank)
        seen = noise > 0
        np.testing.assert_array_equal(seen[around], window)
        assert seen.sum() == window.sum()
    _, _, noise, _ = cfar_array(values, method="ca", guard=guard, train=train)
    np.testing.assert_allclose(noise[around][window], 1.0 / window.sum())


@pytest.mark.parametrize("guard,train", [(0, 3), (2, 4), (3, 1)])
def test_impulse_1d_guard_and_training_on_both_sides(guard, train):
    cut = 20
    for side in (-1, 1):
        for distance in range(1, guard + train + 3):
            values = np.zeros(41)
            values[cut + side * distance] = 1.0
            results = {m: cfar_array(values, ndim=1, method=m, guard=guard, train=train)[2][cut]
                       for m in ("ca", "go", "so")}
            in_training = guard < distance <= guard + train
            assert results["ca"] == pytest.approx(1.0 / (2 * train) if in_training else 0.0)
            # GO takes the half holding the impulse, SO the empty one
            assert results["go"] == pytest.approx(1.0 / train if in_training else 0.0)
            assert results["so"] == 0.0


def test_2d_halves_split_along_range_then_at_the_cell():
    # A constant block in the leading half (earlier range rows, and the same row to the left)
    values = np.zeros((21, 21))
    values[:10, :] = 1.0
    values[10, :10] = 1.0
    detected, threshold, noise, snr = cfar_array(values, method="go", guard=(1, 1),
                                                 train=(2, 2))
    assert noise[10, 10] == pytest.approx(1.0)
    _, _, noise, _ = cfar_array(values, method="so", guard=(1, 1), train=(2, 2))
    assert noise[10, 10] == 0.0


def false_alarm_rate(detected: np.ndarray, mask: np.ndarray) -> float:
    return detected[..., mask].mean()


@pytest.mark.parametrize("method", METHODS)
def test_false_alarm_rate_interior_and_truncated_edges_2d(method):
    rng = np.random.default_rng(4)
    values = rng.exponential(size=(256, 64, 64)).astype(np.float32)
    pfa = 1e-2
    detected, *_ = cfar_array(values, method=method, guard=(1, 1), train=(2, 2), pfa=pfa)
    edge = np.ones((64, 64), dtype=bool)
    edge[3:-3, 3:-3] = False
    interior = false_alarm_rate(detected, ~edge)
    at_edges = false_alarm_rate(detected, edge)
    assert edge.sum() * 256 > 150_000
    assert abs(interior / pfa - 1) < 0.15, interior
    assert abs(at_edges / pfa - 1) < 0.15, at_edges


@pytest.mark.parametrize("method", METHODS)
def test_false_alarm_rate_1d_including_edges(method):
    rng = np.random.default_rng(5)
    values = rng.exponential(size=(40_000, 32))
    pfa = 1e-2
    detected, *_ = cfar_array(values, ndim=1, method=method, guard=1, train=6, pfa=pfa)
    edge = np.zeros(32, dtype=bool)
    edge[:7] = edge[-7:] = True
    assert abs(false_alarm_rate(detected, ~edge) / pfa - 1) < 0.15
    assert abs(false_alarm_rate(detected, edge) / pfa - 1) < 0.15


def test_wrap_and_skip_policies():
    rng = np.random.default_rng(6)
    values = rng.exponential(size=(3, 16, 12))
    wrapped = cfar_array(values, method="ca", guard=(1, 1), train=(2, 2), edge="wrap")[2]
    rolled = cfar_array(np.roll(values, (5, 3), axis=(1, 2)), method="ca", guard=(1, 1),
                        train=(2, 2), edge="wrap")[2]
    np.testing.assert_allclose(np.roll(wrapped, (5, 3), axis=(1, 2)), rolled)
    detected, threshold, noise, snr = cfar_array(values * 1e6, method="os", guard=(1, 1),
                                                 train=(1, 2), edge=("skip", "truncate"),
                                                 threshold_factor=1e-9)
    assert not detected[:, :2].any() and not detected[:, -2:].any()
    assert np.isnan(noise[:, :2]).all() and np.isfinite(noise[:, 2:-2]).all()
    assert detected[:, 2:-2].all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"pfa": 0.0}, "pfa"),
        ({"pfa": 1.0}, "pfa"),
        ({"method": "os", "rank": 1000}, "rank"),
        ({"method": "os", "rank": 0}, "rank"),
        ({"method": "ca", "rank": 3}, "rank"),
        ({"train": (30, 8)}, "larger than the map"),
        ({"guard": (-1, 2)}, "non-negative"),
        ({"guard": (1, 1), "train": (0, 0)}, "training cells"),
        ({"method": "median"}, "method"),
        ({"edge": "mirror"}, "edge"),
        ({"threshold_factor": -2.0}, "threshold_factor"),
        ({"dims": "doppler"}, "dims"),
        ({"dims": "range", "guard": (2, 2)}, "one entry per working dim"),
    ],
)
def test_invalid_settings_raise_clear_value_errors(kwargs, match):
    power = xr.DataArray(np.ones((2, 64, 32)), dims=("frame", "range", "angle"))
    with pytest.raises(ValueError, match=match):
        cfar(power, **kwargs)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_power_is_refused_wherever_it_is(method, dtype, bad):
    # the kernels check finiteness on their way: every row, including rows a "skip" region
    # never reaches and the first and last cell of a row
    for cell in [(1, 3, 4), (0, 0, 0), (1, 29, 29), (0, 29, 0)]:
        for edge in ("truncate", "skip", "wrap"):
            values = np.ones((2, 30, 30), dtype=dtype)
            values[cell] = bad
            with pytest.raises(ValueError, match="NaN or infinite"):
                cfar_array(values, method=method, guard=1, train=2, edge=edge)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("edge", EDGES)
def test_a_subset_of_outputs_equals_those_of_the_full_run(method, edge):
    values = np.random.default_rng(3).exponential(size=(3, 40, 33)).astype(np.float32)
    settings = dict(method=method, guard=(1, 2), train=(3, 4), pfa=1e-2, edge=edge)
    full = dict(zip(("detected", "threshold", "noise", "snr"), cfar_array(values, **settings),
                    strict=True))
    for outputs in [("detected",), ("snr", "detected"), ("noise",), ("threshold", "snr")]:
        got = cfar_array(values, outputs=outputs, **settings)
        assert len(got) == len(outputs)
        for name, array in zip(outputs, got, strict=True):
            np.testing.assert_array_equal(array, full[name], err_msg=name)
    result = cfar(xr.DataArray(values, dims=("frame", "range", "angle")), outputs=["snr"],
                  **settings)
    assert list(result.data_vars) == ["snr"]
    np.testing.assert_array_equal(result["snr"].values, full["snr"])


@pytest.mark.parametrize("outputs", [(), ("detected", "detected"), ("power",)])
def test_unknown_or_repeated_outputs_are_refused(outputs):
    with pytest.raises(ValueError, match="outputs must be distinct names"):
        cfar_array(np.ones((1, 30, 30)), outputs=outputs)


def test_detections_says_which_outputs_it_needs():
    power = heatmap()
    with pytest.raises(ValueError, match=r"missing \['snr'\]"):
        detections(cfar(power, outputs=("detected",)), power)
    with pytest.raises(ValueError, match=r"missing \['noise'\]"):
        detections(cfar(power, outputs=("detected", "snr")))
    table = detections(cfar(power, outputs=("detected", "snr")), power)
    np.testing.assert_array_equal(table["power"], detections(cfar(power), power)["power"])


@pytest.mark.parametrize("chunked", [False, True])
def test_detections_without_detected_says_so(chunked):
    power = heatmap()
    if chunked:
        power = power.chunk({"frame": 1})
    for outputs in [("snr",), ("snr", "noise")]:
        with pytest.raises(ValueError, match=r"missing \['detected'\]"):
            detections(cfar(power, outputs=outputs), power)
    with pytest.raises(ValueError, match=r"missing \['detected', 'noise'\]"):
        detections(cfar(power, outputs=("snr",)))


def test_non_finite_power_raises_its_own_value_error():
    values = heatmap().values.copy()
    values[1, 2, 3] = np.nan
    with pytest.raises(NonFinitePowerError, match="NaN or infinite") as info:
        cfar(xr.DataArray(values, dims=("frame", "range", "angle")).chunk({"frame": 1}),
             outputs=("detected",)).load()
    assert isinstance(info.value, ValueError)
    with pytest.raises(NonFinitePowerError):
        cfar_array(values)


def heatmap(seed=7, frames=3, targets=((1, 30, 10), (2, 12, 25))):
    rng = np.random.default_rng(seed)
    values = rng.exponential(size=(frames, 48, 32)).astype(np.float32)
    for target in targets:
        values[target] = 1e5
    return xr.DataArray(
        values, dims=("frame", "range", "angle"),
        coords={"frame": np.arange(frames) + 100, "range": 2.0 + 0.25 * np.arange(48),
                "angle": np.linspace(-1.2, 1.2, 32)},
        name="power",
    )


def test_any_dim_order_and_coords_are_kept():
    power = heatmap()
    result = cfar(power, method="so", guard=(1, 1), train=(3, 3), pfa=1e-6)
    swapped = cfar(power.transpose("angle", "frame", "range"), method="so", guard=(1, 1),
                   train=(3, 3), pfa=1e-6)
    assert swapped["noise"].dims == ("angle", "frame", "range")
    xr.testing.assert_identical(result, swapped.transpose("frame", "range", "angle"))
    assert result["detected"].dtype == bool and result["noise"].dtype == np.float32
    assert result["noise"].attrs["long_name"]
    np.testing.assert_array_equal(result["range"], power["range"])


def test_dask_chunks_along_frame_stay_lazy_and_match():
    power = heatmap(frames=6)
    eager = cfar(power, method="os", guard=(1, 1), train=(3, 3), pfa=1e-6)
    lazy = cfar(power.chunk({"frame": 2, "range": 16}), method="os", guard=(1, 1),
                train=(3, 3), pfa=1e-6)
    assert lazy["detected"].chunks is not None
    xr.testing.assert_identical(eager, lazy.compute())


def test_detections_table_range_angle():
    power = heatmap()
    result = cfar(power, method="ca", guard=(1, 1), train=(3, 3), pfa=1e-7)
    table = detections(result, power)
    assert table.attrs["radarsp_schema"] == "detections-1"
    assert table.attrs["cfar_method"] == "ca" and table.attrs["frame_count"] == 3
    assert table.sizes["detection"] == 2
    np.testing.assert_array_equal(table["frame"], [101, 102])
    np.testing.assert_allclose(table["range"], [2.0 + 0.25 * 30, 2.0 + 0.25 * 12])
    angle = power["angle"].values[[10, 25]]
    np.testing.assert_allclose(table["angle"], angle)
    np.testing.assert_allclose(table["x"], table["range"] * np.sin(angle), rtol=1e-12)
    np.testing.assert_allclose(table["y"], table["range"] * np.cos(angle), rtol=1e-12)
    np.testing.assert_allclose(table["power"], 1e5)
    without_power = detections(result)
    np.testing.assert_allclose(without_power["power"], 1e5, rtol=1e-6)
    assert table["x"].attrs["units"] == "m"


def test_detections_table_range_velocity_has_nan_angles():
    power = heatmap(frames=2, targets=((0, 5, 3),)).rename(angle="velocity")
    result = cfar(power, dims=("range", "velocity"), guard=(1, 1), train=(3, 3),
                  edge=("truncate", "wrap"), pfa=1e-7)
    table = detections(result, power)
    assert table.sizes["detection"] == 1
    assert float(table["velocity"][0]) == pytest.approx(float(power["velocity"][3]))
    assert np.isnan(table["angle"]).all() and np.isnan(table["x"]).all()


def test_detections_rejects_other_layouts():
    power = xr.DataArray(np.ones((4, 30)), dims=("sweep", "range"))
    result = cfar(power, dims="range", guard=1, train=4)
    with pytest.raises(ValueError, match="range, angle"):
        detections(result)


def test_import_stays_light():
    code = ("import sys, radarsp.cfar; heavy = {'numba', 'scipy', 'sklearn', 'matplotlib', "
            "'torch'} & set(sys.modules); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_detections_of_chunked_maps_equal_the_in_memory_table():
    rng = np.random.default_rng(11)
    power = xr.DataArray(rng.exponential(size=(7, 48, 24)).astype(np.float32),
                         dims=("frame", "range", "angle"),
                         coords={"frame": np.arange(7) + 100, "range": 0.2 * np.arange(48),
                                 "angle": np.linspace(-1, 1, 24)})
    eager = detections(cfar(power, pfa=1e-2), power)
    chunked = power.chunk({"frame": 3})
    lazy = detections(cfar(chunked, pfa=1e-2), chunked)
    xr.testing.assert_identical(eager, lazy)
    assert eager.sizes["detection"] > 0
