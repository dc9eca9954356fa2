"""``--shard K/N``: split a job into N disjoint parts whose union is the whole job."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

from .errors import InputError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> "Shard":
        if text is None or text == "":
            return cls()
        try:
            k, n = (int(p) for p in str(text).split("/"))
        except ValueError:
            raise InputError(f"--shard must look like K/N (e.g. 0/4), got {text!r}") from None
        if n < 1 or not 0 <= k < n:
            raise InputError(f"--shard {text}: need N >= 1 and 0 <= K < N")
        return cls(k, n)

    def owns(self, i: int) -> bool:
        return i % self.count == self.index

    def select(self, items: Sequence[T]) -> list[T]:
        return list(items[self.index::self.count])

    @property
    def suffix(self) -> str:
        """What this shard's own files (and lock) add to their names: '' for the whole set."""
        return "" if self.count == 1 else f".shard-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
