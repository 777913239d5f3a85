"""The two-column "measure | result" table the benchmarks print (Markdown, so it can be
pasted into the docs as it is)."""

from __future__ import annotations


def print_measures(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
