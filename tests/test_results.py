"""The results store: atomic writes, chunk merging, the summary table (no training)."""

import json

import numpy as np
import pytest
import xarray as xr

from alignment.runner import results
from alignment.two_layer import records


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "out.txt"
    results.write_text(path, "old")
    with pytest.raises(RuntimeError), results.atomic_path(path) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary left behind


def test_json_has_no_nan(tmp_path):
    results.write_json(
        tmp_path / "a.json", {"x": float("nan"), "y": np.float32(2.5), "z": [np.inf]}
    )
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": None, "y": 2.5, "z": [None]}


def _chunk(run_ids, n_snap, loss_offset=0.0, neurons=False):
    R = len(run_ids)
    t = np.tile(np.arange(n_snap, dtype=float), (R, 1))
    data = {
        "time": (("run", "snapshot"), t),
        "loss": (("run", "snapshot"), 1.0 / (1 + t) + loss_offset),
        "verdict": ("run", np.array(["stuck"] * R)),
        "last_snapshot": ("run", np.full(R, n_snap - 1)),
        "n": ("run", np.full(R, 8)),
    }
    coords = {"run": np.asarray(run_ids), "snapshot": np.arange(n_snap)}
    if neurons:
        data["neuron_w"] = (
            ("neuron_run", "snapshot", "neuron", "coord"),
            np.ones((1, n_snap, 3, 2)),
        )
        coords["neuron_run"] = np.asarray(run_ids[:1])
    attrs = {"chunk": int(run_ids[0]), "summary_columns": "alignment_time"}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def test_merge_pads_shorter_snapshot_axes_and_summary_reads_each_runs_last_snapshot():
    merged = results.merge_chunks([_chunk([2, 3], 4, neurons=True), _chunk([0, 1], 6, 1.0)])
    assert list(merged["run"].values) == [0, 1, 2, 3]  # sorted by run id
    assert merged.sizes["snapshot"] == 6 and "neuron_w" not in merged
    assert np.isnan(merged["loss"].sel(run=2).values[4:]).all()
    table = records.summary_table(merged, records.summary_columns(merged, ()))
    assert list(table["final_time"]) == [5.0, 5.0, 3.0, 3.0]
    np.testing.assert_allclose(table["train_loss"], [1 + 1 / 6, 1 + 1 / 6, 1 / 4, 1 / 4])
    assert list(table) == ["run", *records.FINAL_COLUMNS, "alignment_time"]
    assert np.isnan(table["alignment_time"]).all()  # not recorded: a NaN column, never dropped
    assert merged.attrs == {"summary_columns": "alignment_time"}  # chunk-specific attrs dropped


def test_load_neurons_finds_the_run_or_says_none(tmp_path):
    results.write_netcdf(results.chunk_path(tmp_path, 0), _chunk([0, 1], 4, neurons=True))
    results.write_netcdf(results.chunk_path(tmp_path, 1), _chunk([2, 3], 4))
    got = results.load_neurons(tmp_path, 0)
    assert got["neuron_w"].shape == (4, 3, 2) and list(got["time"].values) == [0, 1, 2, 3]
    assert results.load_neurons(tmp_path, 1) is None
    assert results.load_neurons(tmp_path, 3) is None
    assert results.finished_chunks(tmp_path) == [0, 1]


def test_displacement_speed_ignores_repeated_times():
    t = np.array([[0.0, 1.0, 3.0, 3.0, 3.0, np.nan]])
    disp = np.array([[0.0, 1.0, 2.0, 0.0, 0.0, np.nan]]) * np.sqrt(2.0)
    v = records.displacement_speed(t, disp)
    # moving sqrt(2) per unit time; repeated and absent (NaN, the run left) snapshots carry it
    assert np.isnan(v[0, 0])
    np.testing.assert_allclose(v[0, 1:], np.sqrt(2.0))


def test_forward_fill():
    x = np.array([[np.nan, 1.0, np.nan, 3.0, np.nan], [np.nan] * 5])
    got = records.forward_fill(x)
    np.testing.assert_array_equal(got[0], [np.nan, 1.0, 1.0, 3.0, 3.0])
    assert np.isnan(got[1]).all()


def test_merge_keeps_strings_wider_than_the_first_chunks(tmp_path):
    """A chunk file read back carries its string width as an encoding (<U5 for "stuck"); the
    merged file must not cut a later chunk's "interpolating" to "inter"."""
    for i, verdicts in enumerate((["stuck", "stuck"], ["interpolating"])):
        ds = xr.Dataset(
            {"verdict": ("run", np.array(verdicts))},
            coords={"run": np.arange(len(verdicts)) + 2 * i},
        )
        results.write_netcdf(results.chunk_path(tmp_path, i), ds)
    results.write_trajectories(tmp_path, 2)
    with xr.open_dataset(tmp_path / results.TRAJECTORIES) as back:
        assert list(back["verdict"].values) == ["stuck", "stuck", "interpolating"]
