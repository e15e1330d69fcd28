"""Run verdicts (interpolating / stuck / saddle / undetermined / diverged) from a run's record.

Pure numpy on host arrays: this reads finished trajectories and the family's end-state
certificates, it never trains. Everything that ends up in ``threshold.json`` is made of plain
floats, ints, strings, bools, lists and None.

Verdicts (DESIGN.md section 2, "Verdicts"), on the final snapshot of each run, with ``L`` the
train loss (1/2n) sum (h - y)^2 and ``g`` the stationarity speed (gradient norm or displacement):

- ``diverged``: flagged by the trainer; never given another verdict.
- ``interpolating``: finite ``L_final < max(abs_tol, rel_tol * scale)``, ``scale`` a loss scale
  such as the initial loss (1/2n) sum y^2.
- ``stuck``: certified to stay above that tolerance, by all three of
  1. *region*: the region minimum (``certificates.py``) is above the tolerance and
     ``(L - region_min) / L < gap_tol``;
  2. *no escape*: no small alive neuron's growth rate kappa climbs above ``kappa_tol``,
     neither at the run nor at the region minimum (``polish_kappa``, where the polished point
     holds);
  3. *stationary*: (a) ``t_final * g_final^2 / L_final < grad_tol`` -- along gradient flow
     dL/dt = -g^2, so this is -d log L / d log t, the relative loss decrease per e-fold of time
     at the end, the gradient against the scale sqrt(L / t) set by the loss and the time spent;
     (b) *flat over the last decade*: ``max |L(t) - L_final| / L_final < flat_tol`` over every
     snapshot with t in [t_anchor, t_final], t_anchor the latest positive snapshot time at or
     before t_final / 10 (a record that does not span a decade cannot be called stuck).
  4. *no way down across a kink*: at the region minimum, no move of a group across the data
     points on its hyperplane, one or several at once (``kink_max``), nor, for a cluster of two
     or more neurons, a split (``split_max``), lowers the loss faster than ``kink_tol``
     (``kinks.kink_test``).
  A family without certificates is called stuck on 3 alone (``decided_by`` = 'stationary').
  Criteria 1, 2 and 4 together certify that the run is within ``gap_tol`` of a local minimum
  of the whole loss (it cannot fall further inside its region, nor leave it at that minimum):
  such a run whose speed is small now (3a) is stuck even while its last decade still shows the
  approach (``decided_by`` = 'at_minimum'), and so is a faster one that lies in the
  neighbourhood of that minimum, certified again at the minimum itself ('polished', ``polish.py``);
  otherwise it needs all of 3 ('certified').
- ``saddle``: 1 or 3 holds but the flow has a way down: a neuron escapes (2 fails, 'escape',
  unless the polished point absorbs its growth), or crossing or splitting at a kink lowers the
  loss (4 fails, 'kink', 'split'); continue.
- ``undetermined``: anything else (still moving, a region minimum ~0 so that it may still
  interpolate in place -- 'on_its_way' while its loss falls, with ``interp_time`` the time
  its last quarter decade's power-law decay reaches the tolerance --, a loss above its region's
  minimum, or too short a record). A final loss that is not finite is missing information, so
  such a run is undetermined, never interpolating (the trainer freezes a diverging lane at
  finite values and flags it instead).

Every finite open run is certified (``needs_certificates``), moving or not; a GD run's record
says the largest eta * lambda_max it saw (``max_step_sharpness``, ``faithful``: below 2).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from alignment.two_layer.verdict import certificates, forecast, kinks, polish
from alignment.two_layer.verdict.tolerances import DEFAULT_TOLERANCES, VerdictTolerances, interp_tol

VERDICTS = ("interpolating", "stuck", "saddle", "undetermined", "diverged")
OPEN = ("undetermined", "saddle")  # say nothing yet about the flow's end: such runs continue
# per-run evidence of a verdict, in summary.csv and the chunk files (NaN where absent)
EVIDENCE = (
    "decided_by",
    "grad_slope",
    "flat_change",
    "region_min",
    "region_gap",
    "region_groups",
    "interp_time",
    "settle_time",
    *certificates.ESCAPE_KEYS,
    *kinks.KINK_KEYS,
    *polish.POLISH_KEYS,
    "max_step_sharpness",
    "faithful",
    "budget_stop",  # the verdict loop's: stopped at a round's step budget (round_steps)
)
# GD follows gradient flow only while eta * lambda_max stays below this (a quadratic's edge)
GD_STABLE = 2.0


def _as_runs_by_snapshots(times, loss, grad_norm):
    """(R, K) float arrays; times may be (K,) shared by every run."""
    loss = np.atleast_2d(np.asarray(loss, dtype=np.float64))
    grad_norm = np.atleast_2d(np.asarray(grad_norm, dtype=np.float64))
    times = np.broadcast_to(np.asarray(times, dtype=np.float64), loss.shape)
    if loss.ndim != 2 or grad_norm.shape != loss.shape:
        raise ValueError(
            f"loss and grad_norm must both be (R, K), got {loss.shape} and {grad_norm.shape}"
        )
    if loss.shape[1] == 0:
        raise ValueError("need at least one snapshot")
    return times, loss, grad_norm


def verdict_diagnostics(
    times_RxK, loss_RxK, grad_norm_RxK, y_scale_R, tol=DEFAULT_TOLERANCES
) -> dict[str, np.ndarray]:
    """The numbers a verdict is made of, per run (R,) float/bool arrays.

    ``final_time``, ``final_loss``, ``final_grad_norm``: at the latest snapshot (the last column
    among duplicates of the largest time; non-finite times are treated as absent snapshots).
    ``loss_tol``: the interpolation tolerance. ``grad_slope``: t g^2 / L at the end.
    ``spans_decade``: a positive snapshot time <= t_final / 10 exists. ``flat_change``: the
    largest relative deviation from L_final over the last decade (inf when a loss there is not
    finite or the record does not span a decade).
    """
    times, loss, grad = _as_runs_by_snapshots(times_RxK, loss_RxK, grad_norm_RxK)
    R, K = loss.shape
    scale = np.broadcast_to(np.asarray(y_scale_R, dtype=np.float64), (R,))
    valid = np.isfinite(times)
    t_max = np.max(np.where(valid, times, -np.inf), axis=1)
    is_last = valid & (times == t_max[:, None])
    # Last column holding the largest time: argmax on the reversed boolean rows.
    k_final = K - 1 - np.argmax(is_last[:, ::-1], axis=1)
    rows = np.arange(R)
    has_any = valid.any(axis=1)
    t_f = np.where(has_any, t_max, np.nan)
    l_f = np.where(has_any, loss[rows, k_final], np.nan)
    g_f = np.where(has_any, grad[rows, k_final], np.nan)
    loss_tol = interp_tol(scale, tol)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        grad_slope = t_f * g_f**2 / l_f
        grad_slope = np.where(np.isfinite(grad_slope) & (l_f > 0), grad_slope, np.inf)
        anchor_ok = valid & (times > 0) & (times <= t_f[:, None] / 10 * (1 + tol.decade_slack))
        spans = anchor_ok.any(axis=1)
        t_anchor = np.max(np.where(anchor_ok, times, -np.inf), axis=1)
        window = valid & (times >= t_anchor[:, None])
        dev = np.abs(loss - l_f[:, None]) / l_f[:, None]
        dev = np.where(np.isfinite(dev), dev, np.inf)
        flat = np.max(np.where(window, dev, 0.0), axis=1)
        t_recent, l_recent = forecast.recent_anchor(times, loss, valid, t_f, tol.decade_slack)
    flat = np.where(spans & np.isfinite(l_f) & (l_f > 0), flat, np.inf)
    return {
        "final_time": t_f,
        "final_loss": l_f,
        "final_grad_norm": g_f,
        "loss_tol": loss_tol,
        "grad_slope": grad_slope,
        "spans_decade": spans,
        "flat_change": flat,
        "interp_time": forecast.interpolation_time(t_f, l_f, t_recent, l_recent, loss_tol),
        "recent_time": t_recent,
        "recent_loss": l_recent,
    }


class Record(NamedTuple):
    """A run's record as the verdict reads it (host arrays, R runs, K snapshots)."""

    time_RxK: np.ndarray  # or (K,) shared by every run; may repeat and start at 0
    loss_RxK: np.ndarray
    speed_RxK: np.ndarray  # the stationarity speed: displacement speed or |grad L|
    scale_R: np.ndarray  # the loss scale of each run (e.g. its initial loss)
    diverged_R: np.ndarray | None = None  # flagged by the trainer
    gd_sharpness_R: np.ndarray | None = None  # eta * lambda_max of GD runs, NaN/None elsewhere
    max_gd_sharpness_R: np.ndarray | None = None  # its largest value over the record


