"""The ``facealign`` command line: a thin layer over the library functions."""
from __future__ import annotations

import click

from cartoonset._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="facealign")
def main() -> None:
    """Uncropped photos (folders or VGG-Face URL lists) to aligned, background-removed faces."""


if __name__ == "__main__":
    main()
