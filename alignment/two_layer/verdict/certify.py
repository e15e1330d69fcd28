"""Every certificate of one run's end state: the escape test, the region minimum with its kink
test (``certificates.py``) and the polish test at that minimum (``polish.py``)."""

from __future__ import annotations

from alignment.two_layer.verdict import certificates, kinks, polish

# certify_run(): region minimum (and its number of (pattern, sign) groups, whether the QP
# solved), the escape test's largest growth rate, predicted escape time, neurons tested and
# neurons that are exactly zero (underflow), the kink test at the region minimum and the polish
# test there (polish.py)
CERT_KEYS = (
    "region_min",
    "region_groups",
    "region_solved",
    *certificates.ESCAPE_KEYS,
    *kinks.KINK_KEYS,
    *polish.POLISH_KEYS,
)


def certify_run(theta_MxD, a_M, x_NxD, y_N) -> dict[str, float]:
    """Every certificate of one run (:data:`CERT_KEYS`).

    The region QP and the polish test run even where a small neuron grows now (kappa_max >
    ``kappa_tol``): a neuron whose pattern is a large group's grows only until that group
    reaches its minimum, where the residual no longer correlates with it (``polish_kappa``),
    and only the polished point tells the two cases apart."""
    esc = certificates.escape_test(theta_MxD, a_M, x_NxD, y_N)
    out = {k: float(esc[k]) for k in ("kappa_max", "small_alive", "zero_neurons")}
    out["predicted_escape_time"] = float(esc["escape_time"])
    region = certificates.region_minimum(theta_MxD, a_M, x_NxD, y_N)
    solved = region["qp_status"] in ("Solved", "empty")
    polished = polish.polish_test(theta_MxD, a_M, x_NxD, y_N, region) if solved else polish.NONE
    return out | {
        "region_min": region["region_min"],
        "region_groups": float(region["groups"]),
        "region_solved": float(solved),
        "kink_max": region["kink_max"],
        "split_max": region["split_max"],
        **polished,
    }
