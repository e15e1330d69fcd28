"""The base sweep config (every field, with its meaning): defined in ``alignment/config.py``."""

from alignment.config import get_config

__all__ = ["get_config"]
