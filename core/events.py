"""The one progress event of long jobs (style transfer, fine-tuning), after crowsonkb's small
typed progress dataclass: consumers read the fields that are set, never a `kind` string."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Progress:
    """Where a long job stands.

    - `step`/`total`: iterations (style) or training steps (fine-tune) done and planned;
    - `losses`: the latest loss terms by name (empty when this event reports none);
    - `preview`: an image to show now (a PIL image, or uint8 (N, H, W, 3) samples), or None;
    - `message`: a line for the person (empty when none);
    - `metrics`: other numbers by name (throughput, KID, scale, seconds);
    - `history`: the losses of every step so far (filled on loss and final events);
    - `done`/`stopped`: the last event of a job, and whether it ended early on request;
    - `output`: what the finished job made (the final image, the checkpoint folder).
    """

    step: int = 0
    total: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    preview: Any = None
    message: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    done: bool = False
    stopped: bool = False
    output: Any = None
