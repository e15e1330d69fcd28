"""The commands' handling of user mistakes and interrupts: one line on stderr, no traceback.

Every entry point (``sweeps.run``, ``sweeps.merge``, ``sweeps.launch``, ``figures.make``) runs
through :func:`run`, parses its flags with :func:`parse_flags` and runs its checks, all before
any compute, inside :func:`user_errors`. Mistakes raise one of ``USER_ERRORS`` with a message
naming the bad value and what is allowed (exit status 2); compute itself runs outside the guard,
so a bug still shows its traceback. Ctrl-C (SIGINT) and SIGTERM stop the command where Python
next runs (between two compiled calls: every file is written atomically and the last checkpoint
stays intact), print one line saying how to go on, and exit 130 / 143.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import re
import signal
import sys
from typing import NoReturn

from absl import app, flags

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


def _unknown_field(error: BaseException, argv) -> NoReturn:
    """One line for ml_collections' missing-field error (a KeyError, at times re-raised as an
    AttributeError of its repr: "'lrr'\\nDid you mean ...")."""
    given = [a.split("=")[0] for a in argv[1:] if a.startswith("--config.")]
    text = str(error.args[0] if error.args else error)
    while text[:1] in "\"'" and text[-1:] == text[:1] and len(text) > 1:
        text = text[1:-1]  # one level of repr quoting per re-raise
    text = text.replace("\\n", "\n").replace("\\'", "'").replace('\\"', '"')
    field, *hint = text.split("\n")
    fail(
        f"unknown config field {field.strip(chr(39))!r} among the overrides {given}"
        + (f" ({' '.join(hint)})" if hint else "")
        + "; every field is defined, with its meaning, in the config module of the config's "
        "job (alignment/FAMILY/config.py)"
    )


def define_config(name: str, default: str | None, help_text: str) -> None:
    """``ml_collections``' config-file flag; with a default file it reads the ``--name.FIELD``
    overrides already while being defined, so an unknown field is caught here too."""
    from ml_collections import config_flags

    try:
        config_flags.DEFINE_config_file(name, default, help_text)
    except (AttributeError, KeyError) as e:  # the field does not exist in the default config
        _unknown_field(e, sys.argv)


HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull")


def parse_flags(argv, extra_help=None):
    """absl's flag parsing, with one clear line for an unknown ``--config.FIELD``, a config
    file that is missing or does not load, and any invalid flag value. A help flag prints the
    command's flags and ``extra_help()`` (e.g. every field of the chosen config) and exits 0."""
    helps = [a for a in argv[1:] if a in HELP_FLAGS]
    if helps:
        _print_help(argv, helps, extra_help)
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError) as e:  # ml_collections: the field does not exist
        _unknown_field(e, argv)
    except flags.Error as e:
        if "Unknown command line flag 'config." in str(e):
            fail(f"{_reason(e)}: an override --config.FIELD needs a --config file that has FIELD")
        fail(_reason(e))
    except (OSError, SyntaxError, ImportError) as e:  # the config file itself
        fail(f"config file {_config_file(argv)!r} could not be loaded: {_reason(e)}")


def _print_help(argv, helps, extra_help) -> NoReturn:
    rest = [a for a in argv if a not in HELP_FLAGS]
    parsed = True
    try:  # the other flags (the config file, the workdir) shape the extra help
        flags.FLAGS(rest)
    except (flags.Error, AttributeError, KeyError, OSError, SyntaxError, ImportError):
        parsed = False
    full = "--helpfull" in helps
    text = flags.FLAGS.get_help() if full else flags.FLAGS.main_module_help()
    sys.stdout.write(text.rstrip() + "\n")
    if extra_help is not None and parsed:
        sys.stdout.write("\n" + extra_help().rstrip() + "\n")
    sys.stdout.flush()
    sys.exit(0)


def field_meanings(source: str) -> dict[str, str]:
    """Each ``c.FIELD = value  # meaning`` of a config module's source: dotted field -> meaning
    (its trailing comment, or the comment lines just above it)."""
    out, above = {}, []
    for line in source.splitlines():
        text = line.strip()
        if text.startswith("#"):
            above = [] if text.startswith("# ---") else [*above, text.lstrip("# ")]
            continue
        m = re.match(r"c\.([\w.]+)\s*=\s*(.*?)(?:\s+#\s*(.*))?$", text)
        if m:
            out[m.group(1)] = m.group(3) or " ".join(above)
        above = []
    return out


def describe_fields(cfg, schema) -> str:
    """Every field of ``cfg`` with its value and its meaning from the module of ``schema``
    (the job's base-config function)."""
    meanings = field_meanings(inspect.getsource(inspect.getmodule(schema)))
    lines = [f"Fields of the config {cfg.get('name', '')!r} (override any: --config.FIELD=VALUE):"]
    for path, value in _leaves(cfg.to_dict()):
        lines.append(f"  --config.{path}={value!r}")
        if meanings.get(path):
            lines.append(f"      {meanings[path]}")
    return "\n".join(lines)


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict) and value and key != "sweeps":
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@contextlib.contextmanager
def user_errors(what: str = "invalid input"):
    """Turns a user mistake raised in the block into one line and exit status 2."""
    try:
        yield
    except USER_ERRORS as e:
        if "Failed loading config file" in str(e):  # ml_collections reports it on first use
            fail(f"config file could not be loaded: {_reason(e)}")
        fail(f"{what}: {e.args[0] if isinstance(e, KeyError) and e.args else e}")


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException, like KeyboardInterrupt: never a user error)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def run(
    main, resume_hint: str = "rerun the same command to go on where it stopped", extra_help=None
):
    """``absl.app.run(main)`` with :func:`parse_flags` (``extra_help``: what a help flag prints
    after the flags), and one clean exit on an interrupt."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise_interrupted)
    # JAX logs every accelerator backend it could not start (at INFO, shown by absl): noise on
    # a machine without them; what it found is logged by the driver
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    try:
        app.run(main, flags_parser=lambda argv: parse_flags(argv, extra_help))
    except (Interrupted, KeyboardInterrupt) as e:
        signum = getattr(e, "signum", signal.SIGINT)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this line
        name = signal.Signals(signum).name
        sys.stderr.write(f"\ninterrupted ({name}): finished work is kept; {resume_hint}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        # no interpreter teardown: XLA's threads may still run, and tearing down under them
        # can crash; every file the command wrote is complete (atomic writes)
        os._exit(128 + signum)
