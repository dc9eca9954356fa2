"""The one error type for a caller's own bad input, shared by the three packages."""
from __future__ import annotations


class InputError(ValueError):
    """A value the caller chose cannot be used: an option out of range, an unknown key, preset or
    pack, a path that does not exist. The message names the value and what is accepted. The console
    scripts report it as a usage error (exit 2, with the usage line); every other failure exits 1
    (:func:`cartoonset.common.cli.fail`)."""
