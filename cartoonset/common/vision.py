"""The one base of the toolkit's torch datasets (``CartoonSet``, ``AlignedFaces``), on the pattern of
torchvision's ``VisionDataset``.

Every dataset takes ``root, split, target_type, transform, target_transform, download`` in that
order, validates ``split`` and ``target_type`` with the valid values in the message, names each
sample by :attr:`~FolderDataset.ids`, assembles targets the same way (one kind: the value; a list:
a tuple in that order; none: ``None``), prints the same ``repr`` and raises one error type,
:class:`DatasetError`, with one sentence that names the file and what to do.

It is our own class rather than a subclass of torchvision's so that loading a dataset does not
import torchvision; the behaviour users rely on (signature, ``repr``, transforms) is the same.
"""
from __future__ import annotations

import abc
import os
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

from PIL import Image

from .errors import ToolkitError
from .splits import check_split

try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover - torch is a dependency; keep the readers usable without it
    _TorchDataset = object


class DatasetError(ToolkitError, ValueError):
    """A dataset folder cannot be read as asked; the message names the file and what to do.

    ``command_line``: the same sentence for the console scripts' users, where the remedy the message
    names is a Python argument (``download=True``) they cannot pass; the scripts print it instead
    (:func:`cartoonset.common.cli.describe`)."""

    def __init__(self, message: str, command_line: str | None = None):
        super().__init__(message)
        self.command_line = command_line


def inside(root: Path, rel: str) -> Path:
    """``root / rel`` for a path read from an index or manifest, refusing one that leaves ``root``
    (absolute, ``..``, a drive or backslashes, or a link to elsewhere) so data can never make a
    loader read elsewhere."""
    text = str(rel)
    p = PurePosixPath(text)
    if (not text or p.is_absolute() or ".." in p.parts or "\\" in text or ":" in p.parts[0]
            or text.startswith("~")):
        raise DatasetError(f"{root}: the path {text!r} read from the dataset's index lies outside the "
                           "dataset folder; refusing to read it (the index is damaged or hostile)")
    full = root.joinpath(*p.parts)
    if not stays_inside(root, full):
        raise DatasetError(f"{full}: a link that leads outside the dataset folder {root}; refusing to read it")
    return full


def stays_inside(root: Path, path: Path) -> bool:
    """Whether ``path``, its links resolved, lies in ``root``: a dataset never reads elsewhere."""
    try:
        path.resolve().relative_to(Path(root).resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def open_image(path: Path) -> Image.Image:
    """Open and decode one image, turning every way it can fail into a :class:`DatasetError`."""
    try:
        with Image.open(path) as im:
            im.load()
            return im
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing image (listed in the dataset's index); "
                           "restore it or rebuild the dataset") from None
    except Image.DecompressionBombError as e:
        raise DatasetError(f"{path}: refused, the image claims too many pixels for its size "
                           f"(a decompression bomb: {e}); delete or replace the file") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise DatasetError(f"{path}: unreadable image ({e}); delete or replace the file") from None


class FolderDataset(_TorchDataset, abc.ABC):
    """Base of the toolkit's datasets. Subclasses set ``TARGET_TYPES`` and implement ``__len__``,
    :attr:`ids`, :meth:`image` (a PIL image for sample ``i``) and :meth:`target_of` (one target kind)."""

    TARGET_TYPES: tuple[str, ...] = ()
    _repr_indent = 4

    def __init__(self, root: str | os.PathLike, split: str = "train",
                 target_type: str | Sequence[str] | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None):
        self.root = Path(os.path.expanduser(str(root)))
        self.split = check_split(split)
        kinds = [] if target_type is None else ([target_type] if isinstance(target_type, str) else list(target_type))
        bad = [t for t in kinds if t not in self.TARGET_TYPES]
        if bad:
            raise ValueError(f"target_type must be among {', '.join(self.TARGET_TYPES)}; got {bad[0]!r}")
        self.target_type = kinds
        self.transform, self.target_transform = transform, target_transform

    # -- what a subclass provides
    @property
    @abc.abstractmethod
    def ids(self) -> list[str]:
        """A stable name per sample, in sample order (a cartoon's X of ``csX``, a photo's manifest id)."""

    @abc.abstractmethod
    def image(self, i: int) -> Image.Image:
        """Sample ``i`` as a PIL image, before ``transform``."""

    @abc.abstractmethod
    def target_of(self, i: int, kind: str) -> Any:
        """One ``kind`` of ``TARGET_TYPES`` for sample ``i``."""

    # -- shared behaviour
    def target(self, i: int) -> Any:
        """The target of sample ``i`` before ``target_transform``."""
        targets = [self.target_of(i, t) for t in self.target_type]
        return None if not targets else (targets[0] if len(targets) == 1 else tuple(targets))

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} samples")
        i = i % n
        image = self.image(i)
        if self.transform is not None:
            image = self.transform(image)
        target = self.target(i)
        if target is not None and self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self) -> str:
        return f"Split: {self.split}"

    def __repr__(self) -> str:
        body = [f"Number of datapoints: {len(self)}", f"Root location: {self.root}"]
        body += self.extra_repr().splitlines()
        if self.target_type:
            body.append(f"Target type: {', '.join(self.target_type)}")
        for name in ("transform", "target_transform"):
            t = getattr(self, name)
            if t is not None:
                lines = repr(t).splitlines()
                body += [f"{name}: {lines[0]}"] + [" " * (len(name) + 2) + l for l in lines[1:]]
        pad = " " * self._repr_indent
        return "\n".join([f"Dataset {type(self).__name__}"] + [pad + line for line in body])
