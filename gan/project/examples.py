"""The Project tab's built-in examples: what each projects, and with which quick settings.

A face that the app generates itself (the bundled DCGAN at a fixed seed, written once by
`Projector.example_photo`) and a public-domain painting from `examples/` (which a face model
can only approximate: the lesson's point that a GAN draws only what it learned). Each has a
name for permalinks (`?tab=project&example=<name>`). Pure Python: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import UserInputError

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class ProjectExample:
    """A named example: a generated face (`seed`) or a painting (`painting`, in examples/)."""

    name: str
    label: str
    seed: int | None = None
    painting: str | None = None
    steps: int = 60  # a few seconds to tens of seconds on a CPU (NVIDIA's default is 1000)
    preview_every: int = 10


PROJECT_EXAMPLES = (
    ProjectExample("seed7", "a generated face (seed 7), 60 steps", seed=7),
    ProjectExample(
        "starry-night", "Van Gogh's Starry Night, 60 steps", painting="van_gogh_starry_night.jpg"
    ),
)
PROJECT_EXAMPLE_NAMES = tuple(example.name for example in PROJECT_EXAMPLES)


def project_example(name: str) -> ProjectExample:
    """The example called `name`, or `UserInputError` naming the known ones."""
    for example in PROJECT_EXAMPLES:
        if example.name == name:
            return example
    known = ", ".join(PROJECT_EXAMPLE_NAMES)
    raise UserInputError(f"no project example {name!r}; known: {known}")
