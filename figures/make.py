"""Regenerates every figure of a sweep from its workdir alone (no training).

    python -m figures.make --workdir=runs/threshold_quick
    python -m figures.make --workdir=DIR --only=loss_vs_n,p_of_n --formats=png

Reads config.json, summary.csv, threshold.json, trajectories.nc and (for neuron directions) the
chunk files, and writes DIR/figures/NAME.{png,pdf} (plus NAME.gif animations) and
DIR/figures/index.md, which lists every figure with its caption and every figure that the data
could not support, with the reason. The main job (``python -m sweeps.run``) calls this at the end.

Figures (each only where the data supports it):
  loss_vs_n_SWEEP      train and test MSE against n: per-seed points, medians, OLS, sigma^2, n*
  p_of_n_SWEEP         p(n) = P(interpolating) with the logistic fit and n*'s interval
  nstar_vs_d           n* against d (log-log) with the fitted power law, when d was swept
  nstar_vs_AXIS        n* against sigma, lam, m or lr, when one was swept with the others fixed
  directions_SWEEP_rRUN_polar   neurons over time, polar picture (2-D neuron vectors) + GIF
  directions_SWEEP_rRUN_cos     distribution of cos(u_j, beta_hat) against time
  loss_vs_time_SWEEP   loss against time (log-log) with alignment and escape times
  phase_n_lam_SWEEP, phase_n_lr_SWEEP   interpolation probability over n x lambda (n x eta)
  nstar_vs_time_SWEEP  n*(T) against T beside the certified n* and its both-ways interval
  decided_by_SWEEP     every run (n, seed) coloured by the criterion that decided its verdict

Those are the threshold job's (figures/two_layer.py). A mean-field job's workdir (config family
mean_field) gets that job's figures instead (figures/mean_field.py: mf_dynamics,
mf_gamma_collapse, mf_v_gamma, mf_train_vs_gamma, mf_pure_noise, mf_lazy_cross), a classifier
job's the classifier figures (figures/classifier.py: cls_radius_vs_error, cls_dynamics,
cls_stability, cls_removal, cls_overlap). The job names the module (``Job.figures``).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import ml_collections
from absl import app, flags, logging

from alignment import registry
from alignment.runner import cli, results
from alignment.runner import workdir as workdir_mod
from figures import style as plotting

SUPPORTED_FORMATS = ("png", "pdf", "svg")


def make_all(workdir, only=None, formats=plotting.FORMATS) -> list[Path]:
    """Writes every figure the stored results support into WORKDIR/figures; returns the paths.

    ``only``: names from the job's ``FIGURES`` (default: all). Figures the data cannot support are
    skipped with a log line and listed in figures/index.md with the reason.
    """
    figures, st = _figures_of(workdir)
    out = Path(workdir) / results.FIGURES
    out.mkdir(parents=True, exist_ok=True)
    names = list(figures) if only is None else list(only)
    unknown = sorted(set(names) - set(figures))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {', '.join(figures)}")
    paths, captions, skipped = [], {}, {}
    with plotting.style():
        for name in names:
            p, c, s = figures[name](st, out, tuple(formats))
            paths += p
            captions |= c
            skipped |= s
    for name, why in skipped.items():
        logging.info("figure %s skipped: %s", name, why)
    results.write_text(out / "index.md", _index(st, captions, skipped))
    logging.info("%d figure files in %s", len(paths), out)
    return paths


def _figures_of(workdir) -> tuple[dict, object]:
    """The figures of the workdir's job (``Job.figures`` names their module) and its data."""
    path = Path(workdir) / results.CONFIG
    cfg = ml_collections.ConfigDict(json.loads(path.read_text()) if path.exists() else {})
    module = importlib.import_module(registry.job_for(cfg).figures)
    return module.FIGURES, module.load(workdir)


def _index(st, captions: dict[str, str], skipped: dict[str, str]) -> str:
    lines = [f"# Figures of `{st.config.get('name', st.workdir.name)}`", ""]
    lines += [f"- **{name}**: {text}" for name, text in captions.items()]
    if skipped:
        lines += ["", "Not made (the data cannot support them):", ""]
        lines += [f"- {name}: {why}" for name, why in skipped.items()]
    return "\n".join(lines) + "\n"


FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined only when run as a command: importing stays flag-free)."""
    flags.DEFINE_string("workdir", None, "A finished sweep's output folder.", required=True)
    flags.DEFINE_list(
        "only", None, "Figures to make (default: all; --workdir=DIR --help lists DIR's)."
    )
    flags.DEFINE_list("formats", list(plotting.FORMATS), "Image formats (png, pdf, svg).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    with cli.user_errors("cannot make figures"):
        check_request(FLAGS.workdir, FLAGS.only, FLAGS.formats)
    for path in make_all(FLAGS.workdir, FLAGS.only, FLAGS.formats):
        print(path)


def check_request(workdir, only, formats) -> None:
    """Figure names and formats known, the workdir a finished sweep (before any plotting)."""
    bad = sorted(set(formats) - set(SUPPORTED_FORMATS))
    if bad:
        raise ValueError(f"unknown format(s) {bad}; supported: {', '.join(SUPPORTED_FORMATS)}")
    try:
        figures, _ = _figures_of(workdir)  # raises naming the first missing file
    except json.JSONDecodeError as e:
        raise ValueError(f"{Path(workdir) / results.CONFIG} is unreadable ({e})") from None
    unknown = sorted(set(only or ()) - set(figures))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {', '.join(figures)}")
    cfg = ml_collections.ConfigDict(json.loads((Path(workdir) / results.CONFIG).read_text()))
    # every chunk present and readable (figures of neuron directions read them), or one line
    workdir_mod.check_merge(workdir, len(registry.check_config(cfg)))


def figures_help() -> str:
    """What --help prints after the flags: the figures ``--only`` takes for --workdir's job."""
    if not FLAGS.workdir:
        return "Give --workdir=DIR with --help to list the figures of that workdir's job."
    try:
        figures, _ = _figures_of(FLAGS.workdir)
    except (OSError, ValueError) as e:
        return f"(the figures of {FLAGS.workdir} cannot be listed: {e})"
    return f"Figures of {FLAGS.workdir} (--only takes any of them): {', '.join(figures)}"


if __name__ == "__main__":
    define_flags()
    cli.run(main, "rerun it: figures are made anew from the stored results", figures_help)
