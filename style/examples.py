"""The built-in content/style example pairs and the quick settings they run with.

The paintings are public domain (sources in `examples/SOURCES.md`). Each pair has a name, so
that a permalink (`?tab=style&example=<name>`) can restore and rerun it without carrying images.
Pure Python: no torch, so the UI and the link parser import it freely.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from core.errors import UserInputError

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
# Quick enough for a CPU (tens of seconds at 256 px); the coarse start shows a preview at once.
QUICK_SETTINGS = {"steps": 30, "size": 256, "init": "coarse"}


class ExamplePair(NamedTuple):
    """A content image and a style image in `examples/`, and the name a link uses."""

    content: str
    style: str
    name: str

    def paths(self) -> tuple[Path, Path]:
        return EXAMPLES_DIR / self.content, EXAMPLES_DIR / self.style


EXAMPLE_PAIRS = (
    ExamplePair("turner_shipwreck.jpg", "van_gogh_starry_night.jpg", "shipwreck-starry-night"),
    ExamplePair("van_gogh_starry_night.jpg", "munch_the_scream.jpg", "starry-night-scream"),
    ExamplePair("munch_the_scream.jpg", "turner_shipwreck.jpg", "scream-shipwreck"),
)
EXAMPLE_NAMES = tuple(pair.name for pair in EXAMPLE_PAIRS)


def example_pair(name: str) -> ExamplePair:
    """The pair called `name`, or `UserInputError` naming the known ones."""
    for pair in EXAMPLE_PAIRS:
        if pair.name == name:
            return pair
    raise UserInputError(f"no style example {name!r}; known: {', '.join(EXAMPLE_NAMES)}")
