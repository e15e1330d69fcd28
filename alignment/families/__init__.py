"""Model families: one module each (DESIGN.md section 5); ``base.Family`` is the interface.

A family is a frozen dataclass holding what is static about its runs (shapes, names, data
model); the trainer (``alignment/train.py``) calls it per lane and never looks inside.
"""
