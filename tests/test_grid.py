"""The run table, sub-sweeps, buckets, chunking and config validation (no training)."""

import ml_collections
import pytest

from alignment import registry as jobs
from alignment import registry as sweep
from alignment.two_layer import grid
from alignment.two_layer import job as threshold_job
from sweeps.configs import base


def _cfg(**fields):
    c = base.get_config()
    for k, v in fields.items():
        c[k] = v
    return c


def test_expand_is_the_product_in_canonical_order():
    c = _cfg(n=(8, 16), lam=(1e-3, 1e-2), num_seeds=3, seed_offset=10)
    runs = grid.expand(c)
    assert len(runs["n"]) == 2 * 2 * 3
    assert list(runs["seed"][:3]) == [10, 11, 12]  # seed fastest
    assert list(runs["n"][:6]) == [8, 8, 8, 16, 16, 16]
    assert list(runs["lam"][:6]) == [1e-3] * 6
    assert set(runs["sweep"]) == {"base"} and set(runs["data"]) == {"linear"}


def test_sub_sweeps_override_fields_and_sort_by_name():
    c = _cfg(n=(8, 16), num_seeds=2)
    c.sweeps.zeta = ml_collections.ConfigDict(
        {"data": "three_points", "d": (1,), "n": (3,), "bias": True}
    )
    c.sweeps.alpha = ml_collections.ConfigDict({"n": (32,), "num_seeds": 3})
    runs = grid.expand(c)
    assert list(dict.fromkeys(runs["sweep"])) == ["alpha", "zeta"]
    alpha, zeta = runs["sweep"] == "alpha", runs["sweep"] == "zeta"
    assert list(runs["n"][alpha]) == [32, 32, 32] and set(runs["data"][alpha]) == {"linear"}
    assert list(runs["n"][zeta]) == [3, 3] and set(runs["d"][zeta]) == {1}
    assert runs["bias"][zeta].all() and not runs["bias"][alpha].any()
    chunks = threshold_job.validate(c, runs)
    progs = {ch.sweep: ch.program.family for ch in chunks}
    assert progs["zeta"].data.name == "three_points" and progs["zeta"].bias
    assert progs["alpha"].data.name == "linear" and progs["alpha"].data.d == 5


def test_buckets_respect_the_waste_budget_and_cover_every_n():
    n = [8, 10, 16, 30, 64, 100, 500, 1000]
    for waste in (0.0, 0.5, 3.0):
        got = grid.buckets(n, waste)
        assert sorted(sum((m for m, _ in got), [])) == sorted(n)
        for members, n_pad in got:
            assert n_pad >= max(members) and n_pad % grid.BUCKET_MULTIPLE == 0
            if len(members) > 1:
                assert n_pad * len(members) <= (1 + waste) * sum(members)
    assert len(grid.buckets(n, 100.0)) == 1


def test_chunks_have_equal_lane_counts_within_a_bucket():
    c = _cfg(n=(8,), num_seeds=10, max_lanes=4)
    runs = grid.expand(c)
    chunks = grid.plan(c, runs)
    assert [len(ch.run_ids) for ch in chunks] == [4, 3, 3]
    assert {ch.lanes for ch in chunks} == {4}
    assert sorted(sum((list(ch.run_ids) for ch in chunks), [])) == list(range(10))
    lanes = grid.lanes_for(runs, chunks[1].run_ids, chunks[1].lanes)
    assert len(lanes) == 4 and lanes.seed[-1] == lanes.seed[-2]  # padded with the last run


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"lr": (-0.1,)}, "lr"),
        ({"n": (0, 8)}, "n=0"),
        ({"sigma": (float("nan"),)}, "sigma"),
        ({"data": "nope"}, "data='nope'"),
        ({"x_dist": "cube"}, "x_dist"),
        ({"init": ("zero",)}, "init"),
        ({"max_time": 0.0}, "max_time"),
        ({"time_cap": 10.0}, "time_cap"),
        ({"escape_cap": 10.0}, "escape_cap=10.0"),
        ({"escape_cap": float("inf")}, "escape_cap=inf"),
        ({"later_steps": -1.0}, "later_steps=-1.0"),
        ({"round_steps": float("nan")}, "round_steps=nan"),
        ({"t_min": 1e9}, "t_min"),
        ({"continue_factor": 1.0}, "continue_factor"),
        ({"later_factor": 1.0}, "later_factor=1.0"),
        ({"later_factor": -2.0}, "later_factor=-2.0"),
        ({"num_seeds": 0}, "num_seeds"),
        ({"max_lanes": 0}, "max_lanes"),
        ({"speed": "fast"}, "speed"),
        ({"continue_integrator": "rk4"}, "continue_integrator"),
        ({"dtype": "float16"}, "dtype"),
        ({"m": (0,)}, "m=0"),
        ({"n": ()}, "n is empty"),
    ],
)
def test_invalid_values_are_named(fields, match):
    with pytest.raises(ValueError, match=match):
        sweep.check_config(_cfg(**fields))


def test_unknown_fields_are_refused():
    c = base.get_config()
    with c.unlocked():
        c.learning_rate = 0.1
    with pytest.raises(ValueError, match="learning_rate"):
        sweep.check_config(c)
    c = base.get_config()
    with c.verdict.unlocked():
        c.verdict.tolerance = 1.0
    with pytest.raises(ValueError, match="verdict"):
        sweep.check_config(c)
    c = base.get_config()
    c.sweeps.a = ml_collections.ConfigDict({"max_time": 5.0})
    with pytest.raises(ValueError, match="max_time"):
        sweep.check_config(c)


def test_every_config_file_is_valid():
    import importlib
    import pathlib

    folder = pathlib.Path(base.__file__).parent
    names = sorted(p.stem for p in folder.glob("*.py") if p.stem not in ("__init__",))
    assert {
        "tiny",
        "threshold_quick",
        "threshold_paper",
        "threshold_vs_d",
        "alignment_dynamics",
        "phase_diagram",
    } <= set(names)
    for name in names:
        cfg = importlib.import_module(f"sweeps.configs.{name}").get_config()
        chunks = jobs.check_config(cfg)  # the threshold sweep or the mean-field job
        assert chunks, name
        doc = importlib.import_module(f"sweeps.configs.{name}").__doc__
        if name != "base":
            assert "python -m sweeps.run" in doc and "Runtime" in doc and "Result" in doc, name