def judge(record: Record, certs: dict | None, tol: VerdictTolerances = DEFAULT_TOLERANCES):
    """(verdict (R,) str from :data:`VERDICTS`, details) of every run (rules: module doc).

    ``certs``: the family's end-state certificates (``region_min``, ``kappa_max``, ... (R,),
    NaN where not computed). ``details`` holds every number the verdict read, ``decided_by``
    (the criterion that decided it) and :func:`evidence` picks its columns for the outputs.
    """
    d = verdict_diagnostics(record.time_RxK, record.loss_RxK, record.speed_RxK, record.scale_R, tol)
    l_f = d["final_loss"]
    R = l_f.shape[0]
    diverged = np.zeros(R, bool) if record.diverged_R is None else record.diverged_R
    diverged = np.asarray(np.broadcast_to(diverged, (R,)), bool)
    finite = np.isfinite(l_f)
    interp = finite & (l_f < d["loss_tol"])
    flat = d["flat_change"] < tol.flat_tol
    stationary = finite & d["spans_decade"] & (d["grad_slope"] < tol.grad_tol) & flat
    cert = certificates.criteria(d, certs, tol)
    # a small neuron growing now near a region minimum (its neighbourhood) where none grows
    # (polish_kappa): its growth lasts until the large neurons arrive, it is not a way down
    heads = polish.heads_there(certs, R, tol)
    cert["escapes"] &= ~(cert["region_ok"] & heads)
    # and the reverse: no small neuron grows now, but one grows at the region minimum the run
    # is within the gap of (polish_kappa), so that minimum is a saddle of the whole loss
    cert["escapes"] |= cert["region_ok"] & polish.grows_there(certs, R, tol)
    # the flow has a way down. A split's gain never exceeds the kink gain at the same point
    # (kink = z + split, z >= 0), so splits imply kinks: 'split' only names the way down
    leaves = cert["escapes"] | cert["kinks"]
    # with certificates: stuck needs all three criteria and no way down across a kink;
    # without (a family that has none): stationarity alone ('stationary' in decided_by)
    stuck_ok = np.where(cert["certified"], cert["region_ok"], True) & ~leaves
    stuck_ok &= ~cert["qp_failed"]
    # within gap_tol of a region minimum certified a local minimum of the whole loss (no way
    # down across a kink, no escape) and slow now (t g^2 / L < grad_tol): stuck, even while
    # its last decade still shows the approach. Without the speed test 2 of 22 such runs of
    # threshold_quick were passing by on their way down (lost > 90% continued 10x longer).
    slow = d["grad_slope"] < tol.grad_tol
    at_minimum = cert["certified"] & cert["region_ok"] & ~leaves & ~cert["qp_failed"] & slow
    # or not slow, but in that minimum's neighbourhood (no other kink between them), which
    # certifies again at the polished point (polish.py)
    near = cert["certified"] & cert["region_ok"] & ~leaves & ~cert["qp_failed"]
    polished = near & heads
    stuck = finite & ~interp & ((stationary & stuck_ok) | at_minimum | polished)
    saddle = finite & ~interp & leaves & (cert["region_ok"] | stationary)
    out = np.full(R, "undetermined", dtype=object)
    out[saddle] = "saddle"
    out[stuck] = "stuck"
    out[interp] = "interpolating"
    out[diverged] = "diverged"
    out = out.astype(str)
    edge = np.zeros(R, bool)
    if record.gd_sharpness_R is not None:
        with np.errstate(invalid="ignore"):
            edge = np.asarray(record.gd_sharpness_R, np.float64) >= tol.gd_edge
    d = d | {k: cert[k] for k in ("region_min", "region_gap", "region_ok", "escapes", "kinks")}
    d["slow"] = slow
    d["settle_time"] = forecast.settling_time(d, cert["region_min"], tol.gap_tol)
    d |= faithfulness(record, R)
    why = certificates.decided_by(out, d, stationary, cert, diverged, edge)
    return out, d | {"stationary": stationary, "decided_by": why, "certs": certs or {}}


