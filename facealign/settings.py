"""Every knob of the alignment pipeline in one frozen record, saved beside the outputs.

A run writes its settings to ``facealign.json`` in the output folder, so a resumed run can refuse to
mix crops made with different settings, and a reader knows exactly how the crops were made.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping

from cartoonset.common.colour import hex_rgb
from cartoonset.common.errors import InputError

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Settings:
    """Sizes, background and quality thresholds of one run (all lengths in pixels, angles in degrees)."""

    size: int = 64  #: side of the small crop (the paper's 64x64)
    large: int = 256  #: side of the large crop; the small one is area-downscaled from it
    background: str = "white"  #: white, black, #rrggbb, transparent (RGBA) or none (keep the photo's)
    face_oval: bool = False  #: also cut away everything outside the face oval (hair, neck)
    min_eye_distance: float = 16.0  #: in original pixels; 16 ~ the template's eye distance at 64 px
    max_yaw: float = 45.0  #: estimated head turn left/right beyond which a face is not frontal
    max_roll: float = 180.0  #: in-plane tilt of the eye line (180 = any tilt; alignment undoes it)
    min_sharpness: float = 20.0  #: variance of the Laplacian on the aligned face at 128 px
    max_pixels: int = 50_000_000  #: larger images are refused unread (decompression bombs)
    box_margin: float = 0.5  #: context added on each side of a face box before landmarking
    ambiguity: float = 0.7  #: a runner-up face scoring this fraction of the best makes a photo ambiguous
    min_confidence: float = 0.5  #: face detector score threshold

    def __post_init__(self) -> None:
        if not 8 <= self.size <= 4096:
            raise InputError(f"size must be between 8 and 4096 pixels, got {self.size}")
        if not self.size <= self.large <= 4096:
            raise InputError(f"large ({self.large}) must be at least size ({self.size}) and at most 4096")
        background_colour(self.background)  # validates
        if self.min_eye_distance < 0 or self.min_sharpness < 0 or self.box_margin < 0:
            raise InputError("min_eye_distance, min_sharpness and box_margin must not be negative")
        if not 0 < self.max_yaw <= 90 or not 0 < self.max_roll <= 180:
            raise InputError("max_yaw must be in (0, 90] and max_roll in (0, 180] degrees")
        if not 0 < self.ambiguity <= 1 or not 0 < self.min_confidence < 1:
            raise InputError("ambiguity must be in (0, 1] and min_confidence in (0, 1)")
        if self.max_pixels < 1:
            raise InputError("max_pixels must be positive")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Settings":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown facealign settings: {', '.join(unknown)}")
        return cls(**dict(data))


def background_colour(background: str) -> tuple[int, int, int] | str | None:
    """``(r, g, b)`` for a colour, ``"transparent"``, or ``None`` (keep the photo's background)."""
    b = str(background).strip().lower()
    if b == "white":
        return (255, 255, 255)
    if b == "black":
        return (0, 0, 0)
    if b == "transparent":
        return "transparent"
    if b == "none":
        return None
    if _HEX.match(b):
        return hex_rgb(b)
    raise InputError(f"background must be white, black, transparent, none or #rrggbb, got {background!r}")
