"""Each verdict criterion removed or its sign flipped: which test fails, and how fast.

Applies one source edit at a time to a scratch copy of the checkout, runs the verdict tests
there (``-x``, a timeout per mutation) and tabulates the first failing test and the seconds
to it. A mutation that no test catches is a hole in the suite.

    python -m benchmarks.mutations [NAME_PART ...]   (all: about 10 minutes on 2 CPU cores)
"""

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/test_verdicts.py",
    "tests/test_moving_runs.py",
    "tests/test_polish.py",
    "tests/test_kinks.py",
    "tests/test_certificates.py",
    "tests/test_rounds.py",
]
CERTS, VERDICTS = (
    "alignment/two_layer/verdict/certificates.py",
    "alignment/two_layer/verdict/verdicts.py",
)
POLISH = "alignment/two_layer/verdict/polish.py"
KINKS = "alignment/two_layer/verdict/kinks.py"
ROUNDS = "alignment/two_layer/rounds.py"
TRAIN, LOOP = "alignment/engine/train.py", "alignment/two_layer/verdict_loop.py"
# (name, file, text, replacement)
MUTATIONS = [
    ("gap to the region minimum", CERTS, " & (gap < tol.gap_tol)", ""),
    ("region minimum above the tolerance", CERTS, '(region > diag["loss_tol"]) & ', ""),
    ("sign of kappa", CERTS, "return -sign_K * (", "return sign_K * ("),
    (
        "kink rate's sign of r",
        KINKS,
        "l_D = grad_D + (r_K[joins] @ x_KxD[joins]) / n",
        "l_D = grad_D - (r_K[joins] @ x_KxD[joins]) / n",
    ),
    (
        "kink rate's cone sides",
        KINKS,
        "np.where(joins, sign, -sign)[:, None] * x_KxD",
        "np.where(joins, -sign, sign)[:, None] * x_KxD",
    ),
    (
        "kink rate over several points at once",
        KINKS,
        "for joins in side_patterns(base_K):",
        "for joins in side_patterns(base_K)[np.sum(side_patterns(base_K), axis=1) <= 1]:",
    ),
    (
        "split gain's sign of r",
        KINKS,
        "np.max(-sgn * r_on / n / scale)",
        "np.max(sgn * r_on / n / scale)",
    ),
    ("escape makes a way down", VERDICTS, 'cert["escapes"] | cert["kinks"]', 'cert["kinks"]'),
    (
        "kink makes a way down",
        VERDICTS,
        'leaves = cert["escapes"] | cert["kinks"]',
        'leaves = cert["escapes"]',
    ),
    ("split names the way down", CERTS, 'why[saddle & cert["splits"]] = "split"', "pass"),
    (
        "stuck needs stationarity",
        VERDICTS,
        "(stationary & stuck_ok) | at_minimum",
        "stuck_ok | at_minimum",
    ),
    (
        "stationary needs flatness",
        VERDICTS,
        '(d["grad_slope"] < tol.grad_tol) & flat',
        '(d["grad_slope"] < tol.grad_tol)',
    ),
    (
        "stationary needs a small gradient",
        VERDICTS,
        '(d["grad_slope"] < tol.grad_tol) & flat',
        "flat",
    ),
    (
        "at_minimum needs no way down",
        VERDICTS,
        'cert["region_ok"] & ~leaves & ~cert["qp_failed"] & slow',
        'cert["region_ok"] & ~cert["qp_failed"] & slow',
    ),
    (
        "at_minimum needs the gap",
        VERDICTS,
        'at_minimum = cert["certified"] & cert["region_ok"] & ',
        'at_minimum = cert["certified"] & ',
    ),
    (
        "at_minimum needs a small speed",
        VERDICTS,
        ' & ~cert["qp_failed"] & slow',
        ' & ~cert["qp_failed"]',
    ),
    ("faithful GD's cap", "alignment/engine/integrate.py", "jnp.minimum(lr, cap)", "lr"),
    (
        "polished needs the polish test",
        VERDICTS,
        "polished = near & heads",
        "polished = near",
    ),
    (
        "a transient escape needs the polish test",
        VERDICTS,
        'cert["escapes"] &= ~(cert["region_ok"] & heads)',
        'cert["escapes"] &= ~cert["region_ok"]',
    ),
    (
        "polish needs the run in the minimum's neighbourhood",
        POLISH,
        'inside = get["polish_dist"] < 1.0',
        "inside = True",
    ),
    (
        "each group's turn against its own margin",
        POLISH,
        "margin_G = margins(v_to, x_NxD)",
        "margin_G = np.min(margins(v_to, x_NxD))",
    ),
    (
        "a group that grows along its direction does not move",
        POLISH,
        "ratio = np.arccos(np.clip(cos, -1.0, 1.0)) / bound",
        "ratio = np.linalg.norm(v_from - v_to, axis=1) / to_norm / np.sin(bound)",
    ),
    (
        "polish needs no escape at the polished point",
        POLISH,
        'kappa_ok = ~(get["polish_kappa"] > tol.kappa_tol) & ',
        "kappa_ok = ",
    ),
    ("polished neuron along s V*", POLISH, "= sgn * (v / norm)[None, :]", "= (v / norm)[None, :]"),
    (
        "the minimizer nearest the run",
        CERTS,
        "v = nearest_minimum(A, cons, v, v_run)",
        "pass",
    ),
    (
        "past the cap, a run leaving a kink continues",
        ROUNDS,
        "return soon | leaving | (certified & close)",
        "return soon | (certified & close)",
    ),
    (
        "a run leaving a kink continues within the step budget",
        ROUNDS,
        "within_gap & cheap\n",
        "within_gap\n",
    ),
    (
        "past the cap, a settling run needs a certified minimum",
        ROUNDS,
        "return soon | leaving | (certified & close)",
        "return soon | leaving | close",
    ),
    (
        "a run its step budget stopped is not continued",
        ROUNDS,
        "live &= reached(loop.snaps, t0)",
        "pass",
    ),
    (
        "a lane stops below its stop loss",
        TRAIN,
        "return ~(s.loss < stop_below) & (s.step < limit)",
        "return s.step < limit",
    ),
    (
        "a lane stops at its step limit",
        TRAIN,
        "return ~(s.loss < stop_below) & (s.step < limit)",
        "return ~(s.loss < stop_below)",
    ),
    (
        "runs stop at the interpolation tolerance, not above it",
        LOOP,
        "tolerances.interp_tol(scale, tol), -np.inf)",
        "10 * tolerances.interp_tol(scale, tol), -np.inf)",
    ),
]
TESTS_FOR = {
    "alignment/engine/integrate.py": ["tests/test_integrate.py"],
    ROUNDS: ["tests/test_rounds.py"],
    TRAIN: ["tests/test_train.py"],
    LOOP: ["tests/test_stops.py"],
}


