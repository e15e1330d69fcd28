"""JAX's persistent compilation cache: on by default, in the per-user cache folder.

A program compiled once is loaded by later runs, resumed runs, other tasks of an array and the
worker processes of one run (``runner/workers.py``) that share the folder, instead of being
compiled again. The entry points call :func:`use_compilation_cache` with :func:`cache_dir` of
their ``--compilation_cache_dir`` flag before any compute.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jax
from absl import logging

CACHE_ENV = "ALIGNMENT_COMPILATION_CACHE"  # a folder, or off / none / 0: no cache
CACHE_OFF = ("", "0", "off", "none", "false", "no")


def cache_dir(flag: str | None = None) -> str | None:
    """The persistent compilation cache's folder, on by default (None: off).

    In order: the entry point's flag (a folder; ``off``: none), ``$ALIGNMENT_COMPILATION_CACHE``
    (the same), JAX's own ``$JAX_COMPILATION_CACHE_DIR``, else the platform's per-user cache
    folder + ``alignment/jax``: ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux,
    ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows. Tasks may share it: JAX
    writes each program once under its own key, and an entry it cannot read (one being
    written by another task) is compiled again, with a warning, not used.
    """
    for value in (flag, os.environ.get(CACHE_ENV)):
        if value is not None:
            return None if str(value).strip().lower() in CACHE_OFF else str(value)
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return os.environ["JAX_COMPILATION_CACHE_DIR"]
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return str(base / "alignment" / "jax")


def use_compilation_cache(path: str | os.PathLike | None) -> None:
    """Switches on JAX's persistent compilation cache in ``path`` (no-op for None or "").

    JAX itself also reads the environment variable JAX_COMPILATION_CACHE_DIR. A cached program
    is loaded instead of compiled again: by later runs, resumed runs and other tasks of an
    array that share the folder.
    """
    if path:
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
        # every program, not only those over JAX's default 1 s: the small ones (lane gathers,
        # padding, statistics) add up to seconds compiled and load in milliseconds
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        logging.info("persistent compilation cache in %s", path)
