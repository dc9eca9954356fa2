"""The toolkit's error types, shared by the three packages.

Every error a library function of the toolkit raises on purpose is a :class:`ToolkitError`, so a
caller (and each command line, :class:`cartoonset.common.cli.ToolCommand`) catches one type. Each also
keeps the built-in base it always had (``ValueError``, ``RuntimeError``, ``OSError``), so code that
caught those still does. :class:`InputError` is the caller's own bad value: a usage error on the
command line; any other ``ToolkitError`` is a failure of the work.
"""
from __future__ import annotations

from pathlib import Path


class ToolkitError(Exception):
    """An error the toolkit raises on purpose, with a message that names what and why."""


class InputError(ToolkitError, ValueError):
    """A value the caller chose cannot be used: an option out of range, an unknown key, preset or
    pack, a path that does not exist. The message names the value and what is accepted. The console
    scripts report it as a usage error (exit 2, with the usage line); every other failure exits 1
    (:func:`cartoonset.common.cli.fail`)."""


def install_hint(extra: str) -> str:
    """How to install an optional extra. The toolkit is not on a package index, so the command names
    the checkout (``pip install 'cartoonset-xgan[...]'`` finds nothing): ``pip install '.[extra]'``
    run in it, with its folder when this copy was installed from one (an editable install)."""
    checkout = Path(__file__).resolve().parents[2]
    where = f" ({checkout})" if (checkout / "pyproject.toml").is_file() else ""
    return f"pip install '.[{extra}]' in the toolkit's checkout{where}"
