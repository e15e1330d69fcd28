"""Verdicts of a chunk's runs as they train: the stationarity speed, the certificates, evidence.

The *stuck* test needs the run to be at an approximate stationary point. At a ReLU kink GD
zig-zags: the loss is flat and the parameters stand still, but the one-sided gradient stays
finite. With ``speed='displacement'`` (default) the verdict reads the parameters' mean speed
between the last two snapshots, ``|theta(t_k) - theta(t_{k-1})| / (t_k - t_{k-1})`` (the
trainer records the displacement for every run), which equals the gradient norm along gradient
flow at a smooth point and vanishes at a kink where GD no longer moves.
"""

from __future__ import annotations

import jax
import numpy as np

from alignment.two_layer import verdicts

CONTINUE = ("undetermined", "saddle")  # verdicts that say nothing yet about the flow's end


def verdict_tolerances(cfg) -> dict:
    """The verdict tolerances of a config, as keyword arguments of verdicts.verdicts."""
    return {k: float(v) for k, v in cfg.verdict.items()}


def forward_fill(v_RxK: np.ndarray) -> np.ndarray:
    """NaN entries replaced by the last finite value to their left (NaN before any)."""
    ok = np.isfinite(v_RxK)
    idx = np.where(ok, np.arange(v_RxK.shape[1])[None, :], 0)
    idx = np.maximum.accumulate(idx, axis=1)
    out = np.take_along_axis(v_RxK, idx, axis=1)
    return np.where(ok.any(axis=1, keepdims=True) & (np.cumsum(ok, axis=1) > 0), out, np.nan)


def displacement_speed(time_RxK, displacement_RxK) -> np.ndarray:
    """|theta(t_k) - theta(t_{k-1})| / (t_k - t_{k-1}) per run and snapshot, shape (R, K).

    Snapshots that repeat the previous time (padded calls) or are absent (NaN: the run left)
    carry the last speed forward; the first snapshot is NaN.
    """
    time_RxK = np.asarray(time_RxK, np.float64)
    out = np.full(time_RxK.shape, np.nan)
    dt = np.diff(time_RxK, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.asarray(displacement_RxK, np.float64)[:, 1:]
        out[:, 1:] = np.where(dt > 0, step / dt, np.nan)
    return forward_fill(out)


def stationarity_speed(cfg, snaps: dict[str, np.ndarray]) -> np.ndarray:
    """What the verdict's gradient test reads: the displacement speed, or |grad L|."""
    if cfg.speed == "displacement":
        return displacement_speed(snaps["time"], snaps["displacement"])
    return np.asarray(snaps["grad_norm"], np.float64)


# per-run evidence of a verdict written to the chunk file and summary.csv (NaN where absent)
EVIDENCE_KEYS = ("decided_by", "grad_slope", "flat_change", "region_min", "region_gap",
                 "region_groups", "kappa_max", "predicted_escape_time", "small_alive",
                 "zero_neurons")  # fmt: skip


class Judge:
    """Verdicts of a chunk's runs with their evidence, updated as live runs continue.

    Each round reads the snapshots so far; the family's certificates (``certify``, if it has
    one) are computed at the current parameters of the runs that are live, not yet
    interpolating and whose loss is flat over the last decade (the only ones that can be stuck
    or a saddle): the QP and the ascent are never spent on runs still moving.
    """

    def __init__(self, cfg, family, num: int):
        self.cfg, self.family = cfg, family
        self.tol = verdict_tolerances(cfg)
        self.certs: dict | None = None
        self.evidence: dict = {}
        self.num = num
        # every step of a run is GD (step_sharpness is then eta * lambda_max, not dt * lambda_max)
        self.all_gd = cfg.get("integrator") == "gd" and cfg.get("continue_integrator") == "same"

    def _verdicts(self, snaps, diverged):
        edge = None
        if self.all_gd and "step_sharpness" in snaps:  # eta * lambda_max of GD runs
            edge = forward_fill(np.asarray(snaps["step_sharpness"], np.float64))[:, -1]
        return verdicts.verdicts(
            snaps["time"], snaps["loss"], stationarity_speed(self.cfg, snaps),
            snaps["loss"][:, 0], diverged_R=diverged, certs=self.certs, gd_sharpness_R=edge,
            details=True, **self.tol,
        )  # fmt: skip

    def __call__(self, snaps, state, ctx, live) -> np.ndarray:
        diverged = forward_fill(np.asarray(snaps["diverged"], np.float64))[:, -1] > 0
        verdict, diag = self._verdicts(snaps, diverged)
        certify = getattr(self.family, "certify", None)
        if certify is not None:
            cand = live & (diag["flat_change"] < self.tol["flat_tol"])
            cand &= (verdict != "interpolating") & ~diverged
            params, fctx = jax.device_get((state.params, ctx.family))
            new = certify(params, fctx, np.flatnonzero(cand), kappa_tol=self.tol["kappa_tol"])
            if self.certs is None:
                self.certs = new
            for k, v in new.items():  # live runs not certified now: stale, dropped
                self.certs[k] = np.where(cand, v, np.where(live, np.nan, self.certs[k]))
            verdict, diag = self._verdicts(snaps, diverged)
        self.evidence = {k: diag[k] for k in ("decided_by", "grad_slope", "flat_change",
                                               "region_gap")}  # fmt: skip
        self.evidence |= {k: v for k, v in (self.certs or {}).items()}
        return verdict

    def columns(self, keep) -> dict[str, np.ndarray]:
        """Evidence per run (the chunk's real runs ``keep``), every key of EVIDENCE_KEYS."""
        nan = np.full(self.num, np.nan)
        return {k: np.asarray(self.evidence.get(k, nan))[keep] for k in EVIDENCE_KEYS}

    def to_tree(self) -> dict:
        """What a checkpoint keeps of the judge: the certificates and the evidence."""
        return {"certs": dict(self.certs or {}), "evidence": dict(self.evidence)}

    def restore(self, tree: dict) -> None:
        """The judge as :meth:`to_tree` saved it."""
        self.certs = dict(tree.get("certs", {})) or None
        self.evidence = dict(tree.get("evidence", {}))
