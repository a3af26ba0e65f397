"""Render bench/results.json as one Markdown table (bench | figure | value).

    .venv/bin/python bench/report.py [bench/results.json]

`make bench` prints this table at the end; docs/benchmarks.md holds a copy of it. Every row is a
figure a bench recorded; nothing is computed here beyond number formatting.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "results.json"


def format_value(value: float | int | str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value).replace("|", "\\|")
    if isinstance(value, int):
        return str(value)
    if value == 0 or abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def render_table(results: dict[str, dict[str, float | int | str]]) -> str:
    """One row per figure, benches in the order they were recorded, figures in theirs."""
    lines = ["| Bench | Figure | Value |", "|---|---|---|"]
    for bench, figures in results.items():
        if not isinstance(figures, dict):
            raise ValueError(f"results.json: {bench!r} is {type(figures).__name__}, expected an object of figures")
        for name, value in figures.items():
            lines.append(f"| {bench} | {name.replace('|', chr(92) + '|')} | {format_value(value)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT
    if not path.exists():
        print(f"{path}: no results yet (run `make bench`)", file=sys.stderr)
        return 2
    print(render_table(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
