"""The three console scripts exist, import, and answer --help/--version."""
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def test_packages_import():
    import cartoonset
    import facealign
    import xgan

    assert cartoonset.__version__ == facealign.__version__ == xgan.__version__


@pytest.mark.parametrize("cmd", ["cartoonset", "facealign", "xgan"])
def test_cli_help_and_version(cmd):
    out = subprocess.run([str(BIN / cmd), "--help"], capture_output=True, text=True, check=True)
    assert "Usage:" in out.stdout
    ver = subprocess.run([str(BIN / cmd), "--version"], capture_output=True, text=True, check=True)
    import cartoonset

    assert cartoonset.__version__ in ver.stdout
