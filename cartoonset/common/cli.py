"""What the three command lines share: one error convention and the group class that enforces it.

click's convention, for ``cartoonset``, ``facealign`` and ``xgan`` alike: a usage error (an unknown
option, key, preset or pack, a value out of range, a missing input path) exits 2 with the usage line;
a failure of the work itself (a damaged pack, a corrupt checkpoint, an unwritable ``--out``) exits 1.
Both end in one line ``Error: ...``, never a traceback. The distinction is the error's type, made in
one place, :func:`fail`: the libraries raise :class:`~cartoonset.common.errors.InputError` for a
bad value their caller chose, anything else is a failure. Every subcommand is a :class:`ToolCommand`,
which sends an ``InputError`` or an ``OSError`` that escapes it to :func:`fail`, so a full disk or a
read-only folder reads the same in every command, with the path and the reason.
Every other error the libraries raise on purpose is a :class:`~cartoonset.common.errors.ToolkitError`
(a folder another invocation holds, a damaged input): it ends the same way, with exit status 1.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Mapping, NoReturn

import click

from .atomic import TEMP_MARK, is_temp
from .errors import InputError, ToolkitError


def describe(error: BaseException) -> str:
    """One line for ``error``: an ``OSError`` as ``path: reason`` (both paths for a rename); an error
    that words itself for the command line (a ``DatasetError``'s ``command_line``) in those words."""
    if getattr(error, "command_line", None):
        return error.command_line
    if isinstance(error, OSError) and error.strerror:
        paths = [str(_published(p)) for p in (error.filename, error.filename2) if p is not None]
        return f"{' -> '.join(paths)}: {error.strerror}" if paths else error.strerror
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return text or type(error).__name__


def _published(path: str | bytes | int) -> object:
    """The file an atomic write's temp file stands for: the name the user knows."""
    if not isinstance(path, str) or not is_temp(Path(path)):
        return path
    p = Path(path)
    return p.with_name(p.name[1:].rsplit(TEMP_MARK, 1)[0])


def fail(error: BaseException | str) -> NoReturn:
    """End the command with ``Error: <one line>`` on stderr: exit status 2 and the usage line for an
    :class:`InputError`, exit status 1 for any other error."""
    if isinstance(error, InputError):
        raise click.UsageError(describe(error), ctx=click.get_current_context(silent=True)) from None
    raise click.ClickException(error if isinstance(error, str) else describe(error)) from None


def fail_if_nothing_produced(produced: int, rejected: Mapping[str, int], verb: str, hint: str = "") -> None:
    """The rule for a command that writes one output per input (``facealign run``, ``xgan
    translate``): when every input was rejected and nothing was produced, the work failed: exit 1
    through :func:`fail`, one line ``0 of N inputs <verb> (reason count, ...)``, after the summary.
    Some outputs and some rejects is a success (the summary counts them)."""
    total = produced + sum(rejected.values())
    if total and not produced:
        counted = ", ".join(f"{why} {n}" for why, n in sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0])) if n)
        fail(f"0 of {total} inputs {verb} ({counted}){hint}")


@contextlib.contextmanager
def bad_parameter(option: str) -> Iterator[None]:
    """A ValueError inside is a usage error of ``option`` (exit 2, with the usage line)."""
    try:
        yield
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=f"'{option}'") from None


class ToolCommand(click.Command):
    """A subcommand of the three tools: a :class:`ToolkitError` (an :class:`InputError`, a folder
    another job holds, a damaged pack, dataset, run or checkpoint...) or an ``OSError`` (reading the
    inputs, creating or writing ``--out``) that escapes it ends it through :func:`fail`, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # `... | head`: click closes stdout quietly
        except (ToolkitError, OSError) as e:
            fail(e)


class ToolGroup(click.Group):
    """The top-level group of each console script; each of its subcommands is a :class:`ToolCommand`."""

    command_class = ToolCommand
