"""``AlignedFaces``: the faces ``facealign run`` wrote, as a torch Dataset in torchvision's style.

Only ``ok`` manifest rows are samples. The split is drawn per person (``cartoonset.common.splits``), so
no identity is in both train and test, and adding photos never moves an existing one.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from PIL import Image

from cartoonset.common.splits import read_split_file, split_of, write_split_file
from cartoonset.common.vision import DatasetError, FolderDataset, inside, open_image

from .landmarks import POINTS
from .outputs import SETTINGS_FILE, read_manifest
from .settings import Settings, background_colour

TARGET_TYPES = ("identity", "landmarks", "id")


class AlignedFaces(FolderDataset):
    """Aligned, background-removed faces from a ``facealign run`` output folder.

    Args:
        root: the folder given to ``facealign run --out``.
        split: ``"train"`` (80% of identities), ``"test"`` (the other 20%) or ``"all"``. The split
            is a hash of the identity (``cartoonset.common.splits.split_of``), unless ``split_file`` is given.
        target_type: ``"identity"``, ``"landmarks"``, ``"id"``, or a list of them (a tuple of
            targets is returned; an empty list or ``None`` returns ``None``).
        transform: applied to the PIL image (e.g. ``torchvision.transforms.ToTensor()``).
        target_transform: applied to the target.
        download: there is nothing to download (photos are fetched and aligned by ``facealign
            fetch`` and ``facealign run``); ``True`` raises :class:`DatasetError` saying so.
        size: side of the returned images. A size the run wrote (``--size``, ``--large``) is read
            as is; a smaller one is area-resized from the large crop.
        background: colour that transparent crops (``--background transparent``) are composited
            onto: ``"white"``, ``"black"``, ``"#rrggbb"``, or ``None`` to keep them RGBA. Crops
            written on a colour are returned as written.
        split_file: an ``id<TAB>train|test`` file (see :meth:`export_split`) fixing the split.

    A sample is ``(image, target)``. ``image`` is a ``size`` x ``size`` PIL image, mode RGB (RGBA
    when ``background=None`` and the crops are transparent), or whatever ``transform`` makes of it.
    Targets: ``identity`` is an ``int``, the index of the person in :attr:`identities` (sorted
    names of this split); ``landmarks`` is a float32 tensor of shape (4, 2) with the (x, y) pixel
    coordinates in the returned image of eye_left, eye_right, mouth and nose (continuous, 0 at the
    top-left edge; eye_left is the eye on the image's left); ``id`` is the manifest id (a ``str``).
    """

    TARGET_TYPES = TARGET_TYPES

    def __init__(self, root: str | os.PathLike, split: str = "train",
                 target_type: str | Sequence[str] | None = "identity", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False, size: int = 64,
                 background: str | None = "white", split_file: str | os.PathLike | None = None):
        super().__init__(root, split, target_type, transform, target_transform)
        if download:
            raise DatasetError(f"{self.root}: aligned faces cannot be downloaded; make them with "
                               f"`facealign fetch LISTS --out photos` and `facealign run photos --out {self.root}`")
        self._colour = None if background is None else background_colour(background)
        if self._colour == "transparent":
            raise ValueError("background must be a colour or None (keep RGBA), not 'transparent'")
        self.settings = self._settings()
        if not 1 <= size <= self.settings.large:
            raise ValueError(f"size must be between 1 and the large crop side {self.settings.large}, got {size}")
        self.size = int(size)
        assignment = read_split_file(split_file) if split_file is not None else None
        self._assignment = assignment
        rows = [r for r in read_manifest(self.root).values() if r.get("status") == "ok"]
        self.samples = sorted((r for r in rows if self._in_split(r, assignment)), key=lambda r: r["id"])
        self.identities: list[str] = sorted({r["identity"] for r in self.samples})
        self._identity_index = {name: i for i, name in enumerate(self.identities)}

    @property
    def ids(self) -> list[str]:
        return [str(r["id"]) for r in self.samples]

    def _settings(self) -> Settings:
        import json

        path = self.root / SETTINGS_FILE
        if not path.is_file():
            raise DatasetError(f"{self.root} is not a facealign output folder (no {SETTINGS_FILE}); "
                               f"make one with `facealign run PHOTOS --out {self.root}`")
        try:
            return Settings.from_dict(json.loads(path.read_text(encoding="utf-8"))["settings"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path} is corrupt ({exc}); re-run facealign run into a new folder") from None

    def _in_split(self, row: dict, assignment: dict[str, str] | None) -> bool:
        if self.split == "all":
            return True
        if assignment is not None:
            return assignment.get(row["id"]) == self.split
        return split_of(row["identity"]) == self.split

    def __len__(self) -> int:
        return len(self.samples)

    def image(self, index: int) -> Image.Image:
        return self._load(self.samples[index])

    def target_of(self, index: int, kind: str) -> Any:
        return self._target(self.samples[index], kind)

    def _crop_path(self, row: dict) -> tuple[Path, bool]:
        """The stored crop to read for ``row`` and whether it already has the asked size."""
        outputs = row.get("outputs") or {}
        exact = outputs.get(str(self.size))
        rel = exact or outputs.get(str(self.settings.large))
        if rel is None:
            raise DatasetError(f"manifest row {row['id']!r} in {self.root} names no crop; "
                               f"re-run facealign run into a new folder")
        return inside(self.root, rel), exact is not None

    def _load(self, row: dict) -> Image.Image:
        path, exact = self._crop_path(row)
        try:
            im = open_image(path)
        except DatasetError as e:
            if not path.exists():
                raise DatasetError(f"aligned image {path} listed in the manifest is missing; "
                                   f"delete its row or re-run facealign run into a new folder") from None
            raise e from None
        if not exact:
            im = im.resize((self.size, self.size), Image.Resampling.BOX)
        if im.mode in ("RGBA", "LA") and self._colour is not None:
            canvas = Image.new("RGBA", im.size, tuple(self._colour) + (255,))
            canvas.alpha_composite(im.convert("RGBA"))
            return canvas.convert("RGB")
        return im if im.mode in ("RGB", "RGBA") else im.convert("RGB")

    def _target(self, row: dict, kind: str) -> Any:
        if kind == "identity":
            return self._identity_index[row["identity"]]
        if kind == "landmarks":
            pts = row["landmarks_aligned"]
            return torch.tensor([pts[k] for k in POINTS], dtype=torch.float32) * self.size
        return row["id"]

    def export_split(self, path: str | os.PathLike) -> Path:
        """Write this dataset's ``id<TAB>split`` lines (every sample, with its split) for reuse."""
        fixed = self._assignment or {}
        return write_split_file(path, {r["id"]: fixed.get(r["id"]) or split_of(r["identity"]) for r in self.samples})

    def hf_features(self) -> dict:
        """The columns of :func:`cartoonset.hf.export`: ``img_bytes`` (PNG at ``size``), ``id``,
        ``identity`` (the person's name) and the four aligned landmarks in pixels."""
        import datasets

        f = {"img_bytes": datasets.Value("binary"), "id": datasets.Value("string"),
             "identity": datasets.Value("string")}
        for name in POINTS:
            f[name] = datasets.Sequence(datasets.Value("float32"), length=2)
        return f

    def hf_rows(self):
        from cartoonset.common.png import encode_png

        import numpy as np

        for row in self.samples:
            path, exact = self._crop_path(row)
            if exact and self._colour is None:
                data = path.read_bytes()
            else:
                data = encode_png(np.asarray(self._load(row)))
            pts = row["landmarks_aligned"]
            yield {"img_bytes": data, "id": str(row["id"]), "identity": str(row["identity"]),
                   **{k: [float(c) * self.size for c in pts[k]] for k in POINTS}}

    def cache_key(self) -> str:
        """What the decoded pixels depend on (for ``to_tensor_cache``): the folder, the manifest's
        samples of this split, the size and the background."""
        import hashlib

        h = hashlib.blake2b(digest_size=10)
        h.update(str(self.root.resolve()).encode())
        for r in self.samples:
            h.update(f"{r['id']}|{r.get('time', '')}|{r.get('outputs')}\n".encode())
        return f"alignedfaces-{self.split}-{self.size}-{self._colour}-{len(self)}-{h.hexdigest()}"

    def extra_repr(self) -> str:
        return f"Split: {self.split}\nSize: {self.size}\nIdentities: {len(self.identities)}"
