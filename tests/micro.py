"""The micro sweep config shared by the end-to-end tests (compiled programs shared too)."""

from alignment.two_layer import report
from sweeps.configs import base

COMPARED = ("summary.csv", "threshold.json")  # what must be byte-identical between two runs


def micro_config():
    """6 runs of one program (d = 2: the polar figure applies) in 3 chunks of 2 lanes."""
    c = base.get_config()
    c.name = "micro"
    c.d = (2,)
    c.m = (8,)
    c.n = (4, 8, 16)
    c.num_seeds = 2
    c.n_test = 16
    c.sigma = (0.3,)
    c.lam = (1e-2,)
    c.lr = (0.2,)
    c.dtype = "float64"
    c.max_time = 50.0
    c.t_min = 0.5
    c.num_snapshots = 12
    c.snapshots_per_decade = 4
    c.time_cap = 5e3
    c.continue_integrator = "same"  # GD throughout: records are multiples of lr (flow: below)
    c.max_lanes = 2
    c.bucket_waste = 10.0  # one bucket: one compiled program
    c.n_boot = 50
    c.make_figures = False
    return c


def finish(cfg, path) -> dict[str, bytes]:
    """Merges a workdir's chunks (the threshold report) and returns the compared outputs."""
    report.finish(cfg, path)
    return {name: (path / name).read_bytes() for name in COMPARED}
