"""Stuck runs with a way down the certificates do not look at: small groups that vanish at the
region minimum, with data points on their hyperplanes.

    python -m benchmarks.vanishing_kinks --workdir=runs/threshold_wide

The kink test skips a group whose vector vanishes at the region minimum (its hyperplane is not
defined there), and the escape test's ascent of kappa is a search on one side of each kink. A
vanishing group with points on its hyperplane at the run can still grow by putting them on the
other side. Of every stuck run of a finished job's workdir (chunk files' end parameters) where
some group vanishes at the minimum, this prints how many do and the kink test's descent rate
(relative, as ``kink_max``) of those groups, each at its vector at the run, with the minimum's
residual: above ``kink_tol`` they grow. Host-side numpy; trains nothing. (threshold_wide, n = 64,
seed 10: the flow at rtol 1e-5 leaves its certified-stuck state, BENCHMARKS.md.)
"""

from __future__ import annotations

import numpy as np
from absl import app, flags

from alignment.two_layer import grid
from alignment.two_layer.verdict import certificates, kinks
from alignment.two_layer.verdict.tolerances import DEFAULT_TOLERANCES
from benchmarks import stored

_WORKDIR = flags.DEFINE_string("workdir", None, "A finished threshold job's workdir.")


def vanishing_kink(theta_MxD, a_M, x_NxD, y_N) -> tuple[int, float]:
    """(groups that vanish at the region minimum, their largest relative kink descent rate at
    their vectors at the run with the minimum's residual; -inf where none has a point on its
    hyperplane)."""
    region = certificates.region_minimum(theta_MxD, a_M, x_NxD, y_N)
    if not region["solution"]:
        return 0, -np.inf
    v_norm = np.linalg.norm(region["v_GxD"], axis=1)
    gone = ~(v_norm > kinks.ACTIVE_REL * np.max(v_norm))
    gone &= np.linalg.norm(region["v_run_GxD"], axis=1) > 0
    if not gone.any():
        return 0, -np.inf
    groups = [region["solution"][g] for g in np.flatnonzero(gone)]
    found = kinks.kink_test(groups, region["v_run_GxD"][gone], x_NxD, region["resid_N"])
    return int(gone.sum()), found["kink_max"]


def stuck_rows(workdir: str) -> list[tuple]:
    """(n, seed, decided_by, verdict time, vanishing groups, their kink rate) per stuck run."""
    cfg = stored.load_config(workdir)
    runs = grid.expand(cfg)
    rows = []
    for chunk, ds in stored.finished_chunks(cfg, workdir):
        state, ctx = stored.ended_state(runs, chunk, ds)
        for r in np.flatnonzero(ds["verdict"].values == "stuck"):
            gone, rate = vanishing_kink(*stored.run_arrays(state.params, ctx, r))
            t_v = float(np.nanmax(ds["time"].values[r]))
            n, seed = int(ds["n"].values[r]), int(ds["seed"].values[r])
            rows.append((n, seed, str(ds["decided_by"].values[r]), t_v, gone, rate))
    return rows


def main(argv) -> None:
    del argv
    if not _WORKDIR.value:
        raise app.UsageError("--workdir is required: a finished threshold job's workdir")
    tol = DEFAULT_TOLERANCES.kink_tol
    print(f"stuck runs of {_WORKDIR.value}; kink_tol {tol:g}\n")
    print("| n | seed | decided_by | t_v | vanishing groups | their kink rate | above kink_tol |")
    print("|---|---|---|---|---|---|---|")
    rows = stuck_rows(_WORKDIR.value)
    for n, seed, why, t_v, gone, rate in rows:
        if gone:
            print(f"| {n} | {seed} | {why} | {t_v:.3g} | {gone} | {rate:.2g} | {rate > tol} |")
    print(f"\n{sum(not row[4] for row in rows)} other stuck runs have no vanishing group.")


if __name__ == "__main__":
    app.run(main)
