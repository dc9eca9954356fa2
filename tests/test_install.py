"""A non-editable install carries the packages, the presets and the artwork: it renders from
outside the checkout, finding the packs through package resources."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_renders_outside_the_checkout(tmp_path):
    wheels, site, src = tmp_path / "wheels", tmp_path / "site", tmp_path / "src"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    files = tracked.stdout.split() if tracked.returncode == 0 else []
    if files:  # build from a copy, so no build/ folder lands in the checkout
        for f in files:
            if (ROOT / f).is_file():
                (src / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / f, src / f)
    else:
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "data", "build", "__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                            "-w", str(wheels), str(src)], check=True, capture_output=True, text=True)
    absent = [line.strip() for line in (built.stdout + built.stderr).splitlines() if "absent from the `packages`" in line]
    assert not absent, absent  # every data folder is declared, so no data rides on setuptools' fallback
    wheel = next(wheels.glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    code = """
import cartoonset, facealign, xgan
from pathlib import Path
from cartoonset import CartoonSet, load_pack, render
site = Path(SITE)
assert Path(cartoonset.__file__).is_relative_to(site), cartoonset.__file__
pack = load_pack("default")
assert pack.root.is_relative_to(site), pack.root
assert len(pack.artworks) > 250
from xgan.config import resolve
assert resolve(["paper"])["network"]["embedding"] == [1024, 1024]
report = render(n=3, out="out", seed=1, size=64, workers=1, show_progress=False)
ds = CartoonSet("out", split="all", aligned=32)
assert len(ds) == 3 and ds[0][0].size == (32, 32)
print("ok", pack.name)
""".replace("SITE", repr(str(site)))
    env = dict(os.environ, PYTHONPATH=str(site))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "ok default" in r.stdout
    assert (site / "bin" / "cartoonset").exists()
    # every data file of the checkout reaches the installed tree: each pack, the schema, the presets
    assets = ROOT / "assets"
    wanted = {"cartoonset/assets/" + str(p.relative_to(assets)) for p in assets.rglob("*")
              if p.suffix in (".svg", ".toml", ".json") and p.relative_to(assets).parts[0] != "generator"}
    wanted |= {str(p.relative_to(ROOT)) for pkg in ("cartoonset", "xgan") for p in (ROOT / pkg).rglob("*.toml")}
    missing = sorted(f for f in wanted if not (site / f).is_file())
    assert not missing and len(wanted) > 1000, missing[:10]
