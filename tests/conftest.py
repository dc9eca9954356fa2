import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("CARTOONSET_NO_PROGRESS", "1")

import minipack  # noqa: E402


@pytest.fixture(scope="session")
def mini_pack_dir(tmp_path_factory) -> Path:
    """A tiny, complete asset pack written once per test session."""
    return minipack.build(tmp_path_factory.mktemp("packs") / "mini")


@pytest.fixture(scope="session")
def mini_pack(mini_pack_dir):
    from cartoonset.pack import load_pack

    return load_pack(mini_pack_dir)
