"""Which job a config runs: the threshold sweep (family two_layer), the mean-field job or the
classifier job.

The entry points (``sweeps.run``, ``sweeps.merge``, ``sweeps.launch``) go through here, so the
same commands, workdir rules and checkpoints serve every job; the config's ``family`` decides.
"""

from __future__ import annotations

from alignment.classifier import job as classifier_job
from alignment.classifier import report as cls_report
from alignment.mean_field import job as mean_field_job
from alignment.mean_field import report as mf_report
from alignment.runner import driver as sweep
from alignment.two_layer import report

JOBS = {
    "mean_field": (mean_field_job.JOB, mf_report),
    "classifier": (classifier_job.JOB, cls_report),
}


def _entry(cfg):
    return JOBS.get(cfg.get("family"), (sweep.THRESHOLD_JOB, report))


def job_for(cfg) -> sweep.Job:
    return _entry(cfg)[0]


def check_config(cfg) -> list:
    """The config's chunks; ValueError names the first problem (before any compute)."""
    return job_for(cfg).check_config(cfg)


def finish(cfg, workdir) -> dict:
    """The merged outputs and the job's report (n* per group, or the job's claims)."""
    return _entry(cfg)[1].finish(cfg, workdir)
