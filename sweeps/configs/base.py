"""The base sweep config of the threshold job (every field, with its meaning): defined in
``alignment/two_layer/config.py``."""

from alignment.two_layer.config import get_config

__all__ = ["get_config"]
