"""Rewrite the table of docs/benchmark/README.md ("The current table") from docs/benchmark/results.csv.

    PYTHONPATH=. .venv/bin/python research/table.py [--steps 20000]

The block between the ``<!-- table: ... -->`` and ``<!-- /table -->`` lines is replaced; the rest of the
page is prose that reads from it.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from cartoonset.common.atomic import write_text
from cartoonset.common.records import read_csv
from xgan.benchmark.runs import summary

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmark" / "README.md"
TABLE = ROOT / "docs" / "benchmark" / "results.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20000, help="the step budget the table shows")
    args = ap.parse_args()
    page = PAGE.read_text(encoding="utf-8")
    block = re.compile(r"(<!-- table: [^\n]*-->\n).*?(<!-- /table -->)", re.S)
    if not block.search(page):
        raise SystemExit(f"{PAGE} has no <!-- table: ... --> block")
    table = summary(read_csv(TABLE), args.steps)
    write_text(PAGE, block.sub(lambda m: m.group(1) + table + "\n" + m.group(2), page))
    print(f"wrote {table.count(chr(10)) - 1} rows into {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
