"""``cartoonset preview``: the contact sheet holds the cartoons it says, with --set applied to each."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cartoonset import compose
from cartoonset.common.sheets import contact_sheet
from cartoonset.sampler import select

CLI = str(Path(sys.executable).parent / "cartoonset")
TILE = 64


def preview(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, CARTOONSET_NO_PROGRESS="1")
    return subprocess.run([CLI, "preview", "--tile", str(TILE), *map(str, args)], capture_output=True, text=True, env=env)


def expected_sheet(pack, configs, captions, title, cols=None) -> np.ndarray:
    """The sheet drawn from the given configurations, independently of cartoonset.preview."""
    r = compose.FastRenderer(pack, max(TILE * 2, 128))
    images = [compose.to_image(r.render(c)) for c in configs]
    return np.asarray(contact_sheet(images, captions, cols=cols, tile=TILE, title=title))


def test_random_sheet_applies_set_to_every_cartoon(mini_pack, mini_pack_dir, tmp_path):
    rows = [select(mini_pack, 5, 6).row(k) for k in range(6)]
    assert any(r["facial_hair"] != 14 for r in rows) and any(r["glasses"] != 11 for r in rows)  # something to remove
    res = preview("--out", tmp_path / "set.png", "--n", 6, "--seed", 5, "--pack", mini_pack_dir,
                  "--set", "facial_hair=14", "--set", "glasses=11")
    assert res.returncode == 0, res.stderr
    fixed = [dict(r, facial_hair=14, glasses=11) for r in rows]
    want = expected_sheet(mini_pack, fixed, [f"#{k}" for k in range(6)],
                          "mini 0.1: 6 cartoons, seed 5; facial_hair=14, glasses=11")
    got = np.asarray(Image.open(tmp_path / "set.png").convert("RGB"))
    assert np.array_equal(got, want)

    plain = preview("--out", tmp_path / "plain.png", "--n", 6, "--seed", 5, "--pack", mini_pack_dir)
    assert plain.returncode == 0, plain.stderr
    want_plain = expected_sheet(mini_pack, rows, [f"#{k}" for k in range(6)], "mini 0.1: 6 cartoons, seed 5")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "plain.png").convert("RGB")), want_plain)


def test_variant_sheet_with_set(mini_pack, mini_pack_dir, tmp_path):
    res = preview("--out", tmp_path / "v.png", "--vary", "glasses", "--seed", 2, "--pack", mini_pack_dir,
                  "--set", "facial_hair=3")
    assert res.returncode == 0, res.stderr
    base = dict(select(mini_pack, 2, 1).row(0), facial_hair=3)
    configs = [dict(base, glasses=g) for g in range(12)]
    captions = [f"{g} {mini_pack.variant_name('glasses', g)}" for g in range(12)]
    want = expected_sheet(mini_pack, configs, captions, "mini: glasses; facial_hair=3")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "v.png").convert("RGB")), want)


@pytest.mark.parametrize("args,needle", [
    (["--set", "facial_hair"], "expected ATTR=INDEX"),
    (["--set", "beard=3"], "unknown attribute 'beard'"),
    (["--set", "facial_hair=15"], "facial_hair has variants 0..14"),
    (["--vary", "hairdo"], "unknown attribute 'hairdo'"),
])
def test_bad_set_or_vary_is_a_usage_error(args, needle, mini_pack_dir, tmp_path):
    res = preview("--out", tmp_path / "x.png", "--pack", mini_pack_dir, *args)
    assert res.returncode == 2 and needle in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "x.png").exists()
