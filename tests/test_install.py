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
    assert {"LICENSE", "NOTICE"} <= {p.name for p in site.glob("*.dist-info/licenses/*")}  # issue 38.14
    # every data file of the checkout reaches the installed tree: each pack, the schema, the presets
    assets = ROOT / "assets"
    wanted = {"cartoonset/assets/" + str(p.relative_to(assets)) for p in assets.rglob("*")
              if p.suffix in (".svg", ".toml", ".json") and p.relative_to(assets).parts[0] != "generator"}
    wanted |= {str(p.relative_to(ROOT)) for pkg in ("cartoonset", "xgan") for p in (ROOT / pkg).rglob("*.toml")}
    missing = sorted(f for f in wanted if not (site / f).is_file())
    assert not missing and len(wanted) > 1000, missing[:10]


def test_licence_notice_and_citation_are_there():
    """Issue 38.14: pyproject declared Apache-2.0 with no LICENSE file, the artwork's licence was
    unstated, and nothing said how to cite the toolkit, the XGAN paper or CartoonSet."""
    import tomllib

    licence = (ROOT / "LICENSE").read_text("utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["license"] == "Apache-2.0" and set(project["license-files"]) == {"LICENSE", "NOTICE"}
    notice = " ".join((ROOT / "NOTICE").read_text("utf-8").split())
    assert "assets/ (the default, shaded and portrait packs) is original work of this project" in notice
    assert "licensed under the same Apache License, Version 2.0" in notice
    citation = (ROOT / "CITATION.cff").read_text("utf-8")
    assert citation.startswith("cff-version: 1.2.0") and "license: Apache-2.0" in citation
    for cited in ("XGAN: Unsupervised Image-to-Image Translation for Many-to-Many Mappings", "arXiv:1711.05139",
                  "family-names: Royer", "year: 2017", "year: 2020", 'title: "CartoonSet"', "CC-BY-4.0"):
        assert cited in citation, cited
    yaml = pytest.importorskip("yaml")
    refs = yaml.safe_load(citation)["references"]
    assert [r["type"] for r in refs] == ["article", "book-section", "data"]
