"""The mean-field job as the registry runs it: its schema, chunks, chunk task and report."""

from __future__ import annotations

from alignment.mean_field import chunks, config, report
from alignment.runner.job import Job

JOB = Job(
    name="mean_field",
    schema=config.get_config,
    check_config=chunks.check_config,
    expand=chunks.expand,
    chunk_task=chunks.Task,
    call_length=chunks.call_length,
    finish=report.finish,
    figures="figures.mean_field",
    # only the report's claims read these (how it reads the finished chunks)
    neutral_fields=("near_min_level", "collapse_level", "plateau_level", "interp_level"),
)
