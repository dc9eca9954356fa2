"""The ``xgan`` command line: a thin layer over the library functions."""
from __future__ import annotations

import click

from cartoonset._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xgan")
def main() -> None:
    """The XGAN model and trainer, its baselines and the benchmark."""


if __name__ == "__main__":
    main()
