"""Which job a config runs: the threshold sweep (families two_layer) or the mean-field job.

The entry points (``sweeps.run``, ``sweeps.merge``, ``sweeps.launch``) go through here, so the
same commands, workdir rules and checkpoints serve both; the config's ``family`` decides.
"""

from __future__ import annotations

from alignment import mean_field_job, mf_report, report, sweep


def is_mean_field(cfg) -> bool:
    return cfg.get("family") == "mean_field"


def job_for(cfg) -> sweep.Job:
    return mean_field_job.JOB if is_mean_field(cfg) else sweep.THRESHOLD_JOB


def check_config(cfg) -> list:
    """The config's chunks; ValueError names the first problem (before any compute)."""
    return job_for(cfg).check_config(cfg)


def finish(cfg, workdir) -> dict:
    """The merged outputs and the job's report (n* per group, or the mean-field claims)."""
    return (mf_report if is_mean_field(cfg) else report).finish(cfg, workdir)
