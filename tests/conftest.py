import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("CARTOONSET_NO_PROGRESS", "1")

import minipack  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def toolkit_cache(tmp_path_factory) -> Path:
    """The toolkit's cache folder (parsed indexes, tensor caches) for this session, not ~/.cache."""
    path = tmp_path_factory.mktemp("toolkit-cache")
    os.environ["CARTOONSET_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def mini_pack_dir(tmp_path_factory) -> Path:
    """A tiny, complete asset pack written once per test session."""
    return minipack.build(tmp_path_factory.mktemp("packs") / "mini")


@pytest.fixture(scope="session")
def mini_pack(mini_pack_dir):
    from cartoonset.pack import load_pack

    return load_pack(mini_pack_dir)


def build_aligned_faces(root: Path, photos: int = 24, seed: int = 0, test_people: int = 2) -> Path:
    """Jittered copies of two real photos that packages ship (Grace Hopper, the astronaut), spread
    over people of both splits (``test_people`` of them in the test split, six in train) and
    aligned by ``facealign run``; returns the facealign output."""
    import matplotlib
    import numpy as np
    import skimage.data
    from PIL import Image

    import facealign
    from cartoonset.common.splits import split_of

    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    sources = [Image.open(hopper).convert("RGB"), Image.fromarray(skimage.data.astronaut())]
    names = [f"person{i}" for i in range(50)]
    people = [n for n in names if split_of(n) == "test"][:test_people] + [n for n in names if split_of(n) == "train"][:6]
    r = np.random.default_rng(seed)
    for k in range(photos):
        im = sources[k % 2].rotate(float(r.uniform(-10, 10)), resample=Image.BICUBIC)
        if k % 3 == 0:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        folder = root / "photos" / people[k % len(people)]
        folder.mkdir(parents=True, exist_ok=True)
        im.save(folder / f"{k}.jpg", quality=90)
    facealign.run([root / "photos"], root / "faces", workers=1, show_progress=False)
    return root / "faces"


@pytest.fixture(scope="session")
def xgan_data(mini_pack, tmp_path_factory) -> Path:
    """~40 cartoons of the mini pack (``cartoons/``) and aligned package photos (``faces/``)."""
    from cartoonset.pipeline import render

    root = tmp_path_factory.mktemp("xgan-data")
    render(n=40, out=root / "cartoons", seed=3, size=128, workers=1, pack=mini_pack, show_progress=False)
    build_aligned_faces(root)
    return root
