"""The commands' handling of user mistakes: one line on stderr, exit status 2, no traceback.

Every entry point (``sweeps.run``, ``sweeps.merge``, ``sweeps.launch``, ``figures.make``)
parses its flags with :func:`parse_flags` and runs its checks, all before any compute, inside
:func:`user_errors`. Mistakes raise one of ``USER_ERRORS`` with a message naming the bad value
and what is allowed; compute itself runs outside the guard, so a bug still shows its traceback.
"""

from __future__ import annotations

import contextlib
import sys
from typing import NoReturn

from absl import flags

USER_ERRORS = (ValueError, OSError, KeyError)  # OSError: missing, not a folder, not writable


def fail(message: str) -> NoReturn:
    """Stops the command with a one-line error (exit status 2)."""
    line = " ".join(str(message).split())  # one line, whatever the message held
    sys.stderr.write(f"error: {line}\n")
    sys.exit(2)


def _config_file(argv) -> str:
    given = [a.split("=", 1)[1] for a in argv[1:] if a.startswith("--config=")]
    return given[-1] if given else "(the default)"


def _reason(error: BaseException) -> str:
    """The informative line of a long loader message (the errno line if there is one)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    errno = [line for line in lines if "[Errno" in line]
    return (errno or lines or [type(error).__name__])[0]


def parse_flags(argv):
    """absl's flag parsing, with one clear line for an unknown ``--config.FIELD``, a config
    file that is missing or does not load, and any invalid flag value."""
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError) as e:  # ml_collections: the field does not exist
        given = [a.split("=")[0] for a in argv[1:] if a.startswith("--config.")]
        fail(
            f"unknown config field {e} among the overrides {given}; every field is defined, "
            "with its meaning, in the config module of the config's job "
            "(alignment/FAMILY/config.py)"
        )
    except flags.Error as e:
        if "Unknown command line flag 'config." in str(e):
            fail(f"{_reason(e)}: an override --config.FIELD needs a --config file that has FIELD")
        fail(_reason(e))
    except (OSError, SyntaxError, ImportError) as e:  # the config file itself
        fail(f"config file {_config_file(argv)!r} could not be loaded: {_reason(e)}")


@contextlib.contextmanager
def user_errors(what: str = "invalid input"):
    """Turns a user mistake raised in the block into one line and exit status 2."""
    try:
        yield
    except USER_ERRORS as e:
        if "Failed loading config file" in str(e):  # ml_collections reports it on first use
            fail(f"config file could not be loaded: {_reason(e)}")
        fail(f"{what}: {e.args[0] if isinstance(e, KeyError) and e.args else e}")
