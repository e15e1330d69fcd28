"""Helpers of the tests that run the commands in subprocesses and interrupt them."""

import os


def signature(path):
    """Changes whenever the file is rewritten (every save is a new file renamed into place)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns
