"""Test setup: 4 emulated CPU devices (sharding tests) and float64 enabled, before JAX starts."""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import alignment  # noqa: E402,F401  (enables float64 at import)
