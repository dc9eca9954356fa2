"""``CartoonSet``: a torch Dataset over our renders and Google's CartoonSet10k/100k releases."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from .common.splits import filter_ids, read_split_file
from .common.template import FACE_TEMPLATE, alignment_matrix, warp
from .common.vision import DatasetError, FolderDataset, inside, open_image
from .index import CartoonIndex, load_index
from .schema import attribute_names

TARGET_TYPES = ("attr", "landmarks", "attr_dict", "id")


class CartoonSet(FolderDataset):
    """Cartoon faces with their 18 attributes (and landmarks, for our renders).

    Reads a folder written by ``cartoonset render`` (either ``--layout``; its ``images`` folder may
    be given too) or Google's CartoonSet10k (flat) / CartoonSet100k (sub-folders ``0``..``9``)
    exactly as they unpack; the layout is detected. Nothing is written into the folder: the parsed
    index is cached in ``cache_dir`` (default ``$CARTOONSET_CACHE``, else ``~/.cache/cartoonset``),
    so a read-only copy loads.

    Args:
        root: the dataset folder.
        split: ``"train"``, ``"test"`` (the paper's 80/20 protocol: a stable hash of each cartoon's
            id, so adding cartoons never moves one) or ``"all"``.
        target_type: ``"attr"``, ``"landmarks"``, ``"attr_dict"`` or ``"id"``, or a list of them
            (the target is then a tuple in that order); ``None`` or ``[]`` for no target.
        transform: applied to the PIL image. target_transform: applied to the target.
        download: fetch, verify and unpack Google's release (``release="10k"`` or ``"100k"``) into
            ``root`` when ``root`` does not hold that release yet.
        aligned: ``None`` for the stored image, or a side in pixels for a crop aligned to the shared
            face template (irises and mouth, as the paper centre-aligns cartoons). Google's releases
            carry no landmarks: their aligned crop is the bounding box of the non-transparent pixels,
            padded to a square and resized.
        background: RGB the transparent background is composited on (white by default); ``None``
            keeps RGBA.
        release: which of ``root/cartoonset10k`` and ``root/cartoonset100k`` to read (and to
            download); ``None``: the one there (10k when both are).
        split_file: a file written by :func:`cartoonset.common.splits.write_split_file` that fixes the split.
        cache_dir: where the parsed index (and :func:`cartoonset.to_tensor_cache`'s array) is cached.

    A sample is ``(image, target)``: ``image`` a PIL image (RGB, or RGBA when ``background`` is None)
    unless ``transform`` changes it; ``attr`` a LongTensor of the 18 variant indices in the release's
    order (:data:`attribute_names`); ``landmarks`` a FloatTensor (4, 2) of (x, y) for eye_left,
    eye_right, mouth and nose_tip in pixels of the returned image (continuous, (0, 0) at the top-left
    corner); ``attr_dict`` ``{name: index}``; ``id`` the X of ``csX.png``.

    A render that is still running (or was interrupted) loads the cartoons written so far with an
    :class:`~cartoonset.index.IncompleteRenderWarning` naming how many are missing.
    """

    TARGET_TYPES = TARGET_TYPES
    attribute_names = attribute_names()

    def __init__(self, root: str | os.PathLike, split: str = "train", target_type: str | Sequence[str] | None = "attr",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False, aligned: int | None = None, background: tuple[int, int, int] | None = (255, 255, 255),
                 release: str | None = None, split_file: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None):
        super().__init__(root, split, target_type, transform, target_transform)
        if aligned is not None and aligned < 8:
            raise ValueError("aligned must be a crop side of at least 8 pixels, or None")
        self.aligned, self.background = aligned, (tuple(background) if background is not None else None)
        self.release, self.cache_dir = release, cache_dir
        if download:
            self._download(release or "10k", cache_dir)
        self.index: CartoonIndex = load_index(self.root, cache_dir=cache_dir,
                                              release=release or ("10k" if download else None))
        if "landmarks" in self.target_type and self.index.landmarks is None:
            raise DatasetError(f"{self.index.root}: this set has no landmarks (Google's releases carry none); "
                               "use target_type='attr'")
        assignment = read_split_file(split_file) if split_file else None
        keep = set(filter_ids(self.index.ids, split, assignment))
        self.rows = np.array([i for i, cid in enumerate(self.index.ids) if cid in keep], dtype=np.int64)

    def _download(self, release: str, cache_dir) -> None:
        """Fetch Google's ``release`` under ``root`` unless it is there; a failure is one
        :class:`DatasetError` (not chained to the "not there" error that started the download)."""
        from .download import DownloadError, download_release

        try:
            load_index(self.root, cache_dir=cache_dir, release=release)
            return
        except DatasetError:
            pass  # not there yet: download it, outside this handler so a failure does not chain to it
        try:
            download_release(self.root, release)
        except DownloadError as e:
            raise DatasetError(f"{self.root}: could not download Google's CartoonSet{release}: {e}") from None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> list[str]:
        return [self.index.ids[r] for r in self.rows]

    @property
    def attrs(self) -> np.ndarray:
        """(len, 18) variant indices of the samples in this split."""
        return self.index.attrs[self.rows].astype(np.int64)

    def _path(self, i: int) -> Path:
        return inside(self.index.root, self.index.files[self.rows[i]])  # never through a link to elsewhere

    def _read(self, i: int) -> Image.Image:
        return open_image(self._path(i)).convert("RGBA")

    def _matrix(self, i: int, im: Image.Image) -> np.ndarray:
        """The map from stored-image pixels to the aligned crop."""
        lm = self.index.landmarks
        if lm is not None:
            pts = lm[self.rows[i], :3].astype(np.float64) * (im.width / (self.index.image_size or im.width))
            return alignment_matrix(pts, self.aligned, FACE_TEMPLATE)
        # Google's releases: the padded square bounding box of the drawing.
        alpha = np.asarray(im.getchannel("A"))
        ys, xs = np.nonzero(alpha > 8)
        if len(xs) == 0:
            x0, y0, side = 0.0, 0.0, float(im.width)
        else:
            x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
            side = 1.08 * max(x1 - x0, y1 - y0)
            x0, y0 = (x0 + x1 - side) / 2, (y0 + y1 - side) / 2
        s = self.aligned / side
        return np.array([[s, 0, -x0 * s], [0, s, -y0 * s]])

    def image_array(self, i: int) -> np.ndarray:
        """Sample ``i``'s image as uint8 HxWx3 (HxWx4 without background), before ``transform``."""
        im = self._read(i)
        if self.background is not None:
            base = Image.new("RGBA", im.size, self.background + (255,))
            arr = np.asarray(Image.alpha_composite(base, im).convert("RGB"))
        else:
            arr = np.asarray(im)
        if self.aligned is None:
            return arr
        border = self.background if self.background is not None else (0, 0, 0, 0)
        if self.background is None:  # warp premultiplied so transparent pixels don't bleed black
            a = arr[..., 3:].astype(np.float32) / 255
            pm = np.concatenate([arr[..., :3] * a, arr[..., 3:]], -1).astype(np.uint8)
            out = warp(pm, self._matrix(i, im), self.aligned, border).astype(np.float32)
            alpha = np.maximum(out[..., 3:], 1) / 255
            out[..., :3] = np.clip(out[..., :3] / alpha, 0, 255)
            return out.round().astype(np.uint8)
        return warp(arr, self._matrix(i, im), self.aligned, border)

    def landmarks(self, i: int) -> np.ndarray:
        """(4, 2) landmarks of sample ``i`` in the returned image's pixels."""
        lm = self.index.landmarks[self.rows[i]].astype(np.float64)
        if self.aligned is None:
            return lm
        m = alignment_matrix(lm[:3], self.aligned, FACE_TEMPLATE)
        return lm @ m[:, :2].T + m[:, 2]

    def image(self, i: int) -> Image.Image:
        return Image.fromarray(self.image_array(i))

    def target_of(self, i: int, kind: str) -> Any:
        import torch

        if kind == "attr":
            return torch.as_tensor(self.index.attrs[self.rows[i]].astype(np.int64))
        if kind == "landmarks":
            return torch.as_tensor(self.landmarks(i), dtype=torch.float32)
        if kind == "attr_dict":
            return dict(zip(self.attribute_names, map(int, self.index.attrs[self.rows[i]])))
        return self.index.ids[self.rows[i]]

    def variant_names(self) -> dict[str, list[str] | None]:
        """Per attribute, the names of its variants when the rendering pack has them (a bundled
        pack of the recorded name and version), else None (Google's releases name none)."""
        from .index import read_metadata
        from .pack import PackError, load_pack

        out: dict[str, list[str] | None] = {a: None for a in self.attribute_names}
        meta = read_metadata(self.index.root) if self.index.layout.startswith("render") else None
        if not meta or not meta.get("pack"):
            return out
        try:
            pack = load_pack(str(meta["pack"]))
        except PackError:
            return out
        if pack.version != meta.get("pack_version"):
            return out
        for a in self.attribute_names:
            n = self.index.counts[a]
            if a in pack.palettes and len(pack.palettes[a]) >= n:
                out[a] = [pack.palettes[a][i].name for i in range(n)]
            elif a in pack.names and len(pack.names[a]) == n:
                out[a] = list(pack.names[a])
        return out

    def hf_features(self) -> dict:
        """The columns of :func:`cartoonset.hf.export` (those of the hub's ``cgarciae/cartoonset``
        first: ``img_bytes``, each attribute, each ``{attribute}_num_categories``)."""
        import datasets

        from .hf import class_label
        from .layout import LANDMARKS

        names = self.variant_names()
        f: dict = {"img_bytes": datasets.Value("binary")}
        for a in self.attribute_names:
            f[a] = class_label(self.index.counts[a], names[a])
            f[f"{a}_num_categories"] = datasets.Value("int64")
        f["id"] = datasets.Value("string")
        if self.index.landmarks is not None:
            for name in LANDMARKS:
                f[name] = datasets.Sequence(datasets.Value("float32"), length=2)
        return f

    def hf_rows(self):
        """One dict per sample for :meth:`hf_features` (the stored PNG bytes, not re-encoded)."""
        from .layout import LANDMARKS

        idx, counts = self.index, self.index.counts
        for i, r in enumerate(self.rows):
            row: dict = {"img_bytes": self._path(i).read_bytes()}
            for a, v in zip(self.attribute_names, idx.attrs[r]):
                row[a], row[f"{a}_num_categories"] = int(v), counts[a]
            row["id"] = idx.ids[r]
            if idx.landmarks is not None:
                row.update({n: [float(c) for c in idx.landmarks[r, j]] for j, n in enumerate(LANDMARKS)})
            yield row

    def cache_key(self) -> str:
        """What the decoded pixels depend on (for :func:`cartoonset.to_tensor_cache`): the folder,
        the render that wrote it, the files of this split and how they are decoded."""
        h = hashlib.blake2b(digest_size=10)
        h.update(str(self.index.root.resolve()).encode())
        meta = self.index.root / "metadata.json"
        if meta.is_file():
            h.update(meta.read_bytes())
        h.update("\n".join(self.index.files[r] for r in self.rows).encode())
        return f"cartoonset-{self.split}-a{self.aligned}-bg{self.background}-{len(self)}-{h.hexdigest()}"

    def extra_repr(self) -> str:
        return (f"Split: {self.split}\nLayout: {self.index.layout}\nAligned: {self.aligned}"
                + (f"\nData: {self.index.root}" if self.index.root != self.root else ""))
