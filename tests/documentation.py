"""The project's documentation as the tests read it: the README front page and the docs/ pages
behind it, in that order (a number or command checked here may live on any of them)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def text() -> str:
    """Every page, one after another."""
    return "\n".join(page.read_text() for page in pages())


def section(heading: str) -> str:
    """The text after the ``## heading`` line of whichever page has it."""
    for page in pages():
        parts = page.read_text().split(f"## {heading}\n", 1)
        if len(parts) == 2:
            return parts[1]
    raise AssertionError(f"no page of the documentation has the heading {heading!r}")
