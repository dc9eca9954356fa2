"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``, checked on load.

A checkpoint is a plain dict of tensors and Python primitives (no pickled objects), so it loads
safely anywhere. A damaged file or one written for another architecture fails with one sentence
that names the file and what to do, instead of a stack of pickle or state-dict errors.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from cartoonset.common.atomic import write_bytes
from cartoonset.common.errors import ToolkitError

FORMAT = "xgan-checkpoint"
VERSION = 1
_STEP_FILE = re.compile(r"step-(\d+)\.pt$")


class CheckpointError(ToolkitError, RuntimeError):
    """A checkpoint that cannot be used."""


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}.pt"


def save(path: str | os.PathLike, state: Mapping) -> Path:
    """Write ``state`` (with the format tag added) atomically to ``path``."""
    return save_torch(path, {"format": FORMAT, "version": VERSION, **state})


def save_torch(path: str | os.PathLike, obj) -> Path:
    """``torch.save`` of ``obj``, written atomically. Serialised in memory and written by Python, so
    a full disk is an ``OSError`` that names the file (torch's own writer says "unexpected pos")."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_bytes(path, buf.getbuffer())


def read_tagged(path: Path, fmt: str, version: int, error: type[Exception], what: str, hint: str = "",
                map_location: str | torch.device = "cpu") -> dict:
    """Load a format-tagged dict with ``weights_only`` and check its tag; every failure is one sentence."""
    hint = f"; {hint}" if hint else ""
    with open(path, "rb") as fh:  # torch.save writes a zip archive (legacy: a pickle protocol 2+ stream)
        magic = fh.read(4)
    if not (magic == b"PK\x03\x04" or magic[:1] == b"\x80"):
        raise error(f"{path} is not a checkpoint xgan wrote (expected: {what}; torch.save did not write this file)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise error(f"{what} {path} is corrupt or truncated and cannot be read ({type(e).__name__}){hint}") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise error(f"{path} is not a valid {what}{hint}")
    if state.get("version") != version:
        raise error(f"{what} {path} has format version {state.get('version')}; this xgan reads {version}")
    return state


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint written by :func:`save`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    state = read_tagged(path, FORMAT, VERSION, CheckpointError, "XGAN checkpoint", "", map_location)
    for key in ("config", "networks", "step"):
        if key not in state:
            raise CheckpointError(f"checkpoint {path} lacks its {key!r} entry")
    return state


def load_networks(networks: Mapping[str, nn.Module], saved: Mapping[str, Mapping], source: str | os.PathLike) -> None:
    """Load each named network's weights, with a clear error when the architectures differ."""
    if set(networks) != set(saved):
        raise CheckpointError(f"checkpoint {source} holds networks {sorted(saved)} but this model has "
                              f"{sorted(networks)}; it was trained with another preset")
    for name, net in networks.items():
        own = net.state_dict()
        for key, value in saved[name].items():
            if key not in own:
                raise CheckpointError(f"checkpoint {source}: {name} has an unexpected tensor {key}; it was trained with another architecture")
            if tuple(own[key].shape) != tuple(value.shape):
                raise CheckpointError(f"checkpoint {source}: {name}.{key} has shape {tuple(value.shape)}, "
                                      f"the model expects {tuple(own[key].shape)}; it was trained with another architecture")
        missing = sorted(set(own) - set(saved[name]))
        if missing:
            raise CheckpointError(f"checkpoint {source}: {name} lacks {missing[0]}; it was trained with another architecture")
        net.load_state_dict(saved[name])


def list_steps(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """The step checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.fullmatch(p.name))]
    return sorted(found)


def load_newest_intact(folder: str | os.PathLike, say=lambda _m: None,
                       map_location: str | torch.device = "cpu", usable=None) -> tuple[dict, Path]:
    """The newest step checkpoint in ``folder`` that reads (and that ``usable(state, path)``, which
    raises CheckpointError otherwise, accepts); each damaged or unusable newer one is reported
    through ``say`` (which, and why) and skipped. CheckpointError when none is intact."""
    steps = list_steps(folder)
    if not steps:
        raise CheckpointError(f"{folder} holds no step checkpoints")
    reasons = []
    for i in range(len(steps) - 1, -1, -1):
        path = steps[i][1]
        try:
            state = load(path, map_location)
            if usable is not None:
                usable(state, path)
        except CheckpointError as e:
            reasons.append(str(e))
            older = f"falling back to {steps[i - 1][1].name}" if i else "no older checkpoint is left"
            say(f"{e}; {older}")
            continue
        return state, path
    raise CheckpointError(f"no intact checkpoint in {folder} to resume from ({len(reasons)} damaged: "
                          f"{reasons[0]}); start a new --out or delete the damaged files to start over")


def prune(folder: str | os.PathLike, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints."""
    steps = list_steps(folder)
    for _, p in steps[:max(0, len(steps) - max(1, keep))]:
        p.unlink(missing_ok=True)
