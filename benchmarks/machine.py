"""Facts about the machine a benchmark ran on (recorded with every result), the wall time of a
command, and the marked blocks of BENCHMARKS.md that the benchmark scripts rewrite."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import jax

from alignment.runner import results


def machine_info() -> dict:
    """CPU model, core count, JAX version and backend of this process."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text()
        names = re.findall(r"^model name\s*:\s*(.+)$", text, re.M)
        fam = re.findall(r"^cpu family\s*:\s*(\d+)$", text, re.M)
        mod = re.findall(r"^model\s*:\s*(\d+)$", text, re.M)
        if names:
            cpu = names[0].strip() + (f" (family {fam[0]}, model {mod[0]})" if fam and mod else "")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "num_devices": jax.device_count(),
        "python": platform.python_version(),
    }


def timed_run(cmd: list[str]) -> float:
    """Wall seconds of ``cmd`` (exits with its stderr's tail if it fails)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - start


def steps_of(ds) -> dict:
    """A chunk's ``steps_computed`` and ``steps_useful`` (its file's attributes: what the
    vmapped loops executed, what the runs took)."""
    return {k: int(ds.attrs[k]) for k in ("steps_computed", "steps_useful")}


def chunk_steps(workdir) -> list[dict]:
    """:func:`steps_of` each finished chunk, in chunk order."""
    chunks = results.finished_chunks(Path(workdir))
    return [steps_of(results.load_chunk(Path(workdir), index)) for index in chunks]


def load_avg() -> list[float]:
    """1, 5 and 15 minute load averages (other processes share this machine)."""
    return [round(x, 2) for x in os.getloadavg()]


def replace_block(path, begin: str, end: str, body: str) -> None:
    """Replaces the text between the markers of ``path`` (appends them if missing)."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    results.write_text(path, text)


def publish(tag: str, body: str) -> None:
    """Writes ``body`` into BENCHMARKS.md between the markers of ``tag`` and prints it."""
    replace_block("BENCHMARKS.md", f"<!-- BEGIN {tag} -->", f"<!-- END {tag} -->", body)
    print(body)