def faithfulness(record: Record, R: int) -> dict[str, np.ndarray]:
    """``max_step_sharpness``: the largest eta * lambda_max a GD run's record holds (NaN for
    other integrators); ``faithful``: it stayed below :data:`GD_STABLE`, where GD follows
    gradient flow (1.0 where it is not GD: the flow integrator controls its own error)."""
    peak = record.max_gd_sharpness_R
    peak = np.full(R, np.nan) if peak is None else np.asarray(peak, np.float64)
    with np.errstate(invalid="ignore"):
        faithful = np.where(np.isfinite(peak), peak < GD_STABLE, True)
    return {"max_step_sharpness": peak, "faithful": faithful.astype(np.float64)}


def evidence(details: dict) -> dict[str, np.ndarray]:
    """The per-run evidence columns of a verdict (every key of :data:`EVIDENCE`, NaN where
    absent): the diagnostics' and the certificates' numbers."""
    R = len(details["decided_by"])
    certs = details["certs"]
    own = ("decided_by", "grad_slope", "flat_change", "region_gap", "interp_time", "settle_time")
    own += ("max_step_sharpness", "faithful")  # faithfulness()
    out = {k: details[k] for k in own}
    out |= {k: np.asarray(certs[k]) for k in EVIDENCE if k in certs}
    return {k: out.get(k, np.full(R, np.nan)) for k in EVIDENCE}


