"""The attribute schema of Google's released CartoonSet (data in ``data/schema.toml``)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .common.tomlio import loads as toml_loads



@dataclass(frozen=True)
class Attribute:
    name: str
    group: str
    variants: int
    none: int | None = None  # the "no artwork" variant (facial_hair 14, glasses 11)


@lru_cache(maxsize=None)
def release_schema() -> tuple[Attribute, ...]:
    """The 18 attributes in the release's CSV order."""
    text = resources.files("cartoonset").joinpath("data/schema.toml").read_text("utf-8")
    return tuple(Attribute(**a) for a in toml_loads(text)["attribute"])


def attribute_names() -> tuple[str, ...]:
    return tuple(a.name for a in release_schema())


def variant_counts() -> dict[str, int]:
    return {a.name: a.variants for a in release_schema()}