def run_one(name, path, old, new, timeout=300):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "src"
        shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(".venv", ".git", "runs"))
        src = (work / path).read_text()
        if src.count(old) != 1:
            return {"mutation": name, "error": f"{old!r} found {src.count(old)} times in {path}"}
        (work / path).write_text(src.replace(old, new))
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
        cmd += TESTS_FOR.get(path, TESTS)
        start = time.perf_counter()
        try:
            out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
            failed = [ln for ln in out.stdout.splitlines() if ln.startswith("FAILED")]
            caught = out.returncode != 0
        except subprocess.TimeoutExpired:
            failed, caught = [f"timeout after {timeout} s"], False
        secs = round(time.perf_counter() - start, 1)
        return {"mutation": name, "caught": caught, "seconds": secs, "first": failed[:1]}


def main() -> None:
    """Every mutation, or (arguments) those whose name contains one of them: their rows replace
    the same mutations' rows of mutations.json."""
    only = sys.argv[1:]
    chosen = [m for m in MUTATIONS if not only or any(w in m[0] for w in only)]
    path = ROOT / "benchmarks" / "mutations.json"
    rows = {r["mutation"]: r for r in (json.loads(path.read_text()) if only else [])}
    for m in chosen:
        rows[m[0]] = run_one(*m)
        print(rows[m[0]], flush=True)
    ordered = [rows[m[0]] for m in MUTATIONS if m[0] in rows]
    path.write_text(json.dumps(ordered, indent=1) + "\n")


if __name__ == "__main__":
    main()