def needs_certificates(record: Record, tol: VerdictTolerances = DEFAULT_TOLERANCES):
    """(R,) bool: the runs a certificate can say something about: finite, not interpolating
    and not diverged, whether flat or still moving (a moving run's region minimum says where
    it is headed: ~0, on its way to interpolation; above the tolerance, how far it can fall)."""
    d = verdict_diagnostics(record.time_RxK, record.loss_RxK, record.speed_RxK, record.scale_R, tol)
    interp = np.isfinite(d["final_loss"]) & (d["final_loss"] < d["loss_tol"])
    diverged = False if record.diverged_R is None else np.asarray(record.diverged_R, bool)
    return np.isfinite(d["final_loss"]) & ~interp & ~diverged


def verdicts(
    times_RxK,
    loss_RxK,
    grad_norm_RxK,
    y_scale_R,
    *,
    diverged_R=None,
    certs=None,
    gd_sharpness_R=None,
    details: bool = False,
    **tolerances: float,
):
    """:func:`judge` on arrays, with ``tolerances`` as keyword fields of
    :class:`VerdictTolerances` (TypeError on an unknown name); (verdicts, details) with
    ``details``, else the verdicts."""
    tol = VerdictTolerances(**tolerances)
    record = Record(times_RxK, loss_RxK, grad_norm_RxK, y_scale_R, diverged_R, gd_sharpness_R)
    out, d = judge(record, certs, tol)
    return (out, d) if details else out


def verdict(times_K, loss_K, grad_norm_K, y_scale, *, diverged: bool = False, **tol) -> str:
    """Verdict of one run (see :func:`verdicts`; ``tol`` as its keyword tolerances)."""
    return str(
        verdicts(
            np.asarray(times_K)[None],
            np.asarray(loss_K)[None],
            np.asarray(grad_norm_K)[None],
            np.asarray([y_scale]),
            diverged_R=np.asarray([diverged]),
            **tol,
        )[0]
    )


def outcomes(verdicts_R) -> tuple[np.ndarray, np.ndarray]:
    """(interpolating_R, determined_R) booleans: determined = interpolating or stuck (a saddle
    says gradient flow goes on, not where it ends)."""
    v = np.asarray(verdicts_R).astype(str)
    return v == "interpolating", (v == "interpolating") | (v == "stuck")
