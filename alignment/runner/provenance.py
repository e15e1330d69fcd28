"""What wrote a result: a hash of the resolved config, the package version, the code's hash and
(where available) the git revision. Every chunk file and checkpoint carries these, so that a
rerun never mixes results of another config or of other code (``workdir.py`` decides what to do).
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path

import alignment

PACKAGE_DIR = Path(alignment.__file__).resolve().parent
# fields of every job that change no chunk's results (snapshots_per_call: tests/test_resume.py);
# a job adds its own (Job.neutral_fields: fields only its report reads)
NEUTRAL_FIELDS = ("make_figures", "snapshots_per_call")
# stamp fields that record where a result came from but do not decide whether it can be reused:
# code_hash already names the code, so a commit that leaves alignment/ alone (docs, benchmarks)
# keeps a half-run chunk's checkpoint, as it keeps the finished chunk files (workdir.py)
RECORDED_ONLY = ("git_revision",)


def relevant_config(cfg_dict: dict, neutral=NEUTRAL_FIELDS) -> dict:
    """The config's fields that can change a chunk's results (all but ``neutral``)."""
    return {k: v for k, v in cfg_dict.items() if k not in neutral}


def config_hash(cfg_json: str, neutral=NEUTRAL_FIELDS) -> str:
    """sha256 (first 16 hex digits) of the result-relevant fields of a resolved config."""
    fields = relevant_config(json.loads(cfg_json), neutral)
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def first_difference(old: dict, new: dict, prefix: str = "") -> str | None:
    """The first (sorted) dotted field whose value differs, or None when equal."""
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            inner = first_difference(a, b, f"{prefix}{key}.")
            if inner is not None:
                return inner
        elif a != b:
            return f"{prefix}{key} ({a!r} there, {b!r} now)"
    return None


@functools.cache
def code_hash() -> str:
    """sha256 (first 16 hex digits) of every source file of the ``alignment`` package: any edit
    of the code that computes results changes it (installed or not, git or not)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def git_revision() -> str:
    """The checkout's git revision (``+dirty`` with uncommitted changes), or '' without git."""

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args],
            cwd=PACKAGE_DIR.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()

    try:
        rev, dirty = git("rev-parse", "HEAD"), git("status", "--porcelain", "-uno")
    except (OSError, subprocess.SubprocessError):
        return ""
    return rev + ("+dirty" if dirty else "")


def stamp(cfg_json: str, neutral=NEUTRAL_FIELDS) -> dict[str, str]:
    """The provenance attributes of a chunk or checkpoint written now under this config."""
    return {
        "config_hash": config_hash(cfg_json, neutral),
        "code_hash": code_hash(),
        "package_version": alignment.__version__,
        "git_revision": git_revision(),
    }
