"""Test setup: 4 emulated CPU devices (sharding tests) and float64 enabled, before JAX starts.

The suite shares one persistent compilation cache, new for each session (a temporary folder,
removed at its end), with every subprocess it starts: the programs that each test module
drops and the commands' subprocesses compile again are loaded from it instead. pytest-xdist's
workers (one per core, pyproject's addopts) start after this file set the variable in the
controlling process, so they share its cache too.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="alignment-tests-jax-cache-")
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"  # every program, not >1 s

import gc  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

import alignment  # noqa: E402,F401  (enables float64 at import)


@pytest.fixture(autouse=True, scope="module")
def _release_programs():
    """Drops every compiled program after each test module.

    One process compiles hundreds of programs over the suite; XLA:CPU keeps each executable's
    code mapped while a cache refers to it, and past ~55k memory maps (the kernel allows 65530)
    a late compile segfaulted. ``jax.clear_caches`` drops every executable JAX holds, including
    those behind the package's cached jit wrappers, which then recompile on their next call.
    """
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture(scope="session")
def micro_reference(tmp_path_factory):
    """The micro sweep run once, uninterrupted: (its compared outputs, every checkpoint save
    count in order, its workdir). Shared by the resume and workdir tests."""
    from micro import finish, micro_config

    from alignment import registry

    path = tmp_path_factory.mktemp("uninterrupted")
    cfg, saves = micro_config(), []
    registry.run(cfg, path, after_save=saves.append)
    return finish(cfg, path), saves, path
